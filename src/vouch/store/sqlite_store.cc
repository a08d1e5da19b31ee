#include "vouch/store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/store/audit.h"
#include "vouch/store/blob_writes.h"
#include "vouch/store/sqlite_statement.h"

namespace vouch::store {

namespace internal {
void SqliteCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
}  // namespace internal

namespace {

using internal::Exec;
using internal::SqliteError;
using internal::Statement;
using internal::Transaction;

constexpr absl::Duration kDefaultBusyTimeout = absl::Seconds(5);
// Store::PutNonce accepts nonces of 1 to kMaxNonceBytes bytes.
constexpr size_t kMaxNonceBytes = 64;

// kMigrations[i] takes the schema from version i to version i + 1. Never edit
// a migration that has shipped: append a new one and raise kSchemaVersion.
constexpr const char* kMigrations[] = {
    // Version 1. `keys` has one row per name, so later key-level state (soft
    // delete, purge protection) has a home. key_versions.id records the
    // insertion order, which breaks ties between equal creation times.
    R"sql(
CREATE TABLE keys (
  name TEXT PRIMARY KEY NOT NULL,
  created_us INTEGER NOT NULL
) STRICT;
CREATE TABLE key_versions (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL REFERENCES keys (name),
  version TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL,
  enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  exportable INTEGER NOT NULL CHECK (exportable IN (0, 1)),
  kty TEXT NOT NULL,
  key_size_bits INTEGER NOT NULL,
  sealed_key BLOB NOT NULL,
  keystore TEXT NOT NULL,
  release_policy TEXT NOT NULL,
  policy_immutable INTEGER NOT NULL CHECK (policy_immutable IN (0, 1)),
  UNIQUE (name, version)
) STRICT;
CREATE INDEX key_versions_by_creation ON key_versions (name, created_us, id);
CREATE TABLE audit_log (
  sequence INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  actor TEXT NOT NULL,
  operation TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE blobs (
  name TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL,
  updated_us INTEGER NOT NULL
) STRICT;
)sql",
    // Version 2. Key types with a public half (curve, public_key), operator
    // tags, soft delete (deleted_keys), single-use nonces, and indexes for
    // the audit queries of QueryAudit.
    R"sql(
ALTER TABLE key_versions ADD COLUMN curve TEXT NOT NULL DEFAULT '';
ALTER TABLE key_versions ADD COLUMN public_key BLOB NOT NULL DEFAULT x'';
ALTER TABLE key_versions ADD COLUMN tags_json TEXT NOT NULL DEFAULT '';
CREATE TABLE deleted_keys (
  name TEXT PRIMARY KEY NOT NULL REFERENCES keys (name),
  deleted_us INTEGER NOT NULL,
  scheduled_purge_us INTEGER NOT NULL
) STRICT;
CREATE TABLE nonces (
  nonce BLOB PRIMARY KEY NOT NULL,
  expires_us INTEGER NOT NULL
) STRICT;
CREATE INDEX nonces_by_expiry ON nonces (expires_us);
CREATE INDEX audit_log_by_time ON audit_log (time_us);
CREATE INDEX audit_log_by_target ON audit_log (target);
CREATE INDEX audit_log_by_outcome ON audit_log (outcome, time_us);
)sql",
    // Version 3. Finding the newest record of one operation (the audit head
    // signer's start-up query) read the whole log without this index.
    R"sql(
CREATE INDEX audit_log_by_operation ON audit_log (operation, sequence);
)sql",
};
static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion);

// kKeyColumns is the only text spliced into SQL with fmt::format. It is a
// constant, and every value travels as a bound parameter.
constexpr const char* kKeyColumns =
    "name, version, created_us, updated_us, enabled, exportable, kty, key_size_bits, "
    "sealed_key, keystore, release_policy, policy_immutable, curve, public_key, tags_json";

KeyRecord ReadKeyRow(const Statement& stmt) {
  KeyRecord record;
  record.name = stmt.ColumnText(0);
  record.version = stmt.ColumnText(1);
  record.created = absl::FromUnixMicros(stmt.ColumnInt(2));
  record.updated = absl::FromUnixMicros(stmt.ColumnInt(3));
  record.enabled = stmt.ColumnInt(4) != 0;
  record.exportable = stmt.ColumnInt(5) != 0;
  record.kty = stmt.ColumnText(6);
  record.key_size_bits = static_cast<int>(stmt.ColumnInt(7));
  record.sealed_key = stmt.ColumnBlob(8);
  record.keystore = stmt.ColumnText(9);
  record.release_policy = stmt.ColumnText(10);
  record.policy_immutable = stmt.ColumnInt(11) != 0;
  record.curve = stmt.ColumnText(12);
  record.public_key = stmt.ColumnBlob(13);
  record.tags_json = stmt.ColumnText(14);
  return record;
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
  if (record.created == absl::InfinitePast() || record.created == absl::InfiniteFuture() ||
      record.updated == absl::InfinitePast() || record.updated == absl::InfiniteFuture()) {
    return InvalidArgumentf("key {} version {}: created and updated must be finite times",
                            record.name, record.version);
  }
  return absl::OkStatus();
}

absl::Status NotFoundKey(std::string_view name, std::string_view version) {
  if (version.empty()) {
    return NotFoundf("key {} not found", name);
  }
  return NotFoundf("key {} version {} not found", name, version);
}

