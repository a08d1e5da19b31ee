#include "vouch/store/postgres_store.h"

#include <limits>
#include <utility>

#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/store/audit.h"
#include "vouch/store/blob_writes.h"
#include "vouch/store/postgres_connection.h"

namespace vouch::store {

using internal::ConnectionPool;
using internal::PgConnection;
using internal::PgParams;
using internal::PgResult;
using internal::PgTransaction;

namespace {

constexpr size_t kMaxNonceBytes = 64;
constexpr size_t kMaxSchemaChars = 63;

// Advisory lock key (class, object) for migrations: the class is "vouc" in
// ASCII and the object is hashtext(current_schema()), so stores in other
// schemas of one database migrate independently.
constexpr int kMigrationLockClass = 0x766f7563;
// Advisory lock class for blob writes ("vblb" in ASCII); the object is
// hashtext(current_schema()). WriteBlobs, PutBlob, PutBlobIfAbsent and
// DeleteBlob hold it until their transaction ends, so a WriteBlobs
// precondition still holds when its writes commit, on every node.
constexpr int kBlobLockClass = 0x76626c62;

// kMigrations[i] takes the schema from version i to version i + 1. Never edit
// a migration that has shipped: append one and raise kSchemaVersion.
// Audit strings, policies and tags are bytea, so any byte string round-trips
// exactly as the audit hash chain saw it, whatever the database encoding.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE keys (
  name TEXT COLLATE "C" PRIMARY KEY,
  created_us BIGINT NOT NULL
);
CREATE TABLE key_versions (
  id BIGSERIAL PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL REFERENCES keys (name),
  version TEXT COLLATE "C" NOT NULL,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  enabled BOOLEAN NOT NULL,
  exportable BOOLEAN NOT NULL,
  kty TEXT NOT NULL,
  key_size_bits INTEGER NOT NULL,
  sealed_key BYTEA NOT NULL,
  keystore TEXT NOT NULL,
  release_policy BYTEA NOT NULL,
  policy_immutable BOOLEAN NOT NULL,
  curve TEXT NOT NULL,
  public_key BYTEA NOT NULL,
  tags_json BYTEA NOT NULL,
  UNIQUE (name, version)
);
CREATE INDEX key_versions_by_creation ON key_versions (name, created_us, id);
CREATE TABLE deleted_keys (
  name TEXT COLLATE "C" PRIMARY KEY REFERENCES keys (name),
  deleted_us BIGINT NOT NULL,
  scheduled_purge_us BIGINT NOT NULL
);
CREATE TABLE audit_log (
  sequence BIGINT PRIMARY KEY,
  time_us BIGINT NOT NULL,
  actor BYTEA NOT NULL,
  operation BYTEA NOT NULL,
  target BYTEA NOT NULL,
  outcome BYTEA NOT NULL,
  detail BYTEA NOT NULL,
  prev_hash BYTEA NOT NULL,
  hash BYTEA NOT NULL
);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence BIGINT NOT NULL,
  hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
CREATE FUNCTION audit_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change();
CREATE TABLE blobs (
  name TEXT COLLATE "C" PRIMARY KEY,
  value BYTEA NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE TABLE nonces (
  nonce BYTEA PRIMARY KEY,
  expires_us BIGINT NOT NULL
);
CREATE INDEX nonces_by_expiry ON nonces (expires_us);
)sql",
    // Version 2. Indexes for the audit queries of QueryAudit, and for the
    // audit head signer's start-up query (the newest record of one
    // operation), which read the whole log without them.
    R"sql(
CREATE INDEX audit_log_by_operation ON audit_log (operation, sequence);
CREATE INDEX audit_log_by_time ON audit_log (time_us);
CREATE INDEX audit_log_by_target ON audit_log (target);
CREATE INDEX audit_log_by_outcome ON audit_log (outcome, time_us);
)sql",
};
static_assert(std::size(kMigrations) == PostgresStore::kSchemaVersion);

// Column lists are the only text spliced into SQL; every value is a bound
// parameter.
constexpr const char* kKeyColumns =
    "name, version, created_us, updated_us, enabled, exportable, kty, key_size_bits, "
    "sealed_key, keystore, release_policy, policy_immutable, curve, public_key, tags_json";
constexpr const char* kAuditColumns =
    "sequence, time_us, actor, operation, target, outcome, detail, prev_hash, hash";
constexpr const char* kNotDeleted =
    "NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.name = key_versions.name)";

KeyRecord ReadKeyRow(const PgResult& result, int row) {
  KeyRecord record;
  record.name = result.Text(row, 0);
  record.version = result.Text(row, 1);
  record.created = absl::FromUnixMicros(result.Int(row, 2));
  record.updated = absl::FromUnixMicros(result.Int(row, 3));
  record.enabled = result.Bool(row, 4);
  record.exportable = result.Bool(row, 5);
  record.kty = result.Text(row, 6);
  record.key_size_bits = static_cast<int>(result.Int(row, 7));
  record.sealed_key = result.Blob(row, 8);
  record.keystore = result.Text(row, 9);
  record.release_policy = result.Text(row, 10);
  record.policy_immutable = result.Bool(row, 11);
  record.curve = result.Text(row, 12);
  record.public_key = result.Blob(row, 13);
  record.tags_json = result.Text(row, 14);
  return record;
}

std::vector<KeyRecord> ReadKeyRows(const PgResult& result) {
  std::vector<KeyRecord> records;
  for (int row = 0; row < result.rows(); ++row) {
    records.push_back(ReadKeyRow(result, row));
  }
  return records;
}

