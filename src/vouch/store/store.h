// Store: persistence for key records, the audit log and service state.
//
// The interface is abstract so that SQLite (sqlite_store.h) and, later,
// PostgreSQL can sit behind it and pass one conformance suite
// (store_conformance_test.h). Implementations are thread-safe: one Store may
// be shared by every request handler.
//
// Key material never reaches the store in clear: `KeyRecord::sealed_key` is a
// blob made by a keystore::KeyStore, and only that key store can open it.
#ifndef VOUCH_STORE_STORE_H_
#define VOUCH_STORE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"

namespace vouch::store {

// KeyRecord is one version of a named key. A key exists while it has at
// least one version.
struct KeyRecord {
  std::string name;     // [A-Za-z0-9-]{1,127}, validated by the store
  std::string version;  // 32 lower-case hex chars, validated by the store
  absl::Time created;   // set by the caller; stored with microsecond precision
  absl::Time updated;   // set by the caller at creation; the store sets it on changes
  bool enabled = true;
  bool exportable = true;
  std::string kty;  // "oct-HSM", "RSA-HSM" or "EC-HSM"
  int key_size_bits = 256;
  std::string curve;           // "P-256" or "P-384" for EC keys; empty otherwise
  Bytes public_key;            // DER SubjectPublicKeyInfo of RSA/EC keys; empty for AES
  Bytes sealed_key;            // keystore blob, never plaintext
  std::string keystore;        // which KeyStore sealed it: "software", "pkcs11"
  std::string release_policy;  // JSON text; empty = none
  bool policy_immutable = false;
  std::string tags_json;  // JSON object of operator tags (for example a LUKS volume UUID); "" = none
};

// DeletedKey is a soft-deleted key: all its versions are kept, hidden from
// reads, until it is recovered or purged.
struct DeletedKey {
  std::string name;
  absl::Time deleted;          // when it was deleted
  absl::Time scheduled_purge;  // the earliest time a purge is allowed
};

// AuditQuery selects audit records; unset fields match everything.
struct AuditQuery {
  std::optional<std::string> target_prefix;  // e.g. "keys/name/"
  std::optional<std::string> operation;      // exact match
  std::optional<std::string> outcome;        // exact match
  std::optional<absl::Time> since;           // time >= since
  std::optional<absl::Time> until;           // time < until
  size_t limit = 1000;                       // the newest `limit` matches, oldest first
};

// AuditEvent is one record of the append-only audit log. Callers must not
// put key material or whole tokens in any field.
struct AuditEvent {
  absl::Time time = absl::Now();
  std::string actor;      // who: "admin", a token subject, a client certificate
  std::string operation;  // what: "key.create", "key.release", ...
  std::string target;     // on which object: "keys/name/version"
  std::string outcome;    // "granted", "denied", "ok", "error"
  std::string detail;     // why: the policy condition that decided, the error

  // Set by the store when it reads the log; ignored by AppendAudit.
  // `sequence` counts from 1. `hash` is SHA-256(prev_hash || canonical
  // encoding of this event), and the first event's prev_hash is 32 zero
  // bytes (see audit.h), so an edited or removed record breaks the chain.
  int64_t sequence = 0;
  Bytes prev_hash;
  Bytes hash;
};

// BlobWrite is one change made by Store::WriteBlobs: it stores `value`
// under `name`, or deletes the blob when `value` is nullopt. Deleting a blob
// that does not exist is not an error.
struct BlobWrite {
  std::string name;
  std::optional<Bytes> value;
};

// BlobPrecondition is a compare-and-set check of Store::WriteBlobs: inside
// the transaction, blob `name` must hold exactly `value`, or must not exist
// when `value` is nullopt.
struct BlobPrecondition {
  std::string name;
  std::optional<Bytes> value;
};

// Mutating key methods take an optional audit event. When it is not null,
// the store appends it in the same transaction as the change, so a crash
// leaves either both or neither. Implementations add
// `using Store::PutKeyVersion;` (and so on) to keep the short overloads.
//
// Soft-deleted keys (see SoftDeleteKey) are hidden: GetKey, ListKeyVersions,
// UpdateKeyAttributes and SetReleasePolicy answer NotFound with a message
// that says the key is deleted, ListKeyNames omits them, and PutKeyVersion
// answers FailedPrecondition, since the name stays taken until a purge.
class Store {
 public:
  virtual ~Store() = default;

