// SqliteStore: the Store in one SQLite database file.
//
// Each SqliteStore has one connection, guarded by a mutex. Several SqliteStore
// objects or processes may open the same file, because SQLite's file locks and
// a busy timeout serialize their writes. The database runs in WAL mode with
// synchronous=FULL, so a committed write survives a process crash or a power
// loss. Every multi-statement write is one BEGIN IMMEDIATE transaction.
#ifndef VOUCH_STORE_SQLITE_STORE_H_
#define VOUCH_STORE_SQLITE_STORE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/mutex.h"
#include "vouch/store/store.h"

struct sqlite3;

namespace vouch::store {

namespace internal {
struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
}  // namespace internal

class SqliteStore : public Store {
 public:
  // Open opens or creates the database at `path` (created with mode 0600)
  // and migrates its schema to the current version in one transaction.
  // FailedPrecondition when the file was written by a newer vouch (a schema
  // version this build does not know) or is not a SQLite database.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);

  // Open with a busy timeout other than the default (5 seconds). A write
  // that waits longer for another connection's lock fails with Unavailable.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           absl::Duration busy_timeout);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  using Store::PutKeyVersion;
  using Store::SetReleasePolicy;
  using Store::UpdateKeyAttributes;
  using Store::WriteBlobs;

  absl::Status PutKeyVersion(const KeyRecord& record, const AuditEvent* audit) override;
  absl::StatusOr<KeyRecord> GetKey(std::string_view name, std::string_view version) override;
  absl::StatusOr<std::vector<std::string>> ListKeyNames() override;
  absl::StatusOr<std::vector<KeyRecord>> ListKeyVersions(std::string_view name) override;
  absl::Status UpdateKeyAttributes(std::string_view name, std::string_view version, bool enabled,
                                   const AuditEvent* audit) override;
  absl::Status SetReleasePolicy(std::string_view name, std::string_view version,
                                std::string_view policy_json, bool immutable,
                                const AuditEvent* audit) override;
  absl::Status SoftDeleteKey(std::string_view name, absl::Time deleted, absl::Time scheduled_purge,
                             const AuditEvent* audit) override;
  absl::Status RecoverKey(std::string_view name, const AuditEvent* audit) override;
  absl::StatusOr<std::vector<KeyRecord>> PurgeKey(std::string_view name,
                                                  const AuditEvent* audit) override;
  absl::StatusOr<DeletedKey> GetDeletedKey(std::string_view name) override;
  absl::StatusOr<std::vector<DeletedKey>> ListDeletedKeys() override;

  absl::StatusOr<std::vector<KeyRecord>> ListDeletedKeyVersions(std::string_view name) override;
  absl::Status PutNonce(ByteSpan nonce, absl::Time expires) override;
  absl::Status ConsumeNonce(ByteSpan nonce, absl::Time now) override;
  absl::StatusOr<int64_t> PurgeExpiredNonces(absl::Time now) override;
  absl::StatusOr<std::vector<AuditEvent>> QueryAudit(const AuditQuery& query) override;
  absl::StatusOr<std::vector<std::string>> ListBlobNames() override;
  absl::Status DeleteBlob(std::string_view name) override;
  absl::Status AppendAudit(const AuditEvent& event) override;
  absl::StatusOr<std::vector<AuditEvent>> ReadAudit(size_t max_events) override;
  absl::StatusOr<std::optional<Bytes>> GetBlob(std::string_view name) override;
  absl::Status PutBlob(std::string_view name, ByteSpan value) override;
  absl::Status WriteBlobs(const std::vector<BlobPrecondition>& preconditions,
                          const std::vector<BlobWrite>& writes, const AuditEvent* audit) override;

  // CheckIntegrity runs SQLite's `PRAGMA integrity_check` and returns
  // DataLoss with SQLite's findings when the file is damaged.
  absl::Status CheckIntegrity();

  // SchemaVersion returns the schema version recorded in the database.
  absl::StatusOr<int> SchemaVersion();

  // kSchemaVersion is the schema version this build writes.
  static constexpr int kSchemaVersion = 3;

  const std::string& path() const { return path_; }

 private:
  SqliteStore(std::string path, std::unique_ptr<sqlite3, internal::SqliteCloser> db);

  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  Mutex mu_;
  std::unique_ptr<sqlite3, internal::SqliteCloser> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vouch::store

#endif  // VOUCH_STORE_SQLITE_STORE_H_