absl::Status ErrnoError(std::string_view action, const std::string& path) {
  return FailedPreconditionf("sqlite store: {} {}: {}", action, path, std::strerror(errno));
}

// CreatePrivateFile creates an empty database file with mode 0600 so that
// SQLite, which gives its -wal and -shm files the database's mode, never
// makes a file that others can read. An existing file is left as it is.
absl::Status CreatePrivateFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::OkStatus();
    }
    return ErrnoError("create", path);
  }
  const int chmod_result = fchmod(fd, 0600);
  close(fd);
  if (chmod_result != 0) {
    return ErrnoError("chmod 600", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PragmaText(sqlite3* db, const char* sql, std::string_view operation) {
  VOUCH_ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db, sql, operation));
  VOUCH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) {
    return Internalf("sqlite store: {}: returned no row", operation);
  }
  return stmt.ColumnText(0);
}

// SetWalMode switches the database to WAL mode. SQLite returns SQLITE_BUSY
// at once, without calling the busy handler, when another connection opens
// the same new file at the same moment, so the switch is retried here until
// `busy_timeout` has passed.
absl::StatusOr<std::string> SetWalMode(sqlite3* db, absl::Duration busy_timeout) {
  const absl::Time deadline = absl::Now() + busy_timeout;
  for (;;) {
    absl::StatusOr<std::string> mode = PragmaText(db, "PRAGMA journal_mode=WAL", "set journal_mode");
    if (mode.ok() || mode.status().code() != absl::StatusCode::kUnavailable ||
        absl::Now() >= deadline) {
      return mode;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::Status Configure(sqlite3* db, absl::Duration busy_timeout) {
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
  VOUCH_ASSIGN_OR_RETURN(const std::string mode, SetWalMode(db, busy_timeout));
  if (mode != "wal") {
    return FailedPreconditionf("sqlite store: journal_mode is {}, want wal", mode);
  }
  VOUCH_RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous=FULL", "set synchronous"));
  VOUCH_RETURN_IF_ERROR(Exec(db, "PRAGMA foreign_keys=ON", "set foreign_keys"));
  VOUCH_RETURN_IF_ERROR(Exec(db, "PRAGMA secure_delete=ON", "set secure_delete"));
  VOUCH_RETURN_IF_ERROR(Exec(db, "PRAGMA trusted_schema=OFF", "set trusted_schema"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  return Open(path, kDefaultBusyTimeout);
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               absl::Duration busy_timeout) {
  VOUCH_RETURN_IF_ERROR(CreatePrivateFile(path));

  sqlite3* raw_db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
  const int rc = sqlite3_open_v2(path.c_str(), &raw_db, flags, nullptr);
  std::unique_ptr<sqlite3, internal::SqliteCloser> db(raw_db);
  if (rc != SQLITE_OK) {
    return SqliteError(db.get(), rc, fmt::format("open {}", path));
  }
  VOUCH_RETURN_IF_ERROR(Prefix(path, Configure(db.get(), busy_timeout)));

  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(db)));
  {
    MutexLock lock(&store->mu_);
    VOUCH_RETURN_IF_ERROR(Prefix(path, store->Migrate()));
  }
  return store;
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<sqlite3, internal::SqliteCloser> db)
    : path_(std::move(path)), db_(std::move(db)) {}

SqliteStore::~SqliteStore() = default;

absl::Status SqliteStore::Migrate() {
  sqlite3* db = db_.get();
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, "migrate schema"));
  VOUCH_RETURN_IF_ERROR(Exec(db,
                             "CREATE TABLE IF NOT EXISTS schema_version ("
                             "version INTEGER PRIMARY KEY, applied_us INTEGER NOT NULL) STRICT",
                             "create schema_version"));

  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db, "SELECT max(version) FROM schema_version", "read schema version"));
  VOUCH_RETURN_IF_ERROR(query.Step().status());
  const int64_t current = query.ColumnIsNull(0) ? 0 : query.ColumnInt(0);
  if (current > kSchemaVersion) {
    return FailedPreconditionf(
        "sqlite store: schema version {} is newer than this build supports ({}): "
        "run a newer vouch",
        current, kSchemaVersion);
  }

  for (int64_t version = current + 1; version <= kSchemaVersion; ++version) {
    const std::string operation = fmt::format("migrate schema to version {}", version);
    VOUCH_RETURN_IF_ERROR(Exec(db, kMigrations[version - 1], operation));
    VOUCH_ASSIGN_OR_RETURN(
        Statement insert,
        Statement::Prepare(db, "INSERT INTO schema_version (version, applied_us) VALUES (?, ?)",
                           operation));
    VOUCH_RETURN_IF_ERROR(insert.BindInt(1, version));
    VOUCH_RETURN_IF_ERROR(insert.BindInt(2, absl::ToUnixMicros(absl::Now())));
    VOUCH_RETURN_IF_ERROR(insert.Run());
  }
  return txn.Commit();
}

absl::StatusOr<int> SqliteStore::SchemaVersion() {
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(Statement query,
                         Statement::Prepare(db_.get(), "SELECT max(version) FROM schema_version",
                                            "read schema version"));
  VOUCH_RETURN_IF_ERROR(query.Step().status());
  return static_cast<int>(query.ColumnInt(0));
}

