// The body of a key release request, in the shape of Azure Key Vault's
// POST /keys/{name}/{version}/release:
//
//   {"target": "<attestation token>", "nonce": "optional", "enc": "CKM_RSA_AES_KEY_WRAP"}
//
// `enc` selects how the released key is wrapped to the RSA key in the token.
// Each value is PKCS#11 CKM_RSA_AES_KEY_WRAP (RSA-OAEP of a fresh AES-256 key,
// then the target key under it with AES key wrap with padding, RFC 5649) with
// the OAEP and MGF1 hash given below. CKM_RSA_AES_KEY_WRAP uses SHA-1 as
// Azure Managed HSM does (Microsoft's cvm-securekey-release-app decrypts its
// releases with RSA-OAEP SHA-1). The SHA-256 and SHA-384 variants follow
// their names.
#ifndef VOUCH_BROKER_RELEASE_REQUEST_H_
#define VOUCH_BROKER_RELEASE_REQUEST_H_

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/crypto/hash.h"

namespace vouch::broker {

enum class KeyExportEnc {
  kCkmRsaAesKeyWrap,  // "CKM_RSA_AES_KEY_WRAP", OAEP with SHA-1
  kRsaAesKeyWrap256,  // "RSA_AES_KEY_WRAP_256", OAEP with SHA-256
  kRsaAesKeyWrap384,  // "RSA_AES_KEY_WRAP_384", OAEP with SHA-384
};

// EncName returns the wire name, e.g. "RSA_AES_KEY_WRAP_256".
std::string_view EncName(KeyExportEnc enc);

// ParseEnc maps a wire name to KeyExportEnc, or InvalidArgument listing the
// accepted values.
absl::StatusOr<KeyExportEnc> ParseEnc(std::string_view name);

// OaepHashForEnc returns the OAEP and MGF1 hash of `enc`.
crypto::HashAlg OaepHashForEnc(KeyExportEnc enc);

inline constexpr size_t kMaxReleaseRequestBytes = 128 * 1024;
inline constexpr size_t kMaxNonceBytes = 1024;

struct ReleaseRequest {
  std::string target;  // the attestation token (JWT)
  std::optional<std::string> nonce;
  KeyExportEnc enc = KeyExportEnc::kCkmRsaAesKeyWrap;
};

// ParseReleaseRequest parses and validates a request body. InvalidArgument
// for malformed JSON, a missing or empty target, a nonce that is not a string
// or longer than kMaxNonceBytes, an unknown enc (listing the accepted values)
// and unknown members.
absl::StatusOr<ReleaseRequest> ParseReleaseRequest(std::string_view body);
absl::StatusOr<ReleaseRequest> ReleaseRequestFromJson(const nlohmann::json& body);

// ReleaseRequestToJson builds the body an agent sends.
nlohmann::json ReleaseRequestToJson(const ReleaseRequest& request);

}  // namespace vouch::broker

#endif  // VOUCH_BROKER_RELEASE_REQUEST_H_
