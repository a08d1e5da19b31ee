#include "vouch/store/postgres_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/mutex.h"
#include "vouch/base/status.h"
#include "vouch/store/audit.h"
#include "vouch/store/postgres_connection.h"
#include "vouch/store/store_conformance_test.h"
#include "vouch/testing/postgres_cluster.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::store {
namespace {

using conformance::MakeRecord;
using conformance::Version;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::PostgresCluster;
using ::vouch::testing::StatusIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

// shared_cluster_mu guards shared_cluster and the setenv and getenv calls on
// kInheritedConninfoVariable, because concurrent tests call Conninfo.
Mutex shared_cluster_mu;
PostgresCluster* shared_cluster = nullptr;
pid_t shared_cluster_owner = 0;
constexpr char kInheritedConninfoVariable[] = "VOUCH_TEST_POSTGRES_CONNINFO";

// StopSharedCluster runs at exit. Only the process that started the cluster
// stops it, not a forked test child.
void StopSharedCluster() {
  if (shared_cluster != nullptr && getpid() == shared_cluster_owner) {
    delete shared_cluster;
    shared_cluster = nullptr;
  }
}

// SharedCluster starts one cluster for the whole test binary on first use,
// so runs of this binary that test only SQLite never start one.
PostgresCluster& SharedCluster() {
  MutexLock lock(&shared_cluster_mu);
  if (shared_cluster == nullptr) {
    absl::StatusOr<std::unique_ptr<PostgresCluster>> started = PostgresCluster::Start();
    if (!started.ok()) {
      fmt::print(stderr, "cannot start a PostgreSQL test cluster: {}\n", started.status());
      std::abort();
    }
    shared_cluster = started->release();
    shared_cluster_owner = getpid();
    std::atexit(StopSharedCluster);
    // Child processes that run this binary again (the crash test) connect
    // to this cluster instead of starting their own.
    setenv(kInheritedConninfoVariable, shared_cluster->ConnectionString().c_str(), 1);
  }
  return *shared_cluster;
}

// Conninfo returns the shared cluster's connection string, or the one a
// parent test process passed down.
std::string Conninfo() {
  {
    MutexLock lock(&shared_cluster_mu);
    if (shared_cluster == nullptr) {
      if (const char* inherited = std::getenv(kInheritedConninfoVariable); inherited != nullptr) {
        return inherited;
      }
    }
  }
  return SharedCluster().ConnectionString();
}

// SchemaFor maps a conformance test's temporary folder to a schema name, so
// each test gets empty tables and reopening the folder reopens the schema.
std::string SchemaFor(const std::string& location) {
  std::string schema = "t_";
  for (const char c : std::filesystem::path(location).filename().string()) {
    schema += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  }
  return schema;
}

PostgresStoreOptions OptionsFor(const std::string& schema) {
  PostgresStoreOptions options;
  options.conninfo = Conninfo();
  options.schema = schema;
  options.pool_size = 4;
  return options;
}

conformance::StoreFactory PostgresStoreFactory() {
  conformance::StoreFactory factory;
  factory.name = "Postgres";
  factory.open = [](const std::string& location) -> absl::StatusOr<std::unique_ptr<Store>> {
    VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store,
                           PostgresStore::Open(OptionsFor(SchemaFor(location))));
    return std::unique_ptr<Store>(std::move(store));
  };
  factory.fail_audit_appends = [](const std::string& location) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(
        std::unique_ptr<internal::PgConnection> conn,
        internal::PgConnection::Connect(Conninfo(), SchemaFor(location), absl::Seconds(3)));
    return conn->ExecScript(
        "CREATE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit append failed by a test trigger'; END $$; "
        "CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION test_fail_audit()",
        "create audit trigger");
  };
  return factory;
}

using conformance::StoreConformanceTest;
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest,
                         ::testing::Values(PostgresStoreFactory()), conformance::FactoryName);

// Each test below uses a schema named after the test.
class PostgresStoreTest : public ::testing::Test {
 protected:
  static std::string TestSchema() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string schema = "p_";
    for (const char c : name) {
      schema += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c))
                                                            : '_';
    }
    return schema.substr(0, 63);
  }

  std::unique_ptr<PostgresStore> OpenStore(int pool_size = 4) {
    PostgresStoreOptions options = OptionsFor(TestSchema());
    options.pool_size = pool_size;
    absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(options);
    if (!store.ok()) {
      ADD_FAILURE() << "open: " << store.status();
      return nullptr;
    }
    return *std::move(store);
  }
};

