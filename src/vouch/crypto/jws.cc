#include "vouch/crypto/jws.h"

#include <openssl/rsa.h>

#include <algorithm>
#include <vector>

#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto {
namespace {

using nlohmann::json;

constexpr int kMinJwsRsaBits = 2048;

struct AlgInfo {
  JwsAlg alg;
  std::string_view name;
  HashAlg hash;
};

constexpr AlgInfo kAlgs[] = {
    {JwsAlg::kRs256, "RS256", HashAlg::kSha256},
    {JwsAlg::kPs256, "PS256", HashAlg::kSha256},
    {JwsAlg::kEs256, "ES256", HashAlg::kSha256},
    {JwsAlg::kEs384, "ES384", HashAlg::kSha384},
};

const AlgInfo& Info(JwsAlg alg) {
  for (const AlgInfo& info : kAlgs) {
    if (info.alg == alg) {
      return info;
    }
  }
  ::vouch::internal::CheckFailed("unknown JwsAlg", __FILE__, __LINE__);
}

bool IsEcdsa(JwsAlg alg) { return alg == JwsAlg::kEs256 || alg == JwsAlg::kEs384; }

// CheckKeyFitsAlg returns InvalidArgument naming the mismatch.
absl::Status CheckKeyFitsAlg(EVP_PKEY* key, JwsAlg alg) {
  const std::string_view name = JwsAlgName(alg);
  if (IsEcdsa(alg)) {
    const std::string_view want = alg == JwsAlg::kEs256 ? "P-256" : "P-384";
    auto curve = EcCurveName(key);
    if (!curve.ok() || *curve != want) {
      return InvalidArgumentf("jws: {} needs an EC {} key", name, want);
    }
    return absl::OkStatus();
  }
  if (!IsRsaKey(key)) {
    return InvalidArgumentf("jws: {} needs an RSA key", name);
  }
  if (EVP_PKEY_get_bits(key) < kMinJwsRsaBits) {
    return InvalidArgumentf("jws: {} key is {} bits, want at least {}", name,
                            EVP_PKEY_get_bits(key), kMinJwsRsaBits);
  }
  return absl::OkStatus();
}

// InitRsaPadding sets PKCS#1 v1.5 or PSS padding (salt = hash size, MGF1 with the
// same hash, as RFC 7518 section 3.5 requires) on a DigestSign/Verify context.
bool InitRsaPadding(EVP_PKEY_CTX* ctx, JwsAlg alg) {
  if (alg != JwsAlg::kPs256) {
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
  }
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1;
}

absl::StatusOr<Bytes> SignRsa(EVP_PKEY* key, JwsAlg alg, std::string_view input) {
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // Owned by ctx.
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), &pkey_ctx, EvpMd(Info(alg).hash), nullptr, key) != 1 ||
      !InitRsaPadding(pkey_ctx, alg)) {
    return SslError("jws sign: init");
  }
  const ByteSpan data = AsBytes(input);
  size_t size = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &size, data.data(), data.size()) != 1) {
    return SslError("jws sign: size");
  }
  Bytes signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, data.data(), data.size()) != 1) {
    return SslError("jws sign");
  }
  signature.resize(size);
  return signature;
}

absl::Status VerifyRsa(EVP_PKEY* key, JwsAlg alg, std::string_view input, ByteSpan signature) {
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // Owned by ctx.
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), &pkey_ctx, EvpMd(Info(alg).hash), nullptr, key) != 1 ||
      !InitRsaPadding(pkey_ctx, alg)) {
    return SslError("jws verify: init");
  }
  const ByteSpan data = AsBytes(input);
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) !=
      1) {
    return SslError(absl::StatusCode::kUnauthenticated,
                    fmt::format("jws: {} signature does not verify", JwsAlgName(alg)));
  }
  return absl::OkStatus();
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// DecodeSegment decodes unpadded base64url, rejecting any other character
// (padding, white space, the standard alphabet's '+' and '/').
absl::StatusOr<Bytes> DecodeSegment(std::string_view segment, std::string_view name) {
  if (!std::all_of(segment.begin(), segment.end(), IsBase64UrlChar) || segment.size() % 4 == 1) {
    return InvalidArgumentf("jws: {} is not unpadded base64url", name);
  }
  auto decoded = Base64UrlDecode(segment);
  if (!decoded.ok()) {
    return Prefix(fmt::format("jws: {}", name), decoded.status());
  }
  return decoded;
}

}  // namespace

