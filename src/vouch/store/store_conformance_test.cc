#include "vouch/store/store_conformance_test.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/store/audit.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::store::conformance {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
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
  EXPECT_EQ(got.curve, want.curve);
  EXPECT_EQ(got.public_key, want.public_key);
  EXPECT_EQ(got.tags_json, want.tags_json);
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

// The crash test's child is this test binary run again for the same test,
// with this variable set to "<pipe fd>,<first version>,<store location>". A
// fresh process avoids what fork alone inherits from a threaded parent (locks
// held by libpq, OpenSSL or malloc in other threads at the time of the fork).
constexpr char kCrashChildVariable[] = "VOUCH_STORE_CRASH_CHILD";
constexpr size_t kCrashSealedSize = 3000;  // spans several pages

// RunCrashChild writes versions from `first` on and reports each commit
// through the pipe until it is killed. It never returns.
[[noreturn]] void RunCrashChild(const StoreFactory& factory, const std::string& spec) {
  const size_t comma = spec.find(',');
  const size_t second_comma = spec.find(',', comma + 1);
  if (comma == std::string::npos || second_comma == std::string::npos) {
    _exit(5);
  }
  const int fd = std::atoi(spec.substr(0, comma).c_str());
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  const int first = std::atoi(spec.substr(comma + 1, second_comma - comma - 1).c_str());
  absl::StatusOr<std::unique_ptr<Store>> child = factory.open(spec.substr(second_comma + 1));
  if (!child.ok()) {
    _exit(2);
  }
  for (int n = first;; ++n) {
    const KeyRecord record =
        MakeRecord(fmt::format("crash-{}", n % 4), Version(n), kT0, kCrashSealedSize);
    AuditEvent event;
    event.operation = "key.create";
    event.target = record.version;
    if (!(*child)->PutKeyVersion(record).ok() || !(*child)->AppendAudit(event).ok()) {
      _exit(3);
    }
    if (write(fd, &n, sizeof(n)) != sizeof(n)) {
      _exit(4);
    }
  }
}

// A child process writes versions in a loop and reports each commit through a
// pipe; it is killed with SIGKILL at an arbitrary point. Every reported
// version must then be whole, and the store must pass its integrity check.
TEST_P(StoreConformanceTest, CrashDuringWritesKeepsCommittedVersions) {
  if (const char* spec = std::getenv(kCrashChildVariable); spec != nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(location_, ignored);  // this run's own folder
    RunCrashChild(GetParam(), spec);
  }
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string filter =
      fmt::format("--gtest_filter={}.{}", info->test_suite_name(), info->name());
  char self[4096];
  const ssize_t self_size = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(self_size, 0) << "readlink /proc/self/exe: " << std::strerror(errno);
  self[self_size] = '\0';

  // Open the store once here first, so the schema exists and a store that
  // needs a server (PostgreSQL) has it running before any child starts.
  ASSERT_NE(OpenStore(), nullptr);

  constexpr int kRounds = 3;
  constexpr size_t kSealedSize = kCrashSealedSize;
  std::set<int> committed;
  int next = 0;

  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const int first = next;
    // Everything the child needs is built before fork: after it, the child
    // only calls execve.
    const std::string variable =
        fmt::format("{}={},{},{}", kCrashChildVariable, fds[1], first, location_);
    std::vector<std::string> environment = {variable};
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string_view(*entry).rfind(kCrashChildVariable, 0) != 0) {
        environment.emplace_back(*entry);
      }
    }
    std::vector<char*> envp;
    for (std::string& entry : environment) {
      envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    std::string arg0 = self;
    std::string arg1 = filter;
    char* argv[] = {arg0.data(), arg1.data(), nullptr};

    const pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork: " << std::strerror(errno);
    if (pid == 0) {
      // Only the write end survives execve. RunCrashChild marks it
      // close-on-exec again, so no process the child starts keeps it open.
      fcntl(fds[1], F_SETFD, 0);
      execve(self, argv, envp.data());
      _exit(127);
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

TEST_P(StoreConformanceTest, KeyTypeFieldsRoundTrip) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  KeyRecord record = MakeRecord("ec-key", Version(1), kT0);
  record.kty = "EC-HSM";
  record.key_size_bits = 384;
  record.curve = "P-384";
  record.public_key = Bytes{0x30, 0x76, 0x00, 0xff};
  record.tags_json = R"({"volume":"6f1c"})";
  ASSERT_OK(store->PutKeyVersion(record));
  ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey("ec-key", ""));
  ExpectSameRecord(got, record);
  ASSERT_OK_AND_ASSIGN(const std::vector<KeyRecord> listed, store->ListKeyVersions("ec-key"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].public_key, record.public_key);
  EXPECT_EQ(listed[0].tags_json, record.tags_json);
}