std::vector<AuditEvent> ReadAuditRows(const PgResult& result) {
  std::vector<AuditEvent> events;
  for (int row = 0; row < result.rows(); ++row) {
    AuditEvent& event = events.emplace_back();
    event.sequence = result.Int(row, 0);
    event.time = absl::FromUnixMicros(result.Int(row, 1));
    event.actor = result.Text(row, 2);
    event.operation = result.Text(row, 3);
    event.target = result.Text(row, 4);
    event.outcome = result.Text(row, 5);
    event.detail = result.Text(row, 6);
    event.prev_hash = result.Blob(row, 7);
    event.hash = result.Blob(row, 8);
  }
  return events;
}

bool IsFinite(absl::Time time) {
  return time != absl::InfinitePast() && time != absl::InfiniteFuture();
}

absl::Status ValidateRecord(const KeyRecord& record) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(record.name));
  VOUCH_RETURN_IF_ERROR(ValidateKeyVersion(record.version));
  if (record.sealed_key.empty()) {
    return InvalidArgumentf("key {} version {}: sealed_key is empty", record.name, record.version);
  }
  if (record.kty.empty() || record.keystore.empty()) {
    return InvalidArgumentf("key {} version {}: kty and keystore must be set", record.name,
                            record.version);
  }
  if (record.key_size_bits <= 0) {
    return InvalidArgumentf("key {} version {}: key_size_bits {}, want a positive number",
                            record.name, record.version, record.key_size_bits);
  }
  if (!IsFinite(record.created) || !IsFinite(record.updated)) {
    return InvalidArgumentf("key {} version {}: created and updated must be finite times",
                            record.name, record.version);
  }
  return absl::OkStatus();
}

absl::Status ValidateOptionalAudit(const AuditEvent* audit) {
  if (audit != nullptr && !IsFinite(audit->time)) {
    return InvalidArgumentf("audit event: time must be finite");
  }
  return absl::OkStatus();
}

absl::Status ValidateNonce(ByteSpan nonce) {
  if (nonce.empty() || nonce.size() > kMaxNonceBytes) {
    return InvalidArgumentf("nonce has {} bytes, want 1 to {}", nonce.size(), kMaxNonceBytes);
  }
  return absl::OkStatus();
}

absl::Status ValidateSchemaName(std::string_view schema) {
  if (schema.size() > kMaxSchemaChars) {
    return InvalidArgumentf("postgres schema name has {} characters, want at most {}",
                            schema.size(), kMaxSchemaChars);
  }
  for (const char c : schema) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return InvalidArgumentf("postgres schema name {:?} is invalid: use a-z, 0-9 and '_'",
                              schema);
    }
  }
  return absl::OkStatus();
}

absl::Status NotFoundKey(std::string_view name, std::string_view version) {
  if (version.empty()) {
    return NotFoundf("key {} not found", name);
  }
  return NotFoundf("key {} version {} not found", name, version);
}

absl::Status DeletedKeyError(std::string_view name) {
  return NotFoundf("key {} is deleted: recover it or wait for its purge", name);
}

// PrefixSuccessor returns the smallest string greater than every string
// that starts with `prefix` in byte order, or "" when there is none.
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (!prefix.empty()) {
    prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  }
  return prefix;
}

// AppendAuditLocked chains `event` to the head of the log inside the
// caller's transaction. Locking the one audit_head row serializes appends
// from every connection and node until the transaction ends.
absl::Status AppendAuditLocked(PgConnection& conn, const AuditEvent& event) {
  const std::string operation = "append audit event";
  VOUCH_ASSIGN_OR_RETURN(
      const PgResult head,
      conn.Exec("SELECT sequence, hash FROM audit_head WHERE id = 1 FOR UPDATE", operation));
  if (head.rows() != 1) {
    return Internalf("postgres store: {}: audit_head has {} rows, want 1", operation,
                     head.rows());
  }
  AuditEvent chained = event;
  chained.sequence = head.Int(0, 0) + 1;
  chained.prev_hash = head.Blob(0, 1);
  chained.time = absl::FromUnixMicros(absl::ToUnixMicros(event.time));
  chained.hash = ChainAuditHash(chained.prev_hash, chained);

  PgParams params;
  params.Int(chained.sequence)
      .Int(absl::ToUnixMicros(chained.time))
      .Bytes(AsBytes(chained.actor))
      .Bytes(AsBytes(chained.operation))
      .Bytes(AsBytes(chained.target))
      .Bytes(AsBytes(chained.outcome))
      .Bytes(AsBytes(chained.detail))
      .Bytes(chained.prev_hash)
      .Bytes(chained.hash);
  VOUCH_RETURN_IF_ERROR(
      conn.Exec(fmt::format("INSERT INTO audit_log ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                            "$9)",
                            kAuditColumns),
                params, operation)
          .status());
  PgParams head_params;
  head_params.Int(chained.sequence).Bytes(chained.hash);
  return conn.Exec("UPDATE audit_head SET sequence = $1, hash = $2 WHERE id = 1", head_params,
                   operation)
      .status();
}

// LockBlobs takes the blob write lock (kBlobLockClass) until the
// transaction ends.
absl::Status LockBlobs(PgConnection& conn, std::string_view operation) {
  PgParams params;
  params.Int(kBlobLockClass);
  return conn
      .Exec("SELECT pg_advisory_xact_lock($1::int4, hashtext(current_schema()))", params,
            operation)
      .status();
}

absl::Status AppendOptionalAudit(PgConnection& conn, const AuditEvent* audit) {
  if (audit == nullptr) {
    return absl::OkStatus();
  }
  return AppendAuditLocked(conn, *audit);
}

// LockKey locks the key's row until the transaction ends and returns
// whether the key exists. Every write to a key takes this lock first.
absl::StatusOr<bool> LockKey(PgConnection& conn, std::string_view name,
                             std::string_view operation) {
  PgParams params;
  params.Text(name);
  VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                         conn.Exec("SELECT 1 FROM keys WHERE name = $1 FOR UPDATE", params,
                                   operation));
  return result.rows() > 0;
}