std::string_view JwsAlgName(JwsAlg alg) { return Info(alg).name; }

absl::StatusOr<JwsAlg> ParseJwsAlg(std::string_view name) {
  for (const AlgInfo& info : kAlgs) {
    if (info.name == name) {
      return info.alg;
    }
  }
  return Unauthenticatedf("jws: alg \"{}\" is not accepted, want RS256, PS256, ES256 or ES384",
                          name);
}

absl::StatusOr<std::string> JwsSign(EVP_PKEY* key, JwsAlg alg, nlohmann::json header,
                                    std::string_view payload) {
  if (header.is_null()) {
    header = json::object();
  }
  if (!header.is_object()) {
    return InvalidArgumentf("jws sign: header is not a JSON object");
  }
  VOUCH_RETURN_IF_ERROR(CheckKeyFitsAlg(key, alg));
  header["alg"] = std::string(JwsAlgName(alg));

  const std::string signing_input =
      Base64UrlEncode(AsBytes(header.dump())) + "." + Base64UrlEncode(AsBytes(payload));
  Bytes signature;
  if (IsEcdsa(alg)) {
    VOUCH_ASSIGN_OR_RETURN(signature, SignEcdsaRaw(key, Info(alg).hash, AsBytes(signing_input)));
  } else {
    VOUCH_ASSIGN_OR_RETURN(signature, SignRsa(key, alg, signing_input));
  }
  return signing_input + "." + Base64UrlEncode(signature);
}

absl::StatusOr<JwsParts> JwsDecode(std::string_view compact) {
  if (compact.size() > kMaxJwsBytes) {
    return InvalidArgumentf("jws: {} bytes, more than the limit of {}", compact.size(),
                            kMaxJwsBytes);
  }
  const size_t first_dot = compact.find('.');
  const size_t second_dot =
      first_dot == std::string_view::npos ? first_dot : compact.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      compact.find('.', second_dot + 1) != std::string_view::npos) {
    return InvalidArgumentf("jws: compact serialization needs exactly 3 segments separated by '.'");
  }
  const std::string_view header_b64 = compact.substr(0, first_dot);
  const std::string_view payload_b64 = compact.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_b64 = compact.substr(second_dot + 1);

  VOUCH_ASSIGN_OR_RETURN(const Bytes header_bytes, DecodeSegment(header_b64, "header"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes payload, DecodeSegment(payload_b64, "payload"));
  VOUCH_ASSIGN_OR_RETURN(Bytes signature, DecodeSegment(signature_b64, "signature"));

  json header = json::parse(header_bytes.begin(), header_bytes.end(), nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return InvalidArgumentf("jws: header is not a JSON object");
  }
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) {
    return InvalidArgumentf("jws: header has no string \"alg\"");
  }
  return JwsParts{.header = std::move(header),
                  .payload = ToString(payload),
                  .signing_input = std::string(compact.substr(0, second_dot)),
                  .signature = std::move(signature)};
}

absl::Status JwsVerify(const JwsParts& parts, EVP_PKEY* key, std::span<const JwsAlg> allowed) {
  const auto alg_member = parts.header.find("alg");
  if (!parts.header.is_object() || alg_member == parts.header.end() || !alg_member->is_string()) {
    return Unauthenticatedf("jws: header has no string \"alg\"");
  }
  VOUCH_ASSIGN_OR_RETURN(const JwsAlg alg,
                         ParseJwsAlg(alg_member->get_ref<const std::string&>()));
  if (std::find(allowed.begin(), allowed.end(), alg) == allowed.end()) {
    return Unauthenticatedf("jws: alg {} is not in the allowed list", JwsAlgName(alg));
  }
  // RFC 7515 section 4.1.11: a recipient that does not understand every
  // listed extension must reject the JWS, and vouch understands none.
  if (parts.header.contains("crit")) {
    return Unauthenticatedf("jws: header has \"crit\" extensions, none are supported");
  }
  if (absl::Status fits = CheckKeyFitsAlg(key, alg); !fits.ok()) {
    return absl::UnauthenticatedError(fits.message());
  }

  if (IsEcdsa(alg)) {
    return Prefix(fmt::format("jws: {}", JwsAlgName(alg)),
                  VerifyEcdsaP1363(key, Info(alg).hash, AsBytes(parts.signing_input),
                                   parts.signature));
  }
  return VerifyRsa(key, alg, parts.signing_input, parts.signature);
}

}  // namespace vouch::crypto