AuditEvent MakeAudit(std::string operation, std::string target, absl::Time time = kT0) {
  AuditEvent event;
  event.time = time;
  event.actor = "admin";
  event.operation = std::move(operation);
  event.target = std::move(target);
  event.outcome = "ok";
  return event;
}

size_t AuditCount(Store& store) {
  absl::StatusOr<std::vector<AuditEvent>> events = store.ReadAudit(kAllAuditEvents);
  EXPECT_OK(events.status());
  return events.ok() ? events->size() : 0;
}

TEST_P(StoreConformanceTest, SoftDeleteHidesEveryVersion) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("gone", Version(1), kT0)));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("gone", Version(2), kT0 + absl::Seconds(1))));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("kept", Version(3), kT0)));
  ASSERT_OK(store->SoftDeleteKey("gone", kT0 + absl::Hours(1), kT0 + absl::Hours(24 * 7), nullptr));

  EXPECT_THAT(store->GetKey("gone", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("key gone is deleted")));
  EXPECT_THAT(store->GetKey("gone", Version(1)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted")));
  EXPECT_THAT(store->ListKeyVersions("gone"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted")));
  EXPECT_THAT(store->UpdateKeyAttributes("gone", Version(1), false),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted")));
  EXPECT_THAT(store->SetReleasePolicy("gone", Version(1), "{}"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted")));
  EXPECT_THAT(store->PutKeyVersion(MakeRecord("gone", Version(4), kT0)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("purged")));
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, store->ListKeyNames());
  EXPECT_THAT(names, ElementsAre("kept"));

  ASSERT_OK_AND_ASSIGN(const DeletedKey deleted, store->GetDeletedKey("gone"));
  EXPECT_EQ(deleted.name, "gone");
  EXPECT_EQ(deleted.deleted, kT0 + absl::Hours(1));
  EXPECT_EQ(deleted.scheduled_purge, kT0 + absl::Hours(24 * 7));
  ASSERT_OK_AND_ASSIGN(const std::vector<DeletedKey> all, store->ListDeletedKeys());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "gone");
  EXPECT_THAT(store->GetDeletedKey("kept"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, SoftDeleteRejectsMissingAndDeletedKeys) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->SoftDeleteKey("absent", kT0, kT0, nullptr),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("key absent not found")));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  ASSERT_OK(store->SoftDeleteKey("k", kT0, kT0 + absl::Hours(1), nullptr));
  EXPECT_THAT(store->SoftDeleteKey("k", kT0, kT0 + absl::Hours(2), nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already deleted")));
  EXPECT_THAT(store->SoftDeleteKey("bad name", kT0, kT0, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(const DeletedKey deleted, store->GetDeletedKey("k"));
  EXPECT_EQ(deleted.scheduled_purge, kT0 + absl::Hours(1));
}

TEST_P(StoreConformanceTest, RecoverRestoresEveryVersion) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const KeyRecord first = MakeRecord("k", Version(1), kT0);
  const KeyRecord second = MakeRecord("k", Version(2), kT0 + absl::Seconds(1));
  ASSERT_OK(store->PutKeyVersion(first));
  ASSERT_OK(store->PutKeyVersion(second));
  EXPECT_THAT(store->RecoverKey("k", nullptr), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(store->SoftDeleteKey("k", kT0, kT0 + absl::Hours(1), nullptr));
  ASSERT_OK(store->RecoverKey("k", nullptr));

  ASSERT_OK_AND_ASSIGN(const KeyRecord got_first, store->GetKey("k", Version(1)));
  ExpectSameRecord(got_first, first);
  ASSERT_OK_AND_ASSIGN(const KeyRecord latest, store->GetKey("k", ""));
  ExpectSameRecord(latest, second);
  EXPECT_THAT(store->GetDeletedKey("k"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(const std::vector<DeletedKey> deleted, store->ListDeletedKeys());
  EXPECT_TRUE(deleted.empty());
  EXPECT_THAT(store->RecoverKey("k", nullptr), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, PurgeRemovesKeyAndReturnsSealedVersions) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const KeyRecord first = MakeRecord("k", Version(1), kT0);
  const KeyRecord second = MakeRecord("k", Version(2), kT0 + absl::Seconds(1));
  ASSERT_OK(store->PutKeyVersion(first));
  ASSERT_OK(store->PutKeyVersion(second));
  EXPECT_THAT(store->PurgeKey("k", nullptr),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("only a deleted key")));
  ASSERT_OK(store->SoftDeleteKey("k", kT0, kT0, nullptr));

  ASSERT_OK_AND_ASSIGN(const std::vector<KeyRecord> purged, store->PurgeKey("k", nullptr));
  ASSERT_EQ(purged.size(), 2u);
  ExpectSameRecord(purged[0], first);
  ExpectSameRecord(purged[1], second);

  EXPECT_THAT(store->GetKey("k", ""),
              StatusIs(absl::StatusCode::kNotFound, Not(HasSubstr("deleted"))));
  EXPECT_THAT(store->GetDeletedKey("k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->PurgeKey("k", nullptr), StatusIs(absl::StatusCode::kNotFound));
  // The name is free again, and a new key under it starts empty.
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(9), kT0)));
  ASSERT_OK_AND_ASSIGN(const std::vector<KeyRecord> versions, store->ListKeyVersions("k"));
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].version, Version(9));
}

TEST_P(StoreConformanceTest, EveryChangeAppendsItsAuditEvent) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const AuditEvent create = MakeAudit("key.create", "keys/k/" + Version(1));
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0), &create));
  const AuditEvent disable = MakeAudit("key.update", "keys/k/" + Version(1));
  ASSERT_OK(store->UpdateKeyAttributes("k", Version(1), false, &disable));
  const AuditEvent policy = MakeAudit("key.policy", "keys/k/" + Version(1));
  ASSERT_OK(store->SetReleasePolicy("k", Version(1), R"({"v":3})", true, &policy));
  const AuditEvent remove = MakeAudit("key.delete", "keys/k");
  ASSERT_OK(store->SoftDeleteKey("k", kT0, kT0, &remove));
  const AuditEvent recover = MakeAudit("key.recover", "keys/k");
  ASSERT_OK(store->RecoverKey("k", &recover));
  ASSERT_OK(store->SoftDeleteKey("k", kT0, kT0, &remove));
  const AuditEvent purge = MakeAudit("key.purge", "keys/k");
  ASSERT_OK(store->PurgeKey("k", &purge).status());

  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, store->ReadAudit(kAllAuditEvents));
  std::vector<std::string> operations;
  for (const AuditEvent& event : events) {
    operations.push_back(event.operation);
  }
  EXPECT_THAT(operations, ElementsAre("key.create", "key.update", "key.policy", "key.delete",
                                      "key.recover", "key.delete", "key.purge"));
  EXPECT_EQ(events[0].target, "keys/k/" + Version(1));
  EXPECT_EQ(events[0].actor, "admin");
  EXPECT_OK(VerifyAuditChain(*store));
}

