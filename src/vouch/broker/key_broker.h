// KeyBroker: key lifecycle and secure key release, independent of HTTP.
//
// Keys are AES (oct-HSM), RSA (RSA-HSM) or EC (EC-HSM) keys made inside a
// keystore::KeyStore, which returns an opaque sealed blob. Their records
// live in a store::Store. The lifecycle follows Azure Key Vault: a key has
// versions (create, rotate), each version can be disabled, and a deleted key
// stays recoverable for the recovery period (7 to 90 days) before it can be
// purged. Purge protection, once on, stays on, and then a purge waits for
// the end of the recovery period.
//
// A release
//   1. validates the attestation token against the trusted authorities,
//   2. checks the key version (enabled, exportable, with a release policy),
//   3. evaluates the release policy against the token's claims, with the
//      token's iss as the authority,
//   4. wraps the key inside the key store to the RSA key in the token's
//      x-ms-runtime.keys, and signs the Azure-shaped response.
// Every change is written to the store together with its audit record, in
// one transaction. Every release decision is audited with the token's
// issuer, the evidence kind and the policy condition that decided, and a
// release whose audit record cannot be written is not granted. Two
// exceptions keep unauthenticated callers from growing the log. A release
// with an invalid key name or version is rejected before it is audited.
// Denials for tokens that do not validate are rate-limited per key name
// (InvalidTokenAuditLimiter), and a summary record counts the suppressed
// ones. An audit detail longer than kMaxAuditDetailBytes is cut.
// Errors: NotFound for a missing key, version or release policy, and for a
// deleted key. Unauthenticated for a bad token, InvalidArgument for a
// malformed request or token content. FailedPrecondition for a change that
// conflicts with the key's state: an immutable policy, a deleted key's name,
// turning purge protection off. PermissionDenied for a policy refusal that
// names the failed condition, a disabled or non-exportable key, a key
// without a release policy, or a purge that purge protection forbids.
// No error message or audit record contains key bytes or whole tokens. A
// KeyBroker may be shared between threads: its only mutable state, the
// audit limiter, has its own mutex, and the Store and KeyStore interfaces
// require thread-safe implementations.
#ifndef VOUCH_BROKER_KEY_BROKER_H_
#define VOUCH_BROKER_KEY_BROKER_H_

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/broker/audit_limiter.h"
#include "vouch/broker/release_request.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/keystore/keystore.h"
#include "vouch/store/store.h"
#include "vouch/token/validator.h"

namespace vouch::broker {

// The claim that marks tokens issued for simulated evidence. A token with
// it set to anything but false is released only when the policy grants its
// claims and denies the same claims without this member, so the grant
// depends on the policy requiring the marker.
inline constexpr std::string_view kSimulatedClaim = "x-vouch-simulated";

// Audit details longer than this are cut, because they may quote request
// text such as a token that failed to parse.
inline constexpr size_t kMaxAuditDetailBytes = 512;

// The kid the guest agent gives its ephemeral RSA key in x-ms-runtime.keys.
inline constexpr std::string_view kEphemeralKeyKid = "TpmEphemeralEncryptionKey";

inline constexpr int kMinTargetRsaBits = 2048;

// The recovery period of deleted keys, in days, as in Azure Key Vault.
inline constexpr int kMinRecoveryDays = 7;
inline constexpr int kMaxRecoveryDays = 90;
inline constexpr int kDefaultRecoveryDays = 90;

// Store blob that records purge protection: present with the value {1}
// once it has been switched on.
inline constexpr char kPurgeProtectionBlob[] = "settings.purge-protection";

// The actor of audit records for changes made with the admin credential.
inline constexpr std::string_view kAdminActor = "admin";

// ReleaseKeys is one set of the keys a release uses: the validator of
// release tokens and the private key that signs release responses. `owner`
// keeps both alive while a release uses them.
struct ReleaseKeys {
  std::shared_ptr<const void> owner;
  const token::TokenValidator* validator = nullptr;
  EVP_PKEY* signing_key = nullptr;
};

// ReleaseKeySource supplies the release keys of a node whose token signing
// keys can change while it runs. Release takes one set per request, so a
// request never mixes keys of two sets.
class ReleaseKeySource {
 public:
  virtual ~ReleaseKeySource() = default;
  virtual ReleaseKeys Current() const = 0;
  // ReloadForToken is called when `keys` rejected token `jwt`. It returns a
  // newer set to validate `jwt` again with, or nullopt when there is none.
  virtual std::optional<ReleaseKeys> ReloadForToken(std::string_view jwt,
                                                    const ReleaseKeys& keys) = 0;
};

// Dependencies are borrowed and must outlive the broker.
struct KeyBrokerDeps {
  store::Store* store = nullptr;
  keystore::KeyStore* keystore = nullptr;
  const token::TokenValidator* validator = nullptr;
  // Private key that signs release responses (RSA, or EC P-256/P-384).
  EVP_PKEY* signing_key = nullptr;
  // When set, releases take the validator and signing key from this source
  // instead of `validator` and `signing_key`, which may then be null.
  ReleaseKeySource* key_source = nullptr;
  // Days a deleted key stays recoverable: kMinRecoveryDays to kMaxRecoveryDays.
  int recovery_days = kDefaultRecoveryDays;
};

class KeyBroker {
 public:
  // Create checks that every dependency is set and that the signing key is
  // usable (InvalidArgument otherwise). `audit_limits` bounds the audit
  // records of releases denied for an invalid token.
  static absl::StatusOr<std::unique_ptr<KeyBroker>> Create(
      KeyBrokerDeps deps, InvalidTokenAuditLimits audit_limits = {});

