// JSON Web Signatures in compact serialization (RFC 7515) with the
// asymmetric algorithms of RFC 7518 section 3 that vouch accepts.
//
// "none" and the HMAC algorithms (HS256...) are never accepted, because a
// verifier holding only public keys must never treat one as an HMAC secret.
#ifndef VOUCH_CRYPTO_JWS_H_
#define VOUCH_CRYPTO_JWS_H_

#include <openssl/evp.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"

namespace vouch::crypto {

// Upper bound on a compact JWS (Azure Attestation tokens are about 5 KiB).
inline constexpr size_t kMaxJwsBytes = 256 * 1024;

enum class JwsAlg {
  kRs256,  // RSASSA-PKCS1-v1_5 with SHA-256
  kPs256,  // RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt
  kEs256,  // ECDSA P-256 with SHA-256, raw r||s
  kEs384,  // ECDSA P-384 with SHA-384, raw r||s
};

// JwsAlgName returns the "alg" header value ("RS256", "PS256", "ES256",
// "ES384").
std::string_view JwsAlgName(JwsAlg alg);

// ParseJwsAlg maps an "alg" value to JwsAlg. Unknown values, "none" and
// HS256/HS384/HS512 are Unauthenticated.
absl::StatusOr<JwsAlg> ParseJwsAlg(std::string_view name);

// JwsSign signs `payload` with `key` and returns the compact serialization.
// It sets "alg" in `header` (which must be a JSON object or null) and
// returns InvalidArgument when `alg` does not fit the key (RSA of at least
// 2048 bits for RS256/PS256, P-256 for ES256, P-384 for ES384).
absl::StatusOr<std::string> JwsSign(EVP_PKEY* key, JwsAlg alg, nlohmann::json header,
                                    std::string_view payload);

// JwsParts is a decoded but unverified compact JWS.
struct JwsParts {
  nlohmann::json header;
  std::string payload;
  std::string signing_input;  // BASE64URL(header) "." BASE64URL(payload)
  Bytes signature;
};

// JwsDecode splits and decodes a compact JWS without verifying it. It
// returns InvalidArgument unless the input has exactly three segments of
// unpadded base64url, is at most kMaxJwsBytes, and the header is a JSON
// object with a string "alg".
absl::StatusOr<JwsParts> JwsDecode(std::string_view compact);

// JwsVerify checks the signature of `parts` with `key`. It returns
// Unauthenticated when the signature does not verify or when the header's
// alg is not in `allowed`, is "none" or HS*, or does not fit the key type and
// size. A header with a "crit" member is also Unauthenticated, because no
// extensions are supported.
absl::Status JwsVerify(const JwsParts& parts, EVP_PKEY* key, std::span<const JwsAlg> allowed);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_JWS_H_
