#include "vouch/crypto/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <string_view>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"

namespace vouch::crypto {
namespace {

using nlohmann::json;

// Members that only private or symmetric JWKs carry (RFC 7518 sections
// 6.2.2, 6.3.2 and 6.4.1).
constexpr std::string_view kPrivateMembers[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

// NIST SP 800-56B requires an odd public exponent with 2^16 < e < 2^256.
constexpr size_t kMaxRsaExponentBytes = 32;
constexpr BN_ULONG kMinRsaExponent = 65537;

absl::StatusOr<Bytes> BignumParam(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return SslError(fmt::format("jwk: reading key parameter {}", name));
  }
  SslPtr<BIGNUM> value(raw);
  Bytes out(static_cast<size_t>(BN_num_bytes(value.get())));
  BN_bn2bin(value.get(), out.data());
  return out;
}

absl::StatusOr<Bytes> PaddedBignumParam(EVP_PKEY* key, const char* name, size_t size) {
  VOUCH_ASSIGN_OR_RETURN(Bytes value, BignumParam(key, name));
  if (value.size() > size) {
    return Internalf("jwk: key parameter {} is {} bytes, want at most {}", name, value.size(), size);
  }
  value.insert(value.begin(), size - value.size(), 0);
  return value;
}

absl::StatusOr<Bytes> DecodeMember(const json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end()) {
    return InvalidArgumentf("jwk: missing member \"{}\"", name);
  }
  if (!it->is_string()) {
    return InvalidArgumentf("jwk: member \"{}\" is not a string", name);
  }
  auto decoded = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!decoded.ok()) {
    return Prefix(fmt::format("jwk: member \"{}\" is not base64url", name), decoded.status());
  }
  return decoded;
}

// CheckPublicKey runs EVP_PKEY_public_check: for EC keys it checks that the
// point is on the curve, not at infinity and of the right order.
absl::Status CheckPublicKey(EVP_PKEY* key) {
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) {
    return SslError("jwk: key check");
  }
  if (EVP_PKEY_public_check(ctx.get()) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument, "jwk: public key check failed");
  }
  return absl::OkStatus();
}

// KeyFromParams builds a public key. EC keys get EVP_PKEY_public_check.
// RSA keys do not: OpenSSL 3's check includes a primality test of the
// modulus, which took about half of a key release's CPU time in the
// benchmarks, so RsaFromJwk checks size, parity, exponent and small
// factors itself.
absl::StatusOr<SslPtr<EVP_PKEY>> KeyFromParams(const char* type, OSSL_PARAM_BLD* builder) {
  SslPtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(builder));
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    fmt::format("jwk: building {} public key", type));
  }
  SslPtr<EVP_PKEY> key(raw);
  if (std::string_view(type) == "EC") {
    VOUCH_RETURN_IF_ERROR(CheckPublicKey(key.get()));
  }
  return key;
}

// OddPrimesBelow1000 lists the odd primes below 1000, in order.
const std::vector<BN_ULONG>& OddPrimesBelow1000() {
  static const std::vector<BN_ULONG>* const primes = [] {
    auto* list = new std::vector<BN_ULONG>();
    for (BN_ULONG p = 3; p < 1000; p += 2) {
      bool prime = true;
      for (BN_ULONG d = 3; d * d <= p; d += 2) {
        if (p % d == 0) {
          prime = false;
          break;
        }
      }
      if (prime) {
        list->push_back(p);
      }
    }
    return list;
  }();
  return *primes;
}

// SmallPrimeProduct is the product of OddPrimesBelow1000 (about 1,400 bits),
// or null when OpenSSL could not build it.
const BIGNUM* SmallPrimeProduct() {
  static const BIGNUM* const product = []() -> const BIGNUM* {
    BIGNUM* value = BN_new();
    if (value == nullptr || BN_one(value) != 1) {
      BN_free(value);
      return nullptr;
    }
    for (const BN_ULONG p : OddPrimesBelow1000()) {
      if (BN_mul_word(value, p) != 1) {
        BN_free(value);
        return nullptr;
      }
    }
    return value;
  }();
  return product;
}

// CheckNoSmallFactor rejects a modulus divisible by a prime below 1000. It
// covers the small-factor part of OpenSSL's SP 800-56B public-key check.
// One GCD with the product of those primes checks all of them at once. Only
// a modulus that fails it is divided prime by prime, to name the factor.
absl::Status CheckNoSmallFactor(const BIGNUM* n) {
  const BIGNUM* product = SmallPrimeProduct();
  SslPtr<BN_CTX> ctx(BN_CTX_new());
  SslPtr<BIGNUM> gcd(BN_new());
  if (product == nullptr || !ctx || !gcd || BN_gcd(gcd.get(), n, product, ctx.get()) != 1) {
    return SslError("jwk: RSA modulus check");
  }
  if (BN_is_one(gcd.get())) {
    return absl::OkStatus();
  }
  for (const BN_ULONG p : OddPrimesBelow1000()) {
    const BN_ULONG remainder = BN_mod_word(n, p);
    if (remainder == static_cast<BN_ULONG>(-1)) {
      return SslError("jwk: RSA modulus check");
    }
    if (remainder == 0) {
      return InvalidArgumentf("jwk: RSA modulus has the small factor {}", p);
    }
  }
  return SslError("jwk: RSA modulus check");
}