TEST_P(StoreConformanceTest, SetReleasePolicyStoresImmutableFlag) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutKeyVersion(MakeRecord("k", Version(1), kT0)));
  ASSERT_OK(store->SetReleasePolicy("k", Version(1), R"({"v":2})", true, nullptr));
  ASSERT_OK_AND_ASSIGN(const KeyRecord got, store->GetKey("k", Version(1)));
  EXPECT_TRUE(got.policy_immutable);
  EXPECT_EQ(got.release_policy, R"({"v":2})");
  EXPECT_THAT(store->SetReleasePolicy("k", Version(1), R"({"v":3})", false, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("immutable")));
}

// A change that fails appends no audit record, and an audit record that
// cannot be written stops the change.
TEST_P(StoreConformanceTest, FailedChangeAppendsNoAuditEvent) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  KeyRecord immutable = MakeRecord("k", Version(1), kT0);
  immutable.policy_immutable = true;
  ASSERT_OK(store->PutKeyVersion(immutable));
  const AuditEvent event = MakeAudit("key.change", "keys/k");

  EXPECT_THAT(store->PutKeyVersion(MakeRecord("k", Version(1), kT0), &event),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store->UpdateKeyAttributes("k", Version(2), false, &event),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->SetReleasePolicy("k", Version(1), "{}", false, &event),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store->SoftDeleteKey("absent", kT0, kT0, &event),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->RecoverKey("k", &event), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->PurgeKey("k", &event), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(AuditCount(*store), 0u);

  AuditEvent bad_time = event;
  bad_time.time = absl::InfiniteFuture();
  EXPECT_THAT(store->PutKeyVersion(MakeRecord("other", Version(1), kT0), &bad_time),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->GetKey("other", ""), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->SoftDeleteKey("k", kT0, kT0, &bad_time),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(store->GetKey("k", "").status());
  EXPECT_EQ(AuditCount(*store), 0u);
}

TEST_P(StoreConformanceTest, NonceIsConsumedOnce) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const Bytes nonce = {1, 2, 3, 4};
  const absl::Time now = absl::Now();
  ASSERT_OK(store->PutNonce(nonce, now + absl::Minutes(5)));
  EXPECT_THAT(store->PutNonce(nonce, now + absl::Minutes(5)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(store->ConsumeNonce(nonce, now));
  EXPECT_THAT(store->ConsumeNonce(nonce, now), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->ConsumeNonce(Bytes{9}, now), StatusIs(absl::StatusCode::kNotFound));
  // Once consumed, the same value may be issued again.
  EXPECT_OK(store->PutNonce(nonce, now + absl::Minutes(5)));
}

TEST_P(StoreConformanceTest, ExpiredNonceIsRejectedAndRemoved) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const Bytes nonce = {7, 7};
  const absl::Time now = absl::Now();
  ASSERT_OK(store->PutNonce(nonce, now + absl::Seconds(1)));
  EXPECT_THAT(store->ConsumeNonce(nonce, now + absl::Seconds(2)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired")));
  EXPECT_THAT(store->ConsumeNonce(nonce, now), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, NonceSizeIsChecked) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const absl::Time later = absl::Now() + absl::Minutes(1);
  EXPECT_THAT(store->PutNonce(Bytes{}, later), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->PutNonce(Bytes(65, 1), later), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(store->PutNonce(Bytes(64, 1), later));
  EXPECT_THAT(store->ConsumeNonce(Bytes{}, later), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, PurgeExpiredNoncesCountsRemoved) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const absl::Time now = absl::Now();
  ASSERT_OK(store->PutNonce(Bytes{1}, now + absl::Seconds(10)));
  ASSERT_OK(store->PutNonce(Bytes{2}, now + absl::Seconds(20)));
  ASSERT_OK(store->PutNonce(Bytes{3}, now + absl::Minutes(10)));
  ASSERT_OK_AND_ASSIGN(const int64_t removed, store->PurgeExpiredNonces(now + absl::Seconds(30)));
  EXPECT_EQ(removed, 2);
  EXPECT_THAT(store->ConsumeNonce(Bytes{1}, now), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(store->ConsumeNonce(Bytes{3}, now));
  ASSERT_OK_AND_ASSIGN(const int64_t none, store->PurgeExpiredNonces(now + absl::Hours(1)));
  EXPECT_EQ(none, 0);
}

TEST_P(StoreConformanceTest, QueryAuditFilters) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  struct Row {
    const char* operation;
    const char* target;
    const char* outcome;
  };
  const Row rows[] = {
      {"key.create", "keys/alpha/1", "ok"},     {"key.release", "keys/alpha/1", "denied"},
      {"key.release", "keys/alpha/1", "granted"}, {"key.create", "keys/alphabet/1", "ok"},
      {"key.release", "keys/beta/2", "denied"}, {"key.delete", "keys/alpha", "ok"},
  };
  for (size_t i = 0; i < std::size(rows); ++i) {
    AuditEvent event = MakeAudit(rows[i].operation, rows[i].target,
                                 kT0 + absl::Seconds(static_cast<int64_t>(i)));
    event.outcome = rows[i].outcome;
    ASSERT_OK(store->AppendAudit(event));
  }
  const auto sequences = [&](const AuditQuery& query) {
    std::vector<int64_t> result;
    absl::StatusOr<std::vector<AuditEvent>> events = store->QueryAudit(query);
    EXPECT_OK(events.status());
    if (events.ok()) {
      for (const AuditEvent& event : *events) {
        result.push_back(event.sequence);
      }
    }
    return result;
  };

  EXPECT_THAT(sequences({}), ElementsAre(1, 2, 3, 4, 5, 6));
  AuditQuery by_key;
  by_key.target_prefix = "keys/alpha/";
  EXPECT_THAT(sequences(by_key), ElementsAre(1, 2, 3));
  AuditQuery by_outcome;
  by_outcome.outcome = "denied";
  EXPECT_THAT(sequences(by_outcome), ElementsAre(2, 5));
  AuditQuery by_operation;
  by_operation.operation = "key.create";
  EXPECT_THAT(sequences(by_operation), ElementsAre(1, 4));
  AuditQuery by_time;
  by_time.since = kT0 + absl::Seconds(1);
  by_time.until = kT0 + absl::Seconds(4);
  EXPECT_THAT(sequences(by_time), ElementsAre(2, 3, 4));
  AuditQuery newest;
  newest.target_prefix = "keys/";
  newest.limit = 2;
  EXPECT_THAT(sequences(newest), ElementsAre(5, 6));
  AuditQuery combined;
  combined.target_prefix = "keys/alpha";
  combined.operation = "key.release";
  combined.outcome = "granted";
  EXPECT_THAT(sequences(combined), ElementsAre(3));
  AuditQuery nothing;
  nothing.limit = 0;
  EXPECT_THAT(sequences(nothing), ElementsAre());

  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, store->QueryAudit(by_key));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].hash.size(), kAuditHashBytes);
  EXPECT_EQ(events[1].prev_hash, events[0].hash);
  EXPECT_EQ(events[2].outcome, "granted");
}

TEST_P(StoreConformanceTest, BlobsListAndDelete) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> empty, store->ListBlobNames());
  EXPECT_TRUE(empty.empty());
  ASSERT_OK(store->PutBlob("settings.purge-protection", Bytes{1}));
  ASSERT_OK(store->PutBlob("audit.head", Bytes{2}));
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, store->ListBlobNames());
  EXPECT_THAT(names, ElementsAre("audit.head", "settings.purge-protection"));

  ASSERT_OK(store->DeleteBlob("audit.head"));
  EXPECT_THAT(store->DeleteBlob("audit.head"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->DeleteBlob("bad name"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> gone, store->GetBlob("audit.head"));
  EXPECT_FALSE(gone.has_value());
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> left, store->ListBlobNames());
  EXPECT_THAT(left, ElementsAre("settings.purge-protection"));
}


