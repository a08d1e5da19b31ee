#include "vouch/store/sqlite_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "vouch/base/status.h"
#include "vouch/store/audit.h"
#include "vouch/store/store_conformance_test.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::store {
namespace {

using conformance::MakeRecord;
using conformance::Version;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

std::string DatabasePath(const std::string& location) { return location + "/vouch.db"; }

conformance::StoreFactory SqliteStoreFactory() {
  conformance::StoreFactory factory;
  factory.name = "Sqlite";
  factory.open = [](const std::string& location) -> absl::StatusOr<std::unique_ptr<Store>> {
    VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store,
                           SqliteStore::Open(DatabasePath(location)));
    return std::unique_ptr<Store>(std::move(store));
  };
  factory.check_integrity = [](Store& store) {
    return dynamic_cast<SqliteStore&>(store).CheckIntegrity();
  };
  factory.fail_audit_appends = [](const std::string& location) -> absl::Status {
    sqlite3* db = nullptr;
    const int opened = sqlite3_open(DatabasePath(location).c_str(), &db);
    absl::Cleanup close = [db] { sqlite3_close(db); };
    if (opened != SQLITE_OK) {
      return Internalf("open {}: {}", DatabasePath(location), sqlite3_errstr(opened));
    }
    char* error = nullptr;
    const int created = sqlite3_exec(db,
                                     "CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log "
                                     "BEGIN SELECT RAISE(ABORT, 'audit append failed by a test "
                                     "trigger'); END",
                                     nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    if (created != SQLITE_OK) {
      return Internalf("create audit trigger: {}", message);
    }
    return absl::OkStatus();
  };
  return factory;
}

using conformance::StoreConformanceTest;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest, ::testing::Values(SqliteStoreFactory()),
                         conformance::FactoryName);

