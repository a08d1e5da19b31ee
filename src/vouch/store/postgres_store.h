// PostgresStore: the Store in a PostgreSQL database, shared by several
// `vouch serve` nodes.
//
// Consistency across nodes comes from the database: each multi-statement
// write is one READ COMMITTED transaction that locks the key's row in `keys`
// (SELECT ... FOR UPDATE), so writes to one key are serialized, and every
// audit append locks the single row of `audit_head`, so appends from all
// nodes form one hash chain. A nonce is consumed by one DELETE ... RETURNING,
// which only one node can win.
//
// Connections come from a bounded pool. When the database restarts, the
// lost connections are closed and the next request reconnects; while it is
// down, methods return Unavailable (HTTP 503). A statement that failed on a
// lost connection before COMMIT is retried once on a new connection.
//
// Schema migrations are versioned (`schema_version`) and run in Open under
// pg_advisory_lock, so nodes starting together apply each one once. On a
// standby in recovery Open runs none and only checks the version.
#ifndef VOUCH_STORE_POSTGRES_STORE_H_
#define VOUCH_STORE_POSTGRES_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/mutex.h"
#include "vouch/store/store.h"

namespace vouch::store {

namespace internal {
class ConnectionPool;
class PgConnection;
}  // namespace internal

struct PostgresStoreOptions {
  // libpq connection string or postgresql:// URL. It may hold a password,
  // so it is never logged or put in a message: see RedactConnectionString.
  std::string conninfo;
  // Schema for vouch's tables ([a-z0-9_]{1,63}); created when missing.
  // Empty uses the connection's search_path (normally "public").
  std::string schema;
  // Pool bounds and timeouts.
  int pool_size = 8;
  absl::Duration acquire_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(3);
  // How long InRecovery caches pg_is_in_recovery().
  absl::Duration recovery_check_interval = absl::Seconds(1);
};

class PostgresStore : public Store {
 public:
  // Open connects, creates the schema if needed and migrates it to
  // kSchemaVersion. Unavailable when the database cannot be reached;
  // FailedPrecondition when the database has a newer schema version than
  // this build, or when a standby has an older one (migrate the primary).
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(const PostgresStoreOptions& options);

  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

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
  absl::Status AppendAudit(const AuditEvent& event) override;
  absl::StatusOr<std::vector<AuditEvent>> ReadAudit(size_t max_events) override;
  absl::StatusOr<std::vector<AuditEvent>> QueryAudit(const AuditQuery& query) override;
  absl::StatusOr<std::optional<Bytes>> GetBlob(std::string_view name) override;
  absl::Status PutBlob(std::string_view name, ByteSpan value) override;
  absl::Status WriteBlobs(const std::vector<BlobPrecondition>& preconditions,
                          const std::vector<BlobWrite>& writes, const AuditEvent* audit) override;
  absl::StatusOr<std::vector<std::string>> ListBlobNames() override;
  absl::Status DeleteBlob(std::string_view name) override;

  // PutBlobIfAbsent stores `value` under `name` unless a blob of that name
  // exists, and returns the blob that is stored afterwards: `value` or the
  // one another node stored first. Nodes starting at once thus agree on one
  // token signing key.
  absl::StatusOr<Bytes> PutBlobIfAbsent(std::string_view name, ByteSpan value);

  // InRecovery returns pg_is_in_recovery(): true on a streaming standby,
  // where every write fails. The result is cached for
  // recovery_check_interval, so a promotion shows within that time.
  absl::StatusOr<bool> InRecovery();

  // Promote runs pg_promote(wait => true) on a standby and waits up to
  // `wait` for it to accept writes. OK when the database already accepts
  // writes. Needs a superuser or the EXECUTE privilege on pg_promote.
  absl::Status Promote(absl::Duration wait);

  // ReplaceSchemaWith drops this store's schema and renames
  // `staging_schema` (a schema of the same database, filled by another
  // PostgresStore) to its name, in one transaction, so readers see the old
  // empty schema or the complete new one. A restore fills a staging schema
  // first and calls this last. FailedPrecondition when this store's schema
  // contains keys, blobs or audit events; InvalidArgument for an invalid or
  // identical staging name.
  absl::Status ReplaceSchemaWith(std::string_view staging_schema);

  // DropSchema drops `schema` of the database of `options` with everything
  // in it; dropping a schema that does not exist succeeds.
  static absl::Status DropSchema(const PostgresStoreOptions& options, std::string_view schema);

  // SchemaVersion returns the highest version in schema_version.
  absl::StatusOr<int> SchemaVersion();

  // Describe returns host:port/dbname and the schema, without credentials.
  std::string Describe() const;

  // Pool statistics, for tests and logs.
  int open_connections() const;
  int64_t connects() const;

  static constexpr int kSchemaVersion = 2;

 private:
  explicit PostgresStore(const PostgresStoreOptions& options);

  absl::Status Migrate();

  // Run calls `fn` with a pooled connection. When `fn` fails because the
  // connection was lost before a COMMIT was sent, it runs once more on a
  // new connection: the first attempt changed nothing.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<internal::PgConnection&>()));

  const PostgresStoreOptions options_;
  std::unique_ptr<internal::ConnectionPool> pool_;

  Mutex recovery_mu_;
  std::optional<bool> in_recovery_ ABSL_GUARDED_BY(recovery_mu_);
  absl::Time recovery_checked_ ABSL_GUARDED_BY(recovery_mu_) = absl::InfinitePast();
};

// RedactConnectionString returns "host:port/dbname user=NAME" for messages
// and logs: never the password or other options.
std::string RedactConnectionString(const std::string& conninfo);

}  // namespace vouch::store

#endif  // VOUCH_STORE_POSTGRES_STORE_H_