absl::StatusOr<bool> IsDeleted(PgConnection& conn, std::string_view name,
                               std::string_view operation) {
  PgParams params;
  params.Text(name);
  VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                         conn.Exec("SELECT 1 FROM deleted_keys WHERE name = $1", params,
                                   operation));
  return result.rows() > 0;
}

absl::Status CheckNotDeleted(PgConnection& conn, std::string_view name,
                             std::string_view operation) {
  VOUCH_ASSIGN_OR_RETURN(const bool deleted, IsDeleted(conn, name, operation));
  if (deleted) {
    return DeletedKeyError(name);
  }
  return absl::OkStatus();
}

const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& result) {
  return result.status();
}

// QuoteIdentifier quotes a validated schema name ([a-z0-9_]).
std::string QuoteIdentifier(std::string_view name) { return fmt::format("\"{}\"", name); }

}  // namespace

std::string RedactConnectionString(const std::string& conninfo) {
  return internal::RedactConnectionString(conninfo);
}

PostgresStore::PostgresStore(const PostgresStoreOptions& options) : options_(options) {
  internal::PoolOptions pool;
  pool.conninfo = options.conninfo;
  pool.schema = options.schema;
  pool.max_connections = options.pool_size;
  pool.acquire_timeout = options.acquire_timeout;
  pool.connect_timeout = options.connect_timeout;
  pool_ = std::make_unique<ConnectionPool>(std::move(pool));
}

PostgresStore::~PostgresStore() = default;

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const PostgresStoreOptions& options) {
  if (options.conninfo.empty()) {
    return InvalidArgumentf("postgres store: the connection string is empty");
  }
  if (options.pool_size < 1 || options.pool_size > 1000) {
    return InvalidArgumentf("postgres store: pool size {} is out of range 1 to 1000",
                            options.pool_size);
  }
  VOUCH_RETURN_IF_ERROR(ValidateSchemaName(options.schema));
  std::unique_ptr<PostgresStore> store(new PostgresStore(options));
  VOUCH_RETURN_IF_ERROR(Prefix(store->Describe(), store->Migrate()));
  return store;
}

std::string PostgresStore::Describe() const {
  std::string text = RedactConnectionString(options_.conninfo);
  if (!options_.schema.empty()) {
    text += " schema=" + options_.schema;
  }
  return text;
}

template <typename Fn>
auto PostgresStore::Run(Fn&& fn) -> decltype(fn(std::declval<PgConnection&>())) {
  for (int attempt = 0;; ++attempt) {
    auto lease = pool_->Acquire();
    if (!lease.ok()) {
      return lease.status();
    }
    PgConnection& conn = **lease;
    auto result = fn(conn);
    const bool retry = !result.ok() && attempt == 0 && conn.Broken() &&
                       !conn.CommitOutcomeUnknown() &&
                       StatusOf(result).code() == absl::StatusCode::kUnavailable;
    if (!retry) {
      return result;
    }
  }
}

absl::Status PostgresStore::Migrate() {
  // Migrations use their own connection: the session-level advisory lock
  // must be released on the same connection that took it.
  VOUCH_ASSIGN_OR_RETURN(
      std::unique_ptr<PgConnection> conn,
      PgConnection::Connect(options_.conninfo, "", options_.connect_timeout));
  VOUCH_ASSIGN_OR_RETURN(const PgResult recovery,
                         conn->Exec("SELECT pg_is_in_recovery()", "check recovery state"));
  const bool standby = recovery.Bool(0, 0);
  if (!options_.schema.empty() && !standby) {
    // IF NOT EXISTS does not stop two sessions from racing to create the
    // schema: the loser gets a unique violation, which means it exists now.
    const absl::Status created = conn->ExecScript(
        fmt::format("CREATE SCHEMA IF NOT EXISTS {}", QuoteIdentifier(options_.schema)),
        "create schema");
    if (!created.ok() && !absl::IsAlreadyExists(created)) {
      return created;
    }
  }
  if (!options_.schema.empty()) {
    PgParams params;
    params.Text(QuoteIdentifier(options_.schema));
    VOUCH_RETURN_IF_ERROR(
        conn->Exec("SELECT pg_catalog.set_config('search_path', $1, false)", params,
                   "set search_path")
            .status());
  }
  if (standby) {
    VOUCH_ASSIGN_OR_RETURN(const int version, SchemaVersion());
    if (version != kSchemaVersion) {
      return FailedPreconditionf(
          "postgres store: the standby has schema version {}, this build needs {}: start a "
          "node of this build on the primary first, which migrates it",
          version, kSchemaVersion);
    }
    return absl::OkStatus();
  }

  PgParams lock_params;
  lock_params.Int(kMigrationLockClass);
  VOUCH_RETURN_IF_ERROR(conn->Exec("SELECT pg_advisory_lock($1::int4, hashtext(current_schema()))",
                                   lock_params, "lock schema migration")
                            .status());
  const absl::Status migrated = [&]() -> absl::Status {
    VOUCH_RETURN_IF_ERROR(conn->ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
        "applied_us BIGINT NOT NULL)",
        "create schema_version"));
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult current_result,
        conn->Exec("SELECT coalesce(max(version), 0)::int8 FROM schema_version",
                   "read schema version"));
    const int64_t current = current_result.Int(0, 0);
    if (current > kSchemaVersion) {
      return FailedPreconditionf(
          "postgres store: schema version {} is newer than this build supports ({}): run a "
          "newer vouch",
          current, kSchemaVersion);
    }
    for (int64_t version = current + 1; version <= kSchemaVersion; ++version) {
      const std::string operation = fmt::format("migrate schema to version {}", version);
      VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(*conn, operation));
      VOUCH_RETURN_IF_ERROR(conn->ExecScript(kMigrations[version - 1], operation));
      PgParams params;
      params.Int(version).Int(absl::ToUnixMicros(absl::Now()));
      VOUCH_RETURN_IF_ERROR(
          conn->Exec("INSERT INTO schema_version (version, applied_us) VALUES ($1, $2)", params,
                     operation)
              .status());
      VOUCH_RETURN_IF_ERROR(txn.Commit());
    }
    return absl::OkStatus();
  }();
  // Closing the connection also releases the lock if the unlock fails.
  (void)conn->Exec("SELECT pg_advisory_unlock($1::int4, hashtext(current_schema()))",
                   lock_params, "unlock schema migration");
  return migrated;
}