// RawDatabase opens the file directly, as an attacker or a careless operator
// with file access would, bypassing the store.
class RawDatabase {
 public:
  explicit RawDatabase(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawDatabase() { sqlite3_close(db_); }
  int Exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  std::string Error() const { return sqlite3_errmsg(db_); }
  // QueryPlan returns the detail lines of EXPLAIN QUERY PLAN for `sql`.
  std::string QueryPlan(const std::string& sql) {
    std::string plan;
    const std::string explain = "EXPLAIN QUERY PLAN " + sql;
    EXPECT_EQ(sqlite3_exec(
                  db_, explain.c_str(),
                  [](void* out, int columns, char** values, char**) {
                    // The last column is the detail text.
                    *static_cast<std::string*>(out) += std::string(values[columns - 1]) + "\n";
                    return 0;
                  },
                  &plan, nullptr),
              SQLITE_OK)
        << Error();
    return plan;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "vouch-sqlite-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = DatabasePath(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  absl::Status AppendEvents(Store& store, int count) {
    for (int i = 0; i < count; ++i) {
      AuditEvent event;
      event.time = kT0 + absl::Seconds(i);
      event.actor = "admin";
      event.operation = "key.release";
      event.target = fmt::format("keys/k/{}", Version(i));
      event.outcome = "granted";
      VOUCH_RETURN_IF_ERROR(store.AppendAudit(event));
    }
    return absl::OkStatus();
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, FilesAreCreatedWithMode0600) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  for (const std::string& file : {path_, path_ + "-wal", path_ + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
}

TEST_F(SqliteStoreTest, OpenSetsWalAndSchemaVersion) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(const int created_version, store->SchemaVersion());
  EXPECT_EQ(created_version, SqliteStore::kSchemaVersion);
  EXPECT_OK(store->CheckIntegrity());
  store.reset();
  // Reopening runs no migration twice.
  ASSERT_OK_AND_ASSIGN(store, SqliteStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(const int version, store->SchemaVersion());
  EXPECT_EQ(version, SqliteStore::kSchemaVersion);
}

// Several processes may start at once on a fresh data folder: each must
// open the file, switch it to WAL and run the migrations exactly once.
TEST_F(SqliteStoreTest, ConcurrentOpenMigratesOnce) {
  for (int round = 0; round < 10; ++round) {
    const std::string path = fmt::format("{}/race-{}.db", dir_, round);
    std::vector<absl::Status> results(4);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < results.size(); ++i) {
      threads.emplace_back([&path, &results, i] {
        absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
        results[i] = store.status();
        if (store.ok()) {
          results[i] = (*store)->PutKeyVersion(MakeRecord("k", Version(static_cast<int>(i)), kT0));
        }
      });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    for (size_t i = 0; i < results.size(); ++i) {
      EXPECT_OK(results[i]) << "round " << round << " thread " << i;
    }
    ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path));
    ASSERT_OK_AND_ASSIGN(const auto versions, store->ListKeyVersions("k"));
    EXPECT_EQ(versions.size(), results.size());
  }
}

// A database written by the first schema (before key types, soft delete and
// nonces) opens, migrates to the current version and keeps its keys.
TEST_F(SqliteStoreTest, MigratesVersionOneDatabase) {
  {
    RawDatabase raw(path_);
    const char* v1 = R"sql(
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_us INTEGER NOT NULL) STRICT;
INSERT INTO schema_version VALUES (1, 0);
CREATE TABLE keys (name TEXT PRIMARY KEY NOT NULL, created_us INTEGER NOT NULL) STRICT;
CREATE TABLE key_versions (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL REFERENCES keys (name), version TEXT NOT NULL,
  created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,
  enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  exportable INTEGER NOT NULL CHECK (exportable IN (0, 1)),
  kty TEXT NOT NULL, key_size_bits INTEGER NOT NULL, sealed_key BLOB NOT NULL,
  keystore TEXT NOT NULL, release_policy TEXT NOT NULL,
  policy_immutable INTEGER NOT NULL CHECK (policy_immutable IN (0, 1)),
  UNIQUE (name, version)) STRICT;
CREATE TABLE audit_log (sequence INTEGER PRIMARY KEY, time_us INTEGER NOT NULL,
  actor TEXT NOT NULL, operation TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL,
  detail TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL) STRICT;
CREATE TABLE blobs (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL,
  updated_us INTEGER NOT NULL) STRICT;
INSERT INTO keys VALUES ('old', 0);
INSERT INTO key_versions (name, version, created_us, updated_us, enabled, exportable, kty,
  key_size_bits, sealed_key, keystore, release_policy, policy_immutable)
  VALUES ('old', '0000000000000000000000000000000a', 5, 5, 1, 1, 'oct-HSM', 256, x'0102',
  'software', '', 0);
)sql";
    ASSERT_EQ(raw.Exec(v1), SQLITE_OK) << raw.Error();
  }
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(const int version, store->SchemaVersion());
  EXPECT_EQ(version, SqliteStore::kSchemaVersion);
  ASSERT_OK_AND_ASSIGN(const KeyRecord old, store->GetKey("old", ""));
  EXPECT_EQ(old.sealed_key, Bytes({1, 2}));
  EXPECT_EQ(old.curve, "");
  EXPECT_TRUE(old.public_key.empty());
  EXPECT_EQ(old.tags_json, "");
  ASSERT_OK(store->SoftDeleteKey("old", kT0, kT0, nullptr));
  ASSERT_OK(store->PutNonce(Bytes{1}, absl::Now() + absl::Minutes(1)));
  EXPECT_OK(store->CheckIntegrity());
}

// The audit head signer queries the newest record of one operation when it
// starts. Without an index that query reads the whole log.
TEST_F(SqliteStoreTest, NewestRecordOfOneOperationUsesAnIndex) {
  { ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_)); }
  RawDatabase raw(path_);
  const std::string plan = raw.QueryPlan(
      "SELECT * FROM (SELECT * FROM audit_log WHERE 1 AND operation = 'audit.head' ORDER BY "
      "sequence DESC LIMIT 1) ORDER BY sequence");
  EXPECT_THAT(plan, HasSubstr("audit_log_by_operation"));
}

TEST_F(SqliteStoreTest, NewerSchemaIsRejected) {
  { ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_)); }
  {
    RawDatabase raw(path_);
    ASSERT_EQ(raw.Exec("INSERT INTO schema_version VALUES (99, 0)"), SQLITE_OK) << raw.Error();
  }
  EXPECT_THAT(SqliteStore::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("schema version 99")));
}

