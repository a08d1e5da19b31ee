// The disaster-recovery drill on one machine. A primary PostgreSQL cluster
// streams synchronously to a replica, and a vouch node runs on each. Keys are
// created and released on the primary until its postmaster is killed with
// SIGKILL, and then the DR node takes over. The test prints the recovery point
// (acknowledged keys missing at the DR site; must be 0) and the recovery
// times.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "vouch/base/status.h"
#include "vouch/cli/node_harness.h"
#include "vouch/store/audit.h"
#include "vouch/store/postgres_store.h"
#include "vouch/testing/postgres_cluster.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::PostgresCluster;
using ::vouch::testing::PostgresClusterOptions;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// RunVouch runs the vouch binary with `args`, output to `log_file`, and
// returns its exit status.
int RunVouch(std::vector<std::string> args, const std::string& log_file) {
  args.insert(args.begin(), VouchBinary());
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

absl::Status WaitForSyncStandby(PostgresCluster& primary) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    absl::StatusOr<std::string> state = primary.Query(
        "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'dr'");
    if (state.ok() && *state == "sync") {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      "the replica did not become a synchronous standby within 20 s");
}

TEST(DrDrillTest, FailoverToReplicaLosesNoAcknowledgedKey) {
  // remote_apply: a commit returns once the standby has applied it, so a
  // key the primary acknowledged is also readable at the DR site.
  PostgresClusterOptions primary_options;
  primary_options.fsync = true;
  primary_options.settings = {"synchronous_standby_names = 'dr'",
                              "synchronous_commit = remote_apply"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresCluster> primary,
                       PostgresCluster::Start(primary_options));
  PostgresClusterOptions replica_options;
  replica_options.fsync = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresCluster> replica,
                       PostgresCluster::StartReplica(*primary, "dr", replica_options));
  ASSERT_OK(WaitForSyncStandby(*primary));

  ASSERT_OK_AND_ASSIGN(const Deployment deployment, Deployment::Make());
  ASSERT_OK_AND_ASSIGN(const std::string primary_url,
                       deployment.WriteUrlFile("primary", primary->Url()));
  ASSERT_OK_AND_ASSIGN(const std::string dr_url, deployment.WriteUrlFile("dr", replica->Url()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VouchNode> main_node,
                       VouchNode::Start(deployment, "primary", primary_url));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VouchNode> dr_node,
                       VouchNode::Start(deployment, "dr", dr_url, {"--read-only"}));

  // Before the failure: the DR node releases but refuses key changes.
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse created, main_node->CreateKey("drill"));
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_OK_AND_ASSIGN(const std::string token, main_node->Attest(deployment));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse dr_release, dr_node->Release("drill", token));
  ASSERT_EQ(dr_release.status, 200) << dr_release.body << "\n" << dr_node->Log();
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse dr_create, dr_node->CreateKey("refused"));
  EXPECT_EQ(dr_create.status, 503) << dr_create.body;
  EXPECT_THAT(dr_create.body, HasSubstr("read-only"));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse status, dr_node->Get("/dr/status"));
  EXPECT_THAT(status.body, HasSubstr("\"mode\":\"read-only\""));

  // Continuous key creation and releases on the primary.
  std::atomic<bool> stop = false;
  std::mutex mu;
  std::vector<std::string> acknowledged = {"drill"};
  std::atomic<int> releases = 0;
  std::thread writer([&] {
    for (int n = 0; !stop; ++n) {
      const std::string name = fmt::format("drill-{}", n);
      absl::StatusOr<agent::HttpResponse> response = main_node->CreateKey(name);
      if (response.ok() && response->status == 200) {
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(name);
      }
    }
  });
  std::thread releaser([&] {
    while (!stop) {
      absl::StatusOr<agent::HttpResponse> response = main_node->Release("drill", token);
      if (response.ok() && response->status == 200) {
        ++releases;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  // The primary site fails.
  const Clock::time_point killed = Clock::now();
  ASSERT_OK(primary->Kill());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  writer.join();
  releaser.join();

  // Releases continue at the DR node, which needs no promotion for them.
  double release_resumed = -1;
  while (SecondsSince(killed) < 30) {
    absl::StatusOr<agent::HttpResponse> response = dr_node->Release("drill", token);
    if (response.ok() && response->status == 200) {
      release_resumed = SecondsSince(killed);
      break;
    }
  }
  ASSERT_GE(release_resumed, 0) << dr_node->Log();

  // Promotion: the replica becomes the primary and the node read-write.
  const Clock::time_point promote_start = Clock::now();
  ASSERT_EQ(RunVouch({"dr", "promote", "--server", dr_node->url(), "--admin-token-file",
                      deployment.admin_token_file},
                     deployment.folder + "/promote.log"),
            0)
      << dr_node->Log();
  const double promote_seconds = SecondsSince(promote_start);
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse after, dr_node->CreateKey("after-failover"));
  ASSERT_EQ(after.status, 200) << after.body << "\n" << dr_node->Log();
  const double writes_resumed = SecondsSince(killed);

  // Recovery point: every key the primary acknowledged exists at the DR site.
  int missing = 0;
  for (const std::string& name : acknowledged) {
    absl::StatusOr<agent::HttpResponse> response = dr_node->GetKey(name);
    if (!response.ok() || response->status != 200) {
      ++missing;
      ADD_FAILURE() << "acknowledged key " << name << " is missing at the DR site";
    }
  }
  EXPECT_EQ(missing, 0);

  // The audit chain continues across the failover.
  store::PostgresStoreOptions options;
  options.conninfo = replica->ConnectionString();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::PostgresStore> store,
                       store::PostgresStore::Open(options));
  EXPECT_OK(store::VerifyAuditChain(*store));

  fmt::print(
      "DR drill: {} keys acknowledged by the primary and {} releases before SIGKILL; "
      "recovery point: {} acknowledged keys missing at the DR site; releases resumed at the "
      "DR node {:.3f} s after the kill; `vouch dr promote` took {:.3f} s; key creation resumed "
      "{:.3f} s after the kill\n",
      acknowledged.size(), releases.load(), missing, release_resumed, promote_seconds,
      writes_resumed);
  EXPECT_LT(writes_resumed, 60);
}

}  // namespace
}  // namespace vouch::cli::testing
