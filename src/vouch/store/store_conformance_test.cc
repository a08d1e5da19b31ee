#include "vouch/store/store_conformance_test.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/store/audit.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::store::conformance {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

std::string FactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

void StoreConformanceTest::SetUp() {
  std::string pattern = ::testing::TempDir() + "vouch-store-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
  location_ = pattern;
}

void StoreConformanceTest::TearDown() {
  std::error_code ignored;
  std::filesystem::remove_all(location_, ignored);
}

std::unique_ptr<Store> StoreConformanceTest::OpenStore() {
  absl::StatusOr<std::unique_ptr<Store>> store = GetParam().open(location_);
  if (!store.ok()) {
    ADD_FAILURE() << "open store at " << location_ << ": " << store.status();
    return nullptr;
  }
  return std::move(store).value();
}

std::string Version(int n) { return fmt::format("{:032x}", static_cast<uint32_t>(n)); }

KeyRecord MakeRecord(std::string_view name, std::string_view version, absl::Time created,
                     size_t sealed_size) {
  KeyRecord record;
  record.name = std::string(name);
  record.version = std::string(version);
  record.created = created;
  record.updated = created;
  record.kty = "oct-HSM";
  record.key_size_bits = 256;
  record.keystore = "software";
  record.release_policy = R"({"version":"1.0.0","anyOf":[]})";
  // A pattern that depends on the name and version, so a record that is
  // swapped or torn does not match.
  const std::string seed = record.name + "/" + record.version;
  record.sealed_key.resize(sealed_size);
  for (size_t i = 0; i < sealed_size; ++i) {
    record.sealed_key[i] = static_cast<uint8_t>(seed[i % seed.size()] + i * 31);
  }
  return record;
}

namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

void ExpectSameRecord(const KeyRecord& got, const KeyRecord& want) {
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.created, want.created);
  EXPECT_EQ(got.updated, want.updated);
  EXPECT_EQ(got.enabled, want.enabled);
  EXPECT_EQ(got.exportable, want.exportable);
  EXPECT_EQ(got.kty, want.kty);
  EXPECT_EQ(got.key_size_bits, want.key_size_bits);
  EXPECT_EQ(got.sealed_key, want.sealed_key);
  EXPECT_EQ(got.keystore, want.keystore);
  EXPECT_EQ(got.release_policy, want.release_policy);
  EXPECT_EQ(got.policy_immutable, want.policy_immutable);
}

TEST_P(StoreConformanceTest, PutThenGetReturnsEveryField) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  KeyRecord record = MakeRecord("data-key", Version(1), kT0 + absl::Microseconds(123));
  record.updated = kT0 + absl::Seconds(5);
  record.enabled = false;
  record.exportable = false;
  record.key_size_bits = 128;
  record.policy_immutable = true;
  record.release_policy = R"({"note":"quotes ' and \" and ; DROP TABLE keys; --"})";
  ASSERT_OK(store->PutKeyVersion(record));

  ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey("data-key", Version(1)));
  ExpectSameRecord(got, record);
}

TEST_P(StoreConformanceTest, EmptyReleasePolicyRoundTrips) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  KeyRecord record = MakeRecord("k", Version(1), kT0);
  record.release_policy.clear();
  ASSERT_OK(store->PutKeyVersion(record));
  ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey("k", Version(1)));
  EXPECT_EQ(got.release_policy, "");
}

TEST_P(StoreConformanceTest, LatestIsNewestByCreation) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  KeyRecord newest = MakeRecord("k", Version(2), kT0 + absl::Seconds(20));
  newest.enabled = false;
  ASSERT_OK(store->PutKeyVersion(newest));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(3), kT0 + absl::Seconds(10))));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("other", Version(9), kT0 + absl::Seconds(99))));

  // Disabled or not, the newest creation time wins over insertion order.
  ASSERT_OK_AND_ASSIGN(const KeyRecord latest, store->GetKey("k", ""));
  EXPECT_EQ(latest.version, Version(2));
  EXPECT_FALSE(latest.enabled);
  EXPECT_EQ(latest.sealed_key, newest.sealed_key);
}

TEST_P(StoreConformanceTest, LatestAmongEqualTimesIsLastStored) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(7), kT0)));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(3), kT0)));
  ASSERT_OK_AND_ASSIGN(const KeyRecord latest, store->GetKey("k", ""));
  EXPECT_EQ(latest.version, Version(3));
}