absl::StatusOr<SslPtr<EVP_PKEY>> RsaFromJwk(const json& jwk) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes n_bytes, DecodeMember(jwk, "n"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes e_bytes, DecodeMember(jwk, "e"));

  // Checked before BN_bin2bn so a huge member costs nothing.
  if (e_bytes.empty() || e_bytes.size() > kMaxRsaExponentBytes) {
    return InvalidArgumentf("jwk: RSA exponent is {} bytes, want 1 to {}", e_bytes.size(),
                            kMaxRsaExponentBytes);
  }
  if (n_bytes.size() > static_cast<size_t>(kMaxJwkRsaBits / 8 + 1)) {
    return InvalidArgumentf("jwk: RSA modulus is {} bytes, more than {} bits", n_bytes.size(),
                            kMaxJwkRsaBits);
  }

  SslPtr<BIGNUM> n(BN_bin2bn(n_bytes.data(), static_cast<int>(n_bytes.size()), nullptr));
  SslPtr<BIGNUM> e(BN_bin2bn(e_bytes.data(), static_cast<int>(e_bytes.size()), nullptr));
  if (!n || !e) {
    return SslError("jwk: RSA parameters");
  }

  const int bits = BN_num_bits(n.get());
  if (bits < kMinJwkRsaBits || bits > kMaxJwkRsaBits) {
    return InvalidArgumentf("jwk: RSA modulus is {} bits, want {} to {}", bits, kMinJwkRsaBits,
                            kMaxJwkRsaBits);
  }
  if (!BN_is_odd(n.get())) {
    return InvalidArgumentf("jwk: RSA modulus is even");
  }
  VOUCH_RETURN_IF_ERROR(CheckNoSmallFactor(n.get()));
  const SslPtr<BIGNUM> min_exponent(BN_new());
  if (!min_exponent || BN_set_word(min_exponent.get(), kMinRsaExponent) != 1) {
    return SslError("jwk: RSA exponent bound");
  }
  if (!BN_is_odd(e.get()) || BN_cmp(e.get(), min_exponent.get()) < 0 ||
      BN_num_bits(e.get()) > 256) {
    return InvalidArgumentf("jwk: RSA exponent must be odd and from 65537 to 2^256 - 1");
  }

  SslPtr<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return SslError("jwk: RSA parameters");
  }
  return KeyFromParams("RSA", builder.get());
}

absl::StatusOr<SslPtr<EVP_PKEY>> EcFromJwk(const json& jwk) {
  const auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string()) {
    return InvalidArgumentf("jwk: EC key without a string \"crv\"");
  }
  const std::string& curve = crv->get_ref<const std::string&>();
  const char* group = nullptr;
  size_t field_size = 0;
  if (curve == "P-256") {
    group = "prime256v1";
    field_size = 32;
  } else if (curve == "P-384") {
    group = "secp384r1";
    field_size = 48;
  } else if (curve == "P-521") {
    group = "secp521r1";
    field_size = 66;
  } else {
    return InvalidArgumentf("jwk: curve \"{}\", want P-256, P-384 or P-521", curve);
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes x, DecodeMember(jwk, "x"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes y, DecodeMember(jwk, "y"));
  // RFC 7518 section 6.2.1.2: x and y are the full coordinate size.
  if (x.size() != field_size || y.size() != field_size) {
    return InvalidArgumentf("jwk: {} coordinates are {} and {} bytes, want {}", curve, x.size(),
                            y.size(), field_size);
  }
  Bytes point = {0x04};  // SEC 1 uncompressed point
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());

  SslPtr<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return SslError("jwk: EC parameters");
  }
  return KeyFromParams("EC", builder.get());
}

}  // namespace

absl::StatusOr<nlohmann::json> PublicKeyToJwk(EVP_PKEY* key) {
  if (IsRsaKey(key)) {
    VOUCH_ASSIGN_OR_RETURN(const Bytes n, BignumParam(key, OSSL_PKEY_PARAM_RSA_N));
    VOUCH_ASSIGN_OR_RETURN(const Bytes e, BignumParam(key, OSSL_PKEY_PARAM_RSA_E));
    return json{{"kty", "RSA"}, {"n", Base64UrlEncode(n)}, {"e", Base64UrlEncode(e)}};
  }
  if (IsEcKey(key)) {
    VOUCH_ASSIGN_OR_RETURN(const std::string curve, EcCurveName(key));
    VOUCH_ASSIGN_OR_RETURN(const size_t field_size, EcFieldSize(key));
    VOUCH_ASSIGN_OR_RETURN(const Bytes x,
                           PaddedBignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, field_size));
    VOUCH_ASSIGN_OR_RETURN(const Bytes y,
                           PaddedBignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, field_size));
    return json{{"kty", "EC"}, {"crv", curve}, {"x", Base64UrlEncode(x)}, {"y", Base64UrlEncode(y)}};
  }
  return InvalidArgumentf("jwk: key is neither RSA nor EC");
}

absl::StatusOr<SslPtr<EVP_PKEY>> PublicKeyFromJwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) {
    return InvalidArgumentf("jwk: not a JSON object");
  }
  for (const std::string_view member : kPrivateMembers) {
    if (jwk.contains(member)) {
      return InvalidArgumentf(
          "jwk: contains private member \"{}\", but only public keys are accepted", member);
    }
  }
  const auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) {
    return InvalidArgumentf("jwk: missing string member \"kty\"");
  }
  const std::string& type = kty->get_ref<const std::string&>();
  if (type == "RSA") {
    return RsaFromJwk(jwk);
  }
  if (type == "EC") {
    return EcFromJwk(jwk);
  }
  return InvalidArgumentf("jwk: kty \"{}\", want RSA or EC", type);
}

absl::StatusOr<std::string> JwkThumbprint(EVP_PKEY* key) {
  VOUCH_ASSIGN_OR_RETURN(const json jwk, PublicKeyToJwk(key));
  // RFC 7638 section 3: the required members only, sorted by name, with no
  // white space. nlohmann::json objects keep members sorted and dump()
  // writes no white space.
  const std::string canonical = jwk.dump();
  return Base64UrlEncode(Sha256(AsBytes(canonical)));
}

}  // namespace vouch::crypto