AuditEvent BlobAuditEvent(std::string_view operation) {
  AuditEvent event;
  event.time = kT0;
  event.actor = "admin";
  event.operation = std::string(operation);
  event.target = "blobs/test";
  event.outcome = "ok";
  return event;
}

TEST_P(StoreConformanceTest, WriteBlobsPutsDeletesAndAudits) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutBlob("old", Bytes{1}));
  ASSERT_OK(store->PutBlob("replaced", Bytes{2}));

  const AuditEvent event = BlobAuditEvent("blobs.write");
  ASSERT_OK(store->WriteBlobs({{"replaced", Bytes{2}}, {"missing", std::nullopt}},
                              {{"replaced", Bytes{3}},
                               {"new", Bytes{4, 5}},
                               {"old", std::nullopt},
                               {"never-stored", std::nullopt}},
                              &event));

  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, store->ListBlobNames());
  EXPECT_THAT(names, ElementsAre("new", "replaced"));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> replaced, store->GetBlob("replaced"));
  EXPECT_EQ(replaced, Bytes{3});
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> added, store->GetBlob("new"));
  EXPECT_EQ(added, Bytes({4, 5}));
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, store->ReadAudit(10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].operation, "blobs.write");
  EXPECT_OK(VerifyAuditChain(*store));

  // A later write to the same name wins, and the audit event is optional.
  ASSERT_OK(store->WriteBlobs({{"twice", Bytes{1}}, {"twice", Bytes{2}}}, nullptr));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> twice, store->GetBlob("twice"));
  EXPECT_EQ(twice, Bytes{2});
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> after, store->ReadAudit(10));
  EXPECT_EQ(after.size(), 1u);
}