TEST_F(SqliteStoreTest, FileThatIsNotADatabaseIsRejected) {
  std::ofstream(path_) << std::string(8192, 'x');
  EXPECT_THAT(SqliteStore::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a database")));
}

TEST_F(SqliteStoreTest, MissingFolderIsAnError) {
  EXPECT_FALSE(SqliteStore::Open(dir_ + "/absent/vouch.db").ok());
}

TEST_F(SqliteStoreTest, AuditLogRejectsUpdateAndDelete) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
  ASSERT_OK(AppendEvents(*store, 2));
  RawDatabase raw(path_);
  EXPECT_NE(raw.Exec("UPDATE audit_log SET outcome = 'denied'"), SQLITE_OK);
  EXPECT_THAT(raw.Error(), HasSubstr("append-only"));
  EXPECT_NE(raw.Exec("DELETE FROM audit_log"), SQLITE_OK);
  EXPECT_OK(VerifyAuditChain(*store));
}

// The triggers stop accidents only; someone with the file drops them. The
// hash chain still shows what changed.
TEST_F(SqliteStoreTest, AuditChainDetectsModifiedRow) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
  ASSERT_OK(AppendEvents(*store, 4));
  {
    RawDatabase raw(path_);
    ASSERT_EQ(raw.Exec("DROP TRIGGER audit_log_no_update"), SQLITE_OK) << raw.Error();
    ASSERT_EQ(raw.Exec("UPDATE audit_log SET outcome = 'denied' WHERE sequence = 3"), SQLITE_OK);
  }
  EXPECT_THAT(VerifyAuditChain(*store),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 3")));
}

TEST_F(SqliteStoreTest, AuditChainDetectsRehashedRow) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
  ASSERT_OK(AppendEvents(*store, 4));
  ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> events, store->ReadAudit(kAllAuditEvents));
  // Edit record 2 and recompute its own hash: record 3 no longer links to it.
  events[1].outcome = "denied";
  const std::string new_hash = HexEncode(ChainAuditHash(events[1].prev_hash, events[1]));
  {
    RawDatabase raw(path_);
    ASSERT_EQ(raw.Exec("DROP TRIGGER audit_log_no_update"), SQLITE_OK) << raw.Error();
    const std::string sql = fmt::format(
        "UPDATE audit_log SET outcome = 'denied', hash = x'{}' WHERE sequence = 2", new_hash);
    ASSERT_EQ(raw.Exec(sql.c_str()), SQLITE_OK) << raw.Error();
  }
  EXPECT_THAT(VerifyAuditChain(*store),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 3")));
}

TEST_F(SqliteStoreTest, AuditChainDetectsRemovedRow) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
  ASSERT_OK(AppendEvents(*store, 4));
  {
    RawDatabase raw(path_);
    ASSERT_EQ(raw.Exec("DROP TRIGGER audit_log_no_delete"), SQLITE_OK) << raw.Error();
    ASSERT_EQ(raw.Exec("DELETE FROM audit_log WHERE sequence = 2"), SQLITE_OK);
  }
  EXPECT_THAT(VerifyAuditChain(*store),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("removed")));

  {
    RawDatabase raw(path_);
    ASSERT_EQ(raw.Exec("DELETE FROM audit_log WHERE sequence = 1"), SQLITE_OK);
  }
  EXPECT_THAT(VerifyAuditChain(*store),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("first record")));
}

TEST_F(SqliteStoreTest, LockedDatabaseIsUnavailable) {
  ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_, absl::Milliseconds(50)));
  RawDatabase raw(path_);
  ASSERT_EQ(raw.Exec("BEGIN IMMEDIATE"), SQLITE_OK) << raw.Error();
  EXPECT_THAT(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("put key k version")));
  EXPECT_THAT(store->AppendAudit(AuditEvent()), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_EQ(raw.Exec("ROLLBACK"), SQLITE_OK);
  EXPECT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
}

TEST_F(SqliteStoreTest, DamagedFileFailsIntegrityCheck) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(path_));
    for (int i = 0; i < 50; ++i) {
      ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(i), kT0, 2000)));
    }
    RawDatabase raw(path_);
    ASSERT_EQ(raw.Exec("PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK) << raw.Error();
  }
  // Overwrite the middle of the file: b-tree pages, not the header.
  {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096 * 5 + 100);
    file << std::string(3000, '\x5a');
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
  if (!store.ok()) {
    // SQLite may notice the damage while it opens the schema.
    EXPECT_THAT(store, StatusIs(absl::StatusCode::kDataLoss));
    return;
  }
  EXPECT_THAT((*store)->CheckIntegrity(), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace vouch::store