absl::Status SqliteStore::CheckIntegrity() {
  MutexLock lock(&mu_);
  for (const char* pragma : {"PRAGMA integrity_check", "PRAGMA foreign_key_check"}) {
    VOUCH_ASSIGN_OR_RETURN(Statement check, Statement::Prepare(db_.get(), pragma, pragma));
    std::string findings;
    for (;;) {
      VOUCH_ASSIGN_OR_RETURN(const bool row, check.Step());
      if (!row) {
        break;
      }
      const std::string line = check.ColumnText(0);
      if (line != "ok") {
        findings += findings.empty() ? line : "; " + line;
      }
    }
    if (!findings.empty()) {
      return absl::DataLossError(fmt::format("sqlite store {}: {}: {}", path_, pragma, findings));
    }
  }
  return absl::OkStatus();
}

namespace {

// kAuditColumns lists the audit_log columns in the order ReadAuditRow reads.
constexpr const char* kAuditColumns =
    "sequence, time_us, actor, operation, target, outcome, detail, prev_hash, hash";

AuditEvent ReadAuditRow(const Statement& stmt) {
  AuditEvent event;
  event.sequence = stmt.ColumnInt(0);
  event.time = absl::FromUnixMicros(stmt.ColumnInt(1));
  event.actor = stmt.ColumnText(2);
  event.operation = stmt.ColumnText(3);
  event.target = stmt.ColumnText(4);
  event.outcome = stmt.ColumnText(5);
  event.detail = stmt.ColumnText(6);
  event.prev_hash = stmt.ColumnBlob(7);
  event.hash = stmt.ColumnBlob(8);
  return event;
}

absl::Status ValidateAuditEvent(const AuditEvent& event) {
  if (event.time == absl::InfinitePast() || event.time == absl::InfiniteFuture()) {
    return InvalidArgumentf("audit event: time must be finite");
  }
  return absl::OkStatus();
}

// AppendAuditInTransaction chains `event` to the newest record and inserts
// it. The caller holds a write transaction, so the read of the newest hash
// and the insert see the same log.
absl::Status AppendAuditInTransaction(sqlite3* db, const AuditEvent& event) {
  const std::string operation = "append audit event";
  VOUCH_ASSIGN_OR_RETURN(
      Statement last,
      Statement::Prepare(db, "SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1",
                         operation));
  VOUCH_ASSIGN_OR_RETURN(const bool has_last, last.Step());
  AuditEvent chained = event;
  chained.sequence = has_last ? last.ColumnInt(0) + 1 : 1;
  chained.prev_hash = has_last ? last.ColumnBlob(1) : Bytes(kAuditHashBytes, 0);
  chained.hash = ChainAuditHash(chained.prev_hash, chained);

  VOUCH_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db,
                         fmt::format("INSERT INTO audit_log ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     kAuditColumns),
                         operation));
  VOUCH_RETURN_IF_ERROR(insert.BindInt(1, chained.sequence));
  VOUCH_RETURN_IF_ERROR(insert.BindInt(2, absl::ToUnixMicros(chained.time)));
  VOUCH_RETURN_IF_ERROR(insert.BindText(3, chained.actor));
  VOUCH_RETURN_IF_ERROR(insert.BindText(4, chained.operation));
  VOUCH_RETURN_IF_ERROR(insert.BindText(5, chained.target));
  VOUCH_RETURN_IF_ERROR(insert.BindText(6, chained.outcome));
  VOUCH_RETURN_IF_ERROR(insert.BindText(7, chained.detail));
  VOUCH_RETURN_IF_ERROR(insert.BindBlob(8, chained.prev_hash));
  VOUCH_RETURN_IF_ERROR(insert.BindBlob(9, chained.hash));
  return insert.Run();
}

// AppendOptionalAudit appends `audit` when it is set; see AppendAuditInTransaction.
absl::Status AppendOptionalAudit(sqlite3* db, const AuditEvent* audit) {
  if (audit == nullptr) {
    return absl::OkStatus();
  }
  return AppendAuditInTransaction(db, *audit);
}

absl::StatusOr<bool> IsDeleted(sqlite3* db, std::string_view name, std::string_view operation) {
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db, "SELECT 1 FROM deleted_keys WHERE name = ?", operation));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  return query.Step();
}

absl::Status DeletedKeyError(std::string_view name) {
  return NotFoundf("key {} is deleted: recover it or wait for its purge", name);
}

// CheckNotDeleted returns NotFound (DeletedKeyError) for a soft-deleted key.
absl::Status CheckNotDeleted(sqlite3* db, std::string_view name, std::string_view operation) {
  VOUCH_ASSIGN_OR_RETURN(const bool deleted, IsDeleted(db, name, operation));
  if (deleted) {
    return DeletedKeyError(name);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KeyRecord>> ReadKeyRows(Statement& query) {
  std::vector<KeyRecord> records;
  for (;;) {
    VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) {
      return records;
    }
    records.push_back(ReadKeyRow(query));
  }
}

absl::Status ValidateNonce(ByteSpan nonce) {
  if (nonce.empty() || nonce.size() > kMaxNonceBytes) {
    return InvalidArgumentf("nonce has {} bytes, want 1 to {}", nonce.size(), kMaxNonceBytes);
  }
  return absl::OkStatus();
}

// PrefixSuccessor returns the smallest string greater than every string
// that starts with `prefix` in byte order, or "" when there is none (the
// prefix is empty or all 0xff bytes).
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (!prefix.empty()) {
    prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  }
  return prefix;
}

}  // namespace