absl::Status PostgresStore::ReplaceSchemaWith(std::string_view staging_schema) {
  VOUCH_RETURN_IF_ERROR(ValidateSchemaName(staging_schema));
  if (staging_schema.empty()) {
    return InvalidArgumentf("postgres store: the staging schema name is empty");
  }
  return Run([&](PgConnection& conn) -> absl::Status {
    const std::string operation = "replace schema with a restored one";
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_ASSIGN_OR_RETURN(const PgResult schema_result,
                           conn.Exec("SELECT current_schema()", operation));
    const std::string target = schema_result.Text(0, 0);
    VOUCH_RETURN_IF_ERROR(ValidateSchemaName(target));
    if (target == staging_schema) {
      return InvalidArgumentf("postgres store: staging schema {} is the target schema", target);
    }
    // The lock keeps other nodes from writing between the check and the drop.
    VOUCH_RETURN_IF_ERROR(conn.ExecScript(
        "LOCK TABLE keys, key_versions, deleted_keys, blobs, audit_log IN ACCESS EXCLUSIVE MODE",
        operation));
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult count_result,
        conn.Exec("SELECT ((SELECT count(*) FROM keys) + (SELECT count(*) FROM blobs) + "
                  "(SELECT count(*) FROM audit_log))::int8",
                  operation));
    if (count_result.Int(0, 0) != 0) {
      return FailedPreconditionf(
          "postgres store: schema {} holds keys, blobs or audit events: restore only into an "
          "empty schema",
          target);
    }
    VOUCH_RETURN_IF_ERROR(conn.ExecScript(
        fmt::format("DROP SCHEMA {0} CASCADE; ALTER SCHEMA {1} RENAME TO {0}",
                    QuoteIdentifier(target), QuoteIdentifier(staging_schema)),
        operation));
    return txn.Commit();
  });
}

absl::Status PostgresStore::DropSchema(const PostgresStoreOptions& options,
                                       std::string_view schema) {
  VOUCH_RETURN_IF_ERROR(ValidateSchemaName(schema));
  if (schema.empty()) {
    return InvalidArgumentf("postgres store: no schema to drop");
  }
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn,
                         PgConnection::Connect(options.conninfo, "", options.connect_timeout));
  return conn->ExecScript(fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", QuoteIdentifier(schema)),
                          "drop schema");
}

absl::StatusOr<int> PostgresStore::SchemaVersion() {
  return Run([](PgConnection& conn) -> absl::StatusOr<int> {
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult result,
        conn.Exec("SELECT coalesce(max(version), 0)::int8 FROM schema_version",
                  "read schema version"));
    return static_cast<int>(result.Int(0, 0));
  });
}

absl::Status PostgresStore::PutKeyVersion(const KeyRecord& record, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateRecord(record));
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(audit));
  const std::string operation = fmt::format("put key {} version {}", record.name, record.version);
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    PgParams key_params;
    key_params.Text(record.name).Int(absl::ToUnixMicros(record.created));
    VOUCH_RETURN_IF_ERROR(conn.Exec("INSERT INTO keys (name, created_us) VALUES ($1, $2) "
                                    "ON CONFLICT (name) DO NOTHING",
                                    key_params, operation)
                              .status());
    VOUCH_RETURN_IF_ERROR(LockKey(conn, record.name, operation).status());
    VOUCH_ASSIGN_OR_RETURN(const bool deleted, IsDeleted(conn, record.name, operation));
    if (deleted) {
      return FailedPreconditionf(
          "key {} is deleted and its name stays taken until it is purged: recover or purge it "
          "first",
          record.name);
    }

    PgParams params;
    params.Text(record.name)
        .Text(record.version)
        .Int(absl::ToUnixMicros(record.created))
        .Int(absl::ToUnixMicros(record.updated))
        .Bool(record.enabled)
        .Bool(record.exportable)
        .Text(record.kty)
        .Int(record.key_size_bits)
        .Bytes(record.sealed_key)
        .Text(record.keystore)
        .Bytes(AsBytes(record.release_policy))
        .Bool(record.policy_immutable)
        .Text(record.curve)
        .Bytes(record.public_key)
        .Bytes(AsBytes(record.tags_json));
    const absl::Status inserted =
        conn.Exec(fmt::format("INSERT INTO key_versions ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                              "$8, $9, $10, $11, $12, $13, $14, $15)",
                              kKeyColumns),
                  params, operation)
            .status();
    if (absl::IsAlreadyExists(inserted)) {
      return absl::AlreadyExistsError(
          fmt::format("key {} version {} already exists", record.name, record.version));
    }
    VOUCH_RETURN_IF_ERROR(inserted);
    VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(conn, audit));
    return txn.Commit();
  });
}

