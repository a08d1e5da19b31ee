#include "vouch/token/validator.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <span>
#include <utility>

#include "absl/strings/match.h"
#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/policy/strict_json.h"
#include "vouch/token/issuer.h"

namespace vouch::token {
namespace {

using Json = nlohmann::json;

constexpr std::pair<std::string_view, crypto::JwsAlg> kAlgNames[] = {
    {"RS256", crypto::JwsAlg::kRs256},
    {"PS256", crypto::JwsAlg::kPs256},
    {"ES256", crypto::JwsAlg::kEs256},
    {"ES384", crypto::JwsAlg::kEs384},
};

// Header members that name a key or a key location inside the token, or
// extensions the verifier would have to understand. "jku" is handled apart.
constexpr std::string_view kForbiddenHeaderMembers[] = {"jwk", "x5c", "x5u", "crit"};

std::string AlgList(const std::vector<crypto::JwsAlg>& algs) {
  std::string names;
  for (const crypto::JwsAlg alg : algs) {
    if (!names.empty()) {
      names += ", ";
    }
    names += crypto::JwsAlgName(alg);
  }
  return names;
}

// PublicKeyFromX5c reads the key of the first certificate of a JWK's x5c
// (standard base64 DER, RFC 7517 section 4.7).
absl::StatusOr<std::shared_ptr<EVP_PKEY>> PublicKeyFromX5c(const Json& x5c) {
  if (!x5c.is_array() || x5c.empty() || !x5c[0].is_string()) {
    return InvalidArgumentf("x5c must be a non-empty array of base64 certificates");
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes der, Base64Decode(x5c[0].get<std::string>()));
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate certificate,
                         crypto::Certificate::FromDer(der));
  EVP_PKEY* key = certificate.PublicKey();
  if (key == nullptr || EVP_PKEY_up_ref(key) != 1) {
    return Internalf("x5c: cannot read the certificate's public key");
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// PublicKeyFromMembers passes only the public key members to the JWK parser,
// so that kid, use, alg and x5c do not matter to it.
absl::StatusOr<std::shared_ptr<EVP_PKEY>> PublicKeyFromMembers(const Json& jwk,
                                                               const std::string& kty) {
  Json members = {{"kty", kty}};
  static constexpr std::array<const char*, 2> kRsaMembers = {"n", "e"};
  static constexpr std::array<const char*, 3> kEcMembers = {"crv", "x", "y"};
  const std::span<const char* const> names =
      kty == "RSA" ? std::span<const char* const>(kRsaMembers)
                   : std::span<const char* const>(kEcMembers);
  for (const char* name : names) {
    if (jwk.contains(name)) {
      members[name] = jwk[name];
    }
  }
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> key, crypto::PublicKeyFromJwk(members));
  return std::shared_ptr<EVP_PKEY>(std::move(key));
}

// ParseVerificationKey returns the key of one JWKS entry, or nullopt for an
// entry that is not a signature key.
absl::StatusOr<std::optional<TokenValidator::VerificationKey>> ParseVerificationKey(
    const Json& jwk) {
  if (!jwk.is_object()) {
    return InvalidArgumentf("want a JSON object");
  }
  if (jwk.contains("use") && jwk["use"] != "sig") {
    return std::nullopt;
  }
  if (!jwk.contains("kid") || !jwk["kid"].is_string() || jwk["kid"].get<std::string>().empty()) {
    return InvalidArgumentf("missing kid");
  }
  TokenValidator::VerificationKey key;
  key.kid = jwk["kid"].get<std::string>();
  if (jwk.contains("alg")) {
    if (!jwk["alg"].is_string()) {
      return InvalidArgumentf("kid {}: alg must be a string", key.kid);
    }
    key.alg = jwk["alg"].get<std::string>();
  }

  const std::string kty = policy::StringOr(jwk, "kty");
  if (kty != "RSA" && kty != "EC") {
    return InvalidArgumentf("kid {}: kty \"{}\", want RSA or EC", key.kid, kty);
  }
  absl::StatusOr<std::shared_ptr<EVP_PKEY>> parsed =
      InvalidArgumentf("no public key members and no x5c");
  if (jwk.contains(kty == "RSA" ? "n" : "x")) {
    parsed = PublicKeyFromMembers(jwk, kty);
  } else if (jwk.contains("x5c")) {
    parsed = PublicKeyFromX5c(jwk["x5c"]);
  }
  if (!parsed.ok()) {
    return Prefix(fmt::format("kid {}", key.kid), parsed.status());
  }
  key.key = *std::move(parsed);
  if ((kty == "RSA") != crypto::IsRsaKey(key.key.get())) {
    return InvalidArgumentf("kid {}: the key does not match kty {}", key.kid, kty);
  }
  return key;
}

absl::StatusOr<TokenValidator::Authority> ParseAuthority(const TrustedAuthority& trusted) {
  TokenValidator::Authority authority;
  authority.issuer = std::string(NormalizeIssuer(trusted.issuer));
  if (authority.issuer.empty()) {
    return InvalidArgumentf("trusted authority: empty issuer");
  }
  const std::string context = fmt::format("trusted authority {}: jwks", authority.issuer);
  if (!trusted.jwks.is_object() || !trusted.jwks.contains("keys") ||
      !trusted.jwks["keys"].is_array()) {
    return InvalidArgumentf("{}: want {{\"keys\": [...]}}", context);
  }
  const Json& keys = trusted.jwks["keys"];
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<std::optional<TokenValidator::VerificationKey>> key =
        ParseVerificationKey(keys[i]);
    if (!key.ok()) {
      return Prefix(fmt::format("{}: keys[{}]", context, i), key.status());
    }
    if (!key->has_value()) {
      continue;
    }
    for (const TokenValidator::VerificationKey& existing : authority.keys) {
      if (existing.kid == (*key)->kid) {
        return InvalidArgumentf("{}: kid {} appears twice", context, existing.kid);
      }
    }
    authority.keys.push_back(**std::move(key));
  }
  if (authority.keys.empty()) {
    return InvalidArgumentf("{}: no signature keys", context);
  }
  return authority;
}

// ClaimTime reads a NumericDate claim (RFC 7519 section 2), or nullopt when absent.
absl::StatusOr<std::optional<absl::Time>> ClaimTime(const Json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) {
    return std::nullopt;
  }
  if (it->is_number_unsigned()) {
    const uint64_t seconds = it->get<uint64_t>();
    if (seconds > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InfiniteFuture();
    }
    return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
  }
  if (it->is_number_integer()) {
    return absl::FromUnixSeconds(it->get<int64_t>());
  }
  if (it->is_number_float()) {
    return absl::FromUDate(it->get<double>() * 1000.0);
  }
  return Unauthenticatedf("token: claim {} must be a number of seconds", name);
}

}  // namespace