absl::Status SqliteStore::PutKeyVersion(const KeyRecord& record, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateRecord(record));
  if (audit != nullptr) {
    VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(*audit));
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("put key {} version {}", record.name, record.version);
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));

  VOUCH_ASSIGN_OR_RETURN(const bool deleted, IsDeleted(db, record.name, operation));
  if (deleted) {
    return FailedPreconditionf(
        "key {} is deleted and its name stays taken until it is purged: recover or purge it first",
        record.name);
  }

  VOUCH_ASSIGN_OR_RETURN(
      Statement insert_key,
      Statement::Prepare(
          db, "INSERT INTO keys (name, created_us) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
          operation));
  VOUCH_RETURN_IF_ERROR(insert_key.BindText(1, record.name));
  VOUCH_RETURN_IF_ERROR(insert_key.BindInt(2, absl::ToUnixMicros(record.created)));
  VOUCH_RETURN_IF_ERROR(insert_key.Run());

  VOUCH_ASSIGN_OR_RETURN(Statement insert_version,
                         Statement::Prepare(db,
                                            fmt::format("INSERT INTO key_versions ({}) VALUES "
                                                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                                        "?, ?)",
                                                        kKeyColumns),
                                            operation));
  VOUCH_RETURN_IF_ERROR(insert_version.BindText(1, record.name));
  VOUCH_RETURN_IF_ERROR(insert_version.BindText(2, record.version));
  VOUCH_RETURN_IF_ERROR(insert_version.BindInt(3, absl::ToUnixMicros(record.created)));
  VOUCH_RETURN_IF_ERROR(insert_version.BindInt(4, absl::ToUnixMicros(record.updated)));
  VOUCH_RETURN_IF_ERROR(insert_version.BindInt(5, record.enabled ? 1 : 0));
  VOUCH_RETURN_IF_ERROR(insert_version.BindInt(6, record.exportable ? 1 : 0));
  VOUCH_RETURN_IF_ERROR(insert_version.BindText(7, record.kty));
  VOUCH_RETURN_IF_ERROR(insert_version.BindInt(8, record.key_size_bits));
  VOUCH_RETURN_IF_ERROR(insert_version.BindBlob(9, record.sealed_key));
  VOUCH_RETURN_IF_ERROR(insert_version.BindText(10, record.keystore));
  VOUCH_RETURN_IF_ERROR(insert_version.BindText(11, record.release_policy));
  VOUCH_RETURN_IF_ERROR(insert_version.BindInt(12, record.policy_immutable ? 1 : 0));
  VOUCH_RETURN_IF_ERROR(insert_version.BindText(13, record.curve));
  VOUCH_RETURN_IF_ERROR(insert_version.BindBlob(14, record.public_key));
  VOUCH_RETURN_IF_ERROR(insert_version.BindText(15, record.tags_json));
  const absl::Status inserted = insert_version.Run();
  if (absl::IsAlreadyExists(inserted)) {
    return absl::AlreadyExistsError(
        fmt::format("key {} version {} already exists", record.name, record.version));
  }
  VOUCH_RETURN_IF_ERROR(inserted);
  VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(db, audit));
  return txn.Commit();
}

absl::StatusOr<KeyRecord> SqliteStore::GetKey(std::string_view name, std::string_view version) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  if (!version.empty()) {
    VOUCH_RETURN_IF_ERROR(ValidateKeyVersion(version));
  }
  MutexLock lock(&mu_);
  const std::string operation =
      fmt::format("get key {} version {}", name, version.empty() ? "latest" : version);
  // An empty version selects the newest by creation time, then by insertion.
  // Versions of a soft-deleted key match nothing.
  constexpr const char* kNotDeleted =
      "NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.name = key_versions.name)";
  const std::string sql =
      version.empty()
          ? fmt::format(
                "SELECT {} FROM key_versions WHERE name = ? AND {} "
                "ORDER BY created_us DESC, id DESC LIMIT 1",
                kKeyColumns, kNotDeleted)
          : fmt::format("SELECT {} FROM key_versions WHERE name = ? AND version = ? AND {}",
                        kKeyColumns, kNotDeleted);
  VOUCH_ASSIGN_OR_RETURN(Statement query, Statement::Prepare(db_.get(), sql, operation));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  if (!version.empty()) {
    VOUCH_RETURN_IF_ERROR(query.BindText(2, version));
  }
  VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
  if (!row) {
    VOUCH_RETURN_IF_ERROR(CheckNotDeleted(db_.get(), name, operation));
    return NotFoundKey(name, version);
  }
  return ReadKeyRow(query);
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ListKeyNames() {
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT name FROM keys WHERE EXISTS "
                         "(SELECT 1 FROM key_versions v WHERE v.name = keys.name) "
                         "AND NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.name = keys.name) "
                         "ORDER BY name",
                         "list key names"));
  std::vector<std::string> names;
  for (;;) {
    VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) {
      return names;
    }
    names.push_back(query.ColumnText(0));
  }
}