absl::StatusOr<KeyRecord> PostgresStore::GetKey(std::string_view name, std::string_view version) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  if (!version.empty()) {
    VOUCH_RETURN_IF_ERROR(ValidateKeyVersion(version));
  }
  const std::string operation =
      fmt::format("get key {} version {}", name, version.empty() ? "latest" : version);
  // An empty version selects the newest by creation time, then by insertion.
  const std::string sql =
      version.empty()
          ? fmt::format("SELECT {} FROM key_versions WHERE name = $1 AND {} "
                        "ORDER BY created_us DESC, id DESC LIMIT 1",
                        kKeyColumns, kNotDeleted)
          : fmt::format("SELECT {} FROM key_versions WHERE name = $1 AND version = $2 AND {}",
                        kKeyColumns, kNotDeleted);
  return Run([&](PgConnection& conn) -> absl::StatusOr<KeyRecord> {
    PgParams params;
    params.Text(name);
    if (!version.empty()) {
      params.Text(version);
    }
    VOUCH_ASSIGN_OR_RETURN(const PgResult result, conn.Exec(sql, params, operation));
    if (result.rows() == 0) {
      VOUCH_RETURN_IF_ERROR(CheckNotDeleted(conn, name, operation));
      return NotFoundKey(name, version);
    }
    return ReadKeyRow(result, 0);
  });
}

absl::StatusOr<std::vector<std::string>> PostgresStore::ListKeyNames() {
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<std::string>> {
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult result,
        conn.Exec("SELECT name FROM keys WHERE EXISTS "
                  "(SELECT 1 FROM key_versions v WHERE v.name = keys.name) "
                  "AND NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.name = keys.name) "
                  "ORDER BY name",
                  "list key names"));
    std::vector<std::string> names;
    for (int row = 0; row < result.rows(); ++row) {
      names.push_back(result.Text(row, 0));
    }
    return names;
  });
}

absl::StatusOr<std::vector<KeyRecord>> PostgresStore::ListKeyVersions(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  const std::string operation = fmt::format("list versions of key {}", name);
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<KeyRecord>> {
    PgParams params;
    params.Text(name);
    // One statement, so the deletion check and the list see one snapshot.
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult result,
        conn.Exec(fmt::format("SELECT {}, EXISTS (SELECT 1 FROM deleted_keys d WHERE d.name = $1) "
                              "FROM key_versions WHERE name = $1 ORDER BY created_us, id",
                              kKeyColumns),
                  params, operation));
    if (result.rows() > 0 && result.Bool(0, 15)) {
      return DeletedKeyError(name);
    }
    std::vector<KeyRecord> records = ReadKeyRows(result);
    if (records.empty()) {
      return NotFoundKey(name, "");
    }
    for (KeyRecord& record : records) {
      record.sealed_key.clear();
    }
    return records;
  });
}

absl::Status PostgresStore::UpdateKeyAttributes(std::string_view name, std::string_view version,
                                                bool enabled, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  VOUCH_RETURN_IF_ERROR(ValidateKeyVersion(version));
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(audit));
  const std::string operation = fmt::format("update key {} version {}", name, version);
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockKey(conn, name, operation).status());
    VOUCH_RETURN_IF_ERROR(CheckNotDeleted(conn, name, operation));
    PgParams params;
    params.Bool(enabled).Int(absl::ToUnixMicros(absl::Now())).Text(name).Text(version);
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("UPDATE key_versions SET enabled = $1, updated_us = $2 "
                                     "WHERE name = $3 AND version = $4",
                                     params, operation));
    if (result.AffectedRows() == 0) {
      return NotFoundKey(name, version);
    }
    VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(conn, audit));
    return txn.Commit();
  });
}

absl::Status PostgresStore::SetReleasePolicy(std::string_view name, std::string_view version,
                                             std::string_view policy_json, bool immutable,
                                             const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  VOUCH_RETURN_IF_ERROR(ValidateKeyVersion(version));
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(audit));
  const std::string operation =
      fmt::format("set release policy of key {} version {}", name, version);
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockKey(conn, name, operation).status());
    VOUCH_RETURN_IF_ERROR(CheckNotDeleted(conn, name, operation));
    PgParams key_params;
    key_params.Text(name).Text(version);
    VOUCH_ASSIGN_OR_RETURN(const PgResult current,
                           conn.Exec("SELECT policy_immutable FROM key_versions "
                                     "WHERE name = $1 AND version = $2",
                                     key_params, operation));
    if (current.rows() == 0) {
      return NotFoundKey(name, version);
    }
    if (current.Bool(0, 0)) {
      return FailedPreconditionf("key {} version {}: the release policy is immutable", name,
                                 version);
    }
    PgParams params;
    params.Bytes(AsBytes(policy_json))
        .Bool(immutable)
        .Int(absl::ToUnixMicros(absl::Now()))
        .Text(name)
        .Text(version);
    VOUCH_RETURN_IF_ERROR(conn.Exec("UPDATE key_versions SET release_policy = $1, "
                                    "policy_immutable = $2, updated_us = $3 "
                                    "WHERE name = $4 AND version = $5",
                                    params, operation)
                              .status());
    VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(conn, audit));
    return txn.Commit();
  });
}

absl::Status PostgresStore::SoftDeleteKey(std::string_view name, absl::Time deleted,
                                          absl::Time scheduled_purge, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  if (!IsFinite(deleted) || !IsFinite(scheduled_purge)) {
    return InvalidArgumentf("delete key {}: deleted and scheduled_purge must be finite times",
                            name);
  }
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(audit));
  const std::string operation = fmt::format("delete key {}", name);
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_ASSIGN_OR_RETURN(const bool exists, LockKey(conn, name, operation));
    VOUCH_ASSIGN_OR_RETURN(const bool already, IsDeleted(conn, name, operation));
    if (already) {
      return FailedPreconditionf("key {} is already deleted", name);
    }
    PgParams name_params;
    name_params.Text(name);
    VOUCH_ASSIGN_OR_RETURN(const PgResult versions,
                           conn.Exec("SELECT 1 FROM key_versions WHERE name = $1 LIMIT 1",
                                     name_params, operation));
    if (!exists || versions.rows() == 0) {
      return NotFoundKey(name, "");
    }
    PgParams params;
    params.Text(name).Int(absl::ToUnixMicros(deleted)).Int(absl::ToUnixMicros(scheduled_purge));
    VOUCH_RETURN_IF_ERROR(conn.Exec("INSERT INTO deleted_keys (name, deleted_us, "
                                    "scheduled_purge_us) VALUES ($1, $2, $3)",
                                    params, operation)
                              .status());
    VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(conn, audit));
    return txn.Commit();
  });
}

