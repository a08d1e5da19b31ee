// Public keys as JSON Web Keys (RFC 7517, RFC 7518 section 6) and their
// thumbprints (RFC 7638).
#ifndef VOUCH_CRYPTO_JWK_H_
#define VOUCH_CRYPTO_JWK_H_

#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto {

// Accepted RSA modulus sizes for keys read from JWKs.
inline constexpr int kMinJwkRsaBits = 2048;
inline constexpr int kMaxJwkRsaBits = 8192;

// PublicKeyToJwk returns {"kty":"RSA","n","e"} or {"kty":"EC","crv","x","y"}
// (P-256, P-384, P-521) with base64url members. Private parts of `key` are
// never written. Callers add "kid", "use" or "key_ops" themselves.
absl::StatusOr<nlohmann::json> PublicKeyToJwk(EVP_PKEY* key);

// PublicKeyFromJwk reads an RSA or EC public JWK. It returns InvalidArgument
// for a JWK that is not an object, has an unknown "kty" or carries private
// members ("d", "p", "q", "dp", "dq", "qi", "oth", "k"). RSA keys need a
// modulus of kMinJwkRsaBits to kMaxJwkRsaBits and an odd exponent from 65537
// to 2^256 - 1. EC coordinates must have the full field size and give a
// point on the curve. Other members ("kid", "use", "key_ops", "alg") are
// ignored.
absl::StatusOr<SslPtr<EVP_PKEY>> PublicKeyFromJwk(const nlohmann::json& jwk);

// JwkThumbprint returns the RFC 7638 SHA-256 thumbprint of the key's public
// JWK, base64url-encoded.
absl::StatusOr<std::string> JwkThumbprint(EVP_PKEY* key);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_JWK_H_