  // CreateKey makes a new version of key `name` from a create body (see
  // key_request.h), generating the key inside the key store or importing an
  // AES key. The release policy is validated here, so a malformed policy or
  // one naming no claim is rejected now (InvalidArgument). The version id is
  // 16 random bytes in hex. Returns the version's metadata (see GetKey),
  // never key bytes. `actor` names the caller in the audit record.
  absl::StatusOr<nlohmann::json> CreateKey(std::string_view name, const nlohmann::json& request,
                                           std::string_view base_url, absl::Time now,
                                           std::string_view actor = kAdminActor);

  // RotateKey makes a new version of an existing key with the type and size
  // of the latest version. Exportable, enabled, tags and the release policy
  // carry over unless the rotate body replaces them. A body that replaces an
  // immutable policy is rejected (FailedPrecondition).
  absl::StatusOr<nlohmann::json> RotateKey(std::string_view name, const nlohmann::json& request,
                                           std::string_view base_url, absl::Time now,
                                           std::string_view actor = kAdminActor);

  // GetKey returns the metadata of one version ("" = latest):
  //   {"key": {"kid": "<base_url>/keys/<name>/<version>", "kty", "key_ops",
  //            "n", "e" (RSA) or "crv", "x", "y" (EC)},
  //    "attributes": {"enabled", "exportable", "created", "updated",
  //                   "recoveryLevel", "recoverableDays"},
  //    "release_policy": {"contentType", "data", "immutable"} (when set),
  //    "tags": {...} (when set)}
  absl::StatusOr<nlohmann::json> GetKey(std::string_view name, std::string_view version,
                                        std::string_view base_url);

  // ListKeys returns {"value": [metadata of the latest version of each key]}
  // in name order, without deleted keys.
  absl::StatusOr<nlohmann::json> ListKeys(std::string_view base_url);

  // ListVersions returns {"value": [metadata of each version, oldest first]}.
  absl::StatusOr<nlohmann::json> ListVersions(std::string_view name, std::string_view base_url);

  // SetEnabled enables or disables one version and returns its metadata. A
  // disabled version is never released.
  absl::StatusOr<nlohmann::json> SetEnabled(std::string_view name, std::string_view version,
                                            bool enabled, std::string_view base_url,
                                            absl::Time now, std::string_view actor = kAdminActor);

  // GetReleasePolicy returns the policy envelope of one version; NotFound
  // when the version has none.
  absl::StatusOr<nlohmann::json> GetReleasePolicy(std::string_view name, std::string_view version);

  // SetReleasePolicy replaces the policy of one version atomically from a
  // body accepted by ParseReleasePolicyBody and returns the new envelope.
  // FailedPrecondition when the current policy is immutable.
  absl::StatusOr<nlohmann::json> SetReleasePolicy(std::string_view name, std::string_view version,
                                                  const nlohmann::json& request, absl::Time now,
                                                  std::string_view actor = kAdminActor);

  // DeleteKey soft-deletes every version of `name` for the recovery period
  // and returns the deleted key (see GetDeletedKey).
  absl::StatusOr<nlohmann::json> DeleteKey(std::string_view name, std::string_view base_url,
                                           absl::Time now, std::string_view actor = kAdminActor);

  // GetDeletedKey returns {"recoveryId": "<base_url>/deletedkeys/<name>",
  // "key": {"kid": "<base_url>/keys/<name>"}, "deletedDate",
  // "scheduledPurgeDate"} (Unix seconds). ListDeletedKeys returns
  // {"value": [...]} in name order.
  absl::StatusOr<nlohmann::json> GetDeletedKey(std::string_view name, std::string_view base_url);
  absl::StatusOr<nlohmann::json> ListDeletedKeys(std::string_view base_url);

  // RecoverKey undoes DeleteKey and returns the latest version's metadata.
  absl::StatusOr<nlohmann::json> RecoverKey(std::string_view name, std::string_view base_url,
                                            absl::Time now, std::string_view actor = kAdminActor);