TEST_P(StoreConformanceTest, WriteBlobsFailedPreconditionWritesNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutBlob("current", Bytes{1}));
  const AuditEvent event = BlobAuditEvent("blobs.write");

  const std::vector<std::vector<BlobPrecondition>> failing = {
      {{"current", Bytes{9}}},                     // another value
      {{"current", std::nullopt}},                 // expected absent, but exists
      {{"absent", Bytes{1}}},                      // expected a value, but absent
      {{"current", Bytes{1}}, {"absent", Bytes{}}},  // the second of two fails
  };
  for (size_t i = 0; i < failing.size(); ++i) {
    EXPECT_THAT(store->WriteBlobs(failing[i], {{"current", Bytes{2}}, {"other", Bytes{3}}},
                                  &event),
                StatusIs(absl::StatusCode::kAborted))
        << "case " << i;
  }

  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> current, store->GetBlob("current"));
  EXPECT_EQ(current, Bytes{1});
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> other, store->GetBlob("other"));
  EXPECT_FALSE(other.has_value());
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, store->ReadAudit(10));
  EXPECT_TRUE(events.empty());
}

TEST_P(StoreConformanceTest, WriteBlobsRejectsInvalidInput) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  AuditEvent infinite = BlobAuditEvent("blobs.write");
  infinite.time = absl::InfiniteFuture();

  EXPECT_THAT(store->WriteBlobs({}, nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->WriteBlobs({{"good", Bytes{1}}, {"bad name", Bytes{1}}}, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->WriteBlobs({{"bad name", std::nullopt}}, {{"good", Bytes{1}}}, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->WriteBlobs({{"good", Bytes{1}}, {"big", Bytes(kMaxBlobBytes + 1)}}, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->WriteBlobs({{"good", Bytes{1}}}, &infinite),
              StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, store->ListBlobNames());
  EXPECT_TRUE(names.empty());
}

TEST_P(StoreConformanceTest, WriteBlobsRollsBackWhenAuditFails) {
  ASSERT_TRUE(GetParam().fail_audit_appends) << "the factory must set fail_audit_appends";
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutBlob("current", Bytes{1}));
  ASSERT_OK(store->PutBlob("deleted", Bytes{2}));
  ASSERT_OK(GetParam().fail_audit_appends(location_));

  const AuditEvent event = BlobAuditEvent("blobs.write");
  EXPECT_THAT(store->WriteBlobs({{"current", Bytes{1}}},
                                {{"current", Bytes{5}}, {"added", Bytes{6}}, {"deleted", std::nullopt}},
                                &event),
              Not(StatusIs(absl::StatusCode::kOk)));

  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> current, store->GetBlob("current"));
  EXPECT_EQ(current, Bytes{1});
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> deleted, store->GetBlob("deleted"));
  EXPECT_EQ(deleted, Bytes{2});
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> added, store->GetBlob("added"));
  EXPECT_FALSE(added.has_value());

  // The same writes without an audit event succeed, so the audit append was
  // what failed.
  ASSERT_OK(store->WriteBlobs({{"current", Bytes{5}}}, nullptr));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> written, store->GetBlob("current"));
  EXPECT_EQ(written, Bytes{5});
}

