// Attestation token issuance in the shape of Microsoft Azure Attestation.
//
// A token is a compact JWS (RFC 7515) over a JSON claims object. The header
// is {"alg", "kid", "typ": "JWT"}, where kid is the RFC 7638 thumbprint of
// the signing key. Relying parties find the key in the issuer's JWKS,
// published at <issuer>/certs, so the header names no key location (no jku,
// jwk, x5u or x5c).
#ifndef VOUCH_TOKEN_ISSUER_H_
#define VOUCH_TOKEN_ISSUER_H_

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::token {

// Claims that Issue sets itself. Callers may not pass them.
inline constexpr std::string_view kIssuedClaims[] = {"iss", "iat", "nbf", "exp", "jti",
                                                     "x-ms-ver"};

struct TokenIssuerOptions {
  // Issuer URL, written to "iss" without a trailing slash.
  std::string issuer;
  absl::Duration lifetime = absl::Minutes(5);
};

class TokenIssuer {
 public:
  // Create takes ownership of `signing_key` (a private key). RSA keys sign
  // with RS256, as Azure Attestation does, EC P-256 keys with ES256 and EC
  // P-384 keys with ES384. It fails with InvalidArgument for other keys, an
  // issuer that is not an http(s) URL, or a lifetime that is not positive.
  static absl::StatusOr<TokenIssuer> Create(crypto::SslPtr<EVP_PKEY> signing_key,
                                            TokenIssuerOptions options);

  // Issue signs `claims` (a JSON object) after adding iss, iat, nbf (both
  // `now`), exp (`now` + lifetime), jti (32 random bytes, hex) and
  // x-ms-ver "1.0". Claims that already contain one of those names are
  // rejected with InvalidArgument.
  absl::StatusOr<std::string> Issue(nlohmann::json claims, absl::Time now) const;

  // AddPreviousKey publishes the public half of a retired signing key in
  // Jwks(), so tokens it signed stay verifiable during a key rotation. Call
  // it before sharing the issuer between threads: the other methods are
  // const and thread-safe, this one is not.
  absl::Status AddPreviousKey(EVP_PKEY* public_key);

  // Jwks returns {"keys": [...]}: the current key first, then previous keys,
  // each with kty and key members, kid, "use": "sig" and alg.
  nlohmann::json Jwks() const;

  // OpenIdConfiguration returns the OpenID Provider metadata that Azure Key
  // Vault reads from <issuer>/.well-known/openid-configuration.
  nlohmann::json OpenIdConfiguration() const;

  const std::string& issuer() const { return issuer_; }
  const std::string& kid() const { return kid_; }
  crypto::JwsAlg alg() const { return alg_; }
  absl::Duration lifetime() const { return lifetime_; }
  // signing_key stays owned by the issuer.
  EVP_PKEY* signing_key() const { return signing_key_.get(); }

 private:
  TokenIssuer() = default;

  crypto::SslPtr<EVP_PKEY> signing_key_;
  crypto::JwsAlg alg_ = crypto::JwsAlg::kRs256;
  std::string kid_;
  std::string issuer_;
  absl::Duration lifetime_;
  std::vector<nlohmann::json> jwks_keys_;  // current key first
};

// SigningAlgForKey picks the JWS algorithm for a signing key: RS256 for RSA,
// ES256 for P-256, ES384 for P-384, else InvalidArgument.
absl::StatusOr<crypto::JwsAlg> SigningAlgForKey(EVP_PKEY* key);

// PublicJwk returns the key's public JWK with kid (its RFC 7638 thumbprint),
// "use": "sig" and alg.
absl::StatusOr<nlohmann::json> PublicJwk(EVP_PKEY* key, crypto::JwsAlg alg);

// NormalizeIssuer removes trailing slashes from an issuer URL.
std::string_view NormalizeIssuer(std::string_view issuer);

}  // namespace vouch::token

#endif  // VOUCH_TOKEN_ISSUER_H_
