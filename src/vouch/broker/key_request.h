// Parsing of the key management request bodies, in Azure Key Vault's shape
// with a few shortcuts for the `vouch keys` command.
//
// Create (PUT /keys/{name}):
//   {"kty": "oct-HSM" | "RSA-HSM" | "EC-HSM" (the forms without -HSM too; default oct-HSM),
//    "key_size": AES 128 | 192 | 256 (default 256), RSA 2048 | 3072 | 4096 (default 2048),
//    "crv": "P-256" | "P-384" (EC only; default P-256),
//    "key": {"kty": "oct", "k": base64url} (AES import instead of generate),
//    "attributes": {"exportable": bool, "enabled": bool},
//    "exportable": bool (same as attributes.exportable; default false),
//    "release_policy": {"contentType", "data": base64url(policy), "immutable": bool}
//                      or the policy JSON object itself,
//    "immutable": bool (same as release_policy.immutable),
//    "tags": {"name": "value", ...}}
// Rotate (POST /keys/{name}/rotate) takes "exportable", "attributes",
// "release_policy", "immutable" and "tags"; every member left out carries
// over from the latest version.
#ifndef VOUCH_BROKER_KEY_REQUEST_H_
#define VOUCH_BROKER_KEY_REQUEST_H_

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/keystore/keystore.h"

namespace vouch::broker {

// Azure Key Vault's limits on tags (15 per key, names up to 512 and values
// up to 256 characters).
inline constexpr size_t kMaxTags = 15;
inline constexpr size_t kMaxTagNameBytes = 512;
inline constexpr size_t kMaxTagValueBytes = 256;

// ReleasePolicyUpdate is a validated release policy with its immutable flag.
struct ReleasePolicyUpdate {
  std::string policy_text;  // canonical JSON of the validated policy
  bool immutable = false;
};

// CreateKeyRequest is a validated create body.
struct CreateKeyRequest {
  keystore::KeySpec spec;
  std::string kty;    // stored form: "oct-HSM", "RSA-HSM" or "EC-HSM"
  std::string curve;  // "P-256" or "P-384" for EC keys
  std::optional<SecretBytes> imported_key;
  bool exportable = false;
  bool enabled = true;
  std::optional<ReleasePolicyUpdate> policy;
  std::string tags_json;  // "" when the request has no tags
};

// RotateKeyRequest holds the members of a rotate body that replace the
// latest version's values; unset members carry over.
struct RotateKeyRequest {
  std::optional<bool> exportable;
  std::optional<bool> enabled;
  std::optional<ReleasePolicyUpdate> policy;
  std::optional<std::string> tags_json;
};

// ParseCreateKeyRequest validates a create body. InvalidArgument names the
// member and the accepted values; an exportable key without a release
// policy is rejected too.
absl::StatusOr<CreateKeyRequest> ParseCreateKeyRequest(const nlohmann::json& body);

// ParseRotateKeyRequest validates a rotate body (null or {} for none).
absl::StatusOr<RotateKeyRequest> ParseRotateKeyRequest(const nlohmann::json& body);

// ParseReleasePolicyBody validates the body of PUT .../releasepolicy: Key
// Vault's envelope {"contentType", "data", "immutable"} or the policy object.
absl::StatusOr<ReleasePolicyUpdate> ParseReleasePolicyBody(const nlohmann::json& body);

// StoredKty maps a request kty ("oct", "RSA-HSM", ...) to the stored form,
// or returns nullopt for an unknown kty.
std::optional<std::string> StoredKty(std::string_view kty);

// SpecForRecord returns the key spec of a stored version (kty and size), so
// a rotation makes a key of the same type.
absl::StatusOr<keystore::KeySpec> SpecForRecord(std::string_view kty, int key_size_bits);

}  // namespace vouch::broker

#endif  // VOUCH_BROKER_KEY_REQUEST_H_