  // PurgeKey destroys a deleted key's material in the key store, then
  // removes its records with the audit record in one store transaction.
  // When a DestroyKey fails, or the process stops in between, the records
  // stay and a repeated PurgeKey finishes the purge. NotFound when the key is
  // not deleted; PermissionDenied while purge protection is on and the
  // recovery period has not ended.
  absl::Status PurgeKey(std::string_view name, absl::Time now,
                        std::string_view actor = kAdminActor);

  // PurgeProtection reports whether purge protection is on.
  // SetPurgeProtection switches it on; switching it off once it is on is
  // FailedPrecondition. Setting the current value again succeeds.
  absl::StatusOr<bool> PurgeProtection();
  absl::Status SetPurgeProtection(bool enabled, absl::Time now,
                                  std::string_view actor = kAdminActor);

  // Release runs the release steps above for one version ("" = latest) and
  // returns {"value": JWS}. An invalid `name` or `version` gives
  // InvalidArgument without an audit record.
  absl::StatusOr<nlohmann::json> Release(std::string_view name, std::string_view version,
                                         const ReleaseRequest& request,
                                         std::string_view base_url, absl::Time now);

  // Jwks returns the JWKS of the key that signs release responses, so an
  // agent can verify them. With a key source, it is the key at Create.
  nlohmann::json Jwks() const { return jwks_; }

 private:
  KeyBroker(KeyBrokerDeps deps, InvalidTokenAuditLimits audit_limits)
      : deps_(deps), invalid_token_audit_(audit_limits) {}

  absl::StatusOr<nlohmann::json> ReleaseVerified(const store::KeyRecord& record,
                                                 const nlohmann::json& claims,
                                                 const ReleaseRequest& request,
                                                 std::string_view base_url,
                                                 EVP_PKEY* signing_key);
  // CurrentKeys returns the key source's current set, or the fixed keys.
  ReleaseKeys CurrentKeys() const;
  absl::Status Audit(std::string actor, std::string operation, std::string target,
                     std::string outcome, std::string detail, absl::Time now);
  // AuditRefusal records a change that was refused because of the key's
  // state or a policy (FailedPrecondition, PermissionDenied); other errors
  // are not recorded. The status is returned unchanged.
  absl::Status AuditRefusal(std::string_view actor, std::string_view operation,
                            std::string target, const absl::Status& status, absl::Time now);
  // StoreVersion generates (or imports) the key of `record` and stores it
  // with its audit record.
  absl::StatusOr<nlohmann::json> StoreNewVersion(store::KeyRecord record,
                                                 const keystore::KeySpec& spec,
                                                 const SecretBytes* imported_key,
                                                 std::string_view operation,
                                                 std::string_view actor, std::string_view base_url);
  absl::StatusOr<nlohmann::json> Metadata(const store::KeyRecord& record,
                                          std::string_view base_url);
  // AuditRelease writes the summary of suppressed invalid-token denials of
  // key `name` whose window has ended, then one release record.
  absl::Status AuditRelease(std::string_view name, std::string actor, std::string target,
                            std::string outcome, std::string detail, absl::Time now);
  void AuditInvalidToken(std::string_view name, std::string target, const absl::Status& status,
                         absl::Time now);
  void AuditSuppressed(const SuppressedDenials& suppressed, absl::Time now);

  KeyBrokerDeps deps_;
  nlohmann::json jwks_;
  InvalidTokenAuditLimiter invalid_token_audit_;
};

// KeyMetadataJson returns the metadata described at KeyBroker::GetKey.
// `purge_protection` selects the recoveryLevel value.
nlohmann::json KeyMetadataJson(const store::KeyRecord& record, std::string_view base_url,
                               int recovery_days, bool purge_protection);

// KeyLabel is the label a key version is sealed under: "key:<name>:<version>".
std::string KeyLabel(std::string_view name, std::string_view version);

// KeyId returns "<base_url>/keys/<name>/<version>", dropping trailing
// slashes of base_url.
std::string KeyId(std::string_view base_url, std::string_view name, std::string_view version);

// FindTargetKey returns the RSA public key in the claims' x-ms-runtime.keys
// that a release wraps to: the first usable RSA key with kid
// "TpmEphemeralEncryptionKey", else the first usable RSA key. A key is
// usable when its "use", if present, is "enc", its "key_ops", if present,
// contain "encrypt", and its modulus has at least kMinTargetRsaBits bits.
// `kid` receives the chosen key's kid. InvalidArgument when there is none.
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> FindTargetKey(const nlohmann::json& claims,
                                                       std::string* kid);

}  // namespace vouch::broker

#endif  // VOUCH_BROKER_KEY_BROKER_H_