// Threads on two handles increment one counter blob by compare-and-set.
// Each success appends one audit event, and a loser (Aborted) reads again
// and retries, so the final count equals the number of successes: no write
// is lost and none is applied twice.
TEST_P(StoreConformanceTest, WriteBlobsRaceLosesNoUpdate) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 15;
  auto first = OpenStore();
  auto second = OpenStore();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_OK(first->PutBlob("counter", ToBytes("0")));

  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  std::vector<absl::Status> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    Store* store = t % 2 == 0 ? first.get() : second.get();
    threads.emplace_back([&, store, t] {
      const AuditEvent event = BlobAuditEvent("counter.increment");
      for (int done = 0; done < kPerThread;) {
        absl::StatusOr<std::optional<Bytes>> read = store->GetBlob("counter");
        if (!read.ok() || !read->has_value()) {
          failures[t] = read.ok() ? absl::NotFoundError("blob counter not found") : read.status();
          return;
        }
        const int next = std::stoi(ToString(**read)) + 1;
        const absl::Status written = store->WriteBlobs(
            {{"counter", **read}}, {{"counter", ToBytes(std::to_string(next))}}, &event);
        if (absl::IsAborted(written)) {
          ++aborted;
          continue;
        }
        if (!written.ok()) {
          failures[t] = written;
          return;
        }
        ++done;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_OK(failures[t]) << "thread " << t;
  }

  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> counter, first->GetBlob("counter"));
  ASSERT_TRUE(counter.has_value());
  EXPECT_EQ(ToString(*counter), std::to_string(kThreads * kPerThread));
  AuditQuery increments;
  increments.operation = "counter.increment";
  ASSERT_OK_AND_ASSIGN(const std::vector<AuditEvent> events, first->QueryAudit(increments));
  EXPECT_EQ(events.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_OK(VerifyAuditChain(*first));
  std::printf("compare-and-set race: %d successes, %d aborted attempts retried\n",
              kThreads * kPerThread, aborted.load());
}

TEST_P(StoreConformanceTest, ListDeletedKeyVersionsReturnsSealedKeys) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const KeyRecord v1 = MakeRecord("gone", Version(1), kT0);
  const KeyRecord v2 = MakeRecord("gone", Version(2), kT0 + absl::Seconds(1));
  ASSERT_OK(store->PutKeyVersion(v1));
  ASSERT_OK(store->PutKeyVersion(v2));
  EXPECT_THAT(store->ListDeletedKeyVersions("gone"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->ListDeletedKeyVersions("never"), StatusIs(absl::StatusCode::kNotFound));

  ASSERT_OK(store->SoftDeleteKey("gone", kT0, kT0 + absl::Hours(1), nullptr));
  ASSERT_OK_AND_ASSIGN(const std::vector<KeyRecord> versions,
                       store->ListDeletedKeyVersions("gone"));
  ASSERT_EQ(versions.size(), 2u);
  ExpectSameRecord(versions[0], v1);
  ExpectSameRecord(versions[1], v2);

  ASSERT_OK(store->PurgeKey("gone", nullptr).status());
  EXPECT_THAT(store->ListDeletedKeyVersions("gone"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace

}  // namespace vouch::store::conformance