absl::StatusOr<std::vector<KeyRecord>> SqliteStore::ListKeyVersions(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("list versions of key {}", name);
  // One read transaction, so the deletion check and the list see one state.
  VOUCH_RETURN_IF_ERROR(Exec(db, "BEGIN", operation));
  absl::Cleanup end_read = [db] { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); };
  VOUCH_RETURN_IF_ERROR(CheckNotDeleted(db, name, operation));
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(
          db, fmt::format("SELECT {} FROM key_versions WHERE name = ? ORDER BY created_us, id",
                          kKeyColumns),
          operation));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  VOUCH_ASSIGN_OR_RETURN(std::vector<KeyRecord> records, ReadKeyRows(query));
  if (records.empty()) {
    return NotFoundKey(name, "");
  }
  for (KeyRecord& record : records) {
    record.sealed_key.clear();
  }
  return records;
}

absl::Status SqliteStore::UpdateKeyAttributes(std::string_view name, std::string_view version,
                                              bool enabled, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  VOUCH_RETURN_IF_ERROR(ValidateKeyVersion(version));
  if (audit != nullptr) {
    VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(*audit));
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("update key {} version {}", name, version);
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));
  VOUCH_RETURN_IF_ERROR(CheckNotDeleted(db, name, operation));

  VOUCH_ASSIGN_OR_RETURN(Statement update,
                         Statement::Prepare(db,
                                            "UPDATE key_versions SET enabled = ?, updated_us = ? "
                                            "WHERE name = ? AND version = ?",
                                            operation));
  VOUCH_RETURN_IF_ERROR(update.BindInt(1, enabled ? 1 : 0));
  VOUCH_RETURN_IF_ERROR(update.BindInt(2, absl::ToUnixMicros(absl::Now())));
  VOUCH_RETURN_IF_ERROR(update.BindText(3, name));
  VOUCH_RETURN_IF_ERROR(update.BindText(4, version));
  VOUCH_RETURN_IF_ERROR(update.Run());
  if (sqlite3_changes(db) == 0) {
    return NotFoundKey(name, version);
  }
  VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(db, audit));
  return txn.Commit();
}

absl::Status SqliteStore::SetReleasePolicy(std::string_view name, std::string_view version,
                                           std::string_view policy_json, bool immutable,
                                           const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  VOUCH_RETURN_IF_ERROR(ValidateKeyVersion(version));
  if (audit != nullptr) {
    VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(*audit));
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation =
      fmt::format("set release policy of key {} version {}", name, version);
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));
  VOUCH_RETURN_IF_ERROR(CheckNotDeleted(db, name, operation));

  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db,
                         "SELECT policy_immutable FROM key_versions WHERE name = ? AND version = ?",
                         operation));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  VOUCH_RETURN_IF_ERROR(query.BindText(2, version));
  VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
  if (!row) {
    return NotFoundKey(name, version);
  }
  if (query.ColumnInt(0) != 0) {
    return FailedPreconditionf("key {} version {}: the release policy is immutable", name, version);
  }

  VOUCH_ASSIGN_OR_RETURN(Statement update,
                         Statement::Prepare(db,
                                            "UPDATE key_versions SET release_policy = ?, "
                                            "policy_immutable = ?, updated_us = ? "
                                            "WHERE name = ? AND version = ?",
                                            operation));
  VOUCH_RETURN_IF_ERROR(update.BindText(1, policy_json));
  VOUCH_RETURN_IF_ERROR(update.BindInt(2, immutable ? 1 : 0));
  VOUCH_RETURN_IF_ERROR(update.BindInt(3, absl::ToUnixMicros(absl::Now())));
  VOUCH_RETURN_IF_ERROR(update.BindText(4, name));
  VOUCH_RETURN_IF_ERROR(update.BindText(5, version));
  VOUCH_RETURN_IF_ERROR(update.Run());
  VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(db, audit));
  return txn.Commit();
}

absl::Status SqliteStore::SoftDeleteKey(std::string_view name, absl::Time deleted,
                                        absl::Time scheduled_purge, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  if (deleted == absl::InfinitePast() || deleted == absl::InfiniteFuture() ||
      scheduled_purge == absl::InfinitePast() || scheduled_purge == absl::InfiniteFuture()) {
    return InvalidArgumentf("delete key {}: deleted and scheduled_purge must be finite times",
                            name);
  }
  if (audit != nullptr) {
    VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(*audit));
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("delete key {}", name);
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));

  VOUCH_ASSIGN_OR_RETURN(const bool already, IsDeleted(db, name, operation));
  if (already) {
    return FailedPreconditionf("key {} is already deleted", name);
  }
  VOUCH_ASSIGN_OR_RETURN(
      Statement exists,
      Statement::Prepare(db, "SELECT 1 FROM key_versions WHERE name = ? LIMIT 1", operation));
  VOUCH_RETURN_IF_ERROR(exists.BindText(1, name));
  VOUCH_ASSIGN_OR_RETURN(const bool found, exists.Step());
  if (!found) {
    return NotFoundKey(name, "");
  }

  VOUCH_ASSIGN_OR_RETURN(Statement insert,
                         Statement::Prepare(db,
                                            "INSERT INTO deleted_keys (name, deleted_us, "
                                            "scheduled_purge_us) VALUES (?, ?, ?)",
                                            operation));
  VOUCH_RETURN_IF_ERROR(insert.BindText(1, name));
  VOUCH_RETURN_IF_ERROR(insert.BindInt(2, absl::ToUnixMicros(deleted)));
  VOUCH_RETURN_IF_ERROR(insert.BindInt(3, absl::ToUnixMicros(scheduled_purge)));
  VOUCH_RETURN_IF_ERROR(insert.Run());
  VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(db, audit));
  return txn.Commit();
}