  // PutKeyVersion stores a new version of a key, creating the key on its
  // first version, atomically. AlreadyExists on a duplicate (name, version);
  // InvalidArgument on an invalid name, version or empty sealed_key.
  virtual absl::Status PutKeyVersion(const KeyRecord& record, const AuditEvent* audit) = 0;
  absl::Status PutKeyVersion(const KeyRecord& record) { return PutKeyVersion(record, nullptr); }

  // GetKey returns one version. An empty `version` selects the latest: the
  // newest by `created`, enabled or not, and the last stored among equal
  // times. NotFound names the key and the version that are missing.
  virtual absl::StatusOr<KeyRecord> GetKey(std::string_view name, std::string_view version) = 0;

  // ListKeyNames returns every key name in byte order.
  virtual absl::StatusOr<std::vector<std::string>> ListKeyNames() = 0;

  // ListKeyVersions returns every version of `name`, oldest first (the same
  // order that makes the last one "latest" for GetKey), with sealed_key
  // cleared. NotFound when the key has no versions.
  virtual absl::StatusOr<std::vector<KeyRecord>> ListKeyVersions(std::string_view name) = 0;

  // UpdateKeyAttributes enables or disables one version and sets its
  // `updated` time to now. NotFound when the version does not exist.
  virtual absl::Status UpdateKeyAttributes(std::string_view name, std::string_view version,
                                           bool enabled, const AuditEvent* audit) = 0;
  absl::Status UpdateKeyAttributes(std::string_view name, std::string_view version, bool enabled) {
    return UpdateKeyAttributes(name, version, enabled, nullptr);
  }

  // SetReleasePolicy replaces the release policy of one version atomically
  // ("" removes it) and sets its immutable flag. FailedPrecondition if the
  // current policy is immutable; NotFound when the version does not exist.
  // The store does not parse the JSON: the broker validates a policy first.
  virtual absl::Status SetReleasePolicy(std::string_view name, std::string_view version,
                                        std::string_view policy_json, bool immutable,
                                        const AuditEvent* audit) = 0;
  absl::Status SetReleasePolicy(std::string_view name, std::string_view version,
                                std::string_view policy_json) {
    return SetReleasePolicy(name, version, policy_json, false, nullptr);
  }

  // SoftDeleteKey hides every version of `name` until RecoverKey or
  // PurgeKey. NotFound when the key does not exist; FailedPrecondition when
  // it is already deleted. The caller computes `scheduled_purge` from its
  // recovery period.
  virtual absl::Status SoftDeleteKey(std::string_view name, absl::Time deleted,
                                     absl::Time scheduled_purge, const AuditEvent* audit) = 0;

  // RecoverKey undoes SoftDeleteKey. NotFound when `name` is not deleted.
  virtual absl::Status RecoverKey(std::string_view name, const AuditEvent* audit) = 0;

  // PurgeKey removes a deleted key and all its versions for good and
  // returns the removed versions (with sealed_key), so the caller can
  // destroy token objects. NotFound when `name` is not deleted. The store
  // does not check scheduled_purge or purge protection: the broker does.
  virtual absl::StatusOr<std::vector<KeyRecord>> PurgeKey(std::string_view name,
                                                          const AuditEvent* audit) = 0;

  // GetDeletedKey returns the deletion state of `name`; NotFound when the
  // key is not deleted. ListDeletedKeys lists them in name order.
  virtual absl::StatusOr<DeletedKey> GetDeletedKey(std::string_view name) = 0;
  virtual absl::StatusOr<std::vector<DeletedKey>> ListDeletedKeys() = 0;