absl::Status PostgresStore::RecoverKey(std::string_view name, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(audit));
  const std::string operation = fmt::format("recover key {}", name);
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockKey(conn, name, operation).status());
    PgParams params;
    params.Text(name);
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult removed,
        conn.Exec("DELETE FROM deleted_keys WHERE name = $1", params, operation));
    if (removed.AffectedRows() == 0) {
      return NotFoundf("deleted key {} not found", name);
    }
    VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(conn, audit));
    return txn.Commit();
  });
}

absl::StatusOr<std::vector<KeyRecord>> PostgresStore::PurgeKey(std::string_view name,
                                                               const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(audit));
  const std::string operation = fmt::format("purge key {}", name);
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<KeyRecord>> {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockKey(conn, name, operation).status());
    VOUCH_ASSIGN_OR_RETURN(const bool deleted, IsDeleted(conn, name, operation));
    if (!deleted) {
      return NotFoundf("deleted key {} not found: only a deleted key can be purged", name);
    }
    PgParams params;
    params.Text(name);
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult versions,
        conn.Exec(fmt::format("SELECT {} FROM key_versions WHERE name = $1 "
                              "ORDER BY created_us, id",
                              kKeyColumns),
                  params, operation));
    std::vector<KeyRecord> records = ReadKeyRows(versions);
    for (const char* sql : {"DELETE FROM key_versions WHERE name = $1",
                            "DELETE FROM deleted_keys WHERE name = $1",
                            "DELETE FROM keys WHERE name = $1"}) {
      VOUCH_RETURN_IF_ERROR(conn.Exec(sql, params, operation).status());
    }
    VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(conn, audit));
    VOUCH_RETURN_IF_ERROR(txn.Commit());
    return records;
  });
}

absl::StatusOr<std::vector<KeyRecord>> PostgresStore::ListDeletedKeyVersions(
    std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  const std::string operation = fmt::format("list versions of deleted key {}", name);
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<KeyRecord>> {
    PgParams params;
    params.Text(name);
    // One statement, so the deletion check and the list see one snapshot.
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult result,
        conn.Exec(fmt::format("SELECT {}, EXISTS (SELECT 1 FROM deleted_keys d WHERE d.name = $1) "
                              "FROM key_versions WHERE name = $1 ORDER BY created_us, id",
                              kKeyColumns),
                  params, operation));
    if (result.rows() == 0 || !result.Bool(0, 15)) {
      return NotFoundf("deleted key {} not found", name);
    }
    return ReadKeyRows(result);
  });
}

absl::StatusOr<DeletedKey> PostgresStore::GetDeletedKey(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  const std::string operation = fmt::format("get deleted key {}", name);
  return Run([&](PgConnection& conn) -> absl::StatusOr<DeletedKey> {
    PgParams params;
    params.Text(name);
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("SELECT name, deleted_us, scheduled_purge_us "
                                     "FROM deleted_keys WHERE name = $1",
                                     params, operation));
    if (result.rows() == 0) {
      return NotFoundf("deleted key {} not found", name);
    }
    return DeletedKey{result.Text(0, 0), absl::FromUnixMicros(result.Int(0, 1)),
                      absl::FromUnixMicros(result.Int(0, 2))};
  });
}

absl::StatusOr<std::vector<DeletedKey>> PostgresStore::ListDeletedKeys() {
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<DeletedKey>> {
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("SELECT name, deleted_us, scheduled_purge_us "
                                     "FROM deleted_keys ORDER BY name",
                                     "list deleted keys"));
    std::vector<DeletedKey> keys;
    for (int row = 0; row < result.rows(); ++row) {
      keys.push_back(DeletedKey{result.Text(row, 0), absl::FromUnixMicros(result.Int(row, 1)),
                                absl::FromUnixMicros(result.Int(row, 2))});
    }
    return keys;
  });
}

absl::Status PostgresStore::PutNonce(ByteSpan nonce, absl::Time expires) {
  VOUCH_RETURN_IF_ERROR(ValidateNonce(nonce));
  if (!IsFinite(expires)) {
    return InvalidArgumentf("nonce: expiry must be a finite time");
  }
  return Run([&](PgConnection& conn) -> absl::Status {
    // An expired copy of the same nonce is no longer outstanding: the upsert
    // replaces it, and a live one makes it insert nothing.
    PgParams params;
    params.Bytes(nonce).Int(absl::ToUnixMicros(expires)).Int(absl::ToUnixMicros(absl::Now()));
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult result,
        conn.Exec("INSERT INTO nonces (nonce, expires_us) VALUES ($1, $2) "
                  "ON CONFLICT (nonce) DO UPDATE SET expires_us = excluded.expires_us "
                  "WHERE nonces.expires_us < $3",
                  params, "put nonce"));
    if (result.AffectedRows() == 0) {
      return absl::AlreadyExistsError("nonce is already outstanding");
    }
    return absl::OkStatus();
  });
}