TEST_P(StoreConformanceTest, MissingKeyIsNotFound) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->GetKey("absent", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("key absent")));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("present", Version(1), kT0)));
  EXPECT_THAT(store->GetKey("present", Version(2)),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("key present version " + Version(2) + " not found")));
  EXPECT_THAT(store->ListKeyVersions("absent"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->UpdateKeyAttributes("present", Version(2), false),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->SetReleasePolicy("absent", Version(1), "{}"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DuplicateVersionIsAlreadyExists) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const KeyRecord first = MakeRecord("k", Version(1), kT0);
  ASSERT_OK(store->PutKeyVersion(first));
  KeyRecord second = MakeRecord("k", Version(1), kT0 + absl::Seconds(1), 100);
  EXPECT_THAT(store->PutKeyVersion(second),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("key k version")));

  // The failed write left the first record as it was.
  ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey("k", Version(1)));
  ExpectSameRecord(got, first);
  ASSERT_OK_AND_ASSIGN(const auto versions, store->ListKeyVersions("k"));
  EXPECT_EQ(versions.size(), 1u);
}

TEST_P(StoreConformanceTest, InvalidNamesAreRejected) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const std::string bad_names[] = {"",
                                   "has space",
                                   "under_score",
                                   "dot.ted",
                                   "slash/x",
                                   "../up",
                                   "quote'",
                                   "semi;colon",
                                   "caf\xc3\xa9",
                                   std::string("nul\0x", 5),
                                   std::string(128, 'a')};
  for (const std::string& name : bad_names) {
    EXPECT_THAT(store->PutKeyVersion(MakeRecord(name, Version(1), kT0)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "name '" << name << "'";
    EXPECT_THAT(store->GetKey(name, ""), StatusIs(absl::StatusCode::kInvalidArgument))
        << "name '" << name << "'";
  }
  EXPECT_OK(store->PutKeyVersion(MakeRecord(std::string(127, 'Z'), Version(1), kT0)));
  EXPECT_OK(store->PutKeyVersion(MakeRecord("Mixed-Case-09", Version(1), kT0)));
}

TEST_P(StoreConformanceTest, InvalidVersionsAreRejected) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const std::string bad_versions[] = {"",
                                      "latest",
                                      std::string(31, 'a'),
                                      std::string(33, 'a'),
                                      std::string(32, 'A'),
                                      std::string(31, 'a') + "g"};
  for (const std::string& version : bad_versions) {
    EXPECT_THAT(store->PutKeyVersion(MakeRecord("k", version, kT0)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "version '" << version << "'";
  }
  EXPECT_THAT(store->GetKey("k", "latest"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->UpdateKeyAttributes("k", "", true),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, IncompleteRecordIsRejected) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  KeyRecord no_key = MakeRecord("k", Version(1), kT0);
  no_key.sealed_key.clear();
  EXPECT_THAT(store->PutKeyVersion(no_key), StatusIs(absl::StatusCode::kInvalidArgument));
  KeyRecord no_kty = MakeRecord("k", Version(1), kT0);
  no_kty.kty.clear();
  EXPECT_THAT(store->PutKeyVersion(no_kty), StatusIs(absl::StatusCode::kInvalidArgument));
  KeyRecord infinite = MakeRecord("k", Version(1), absl::InfiniteFuture());
  EXPECT_THAT(store->PutKeyVersion(infinite), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, store->ListKeyNames());
  EXPECT_TRUE(names.empty());
}

TEST_P(StoreConformanceTest, ListsNamesAndVersions) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("beta", Version(1), kT0)));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("alpha", Version(5), kT0 + absl::Seconds(2))));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("alpha", Version(4), kT0 + absl::Seconds(1))));

  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, store->ListKeyNames());
  EXPECT_THAT(names, ElementsAre("alpha", "beta"));

  ASSERT_OK_AND_ASSIGN(const std::vector<KeyRecord> versions, store->ListKeyVersions("alpha"));
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].version, Version(4));
  EXPECT_EQ(versions[1].version, Version(5));
  for (const KeyRecord& record : versions) {
    EXPECT_TRUE(record.sealed_key.empty()) << record.version;
    EXPECT_EQ(record.kty, "oct-HSM");
  }
}

TEST_P(StoreConformanceTest, DisableAndEnableVersion) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(2), kT0)));

  ASSERT_OK(store->UpdateKeyAttributes("k", Version(1), false));
  ASSERT_OK_AND_ASSIGN(const KeyRecord disabled, store->GetKey("k", Version(1)));
  EXPECT_FALSE(disabled.enabled);
  EXPECT_GT(disabled.updated, kT0);
  ASSERT_OK_AND_ASSIGN(const KeyRecord untouched, store->GetKey("k", Version(2)));
  EXPECT_TRUE(untouched.enabled);

  ASSERT_OK(store->UpdateKeyAttributes("k", Version(1), true));
  ASSERT_OK_AND_ASSIGN(const KeyRecord enabled, store->GetKey("k", Version(1)));
  EXPECT_TRUE(enabled.enabled);
}

