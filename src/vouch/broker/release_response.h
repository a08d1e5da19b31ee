// The key release response, in the shape of Azure Key Vault's: {"value": JWS}
// where the JWS, signed by the broker, carries
//
//   {"request": {"api-version": "7.3", "enc": ENC, "kid": KID, "nonce"?: ...},
//    "response": {"key": {"key": {"kid": KID, "kty": "oct-HSM", "key_ops": [...],
//                                 "key_hsm": base64url(KEY_HSM)},
//                         "attributes": {"enabled", "exportable", "created", "updated"},
//                         "release_policy": {"contentType", "data"}}}}
//
// and KEY_HSM is the UTF-8 JSON
//
//   {"schema_version": "1.0",
//    "header": {"kid": TARGET_KID, "alg": "dir", "enc": ENC},
//    "ciphertext": base64url(RSA-OAEP(AES key) || RFC 5649 wrap of the key)}
//
// Both sides live here: the broker builds and signs, the agent unwraps.
#ifndef VOUCH_BROKER_RELEASE_RESPONSE_H_
#define VOUCH_BROKER_RELEASE_RESPONSE_H_

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/broker/release_request.h"

namespace vouch::broker {

// The Key Vault API version whose release response this payload mirrors.
inline constexpr std::string_view kReleaseApiVersion = "7.3";
inline constexpr size_t kMaxReleaseResponseBytes = 256 * 1024;

// ReleasedKey holds everything the payload states about the released key.
// `wrapped` is the CKM_RSA_AES_KEY_WRAP output: it contains no clear key bytes.
struct ReleasedKey {
  std::string kid;         // "<base URL>/keys/<name>/<version>"
  std::string kty = "oct-HSM";  // "oct-HSM", "RSA-HSM" or "EC-HSM"
  KeyExportEnc enc = KeyExportEnc::kCkmRsaAesKeyWrap;
  std::optional<std::string> nonce;
  std::string target_kid;  // kid of the RSA key it was wrapped to
  Bytes wrapped;
  bool enabled = true;
  bool exportable = true;
  absl::Time created;
  absl::Time updated;
  std::string release_policy;  // policy JSON text
  std::string tags_json;       // JSON object of the key's tags; "" = none
};

// SymmetricKeyOps lists the key operations of a released symmetric key.
nlohmann::json SymmetricKeyOps();

// KeyOpsForKty lists the key operations of a key type as Key Vault does:
// oct-HSM encrypts and wraps, RSA-HSM also signs, EC-HSM only signs.
nlohmann::json KeyOpsForKty(std::string_view kty);

// ReleasePolicyEnvelope encodes policy JSON text as Key Vault carries it:
// {"contentType": "application/json; charset=utf-8", "data": base64url(text)}.
nlohmann::json ReleasePolicyEnvelope(std::string_view policy_json, bool immutable);

// BuildReleasePayload returns the JWS payload described above.
nlohmann::json BuildReleasePayload(const ReleasedKey& key);

// SignReleaseResponse signs the payload with the broker's key (RS256 for
// RSA, ES256/ES384 for EC P-256/P-384, header {alg, kid, typ "JWT"}, kid
// being the key's RFC 7638 thumbprint) and returns {"value": JWS}.
absl::StatusOr<nlohmann::json> SignReleaseResponse(EVP_PKEY* signing_key,
                                                   const nlohmann::json& payload);

// ReleaseVerification selects how the agent checks the broker's signature:
// with `broker_key`, or with the key named by kid in `broker_jwks`. With
// neither, the signature is not checked and the caller relies on the
// channel (TLS to the broker) for the response's origin.
struct ReleaseVerification {
  EVP_PKEY* broker_key = nullptr;
  const nlohmann::json* broker_jwks = nullptr;
  // When set, the response must carry this enc (in request and key_hsm).
  std::optional<KeyExportEnc> expected_enc = std::nullopt;
};

// UnwrapReleasedKey takes the "value" of a release response and optionally
// verifies its signature. It reads response.key.key.key_hsm and checks that
// its header enc is supported and equals the request's enc. Then it unwraps
// the ciphertext with `ephemeral_private_key`, using the OAEP hash of that enc. Errors: InvalidArgument for a malformed response,
// Unauthenticated when the signature or the unwrap fails.
absl::StatusOr<SecretBytes> UnwrapReleasedKey(std::string_view jws_value,
                                              EVP_PKEY* ephemeral_private_key,
                                              const ReleaseVerification& verification = {});

}  // namespace vouch::broker

#endif  // VOUCH_BROKER_RELEASE_RESPONSE_H_