absl::Status PostgresStore::ConsumeNonce(ByteSpan nonce, absl::Time now) {
  VOUCH_RETURN_IF_ERROR(ValidateNonce(nonce));
  VOUCH_ASSIGN_OR_RETURN(
      const std::optional<absl::Time> expires,
      Run([&](PgConnection& conn) -> absl::StatusOr<std::optional<absl::Time>> {
        PgParams params;
        params.Bytes(nonce);
        // One DELETE ... RETURNING: of several nodes consuming the same
        // nonce at once, exactly one gets the row back.
        VOUCH_ASSIGN_OR_RETURN(
            const PgResult result,
            conn.Exec("DELETE FROM nonces WHERE nonce = $1 RETURNING expires_us", params,
                      "consume nonce"));
        if (result.rows() == 0) {
          return std::optional<absl::Time>();
        }
        return std::optional<absl::Time>(absl::FromUnixMicros(result.Int(0, 0)));
      }));
  if (!expires.has_value()) {
    return NotFoundf("nonce not found: it was never issued or was already used");
  }
  if (*expires < now) {
    return FailedPreconditionf("nonce expired at {}: request a new one",
                               absl::FormatTime(absl::RFC3339_sec, *expires, absl::UTCTimeZone()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> PostgresStore::PurgeExpiredNonces(absl::Time now) {
  return Run([&](PgConnection& conn) -> absl::StatusOr<int64_t> {
    PgParams params;
    params.Int(absl::ToUnixMicros(now));
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("DELETE FROM nonces WHERE expires_us < $1", params,
                                     "purge expired nonces"));
    return result.AffectedRows();
  });
}

absl::Status PostgresStore::AppendAudit(const AuditEvent& event) {
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(&event));
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, "append audit event"));
    VOUCH_RETURN_IF_ERROR(AppendAuditLocked(conn, event));
    return txn.Commit();
  });
}

absl::StatusOr<std::vector<AuditEvent>> PostgresStore::ReadAudit(size_t max_events) {
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<AuditEvent>> {
    PgParams params;
    // LIMIT NULL means no limit.
    if (max_events > static_cast<size_t>(std::numeric_limits<int64_t>::max())) {
      params.Null();
    } else {
      params.Int(static_cast<int64_t>(max_events));
    }
    VOUCH_ASSIGN_OR_RETURN(
        const PgResult result,
        conn.Exec(fmt::format("SELECT {} FROM (SELECT * FROM audit_log ORDER BY sequence DESC "
                              "LIMIT $1::int8) newest ORDER BY sequence",
                              kAuditColumns),
                  params, "read audit log"));
    return ReadAuditRows(result);
  });
}

absl::StatusOr<std::vector<AuditEvent>> PostgresStore::QueryAudit(const AuditQuery& query) {
  for (const std::optional<absl::Time>& time : {query.since, query.until}) {
    if (time.has_value() && !IsFinite(*time)) {
      return InvalidArgumentf("audit query: since and until must be finite times");
    }
  }
  // Each condition is fixed text; every value is a bound parameter.
  PgParams params;
  std::string where = "TRUE";
  const auto next = [&params]() { return fmt::format("${}", params.size()); };
  if (query.target_prefix.has_value() && !query.target_prefix->empty()) {
    params.Bytes(AsBytes(*query.target_prefix));
    where += " AND target >= " + next();
    const std::string upper_bound = PrefixSuccessor(*query.target_prefix);
    if (!upper_bound.empty()) {
      params.Bytes(AsBytes(upper_bound));
      where += " AND target < " + next();
    }
  }
  if (query.operation.has_value()) {
    params.Bytes(AsBytes(*query.operation));
    where += " AND operation = " + next();
  }
  if (query.outcome.has_value()) {
    params.Bytes(AsBytes(*query.outcome));
    where += " AND outcome = " + next();
  }
  if (query.since.has_value()) {
    params.Int(absl::ToUnixMicros(*query.since));
    where += " AND time_us >= " + next();
  }
  if (query.until.has_value()) {
    params.Int(absl::ToUnixMicros(*query.until));
    where += " AND time_us < " + next();
  }
  if (query.limit > static_cast<size_t>(std::numeric_limits<int64_t>::max())) {
    params.Null();
  } else {
    params.Int(static_cast<int64_t>(query.limit));
  }
  const std::string sql =
      fmt::format("SELECT {} FROM (SELECT * FROM audit_log WHERE {} ORDER BY sequence DESC "
                  "LIMIT {}::int8) newest ORDER BY sequence",
                  kAuditColumns, where, next());
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<AuditEvent>> {
    VOUCH_ASSIGN_OR_RETURN(const PgResult result, conn.Exec(sql, params, "query audit log"));
    return ReadAuditRows(result);
  });
}

absl::StatusOr<std::optional<Bytes>> PostgresStore::GetBlob(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateBlobName(name));
  const std::string operation = fmt::format("get blob {}", name);
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::optional<Bytes>> {
    PgParams params;
    params.Text(name);
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("SELECT value FROM blobs WHERE name = $1", params,
                                     operation));
    if (result.rows() == 0) {
      return std::optional<Bytes>();
    }
    return std::optional<Bytes>(result.Blob(0, 0));
  });
}

absl::Status PostgresStore::PutBlob(std::string_view name, ByteSpan value) {
  VOUCH_RETURN_IF_ERROR(ValidateBlobName(name));
  if (value.size() > kMaxBlobBytes) {
    return InvalidArgumentf("blob {}: {} bytes, more than the limit of {}", name, value.size(),
                            kMaxBlobBytes);
  }
  const std::string operation = fmt::format("put blob {}", name);
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockBlobs(conn, operation));
    PgParams params;
    params.Text(name).Bytes(value).Int(absl::ToUnixMicros(absl::Now()));
    VOUCH_RETURN_IF_ERROR(conn.Exec("INSERT INTO blobs (name, value, updated_us) "
                                    "VALUES ($1, $2, $3) "
                                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                                    "updated_us = excluded.updated_us",
                                    params, operation)
                              .status());
    return txn.Commit();
  });
}