TEST_P(StoreConformanceTest, SetReleasePolicyReplacesMutablePolicy) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  ASSERT_OK(store->SetReleasePolicy("k", Version(1), R"({"v":2})"));
  ASSERT_OK_AND_ASSIGN(const KeyRecord updated, store->GetKey("k", Version(1)));
  EXPECT_EQ(updated.release_policy, R"({"v":2})");
  EXPECT_GT(updated.updated, kT0);

  ASSERT_OK(store->SetReleasePolicy("k", Version(1), ""));
  ASSERT_OK_AND_ASSIGN(const KeyRecord cleared, store->GetKey("k", Version(1)));
  EXPECT_EQ(cleared.release_policy, "");
}

TEST_P(StoreConformanceTest, ImmutablePolicyCannotChange) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  KeyRecord record = MakeRecord("k", Version(1), kT0);
  record.policy_immutable = true;
  ASSERT_OK(store->PutKeyVersion(record));
  EXPECT_THAT(store->SetReleasePolicy("k", Version(1), R"({"v":2})"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("immutable")));
  ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey("k", Version(1)));
  EXPECT_EQ(got.release_policy, record.release_policy);
  EXPECT_EQ(got.updated, record.updated);
}

TEST_P(StoreConformanceTest, AuditLogChainsAndReadsNewest) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> empty, store->ReadAudit(kAllAuditEvents));
  EXPECT_TRUE(empty.empty());
  EXPECT_OK(VerifyAuditChain(*store));

  for (int i = 0; i < 5; ++i) {
    AuditEvent event;
    event.time = kT0 + absl::Seconds(i);
    event.actor = "admin";
    event.operation = "key.create";
    event.target = fmt::format("keys/k/{}", Version(i));
    event.outcome = "ok";
    event.detail = i == 3 ? "" : "detail";
    ASSERT_OK(store->AppendAudit(event));
  }

  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> all, store->ReadAudit(kAllAuditEvents));
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].sequence, static_cast<int64_t>(i + 1));
    EXPECT_EQ(all[i].time, kT0 + absl::Seconds(static_cast<int64_t>(i)));
    EXPECT_EQ(all[i].target, fmt::format("keys/k/{}", Version(static_cast<int>(i))));
    EXPECT_EQ(all[i].hash.size(), kAuditHashBytes);
  }
  EXPECT_EQ(all[0].prev_hash, Bytes(kAuditHashBytes, 0));
  EXPECT_OK(VerifyAuditChain(*store));

  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> newest, store->ReadAudit(2));
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].sequence, 4);
  EXPECT_EQ(newest[1].sequence, 5);
  EXPECT_OK(VerifyAuditChain(newest));

  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> none, store->ReadAudit(0));
  EXPECT_TRUE(none.empty());
}

// Times are stored in whole microseconds; the chain hashes the stored value,
// so an event with a finer time still verifies after a round trip.
TEST_P(StoreConformanceTest, TimesKeepMicroseconds) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const absl::Time fine = kT0 + absl::Nanoseconds(1'234'567);
  AuditEvent event;
  event.time = fine;
  ASSERT_OK(store->AppendAudit(event));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), fine)));

  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, store->ReadAudit(1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].time, kT0 + absl::Microseconds(1234));
  EXPECT_OK(VerifyAuditChain(*store));
  ASSERT_OK_AND_ASSIGN(const KeyRecord record, store->GetKey("k", Version(1)));
  EXPECT_EQ(record.created, kT0 + absl::Microseconds(1234));
}

TEST_P(StoreConformanceTest, BlobsPutGetAndReplace) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> missing, store->GetBlob("token.signing-key"));
  EXPECT_FALSE(missing.has_value());

  ASSERT_OK(store->PutBlob("token.signing-key", Bytes{1, 2, 3}));
  ASSERT_OK(store->PutBlob("empty", Bytes{}));
  ASSERT_OK(store->PutBlob("token.signing-key", Bytes{4, 5}));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> replaced, store->GetBlob("token.signing-key"));
  EXPECT_EQ(replaced, Bytes({4, 5}));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> empty, store->GetBlob("empty"));
  EXPECT_EQ(empty, Bytes{});

  EXPECT_THAT(store->PutBlob("bad name", Bytes{1}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->GetBlob(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->PutBlob("big", Bytes(kMaxBlobBytes + 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, ReopenKeepsEverything) {
  const KeyRecord record = MakeRecord("persist", Version(1), kT0, 4096);
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->PutKeyVersion(record));
    ASSERT_OK(store->PutBlob("state", Bytes{9}));
    AuditEvent event;
    event.actor = "admin";
    event.operation = "key.create";
    ASSERT_OK(store->AppendAudit(event));
  }
  auto reopened = OpenStore();
  ASSERT_NE(reopened, nullptr);
  ASSERT_OK_AND_ASSIGN(const KeyRecord got, reopened->GetKey("persist", ""));
  ExpectSameRecord(got, record);
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> blob, reopened->GetBlob("state"));
  EXPECT_EQ(blob, Bytes{9});
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, reopened->ReadAudit(10));
  EXPECT_EQ(events.size(), 1u);
  EXPECT_OK(VerifyAuditChain(*reopened));
}