  // ListDeletedKeyVersions returns every version of the soft-deleted key
  // `name`, oldest first, with sealed_key. A purge reads them to destroy the
  // key store objects before PurgeKey removes the records; backups copy
  // them. NotFound when `name` is not deleted.
  virtual absl::StatusOr<std::vector<KeyRecord>> ListDeletedKeyVersions(std::string_view name) = 0;

  // PutNonce records a single-use nonce (1 to 64 bytes) valid until
  // `expires`. AlreadyExists when the same nonce is outstanding.
  virtual absl::Status PutNonce(ByteSpan nonce, absl::Time expires) = 0;

  // ConsumeNonce removes `nonce` and succeeds once: NotFound when it was
  // never issued or was already used, FailedPrecondition when it expired
  // before `now` (it is removed too). All nodes sharing a store see one
  // outcome for each nonce.
  virtual absl::Status ConsumeNonce(ByteSpan nonce, absl::Time now) = 0;

  // PurgeExpiredNonces removes nonces that expired before `now` and returns
  // how many it removed.
  virtual absl::StatusOr<int64_t> PurgeExpiredNonces(absl::Time now) = 0;

  // AppendAudit appends `event` to the log, chaining it to the previous
  // record in the same transaction, so concurrent appends keep one chain.
  virtual absl::Status AppendAudit(const AuditEvent& event) = 0;

  // ReadAudit returns the newest `max_events` records, oldest first, with
  // sequence, prev_hash and hash filled in. Pass kAllAuditEvents to read the
  // whole log, as VerifyAuditChain (audit.h) does.
  virtual absl::StatusOr<std::vector<AuditEvent>> ReadAudit(size_t max_events) = 0;

  // QueryAudit returns the records that match `query`, oldest first, with
  // sequence and hashes filled in.
  virtual absl::StatusOr<std::vector<AuditEvent>> QueryAudit(const AuditQuery& query) = 0;

  // GetBlob returns a small named value of service state (for example the
  // sealed token signing key), or nullopt when none is stored.
  // Blob names match [A-Za-z0-9._:-]{1,127}.
  virtual absl::StatusOr<std::optional<Bytes>> GetBlob(std::string_view name) = 0;

  // PutBlob creates or replaces a named value (at most kMaxBlobBytes).
  virtual absl::Status PutBlob(std::string_view name, ByteSpan value) = 0;

  // ListBlobNames returns every blob name in byte order. DeleteBlob removes
  // one; NotFound when it does not exist.
  virtual absl::StatusOr<std::vector<std::string>> ListBlobNames() = 0;
  virtual absl::Status DeleteBlob(std::string_view name) = 0;

  // WriteBlobs checks `preconditions`, applies `writes` in order and appends
  // `audit` when it is not null, in one transaction: on any error, and after
  // a crash, every blob and the audit log are as they were before the call.
  // Aborted when a precondition does not hold, because another writer changed
  // the blob since the caller read it: read again and retry, or report.
  // InvalidArgument for an invalid blob name, a value over kMaxBlobBytes or
  // an invalid audit event, checked before the transaction starts.
  virtual absl::Status WriteBlobs(const std::vector<BlobPrecondition>& preconditions,
                                  const std::vector<BlobWrite>& writes,
                                  const AuditEvent* audit) = 0;
  absl::Status WriteBlobs(const std::vector<BlobWrite>& writes, const AuditEvent* audit) {
    return WriteBlobs({}, writes, audit);
  }
};

inline constexpr size_t kAllAuditEvents = static_cast<size_t>(-1);
inline constexpr size_t kMaxBlobBytes = 1 << 20;

// ValidateKeyName accepts [A-Za-z0-9-]{1,127}, so a name is safe in URL paths
// and in keystore labels. Names are case-sensitive.
absl::Status ValidateKeyName(std::string_view name);

// ValidateKeyVersion accepts exactly 32 lower-case hex characters.
absl::Status ValidateKeyVersion(std::string_view version);

// ValidateBlobName accepts [A-Za-z0-9._:-]{1,127}.
absl::Status ValidateBlobName(std::string_view name);

}  // namespace vouch::store

#endif  // VOUCH_STORE_STORE_H_