absl::StatusOr<Bytes> PostgresStore::PutBlobIfAbsent(std::string_view name, ByteSpan value) {
  VOUCH_RETURN_IF_ERROR(ValidateBlobName(name));
  if (value.size() > kMaxBlobBytes) {
    return InvalidArgumentf("blob {}: {} bytes, more than the limit of {}", name, value.size(),
                            kMaxBlobBytes);
  }
  const std::string operation = fmt::format("put blob {} if absent", name);
  return Run([&](PgConnection& conn) -> absl::StatusOr<Bytes> {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockBlobs(conn, operation));
    PgParams params;
    params.Text(name).Bytes(value).Int(absl::ToUnixMicros(absl::Now()));
    VOUCH_RETURN_IF_ERROR(conn.Exec("INSERT INTO blobs (name, value, updated_us) "
                                    "VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                                    params, operation)
                              .status());
    PgParams name_params;
    name_params.Text(name);
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("SELECT value FROM blobs WHERE name = $1", name_params,
                                     operation));
    if (result.rows() == 0) {
      return Internalf("postgres store: {}: the blob vanished after the insert", operation);
    }
    Bytes stored = result.Blob(0, 0);
    VOUCH_RETURN_IF_ERROR(txn.Commit());
    return stored;
  });
}

absl::StatusOr<std::vector<std::string>> PostgresStore::ListBlobNames() {
  return Run([&](PgConnection& conn) -> absl::StatusOr<std::vector<std::string>> {
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("SELECT name FROM blobs ORDER BY name", "list blob names"));
    std::vector<std::string> names;
    for (int row = 0; row < result.rows(); ++row) {
      names.push_back(result.Text(row, 0));
    }
    return names;
  });
}

absl::Status PostgresStore::DeleteBlob(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateBlobName(name));
  const std::string operation = fmt::format("delete blob {}", name);
  return Run([&](PgConnection& conn) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockBlobs(conn, operation));
    PgParams params;
    params.Text(name);
    VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                           conn.Exec("DELETE FROM blobs WHERE name = $1", params, operation));
    if (result.AffectedRows() == 0) {
      return NotFoundf("blob {} not found", name);
    }
    return txn.Commit();
  });
}

absl::Status PostgresStore::WriteBlobs(const std::vector<BlobPrecondition>& preconditions,
                                       const std::vector<BlobWrite>& writes,
                                       const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(internal::ValidateBlobWrites(preconditions, writes));
  VOUCH_RETURN_IF_ERROR(ValidateOptionalAudit(audit));
  const std::string operation = fmt::format("write {} blobs", writes.size());
  return Run([&](PgConnection& conn) -> absl::Status {
    // READ COMMITTED with the blob write lock: each read below runs after
    // the lock is granted, so it returns every blob write committed before.
    VOUCH_ASSIGN_OR_RETURN(PgTransaction txn, PgTransaction::Begin(conn, operation));
    VOUCH_RETURN_IF_ERROR(LockBlobs(conn, operation));
    for (const BlobPrecondition& precondition : preconditions) {
      PgParams params;
      params.Text(precondition.name);
      VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                             conn.Exec("SELECT value FROM blobs WHERE name = $1", params,
                                       operation));
      std::optional<Bytes> current;
      if (result.rows() > 0) {
        current = result.Blob(0, 0);
      }
      VOUCH_RETURN_IF_ERROR(internal::CheckBlobPrecondition(precondition, current));
    }
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    for (const BlobWrite& write : writes) {
      PgParams params;
      params.Text(write.name);
      if (!write.value.has_value()) {
        VOUCH_RETURN_IF_ERROR(
            conn.Exec("DELETE FROM blobs WHERE name = $1", params, operation).status());
        continue;
      }
      params.Bytes(*write.value).Int(now_us);
      VOUCH_RETURN_IF_ERROR(conn.Exec("INSERT INTO blobs (name, value, updated_us) "
                                      "VALUES ($1, $2, $3) "
                                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                                      "updated_us = excluded.updated_us",
                                      params, operation)
                                .status());
    }
    VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(conn, audit));
    return txn.Commit();
  });
}

absl::StatusOr<bool> PostgresStore::InRecovery() {
  {
    MutexLock lock(&recovery_mu_);
    if (in_recovery_.has_value() &&
        absl::Now() - recovery_checked_ < options_.recovery_check_interval) {
      return *in_recovery_;
    }
  }
  VOUCH_ASSIGN_OR_RETURN(const bool in_recovery,
                         Run([](PgConnection& conn) -> absl::StatusOr<bool> {
                           VOUCH_ASSIGN_OR_RETURN(
                               const PgResult result,
                               conn.Exec("SELECT pg_is_in_recovery()", "check recovery state"));
                           return result.Bool(0, 0);
                         }));
  MutexLock lock(&recovery_mu_);
  in_recovery_ = in_recovery;
  recovery_checked_ = absl::Now();
  return in_recovery;
}

absl::Status PostgresStore::Promote(absl::Duration wait) {
  const int wait_seconds = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Seconds(wait)));
  VOUCH_ASSIGN_OR_RETURN(
      const bool promoted, Run([&](PgConnection& conn) -> absl::StatusOr<bool> {
        VOUCH_ASSIGN_OR_RETURN(const PgResult state,
                               conn.Exec("SELECT pg_is_in_recovery()", "check recovery state"));
        if (!state.Bool(0, 0)) {
          return true;
        }
        PgParams params;
        params.Int(wait_seconds);
        VOUCH_ASSIGN_OR_RETURN(const PgResult result,
                               conn.Exec("SELECT pg_promote(true, $1::int4)", params,
                                         "promote the standby"));
        return result.Bool(0, 0);
      }));
  {
    MutexLock lock(&recovery_mu_);
    in_recovery_.reset();
  }
  if (!promoted) {
    return Unavailablef("postgres store: the standby did not finish promotion within {} s",
                        wait_seconds);
  }
  return absl::OkStatus();
}

int PostgresStore::open_connections() const { return pool_->open_connections(); }

int64_t PostgresStore::connects() const { return pool_->connects(); }

}  // namespace vouch::store