absl::Status SqliteStore::RecoverKey(std::string_view name, const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  if (audit != nullptr) {
    VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(*audit));
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("recover key {}", name);
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));
  VOUCH_ASSIGN_OR_RETURN(
      Statement remove,
      Statement::Prepare(db, "DELETE FROM deleted_keys WHERE name = ?", operation));
  VOUCH_RETURN_IF_ERROR(remove.BindText(1, name));
  VOUCH_RETURN_IF_ERROR(remove.Run());
  if (sqlite3_changes(db) == 0) {
    return NotFoundf("deleted key {} not found", name);
  }
  VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(db, audit));
  return txn.Commit();
}

absl::StatusOr<std::vector<KeyRecord>> SqliteStore::PurgeKey(std::string_view name,
                                                             const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  if (audit != nullptr) {
    VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(*audit));
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("purge key {}", name);
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));
  VOUCH_ASSIGN_OR_RETURN(const bool deleted, IsDeleted(db, name, operation));
  if (!deleted) {
    return NotFoundf("deleted key {} not found: only a deleted key can be purged", name);
  }

  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(
          db, fmt::format("SELECT {} FROM key_versions WHERE name = ? ORDER BY created_us, id",
                          kKeyColumns),
          operation));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  VOUCH_ASSIGN_OR_RETURN(std::vector<KeyRecord> records, ReadKeyRows(query));

  for (const char* sql : {"DELETE FROM key_versions WHERE name = ?",
                          "DELETE FROM deleted_keys WHERE name = ?",
                          "DELETE FROM keys WHERE name = ?"}) {
    VOUCH_ASSIGN_OR_RETURN(Statement remove, Statement::Prepare(db, sql, operation));
    VOUCH_RETURN_IF_ERROR(remove.BindText(1, name));
    VOUCH_RETURN_IF_ERROR(remove.Run());
  }
  VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(db, audit));
  VOUCH_RETURN_IF_ERROR(txn.Commit());
  return records;
}

absl::StatusOr<std::vector<KeyRecord>> SqliteStore::ListDeletedKeyVersions(
    std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("list versions of deleted key {}", name);
  // One read transaction, so the deletion check and the list see one state.
  VOUCH_RETURN_IF_ERROR(Exec(db, "BEGIN", operation));
  absl::Cleanup end_read = [db] { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); };
  VOUCH_ASSIGN_OR_RETURN(const bool deleted, IsDeleted(db, name, operation));
  if (!deleted) {
    return NotFoundf("deleted key {} not found", name);
  }
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(
          db, fmt::format("SELECT {} FROM key_versions WHERE name = ? ORDER BY created_us, id",
                          kKeyColumns),
          operation));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  return ReadKeyRows(query);
}

absl::StatusOr<DeletedKey> SqliteStore::GetDeletedKey(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateKeyName(name));
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT name, deleted_us, scheduled_purge_us FROM deleted_keys "
                         "WHERE name = ?",
                         fmt::format("get deleted key {}", name)));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
  if (!row) {
    return NotFoundf("deleted key {} not found", name);
  }
  return DeletedKey{query.ColumnText(0), absl::FromUnixMicros(query.ColumnInt(1)),
                    absl::FromUnixMicros(query.ColumnInt(2))};
}

absl::StatusOr<std::vector<DeletedKey>> SqliteStore::ListDeletedKeys() {
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT name, deleted_us, scheduled_purge_us FROM deleted_keys "
                         "ORDER BY name",
                         "list deleted keys"));
  std::vector<DeletedKey> keys;
  for (;;) {
    VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) {
      return keys;
    }
    keys.push_back(DeletedKey{query.ColumnText(0), absl::FromUnixMicros(query.ColumnInt(1)),
                              absl::FromUnixMicros(query.ColumnInt(2))});
  }
}

absl::Status SqliteStore::PutNonce(ByteSpan nonce, absl::Time expires) {
  VOUCH_RETURN_IF_ERROR(ValidateNonce(nonce));
  if (expires == absl::InfinitePast() || expires == absl::InfiniteFuture()) {
    return InvalidArgumentf("nonce: expiry must be a finite time");
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = "put nonce";
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));
  // An expired copy of the same nonce is no longer outstanding: replace it.
  VOUCH_ASSIGN_OR_RETURN(
      Statement expired,
      Statement::Prepare(db, "DELETE FROM nonces WHERE nonce = ? AND expires_us < ?", operation));
  VOUCH_RETURN_IF_ERROR(expired.BindBlob(1, nonce));
  VOUCH_RETURN_IF_ERROR(expired.BindInt(2, absl::ToUnixMicros(absl::Now())));
  VOUCH_RETURN_IF_ERROR(expired.Run());

  VOUCH_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db, "INSERT INTO nonces (nonce, expires_us) VALUES (?, ?)", operation));
  VOUCH_RETURN_IF_ERROR(insert.BindBlob(1, nonce));
  VOUCH_RETURN_IF_ERROR(insert.BindInt(2, absl::ToUnixMicros(expires)));
  const absl::Status inserted = insert.Run();
  if (absl::IsAlreadyExists(inserted)) {
    return absl::AlreadyExistsError("nonce is already outstanding");
  }
  VOUCH_RETURN_IF_ERROR(inserted);
  return txn.Commit();
}

