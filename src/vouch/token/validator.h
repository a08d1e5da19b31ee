// Attestation token validation for the key broker.
//
// Trust comes only from configuration: a token is accepted when its "iss" is
// a configured authority and its signature verifies with a key from that
// authority's configured JWKS, found by the header's kid. Keys or key
// locations named inside the token (jwk, x5c, x5u, and a jku other than
// <issuer>/certs) are rejected, never followed.
#ifndef VOUCH_TOKEN_VALIDATOR_H_
#define VOUCH_TOKEN_VALIDATOR_H_

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::token {

class TokenIssuer;

// TrustedAuthority pairs an issuer URL with the JWKS that contains its signing
// keys. Each JWK needs a kid and either public key members (RSA n/e, EC
// crv/x/y) or an x5c certificate chain whose first certificate contains the key,
// as Azure Attestation publishes at <issuer>/certs. Keys whose "use" is not
// "sig" are ignored.
struct TrustedAuthority {
  std::string issuer;
  nlohmann::json jwks;
};

struct TokenValidatorOptions {
  // "none" and HMAC algorithms have no JwsAlg value, and Validate rejects
  // them by name before it reads this list.
  std::vector<crypto::JwsAlg> allowed_algs = {crypto::JwsAlg::kRs256, crypto::JwsAlg::kPs256,
                                              crypto::JwsAlg::kEs256, crypto::JwsAlg::kEs384};
  // Clock skew tolerated on exp, nbf and iat.
  absl::Duration leeway = absl::Seconds(60);
  size_t max_token_bytes = 64 * 1024;
  // Expected audiences. When not empty, a token is accepted only when its
  // "aud" (a string, or an array of strings) contains one of these values
  // (RFC 7519 section 4.1.3); when empty, "aud" is not read.
  std::vector<std::string> audiences = {};
};

class TokenValidator {
 public:
  // Create checks every authority and JWKS and returns InvalidArgument for an
  // empty list, an issuer that appears twice, a JWK without kid, a kid that
  // appears twice in one JWKS, or a key that does not parse.
  static absl::StatusOr<TokenValidator> Create(std::vector<TrustedAuthority> authorities,
                                               TokenValidatorOptions options = {});

  // ForIssuer trusts the built-in attestation service: the issuer's URL and JWKS.
  static absl::StatusOr<TokenValidator> ForIssuer(const TokenIssuer& issuer,
                                                  TokenValidatorOptions options = {});

  // Validate verifies `jwt` at time `now` and returns its claims. Every
  // failure is Unauthenticated with a message naming the check, for example
  // `token: expired at 2025-01-01T00:05:00Z (now 2025-01-01T00:07:00Z, leeway 60s)`.
  // Checks: size, three segments, header (alg allowed and never none/HS*,
  // kid present, typ "JWT" if present, no jwk/x5c/x5u/crit, jku only as
  // <iss>/certs), iss a trusted authority, the kid in that authority's
  // JWKS, the signature, exp required and not passed, nbf and iat not in the
  // future (each with the leeway), and "aud" when options.audiences is set.
  absl::StatusOr<nlohmann::json> Validate(std::string_view jwt, absl::Time now) const;

  // Issuers lists the trusted issuers (normalized, without trailing slash).
  std::vector<std::string> Issuers() const;

  struct VerificationKey {
    std::string kid;
    std::string alg;  // empty when the JWK names no alg
    std::shared_ptr<EVP_PKEY> key;
  };
  struct Authority {
    std::string issuer;
    std::vector<VerificationKey> keys;
  };

 private:
  TokenValidator() = default;

  const Authority* FindAuthority(std::string_view issuer) const;
  absl::Status CheckHeader(const nlohmann::json& header) const;
  absl::Status CheckTimes(const nlohmann::json& claims, absl::Time now) const;
  absl::Status CheckAudience(const nlohmann::json& claims) const;

  std::vector<Authority> authorities_;
  TokenValidatorOptions options_;
};

// JwsAlgFromName maps "RS256", "PS256", "ES256" and "ES384" to JwsAlg.
absl::StatusOr<crypto::JwsAlg> JwsAlgFromName(std::string_view name);

}  // namespace vouch::token

#endif  // VOUCH_TOKEN_VALIDATOR_H_