absl::StatusOr<crypto::JwsAlg> JwsAlgFromName(std::string_view name) {
  for (const auto& [candidate, alg] : kAlgNames) {
    if (candidate == name) {
      return alg;
    }
  }
  return InvalidArgumentf("unknown JWS alg \"{}\"", name);
}

absl::StatusOr<TokenValidator> TokenValidator::Create(std::vector<TrustedAuthority> authorities,
                                                      TokenValidatorOptions options) {
  if (authorities.empty()) {
    return InvalidArgumentf("token validator: no trusted authority");
  }
  if (options.allowed_algs.empty()) {
    return InvalidArgumentf("token validator: no allowed algorithm");
  }
  TokenValidator validator;
  for (const TrustedAuthority& trusted : authorities) {
    VOUCH_ASSIGN_OR_RETURN(Authority authority, ParseAuthority(trusted));
    if (validator.FindAuthority(authority.issuer) != nullptr) {
      return InvalidArgumentf("token validator: authority {} appears twice", authority.issuer);
    }
    validator.authorities_.push_back(std::move(authority));
  }
  validator.options_ = std::move(options);
  return validator;
}

absl::StatusOr<TokenValidator> TokenValidator::ForIssuer(const TokenIssuer& issuer,
                                                         TokenValidatorOptions options) {
  return Create({TrustedAuthority{issuer.issuer(), issuer.Jwks()}}, std::move(options));
}