absl::Status SqliteStore::ConsumeNonce(ByteSpan nonce, absl::Time now) {
  VOUCH_RETURN_IF_ERROR(ValidateNonce(nonce));
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = "consume nonce";
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db, "SELECT expires_us FROM nonces WHERE nonce = ?", operation));
  VOUCH_RETURN_IF_ERROR(query.BindBlob(1, nonce));
  VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
  if (!row) {
    return NotFoundf("nonce not found: it was never issued or was already used");
  }
  const absl::Time expires = absl::FromUnixMicros(query.ColumnInt(0));

  VOUCH_ASSIGN_OR_RETURN(Statement remove,
                         Statement::Prepare(db, "DELETE FROM nonces WHERE nonce = ?", operation));
  VOUCH_RETURN_IF_ERROR(remove.BindBlob(1, nonce));
  VOUCH_RETURN_IF_ERROR(remove.Run());
  VOUCH_RETURN_IF_ERROR(txn.Commit());
  if (expires < now) {
    return FailedPreconditionf("nonce expired at {}: request a new one",
                               absl::FormatTime(absl::RFC3339_sec, expires, absl::UTCTimeZone()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStore::PurgeExpiredNonces(absl::Time now) {
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(Statement remove,
                         Statement::Prepare(db_.get(), "DELETE FROM nonces WHERE expires_us < ?",
                                            "purge expired nonces"));
  VOUCH_RETURN_IF_ERROR(remove.BindInt(1, absl::ToUnixMicros(now)));
  VOUCH_RETURN_IF_ERROR(remove.Run());
  return static_cast<int64_t>(sqlite3_changes(db_.get()));
}

absl::Status SqliteStore::AppendAudit(const AuditEvent& event) {
  VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(event));
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, "append audit event"));
  VOUCH_RETURN_IF_ERROR(AppendAuditInTransaction(db, event));
  return txn.Commit();
}

namespace {

// SqlLimit maps a size_t limit to SQLite's LIMIT, where a negative value
// means no limit.
int64_t SqlLimit(size_t limit) {
  return limit > static_cast<size_t>(std::numeric_limits<int64_t>::max())
             ? -1
             : static_cast<int64_t>(limit);
}

absl::StatusOr<std::vector<AuditEvent>> ReadAuditRows(Statement& query) {
  std::vector<AuditEvent> events;
  for (;;) {
    VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) {
      return events;
    }
    events.push_back(ReadAuditRow(query));
  }
}

}  // namespace

absl::StatusOr<std::vector<AuditEvent>> SqliteStore::ReadAudit(size_t max_events) {
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         fmt::format("SELECT {} FROM (SELECT * FROM audit_log ORDER BY sequence "
                                     "DESC LIMIT ?) ORDER BY sequence",
                                     kAuditColumns),
                         "read audit log"));
  VOUCH_RETURN_IF_ERROR(query.BindInt(1, SqlLimit(max_events)));
  return ReadAuditRows(query);
}

absl::StatusOr<std::vector<AuditEvent>> SqliteStore::QueryAudit(const AuditQuery& query) {
  for (const std::optional<absl::Time>& time : {query.since, query.until}) {
    if (time.has_value() && (*time == absl::InfinitePast() || *time == absl::InfiniteFuture())) {
      return InvalidArgumentf("audit query: since and until must be finite times");
    }
  }
  // Each condition is fixed text; every value is a bound parameter.
  std::string where = "1";
  std::string upper_bound;
  if (query.target_prefix.has_value() && !query.target_prefix->empty()) {
    where += " AND target >= ?";
    upper_bound = PrefixSuccessor(*query.target_prefix);
    if (!upper_bound.empty()) {
      where += " AND target < ?";
    }
  }
  if (query.operation.has_value()) {
    where += " AND operation = ?";
  }
  if (query.outcome.has_value()) {
    where += " AND outcome = ?";
  }
  if (query.since.has_value()) {
    where += " AND time_us >= ?";
  }
  if (query.until.has_value()) {
    where += " AND time_us < ?";
  }

  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(
      Statement select,
      Statement::Prepare(db_.get(),
                         fmt::format("SELECT {} FROM (SELECT * FROM audit_log WHERE {} ORDER BY "
                                     "sequence DESC LIMIT ?) ORDER BY sequence",
                                     kAuditColumns, where),
                         "query audit log"));
  int index = 1;
  if (query.target_prefix.has_value() && !query.target_prefix->empty()) {
    VOUCH_RETURN_IF_ERROR(select.BindText(index++, *query.target_prefix));
    if (!upper_bound.empty()) {
      VOUCH_RETURN_IF_ERROR(select.BindText(index++, upper_bound));
    }
  }
  if (query.operation.has_value()) {
    VOUCH_RETURN_IF_ERROR(select.BindText(index++, *query.operation));
  }
  if (query.outcome.has_value()) {
    VOUCH_RETURN_IF_ERROR(select.BindText(index++, *query.outcome));
  }
  if (query.since.has_value()) {
    VOUCH_RETURN_IF_ERROR(select.BindInt(index++, absl::ToUnixMicros(*query.since)));
  }
  if (query.until.has_value()) {
    VOUCH_RETURN_IF_ERROR(select.BindInt(index++, absl::ToUnixMicros(*query.until)));
  }
  VOUCH_RETURN_IF_ERROR(select.BindInt(index, SqlLimit(query.limit)));
  return ReadAuditRows(select);
}