TEST_F(PostgresStoreTest, MigratesOnceAcrossConcurrentOpens) {
  std::vector<std::thread> threads;
  std::atomic<int> opened = 0;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<std::unique_ptr<PostgresStore>> store =
          PostgresStore::Open(OptionsFor(TestSchema()));
      EXPECT_OK(store.status());
      if (store.ok()) {
        ++opened;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(opened, 4);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(const int version, store->SchemaVersion());
  EXPECT_EQ(version, PostgresStore::kSchemaVersion);
  ASSERT_OK_AND_ASSIGN(
      const std::string rows,
      SharedCluster().Query(fmt::format("SELECT count(*) FROM {}.schema_version", TestSchema())));
  // One row per migration: each ran once.
  EXPECT_EQ(rows, std::to_string(PostgresStore::kSchemaVersion));
}

TEST_F(PostgresStoreTest, RejectsNewerSchemaVersion) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(SharedCluster()
                .Query(fmt::format("INSERT INTO {}.schema_version VALUES (99, 0)", TestSchema()))
                .status());
  EXPECT_THAT(PostgresStore::Open(OptionsFor(TestSchema())),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
}

TEST_F(PostgresStoreTest, RejectsBadOptions) {
  PostgresStoreOptions options = OptionsFor("Bad-Schema");
  EXPECT_THAT(PostgresStore::Open(options), StatusIs(absl::StatusCode::kInvalidArgument));
  options = OptionsFor("ok");
  options.pool_size = 0;
  EXPECT_THAT(PostgresStore::Open(options), StatusIs(absl::StatusCode::kInvalidArgument));
  options = OptionsFor("ok");
  options.conninfo.clear();
  EXPECT_THAT(PostgresStore::Open(options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PostgresStoreTest, UnreachableDatabaseIsUnavailableWithoutPassword) {
  ASSERT_OK_AND_ASSIGN(const uint16_t port, vouch::testing::PickFreeLoopbackPort());
  PostgresStoreOptions options;
  options.conninfo =
      fmt::format("postgresql://vouch:s3cret-password@127.0.0.1:{}/vouch?connect_timeout=2", port);
  const absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(options);
  EXPECT_THAT(store, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("127.0.0.1")));
  EXPECT_THAT(std::string(store.status().message()), Not(HasSubstr("s3cret")));
}

TEST(RedactConnectionStringTest, DropsPasswordAndOptions) {
  EXPECT_EQ(RedactConnectionString("postgresql://app:pw@db.example:6432/vouch?sslmode=require"),
            "db.example:6432/vouch user=app");
  EXPECT_EQ(RedactConnectionString("host=10.0.0.5 password=secret dbname=v user=u"),
            "10.0.0.5:5432/v user=u");
  EXPECT_EQ(RedactConnectionString("not a = valid 'string"), "(unparsable connection string)");
}

TEST_F(PostgresStoreTest, AuditStringsRoundTripAnyBytes) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  AuditEvent event;
  event.time = kT0;
  event.actor = std::string("nul\0byte", 8);
  event.detail = "\xff\xfe not UTF-8";
  event.target = "keys/k/";
  ASSERT_OK(store->AppendAudit(event));
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, store->ReadAudit(kAllAuditEvents));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, event.actor);
  EXPECT_EQ(events[0].detail, event.detail);
  EXPECT_OK(VerifyAuditChain(*store));
}

TEST_F(PostgresStoreTest, AuditLogRejectsUpdateAndDelete) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  AuditEvent event;
  ASSERT_OK(store->AppendAudit(event));
  EXPECT_THAT(SharedCluster().Query(
                  fmt::format("UPDATE {}.audit_log SET detail = 'x'::bytea", TestSchema())),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("append-only")));
  EXPECT_THAT(SharedCluster().Query(fmt::format("DELETE FROM {}.audit_log", TestSchema())),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("append-only")));
}

