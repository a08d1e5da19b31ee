// Soak test of `vouch serve`: client threads send mixed attestation and key
// release load (POST /challenge, POST /attest/SevSnpVm with simulated
// SEV-SNP evidence, POST /keys/<name>/release, GET /certs, and now and then
// a key rotation) to a server on 127.0.0.1 with the SQLite store, for
// SOAK_SECONDS (default 180). Once a second the test samples the server's
// resident memory (VmRSS in /proc/<pid>/status) and its open file
// descriptors (entries of /proc/<pid>/fd).
//
// Pass rules, with the first third of the run as warm-up:
//   - every request gets a 2xx response and the server never exits;
//   - RSS over the rest of the run grows by less than kMaxRssGrowthMiB from
//     the first sample after warm-up to the largest sample;
//   - RSS does not climb: the mean of the last quarter of those samples is
//     at most kMaxRssClimbMiB above the mean of their first quarter;
//   - while the load runs, open FDs stay within the idle count plus
//     kMaxExtraFds, and within 5 s after the load stops they are back to the
//     idle count plus at most kFdSlack.
// Under AddressSanitizer (make test-sanitize) the RSS rules are not checked.
// ASan keeps freed memory in a quarantine (256 MiB by default) before reuse,
// so resident memory climbs through a 20-second run. That build checks the
// FD rules, and LeakSanitizer checks the server for leaks at exit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "vouch/agent/attest_client.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/key_admin_client.h"
#include "vouch/agent/platform.h"
#include "vouch/agent/simulated_platform.h"
#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kAdminToken[] = "soak-test-admin-token";
constexpr int kClientThreads = 2;
constexpr int kKeys = 4;
constexpr double kMaxRssGrowthMiB = 16;
constexpr double kMaxRssClimbMiB = 4;
constexpr int kMaxExtraFds = 32;
constexpr int kFdSlack = 2;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckRss = false;
#else
constexpr bool kCheckRss = true;
#endif

// Run length in seconds: SOAK_SECONDS (10 to 86400), or 180.
int SoakSeconds() {
  const char* text = std::getenv("SOAK_SECONDS");
  if (text == nullptr) {
    return 180;
  }
  const int seconds = std::atoi(text);
  VOUCH_CHECK(seconds >= 10 && seconds <= 86400);
  return seconds;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Returns VmRSS of `pid` in KiB, or -1 when the process is gone.
long ReadRssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::atol(line.c_str() + 6);
    }
  }
  return -1;
}

// Returns the number of open file descriptors of `pid`, or -1 when the
// process is gone.
int CountFds(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error);
  if (error) {
    return -1;
  }
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) {
      return -1;
    }
    ++count;
  }
  return count;
}

double Mean(const std::vector<long>& values, size_t begin, size_t end) {
  return std::accumulate(values.begin() + begin, values.begin() + end, 0.0) /
         static_cast<double>(end - begin);
}

struct Sample {
  double seconds;
  long rss_kib;
  int fds;
};

struct LoadCounters {
  std::atomic<long> attests = 0;
  std::atomic<long> releases = 0;
  std::atomic<long> challenges = 0;
  std::atomic<long> certs = 0;
  std::atomic<long> rotations = 0;
  std::atomic<long> failures = 0;
  std::mutex mutex;
  std::vector<std::string> failure_messages;  // The first 10 only.

  void Fail(const std::string& what, const absl::Status& status) {
    ++failures;
    std::lock_guard<std::mutex> lock(mutex);
    if (failure_messages.size() < 10) {
      failure_messages.push_back(what + ": " + std::string(status.message()));
    }
  }
};

class SoakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vouch_soak_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    data_dir_ = dir_ + "/data";
    std::filesystem::create_directory(data_dir_);
    std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all);
    std::ofstream(dir_ + "/admin-token") << kAdminToken << "\n";
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Runs `vouch serve` and waits for its port file.
  void StartServer() {
    const std::string port_file = dir_ + "/port";
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = dir_ + "/serve.log";
      freopen(log.c_str(), "a", stderr);
      freopen(log.c_str(), "a", stdout);
      execl(VOUCH_CLI_BINARY, VOUCH_CLI_BINARY, "serve", "--data-dir", data_dir_.c_str(),
            "--listen", "127.0.0.1:0", "--port-file", port_file.c_str(), "--admin-token-file",
            (dir_ + "/admin-token").c_str(), "--allow-simulated-snp",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 1000; ++i) {
      const std::string text = Slurp(port_file);
      if (!text.empty() && text.back() == '\n') {
        url_ = "http://127.0.0.1:" + text.substr(0, text.size() - 1);
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "vouch serve exited early:\n" << Slurp(dir_ + "/serve.log");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "vouch serve did not write its port file in 10 s";
  }

  // A release policy that accepts the simulated SEV-SNP tokens of this server.
  Json Policy() const {
    return {{"version", "1.0.0"},
            {"anyOf",
             {{{"authority", url_ + "/simulated"},
               {"allOf",
                {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                 {{"claim", "x-ms-sevsnpvm-is-debuggable"}, {"equals", false}},
                 {{"claim", "x-vouch-simulated"}, {"equals", true}}}}}}}};
  }

  // One client thread: attest and release in a loop until `stop`. Every
  // 8th round also fetches a nonce and the JWKS, and every 50th round of
  // thread 0 rotates a key.
  void RunClient(int thread, const std::atomic<bool>& stop, LoadCounters& counters) {
    agent::HttpClientOptions options;
    options.connect_timeout = absl::Seconds(5);
    options.total_timeout = absl::Seconds(30);
    const agent::HttpClient http(options);
    const agent::AttestClient client(url_, http);
    const agent::KeyAdminClient admin(url_, http, SecretBytes(AsBytes(kAdminToken)));

    agent::PlatformOptions platform_options;
    platform_options.data_dir = data_dir_;
    absl::StatusOr<std::unique_ptr<agent::Platform>> platform =
        agent::OpenSimulatedSnp(platform_options);
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateRsaKey(2048);
    if (!platform.ok() || !key.ok()) {
      counters.Fail("client setup", platform.ok() ? key.status() : platform.status());
      return;
    }
    absl::StatusOr<agent::RuntimeData> runtime = agent::MakeRuntimeData(key->get());
    if (!runtime.ok()) {
      counters.Fail("runtime data", runtime.status());
      return;
    }

    for (long round = 0; !stop.load(); ++round) {
      if (round % 8 == 0) {
        absl::StatusOr<std::string> nonce = client.Challenge();
        nonce.ok() ? void(++counters.challenges) : counters.Fail("challenge", nonce.status());
        absl::StatusOr<Json> jwks = client.Jwks();
        jwks.ok() ? void(++counters.certs) : counters.Fail("certs", jwks.status());
      }
      if (thread == 0 && round % 50 == 49) {
        absl::StatusOr<Json> rotated =
            admin.Call("POST", fmt::format("/keys/soak-{}/rotate", round % kKeys), "{}");
        rotated.ok() ? void(++counters.rotations) : counters.Fail("rotate", rotated.status());
      }

      // A fresh report for every attestation, so that the server verifies
      // a new signature each time.
      absl::StatusOr<agent::Evidence> evidence = (*platform)->GetEvidence(runtime->report_data);
      if (!evidence.ok()) {
        counters.Fail("evidence", evidence.status());
        continue;
      }
      absl::StatusOr<std::string> token = client.Attest(*evidence, runtime->json, std::nullopt);
      if (!token.ok()) {
        counters.Fail("attest", token.status());
        continue;
      }
      ++counters.attests;
      const std::string name = fmt::format("soak-{}", (round + thread) % kKeys);
      absl::StatusOr<std::string> release =
          client.Release(name, "", *token, "CKM_RSA_AES_KEY_WRAP");
      release.ok() ? void(++counters.releases) : counters.Fail("release " + name, release.status());
    }
  }

  std::string dir_;
  std::string data_dir_;
  std::string url_;
  pid_t pid_ = -1;
};

TEST_F(SoakTest, RssAndFdsStayFlatUnderLoad) {
  const int seconds = SoakSeconds();
  ASSERT_NO_FATAL_FAILURE(StartServer());

  {
    const agent::HttpClient http;
    const agent::KeyAdminClient admin(url_, http, SecretBytes(AsBytes(kAdminToken)));
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_OK_AND_ASSIGN(const SecretBytes body,
                           agent::BuildCreateKeyRequest(Policy(), 256, nullptr));
      ASSERT_OK(admin.CreateKey(fmt::format("soak-{}", i), body).status());
    }
  }
  // Creates the simulated chain if the server has not, before the client
  // threads load it.
  agent::PlatformOptions platform_options;
  platform_options.data_dir = data_dir_;
  ASSERT_OK(agent::OpenSimulatedSnp(platform_options).status());

  // The idle count: listening socket, store, log and the like.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int idle_fds = CountFds(pid_);
  ASSERT_GT(idle_fds, 0);

  LoadCounters counters;
  std::atomic<bool> stop = false;
  std::vector<std::thread> clients;
  const auto start = Clock::now();
  for (int i = 0; i < kClientThreads; ++i) {
    clients.emplace_back([this, i, &stop, &counters] { RunClient(i, stop, counters); });
  }

  std::vector<Sample> samples;
  bool server_exited = false;
  const auto end = start + std::chrono::seconds(seconds);
  for (auto next = start + std::chrono::seconds(1); next <= end;
       next += std::chrono::seconds(1)) {
    std::this_thread::sleep_until(next);
    const long rss = ReadRssKiB(pid_);
    const int fds = CountFds(pid_);
    int status = 0;
    if (rss < 0 || fds < 0 || waitpid(pid_, &status, WNOHANG) == pid_) {
      server_exited = true;
      break;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    samples.push_back({elapsed, rss, fds});
    if (samples.size() % 10 == 0) {
      std::printf("soak: %4.0f s  RSS %6.1f MiB  FDs %3d  attests %ld  releases %ld\n", elapsed,
                  static_cast<double>(rss) / 1024, fds, counters.attests.load(),
                  counters.releases.load());
    }
  }
  stop = true;
  for (std::thread& client : clients) {
    client.join();
  }
  ASSERT_FALSE(server_exited) << "vouch serve exited during the load:\n"
                              << Slurp(dir_ + "/serve.log");

  // After the load, the client connections close and FDs must return to
  // the idle count.
  int final_fds = CountFds(pid_);
  for (int i = 0; i < 50 && final_fds > idle_fds + kFdSlack; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    final_fds = CountFds(pid_);
  }
  const long final_rss = ReadRssKiB(pid_);

  // Stop the server the way an operator does. It must exit with status 0.
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status)) << "vouch serve was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "vouch serve exit status after SIGTERM";

  {
    std::lock_guard<std::mutex> lock(counters.mutex);
    for (const std::string& message : counters.failure_messages) {
      ADD_FAILURE() << message;
    }
  }
  EXPECT_EQ(counters.failures.load(), 0);
  EXPECT_GT(counters.attests.load(), 0);
  EXPECT_GT(counters.releases.load(), 0);

  // Samples after the warm-up (the first third of the run).
  std::vector<long> rss;
  int max_fds = 0;
  for (const Sample& sample : samples) {
    max_fds = std::max(max_fds, sample.fds);
    if (sample.seconds >= seconds / 3.0) {
      rss.push_back(sample.rss_kib);
    }
  }
  ASSERT_GE(rss.size(), 4u) << "too few samples after warm-up";
  const double growth_mib =
      static_cast<double>(*std::max_element(rss.begin(), rss.end()) - rss.front()) / 1024;
  const size_t quarter = rss.size() / 4;
  const double climb_mib =
      (Mean(rss, rss.size() - quarter, rss.size()) - Mean(rss, 0, quarter)) / 1024;

  std::printf(
      "soak: %d s, %d client threads: %ld attestations, %ld releases, %ld challenges, "
      "%ld JWKS reads, %ld rotations, %ld failures\n",
      seconds, kClientThreads, counters.attests.load(), counters.releases.load(),
      counters.challenges.load(), counters.certs.load(), counters.rotations.load(),
      counters.failures.load());
  std::printf(
      "soak: RSS first %.1f MiB, after warm-up %.1f MiB, max %.1f MiB, end %.1f MiB; "
      "growth after warm-up %.1f MiB, climb %.1f MiB\n",
      static_cast<double>(samples.front().rss_kib) / 1024, static_cast<double>(rss.front()) / 1024,
      static_cast<double>(*std::max_element(rss.begin(), rss.end())) / 1024,
      static_cast<double>(final_rss) / 1024, growth_mib, climb_mib);
  std::printf("soak: FDs idle %d, max under load %d, after load %d\n", idle_fds, max_fds,
              final_fds);

  if (kCheckRss) {
    EXPECT_LT(growth_mib, kMaxRssGrowthMiB);
    EXPECT_LE(climb_mib, kMaxRssClimbMiB);
  } else {
    std::printf("soak: RSS limits not checked: built with AddressSanitizer\n");
  }
  EXPECT_LE(max_fds, idle_fds + kMaxExtraFds);
  EXPECT_LE(final_fds, idle_fds + kFdSlack);
}

}  // namespace
}  // namespace vouch