std::vector<std::string> TokenValidator::Issuers() const {
  std::vector<std::string> issuers;
  for (const Authority& authority : authorities_) {
    issuers.push_back(authority.issuer);
  }
  return issuers;
}

const TokenValidator::Authority* TokenValidator::FindAuthority(std::string_view issuer) const {
  for (const Authority& authority : authorities_) {
    if (authority.issuer == issuer) {
      return &authority;
    }
  }
  return nullptr;
}

absl::Status TokenValidator::CheckHeader(const nlohmann::json& header) const {
  const std::string alg = policy::StringOr(header, "alg");
  if (absl::EqualsIgnoreCase(alg, "none") || absl::StartsWithIgnoreCase(alg, "HS")) {
    return Unauthenticatedf("token: alg \"{}\" is never accepted", alg);
  }
  const absl::StatusOr<crypto::JwsAlg> parsed = JwsAlgFromName(alg);
  if (!parsed.ok() || std::find(options_.allowed_algs.begin(), options_.allowed_algs.end(),
                                *parsed) == options_.allowed_algs.end()) {
    return Unauthenticatedf("token: alg \"{}\" is not allowed, want one of {}", alg,
                            AlgList(options_.allowed_algs));
  }
  for (const std::string_view member : kForbiddenHeaderMembers) {
    if (header.contains(member)) {
      return Unauthenticatedf("token: header member \"{}\" is not accepted, the key must come "
                              "from the trusted authority's JWKS",
                              member);
    }
  }
  if (!header.contains("kid") || !header["kid"].is_string() ||
      header["kid"].get<std::string>().empty()) {
    return Unauthenticatedf("token: header has no kid");
  }
  if (header.contains("typ") &&
      (!header["typ"].is_string() ||
       !absl::EqualsIgnoreCase(header["typ"].get<std::string>(), "JWT"))) {
    return Unauthenticatedf("token: typ {}, want \"JWT\"", policy::DescribeJson(header["typ"]));
  }
  return absl::OkStatus();
}

absl::Status TokenValidator::CheckTimes(const nlohmann::json& claims, absl::Time now) const {
  const absl::Duration leeway = options_.leeway;
  const std::string leeway_text = absl::FormatDuration(leeway);

  VOUCH_ASSIGN_OR_RETURN(const std::optional<absl::Time> exp, ClaimTime(claims, "exp"));
  if (!exp.has_value()) {
    return Unauthenticatedf("token: missing exp");
  }
  if (now > *exp + leeway) {
    return Unauthenticatedf("token: expired at {} (now {}, leeway {})", FormatRfc3339(*exp),
                            FormatRfc3339(now), leeway_text);
  }

  VOUCH_ASSIGN_OR_RETURN(const std::optional<absl::Time> nbf, ClaimTime(claims, "nbf"));
  if (nbf.has_value() && now + leeway < *nbf) {
    return Unauthenticatedf("token: not valid before {} (now {}, leeway {})",
                            FormatRfc3339(*nbf), FormatRfc3339(now), leeway_text);
  }

  VOUCH_ASSIGN_OR_RETURN(const std::optional<absl::Time> iat, ClaimTime(claims, "iat"));
  if (iat.has_value() && now + leeway < *iat) {
    return Unauthenticatedf("token: issued in the future at {} (now {}, leeway {})",
                            FormatRfc3339(*iat), FormatRfc3339(now), leeway_text);
  }
  return absl::OkStatus();
}

