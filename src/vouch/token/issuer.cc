#include "vouch/token/issuer.h"

#include <utility>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"

namespace vouch::token {
namespace {

using Json = nlohmann::json;

constexpr size_t kJtiBytes = 32;

bool IsHttpUrl(std::string_view url) {
  return url.starts_with("https://") || url.starts_with("http://");
}

// Claim names this service issues, listed in the OpenID metadata. The
// x-ms-sevsnpvm-* names follow Azure Attestation's SEV-SNP token.
constexpr std::string_view kClaimsSupported[] = {
    "iss",
    "iat",
    "nbf",
    "exp",
    "jti",
    "nonce",
    "x-ms-ver",
    "x-ms-attestation-type",
    "x-ms-runtime",
    "x-ms-sevsnpvm-authorkeydigest",
    "x-ms-sevsnpvm-bootloader-svn",
    "x-ms-sevsnpvm-familyId",
    "x-ms-sevsnpvm-guestsvn",
    "x-ms-sevsnpvm-hostdata",
    "x-ms-sevsnpvm-idkeydigest",
    "x-ms-sevsnpvm-imageId",
    "x-ms-sevsnpvm-is-debuggable",
    "x-ms-sevsnpvm-launchmeasurement",
    "x-ms-sevsnpvm-microcode-svn",
    "x-ms-sevsnpvm-migration-allowed",
    "x-ms-sevsnpvm-reportdata",
    "x-ms-sevsnpvm-reportid",
    "x-ms-sevsnpvm-smt-allowed",
    "x-ms-sevsnpvm-snpfw-svn",
    "x-ms-sevsnpvm-tee-svn",
    "x-ms-sevsnpvm-vmpl",
    "x-vouch-simulated",
};

}  // namespace

std::string_view NormalizeIssuer(std::string_view issuer) {
  while (!issuer.empty() && issuer.back() == '/') {
    issuer.remove_suffix(1);
  }
  return issuer;
}

absl::StatusOr<crypto::JwsAlg> SigningAlgForKey(EVP_PKEY* key) {
  if (key == nullptr) {
    return InvalidArgumentf("token signing key: missing");
  }
  if (crypto::IsRsaKey(key)) {
    return crypto::JwsAlg::kRs256;
  }
  if (crypto::IsEcKey(key)) {
    VOUCH_ASSIGN_OR_RETURN(const std::string curve, crypto::EcCurveName(key));
    if (curve == "P-256") {
      return crypto::JwsAlg::kEs256;
    }
    if (curve == "P-384") {
      return crypto::JwsAlg::kEs384;
    }
    return InvalidArgumentf("token signing key: curve {}, want P-256 or P-384", curve);
  }
  return InvalidArgumentf("token signing key: want an RSA or EC key");
}

absl::StatusOr<nlohmann::json> PublicJwk(EVP_PKEY* key, crypto::JwsAlg alg) {
  VOUCH_ASSIGN_OR_RETURN(Json jwk, crypto::PublicKeyToJwk(key));
  VOUCH_ASSIGN_OR_RETURN(std::string kid, crypto::JwkThumbprint(key));
  jwk["kid"] = std::move(kid);
  jwk["use"] = "sig";
  jwk["alg"] = std::string(crypto::JwsAlgName(alg));
  return jwk;
}

absl::StatusOr<TokenIssuer> TokenIssuer::Create(crypto::SslPtr<EVP_PKEY> signing_key,
                                                TokenIssuerOptions options) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, SigningAlgForKey(signing_key.get()));
  const std::string_view issuer = NormalizeIssuer(options.issuer);
  if (!IsHttpUrl(issuer) || issuer.find_first_of(" \t\r\n") != std::string_view::npos) {
    return InvalidArgumentf("token issuer: \"{}\" is not an http(s) URL", options.issuer);
  }
  if (options.lifetime <= absl::ZeroDuration()) {
    return InvalidArgumentf("token issuer: lifetime {} must be positive",
                            absl::FormatDuration(options.lifetime));
  }
  VOUCH_ASSIGN_OR_RETURN(Json jwk, PublicJwk(signing_key.get(), alg));

  TokenIssuer token_issuer;
  token_issuer.alg_ = alg;
  token_issuer.kid_ = jwk["kid"].get<std::string>();
  token_issuer.issuer_ = std::string(issuer);
  token_issuer.lifetime_ = options.lifetime;
  token_issuer.signing_key_ = std::move(signing_key);
  token_issuer.jwks_keys_.push_back(std::move(jwk));
  return token_issuer;
}

absl::StatusOr<std::string> TokenIssuer::Issue(nlohmann::json claims, absl::Time now) const {
  if (!claims.is_object()) {
    return InvalidArgumentf("token claims: want a JSON object");
  }
  for (const std::string_view name : kIssuedClaims) {
    if (claims.contains(name)) {
      return InvalidArgumentf("token claims: \"{}\" is set by the issuer, remove it", name);
    }
  }

  const int64_t issued_at = absl::ToUnixSeconds(now);
  claims["iss"] = issuer_;
  claims["iat"] = issued_at;
  claims["nbf"] = issued_at;
  claims["exp"] = absl::ToUnixSeconds(now + lifetime_);
  claims["jti"] = HexEncode(crypto::RandomBytes(kJtiBytes));
  claims["x-ms-ver"] = "1.0";

  const Json header = {{"kid", kid_}, {"typ", "JWT"}};
  return crypto::JwsSign(signing_key_.get(), alg_, header, claims.dump());
}

absl::Status TokenIssuer::AddPreviousKey(EVP_PKEY* public_key) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, SigningAlgForKey(public_key));
  VOUCH_ASSIGN_OR_RETURN(Json jwk, PublicJwk(public_key, alg));
  for (const Json& existing : jwks_keys_) {
    if (existing["kid"] == jwk["kid"]) {
      return absl::OkStatus();
    }
  }
  jwks_keys_.push_back(std::move(jwk));
  return absl::OkStatus();
}

nlohmann::json TokenIssuer::Jwks() const { return Json{{"keys", jwks_keys_}}; }

nlohmann::json TokenIssuer::OpenIdConfiguration() const {
  Json algs = Json::array();
  for (const Json& key : jwks_keys_) {
    if (std::find(algs.begin(), algs.end(), key["alg"]) == algs.end()) {
      algs.push_back(key["alg"]);
    }
  }
  Json claims_supported = Json::array();
  for (const std::string_view name : kClaimsSupported) {
    claims_supported.push_back(name);
  }
  return Json{
      {"issuer", issuer_},
      {"jwks_uri", issuer_ + "/certs"},
      {"response_types_supported", Json::array({"token", "none"})},
      {"id_token_signing_alg_values_supported", std::move(algs)},
      {"claims_supported", std::move(claims_supported)},
  };
}

}  // namespace vouch::token