TEST_F(PostgresStoreTest, PutBlobIfAbsentKeepsFirstValue) {
  auto first = OpenStore();
  auto second = OpenStore();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::vector<Bytes> stored(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      PostgresStore& store = i % 2 == 0 ? *first : *second;
      absl::StatusOr<Bytes> value = store.PutBlobIfAbsent("signing", Bytes{static_cast<uint8_t>(i)});
      EXPECT_OK(value.status());
      if (value.ok()) {
        stored[i] = *value;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (const Bytes& value : stored) {
    EXPECT_EQ(value, stored[0]);
  }
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> blob, first->GetBlob("signing"));
  EXPECT_EQ(blob, stored[0]);
}

// Two stores (as two nodes would have) consume the same nonces at once:
// each nonce succeeds exactly once.
TEST_F(PostgresStoreTest, NonceIsConsumedOnceAcrossStores) {
  constexpr int kNonces = 50;
  auto first = OpenStore();
  auto second = OpenStore();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const absl::Time expires = absl::Now() + absl::Minutes(5);
  for (int i = 0; i < kNonces; ++i) {
    ASSERT_OK(first->PutNonce(AsBytes(fmt::format("nonce-{}", i)), expires));
  }
  EXPECT_THAT(second->PutNonce(AsBytes("nonce-0"), expires),
              StatusIs(absl::StatusCode::kAlreadyExists));

  std::atomic<int> consumed = 0;
  std::atomic<int> not_found = 0;
  std::vector<std::thread> threads;
  // All four threads start each nonce together, so every nonce is raced.
  std::barrier round(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      PostgresStore& store = t % 2 == 0 ? *first : *second;
      for (int i = 0; i < kNonces; ++i) {
        round.arrive_and_wait();
        const absl::Status status = store.ConsumeNonce(AsBytes(fmt::format("nonce-{}", i)), absl::Now());
        if (status.ok()) {
          ++consumed;
        } else if (absl::IsNotFound(status)) {
          ++not_found;
        } else {
          ADD_FAILURE() << status;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(consumed, kNonces);
  EXPECT_EQ(not_found, 3 * kNonces);
}

// Appends from two stores and many threads interleave, yet form one chain.
TEST_F(PostgresStoreTest, ConcurrentAuditAppendsKeepOneChain) {
  constexpr int kPerThread = 25;
  auto first = OpenStore();
  auto second = OpenStore();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      PostgresStore& store = t % 2 == 0 ? *first : *second;
      for (int i = 0; i < kPerThread; ++i) {
        AuditEvent event;
        event.actor = fmt::format("node-{}", t % 2);
        event.operation = "key.release";
        event.target = fmt::format("keys/k/{}", i);
        EXPECT_OK(store.AppendAudit(event));
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, first->ReadAudit(kAllAuditEvents));
  EXPECT_EQ(events.size(), 6u * kPerThread);
  EXPECT_OK(VerifyAuditChain(*second));
}

TEST_F(PostgresStoreTest, PoolStaysWithinBound) {
  auto store = OpenStore(/*pool_size=*/2);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        EXPECT_OK(store->GetKey("k", "").status());
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_LE(store->open_connections(), 2);
  EXPECT_LE(store->connects(), 2);
}

TEST_F(PostgresStoreTest, InRecoveryIsFalseOnPrimary) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->InRecovery(), ::testing::Eq(absl::StatusOr<bool>(false)));
  EXPECT_OK(store->Promote(absl::Seconds(1)));
}

// A separate cluster, so stopping it does not disturb the other tests.
TEST(PostgresRestartTest, UnavailableWhileDownThenRecovers) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresCluster> cluster, PostgresCluster::Start());
  PostgresStoreOptions options;
  options.conninfo = cluster->ConnectionString();
  options.pool_size = 3;
  options.connect_timeout = absl::Seconds(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(options));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  ASSERT_OK(store->GetKey("k", "").status());

  ASSERT_OK(cluster->Stop());
  const absl::Time start = absl::Now();
  EXPECT_THAT(store->GetKey("k", ""),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("database unavailable")));
  EXPECT_THAT(store->PutKeyVersion(MakeRecord("k", Version(2), kT0)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  ASSERT_OK(cluster->Restart());
  // The first request after the restart already works: the dead pooled
  // connections were dropped and a new one is made.
  ASSERT_OK_AND_ASSIGN(const KeyRecord record, store->GetKey("k", ""));
  EXPECT_EQ(record.version, Version(1));
  EXPECT_OK(store->PutKeyVersion(MakeRecord("k", Version(2), kT0 + absl::Seconds(1))));
}

// Idle pooled connections die with the server; the retry on a new
// connection hides that from the caller.
TEST(PostgresRestartTest, StaleConnectionsAreRetriedAfterRestart) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresCluster> cluster, PostgresCluster::Start());
  PostgresStoreOptions options;
  options.conninfo = cluster->ConnectionString();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(options));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  ASSERT_OK(cluster->Stop());
  ASSERT_OK(cluster->Restart());
  ASSERT_OK_AND_ASSIGN(const KeyRecord record, store->GetKey("k", ""));
  EXPECT_EQ(record.version, Version(1));
  AuditEvent event;
  EXPECT_OK(store->AppendAudit(event));
}

}  // namespace
}  // namespace vouch::store