// Two threads write through two handles on the same data, so the store's own
// locking (not one process-wide mutex) has to serialize them.
TEST_P(StoreConformanceTest, ConcurrentWritersKeepEveryWrite) {
  constexpr int kPerThread = 40;
  auto first = OpenStore();
  auto second = OpenStore();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);

  auto writer = [](Store* store, int thread) {
    for (int i = 0; i < kPerThread; ++i) {
      const int n = thread * 1000 + i;
      EXPECT_OK(store->PutKeyVersion(
          MakeRecord(fmt::format("key-{}", i % 3), Version(n), kT0 + absl::Milliseconds(n))));
      AuditEvent event;
      event.actor = fmt::format("thread-{}", thread);
      event.operation = "key.create";
      event.target = Version(n);
      EXPECT_OK(store->AppendAudit(event));
    }
  };
  std::thread a(writer, first.get(), 1);
  std::thread b(writer, second.get(), 2);
  std::thread c(writer, first.get(), 3);
  a.join();
  b.join();
  c.join();

  size_t total = 0;
  for (int k = 0; k < 3; ++k) {
    ASSERT_OK_AND_ASSIGN(const auto versions, second->ListKeyVersions(fmt::format("key-{}", k)));
    total += versions.size();
  }
  EXPECT_EQ(total, 3u * kPerThread);
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, first->ReadAudit(kAllAuditEvents));
  EXPECT_EQ(events.size(), 3u * kPerThread);
  EXPECT_OK(VerifyAuditChain(*first));
}

// A child process writes versions in a loop and reports each commit through a
// pipe; it is killed with SIGKILL at an arbitrary point. Every reported
// version must then be whole, and the store must pass its integrity check.
TEST_P(StoreConformanceTest, CrashDuringWritesKeepsCommittedVersions) {
  constexpr int kRounds = 3;
  constexpr size_t kSealedSize = 3000;  // spans several pages
  std::set<int> committed;
  int next = 0;

  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const int first = next;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork: " << std::strerror(errno);
    if (pid == 0) {
      close(fds[0]);
      absl::StatusOr<std::unique_ptr<Store>> child = GetParam().open(location_);
      if (!child.ok()) {
        _exit(2);
      }
      for (int n = first;; ++n) {
        const KeyRecord record =
            MakeRecord(fmt::format("crash-{}", n % 4), Version(n), kT0, kSealedSize);
        AuditEvent event;
        event.operation = "key.create";
        event.target = record.version;
        if (!(*child)->PutKeyVersion(record).ok() || !(*child)->AppendAudit(event).ok()) {
          _exit(3);
        }
        if (write(fds[1], &n, sizeof(n)) != sizeof(n)) {
          _exit(4);
        }
      }
    }
    close(fds[1]);

    // Let the child commit a round-dependent number of versions, then kill it
    // in the middle of whatever it is doing.
    const int target_commits = 20 + round * 17;
    int n = 0;
    int received = 0;
    while (received < target_commits && read(fds[0], &n, sizeof(n)) == sizeof(n)) {
      committed.insert(n);
      ++received;
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status)) << "child exited early with status " << status;
    while (read(fds[0], &n, sizeof(n)) == sizeof(n)) {
      committed.insert(n);
    }
    close(fds[0]);
    ASSERT_FALSE(committed.empty());
    next = *committed.rbegin() + 2;  // skip the version that may have been in flight
  }

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  if (GetParam().check_integrity) {
    EXPECT_OK(GetParam().check_integrity(*store));
  }
  for (const int n : committed) {
    const std::string name = fmt::format("crash-{}", n % 4);
    ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey(name, Version(n)));
    EXPECT_EQ(got.sealed_key, MakeRecord(name, Version(n), kT0, kSealedSize).sealed_key)
        << "version " << n;
  }
  // Every stored version is whole too, including one committed just before
  // the kill but not yet reported.
  for (int k = 0; k < 4; ++k) {
    const std::string name = fmt::format("crash-{}", k);
    ASSERT_OK_AND_ASSIGN(const auto versions, store->ListKeyVersions(name));
    for (const KeyRecord& listed : versions) {
      ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey(name, listed.version));
      EXPECT_EQ(got.sealed_key, MakeRecord(name, listed.version, kT0, kSealedSize).sealed_key);
    }
  }
  EXPECT_OK(VerifyAuditChain(*store));
}

}  // namespace

}  // namespace vouch::store::conformance