absl::StatusOr<std::optional<Bytes>> SqliteStore::GetBlob(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateBlobName(name));
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(Statement query,
                         Statement::Prepare(db_.get(), "SELECT value FROM blobs WHERE name = ?",
                                            fmt::format("get blob {}", name)));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
  if (!row) {
    return std::optional<Bytes>();
  }
  return std::optional<Bytes>(query.ColumnBlob(0));
}

absl::Status SqliteStore::PutBlob(std::string_view name, ByteSpan value) {
  VOUCH_RETURN_IF_ERROR(ValidateBlobName(name));
  if (value.size() > kMaxBlobBytes) {
    return InvalidArgumentf("blob {}: {} bytes, more than the limit of {}", name, value.size(),
                            kMaxBlobBytes);
  }
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(
      Statement upsert,
      Statement::Prepare(db_.get(),
                         "INSERT INTO blobs (name, value, updated_us) VALUES (?, ?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                         "updated_us = excluded.updated_us",
                         fmt::format("put blob {}", name)));
  VOUCH_RETURN_IF_ERROR(upsert.BindText(1, name));
  VOUCH_RETURN_IF_ERROR(upsert.BindBlob(2, value));
  VOUCH_RETURN_IF_ERROR(upsert.BindInt(3, absl::ToUnixMicros(absl::Now())));
  return upsert.Run();
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ListBlobNames() {
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(), "SELECT name FROM blobs ORDER BY name", "list blob names"));
  std::vector<std::string> names;
  for (;;) {
    VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) {
      return names;
    }
    names.push_back(query.ColumnText(0));
  }
}

absl::Status SqliteStore::DeleteBlob(std::string_view name) {
  VOUCH_RETURN_IF_ERROR(ValidateBlobName(name));
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(Statement remove,
                         Statement::Prepare(db_.get(), "DELETE FROM blobs WHERE name = ?",
                                            fmt::format("delete blob {}", name)));
  VOUCH_RETURN_IF_ERROR(remove.BindText(1, name));
  VOUCH_RETURN_IF_ERROR(remove.Run());
  if (sqlite3_changes(db_.get()) == 0) {
    return NotFoundf("blob {} not found", name);
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::optional<Bytes>> ReadBlobInTransaction(sqlite3* db, std::string_view name,
                                                           std::string_view operation) {
  VOUCH_ASSIGN_OR_RETURN(Statement query,
                         Statement::Prepare(db, "SELECT value FROM blobs WHERE name = ?",
                                            operation));
  VOUCH_RETURN_IF_ERROR(query.BindText(1, name));
  VOUCH_ASSIGN_OR_RETURN(const bool row, query.Step());
  if (!row) {
    return std::optional<Bytes>();
  }
  return std::optional<Bytes>(query.ColumnBlob(0));
}

absl::Status ApplyBlobWrite(sqlite3* db, const BlobWrite& write, absl::Time now,
                            std::string_view operation) {
  if (!write.value.has_value()) {
    VOUCH_ASSIGN_OR_RETURN(Statement remove,
                           Statement::Prepare(db, "DELETE FROM blobs WHERE name = ?", operation));
    VOUCH_RETURN_IF_ERROR(remove.BindText(1, write.name));
    return remove.Run();
  }
  VOUCH_ASSIGN_OR_RETURN(
      Statement upsert,
      Statement::Prepare(db,
                         "INSERT INTO blobs (name, value, updated_us) VALUES (?, ?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                         "updated_us = excluded.updated_us",
                         operation));
  VOUCH_RETURN_IF_ERROR(upsert.BindText(1, write.name));
  VOUCH_RETURN_IF_ERROR(upsert.BindBlob(2, *write.value));
  VOUCH_RETURN_IF_ERROR(upsert.BindInt(3, absl::ToUnixMicros(now)));
  return upsert.Run();
}

}  // namespace

absl::Status SqliteStore::WriteBlobs(const std::vector<BlobPrecondition>& preconditions,
                                     const std::vector<BlobWrite>& writes,
                                     const AuditEvent* audit) {
  VOUCH_RETURN_IF_ERROR(internal::ValidateBlobWrites(preconditions, writes));
  if (audit != nullptr) {
    VOUCH_RETURN_IF_ERROR(ValidateAuditEvent(*audit));
  }
  MutexLock lock(&mu_);
  sqlite3* db = db_.get();
  const std::string operation = fmt::format("write {} blobs", writes.size());
  // BEGIN IMMEDIATE takes the database's write lock first, so no other
  // connection can change a blob between the precondition reads and the commit.
  VOUCH_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db, operation));
  for (const BlobPrecondition& precondition : preconditions) {
    VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> current,
                           ReadBlobInTransaction(db, precondition.name, operation));
    VOUCH_RETURN_IF_ERROR(internal::CheckBlobPrecondition(precondition, current));
  }
  const absl::Time now = absl::Now();
  for (const BlobWrite& write : writes) {
    VOUCH_RETURN_IF_ERROR(ApplyBlobWrite(db, write, now, operation));
  }
  VOUCH_RETURN_IF_ERROR(AppendOptionalAudit(db, audit));
  return txn.Commit();
}

}  // namespace vouch::store