absl::Status TokenValidator::CheckAudience(const nlohmann::json& claims) const {
  if (options_.audiences.empty()) {
    return absl::OkStatus();
  }
  std::string expected;
  for (const std::string& audience : options_.audiences) {
    expected += expected.empty() ? audience : ", " + audience;
  }
  const auto aud = claims.find("aud");
  if (aud == claims.end()) {
    return Unauthenticatedf("token: missing aud, want one of {}", expected);
  }
  // RFC 7519 section 4.1.3: "aud" is a string or an array of strings.
  std::vector<std::string> presented;
  if (aud->is_string()) {
    presented.push_back(aud->get<std::string>());
  } else if (aud->is_array()) {
    for (const Json& value : *aud) {
      if (!value.is_string()) {
        return Unauthenticatedf("token: aud array holds {}, want strings",
                                policy::DescribeJson(value));
      }
      presented.push_back(value.get<std::string>());
    }
  } else {
    return Unauthenticatedf("token: aud is {}, want a string or an array of strings",
                            policy::DescribeJson(*aud));
  }
  for (const std::string& value : presented) {
    if (std::find(options_.audiences.begin(), options_.audiences.end(), value) !=
        options_.audiences.end()) {
      return absl::OkStatus();
    }
  }
  return Unauthenticatedf("token: aud {} does not contain an expected audience, want one of {}",
                          policy::DescribeJson(*aud), expected);
}

absl::StatusOr<nlohmann::json> TokenValidator::Validate(std::string_view jwt,
                                                        absl::Time now) const {
  // Step 1: shape. A compact JWS has exactly three dot-separated segments.
  if (jwt.size() > options_.max_token_bytes) {
    return Unauthenticatedf("token: {} bytes, limit {}", jwt.size(), options_.max_token_bytes);
  }
  const size_t num_segments = static_cast<size_t>(std::count(jwt.begin(), jwt.end(), '.')) + 1;
  if (num_segments != 3) {
    return Unauthenticatedf("token: {} segments, want 3 (compact JWS)", num_segments);
  }
  absl::StatusOr<crypto::JwsParts> parts = crypto::JwsDecode(jwt);
  if (!parts.ok()) {
    return Unauthenticatedf("token: {}", parts.status().message());
  }
  VOUCH_RETURN_IF_ERROR(CheckHeader(parts->header));

  // Step 2: the issuer selects the trust anchor. The payload is not trusted
  // yet, it only names which configured JWKS to verify against.
  absl::StatusOr<Json> claims = policy::ParseStrictJson(
      parts->payload, "token payload", {.max_bytes = options_.max_token_bytes, .max_depth = 32});
  if (!claims.ok()) {
    return Unauthenticatedf("{}", claims.status().message());
  }
  if (!claims->is_object() || !claims->contains("iss") || !(*claims)["iss"].is_string()) {
    return Unauthenticatedf("token: payload has no iss");
  }
  const std::string issuer = (*claims)["iss"].get<std::string>();
  const Authority* authority = FindAuthority(NormalizeIssuer(issuer));
  if (authority == nullptr) {
    return Unauthenticatedf("token: issuer {} is not a trusted authority",
                            policy::DescribeJson(Json(issuer)));
  }
  if (parts->header.contains("jku") && parts->header["jku"] != authority->issuer + "/certs") {
    return Unauthenticatedf("token: jku {} is not the trusted authority's {}/certs",
                            policy::DescribeJson(parts->header["jku"]), authority->issuer);
  }

  // Step 3: the key comes from that authority's JWKS, by kid.
  const std::string kid = parts->header["kid"].get<std::string>();
  const auto key = std::find_if(authority->keys.begin(), authority->keys.end(),
                                [&](const VerificationKey& k) { return k.kid == kid; });
  if (key == authority->keys.end()) {
    return Unauthenticatedf("token: kid {} is not in the JWKS of {}",
                            policy::DescribeJson(Json(kid)), authority->issuer);
  }
  const std::string alg_name = parts->header["alg"].get<std::string>();
  if (!key->alg.empty() && key->alg != alg_name) {
    return Unauthenticatedf("token: alg {} but key {} is for {}", alg_name, kid, key->alg);
  }
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, JwsAlgFromName(alg_name));
  const absl::Status verified = crypto::JwsVerify(*parts, key->key.get(), std::span(&alg, 1));
  if (!verified.ok()) {
    return Unauthenticatedf("token: signature: {}", verified.message());
  }

  // Step 4: validity period and audience.
  VOUCH_RETURN_IF_ERROR(CheckTimes(*claims, now));
  VOUCH_RETURN_IF_ERROR(CheckAudience(*claims));
  return *std::move(claims);
}

}  // namespace vouch::token
