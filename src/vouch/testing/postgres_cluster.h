// PostgresCluster: a throwaway PostgreSQL 15 cluster for tests, made from
// Debian's postgresql-15 binaries in a temporary folder, listening only on
// 127.0.0.1 with a free port and its Unix socket inside the folder.
//
// initdb refuses to run as root, so when the test runs as root every
// PostgreSQL program runs as the unprivileged user "nobody" through
// `runuser -u nobody --`, and the cluster folder belongs to nobody. No system
// user, service or configuration file is created or changed.
//
// The first cluster of a machine runs initdb into a template folder under
// ::testing::TempDir() (about 2 s); later clusters copy that template
// (a fraction of a second). Authentication is "trust" for the user "vouch",
// so the connection string holds no password.
#ifndef VOUCH_TESTING_POSTGRES_CLUSTER_H_
#define VOUCH_TESTING_POSTGRES_CLUSTER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vouch::testing {

inline constexpr char kPostgresBinDir[] = "/usr/lib/postgresql/15/bin";
inline constexpr char kPostgresUser[] = "vouch";

struct PostgresClusterOptions {
  // Extra postgresql.conf lines, such as "synchronous_standby_names = 'dr'".
  std::vector<std::string> settings;
  // fsync=off makes tests faster; the disaster-recovery drill keeps it on.
  bool fsync = false;
};

class PostgresCluster {
 public:
  // Start creates and starts a new primary cluster. FailedPrecondition with
  // the Debian package to install when the binaries are missing.
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> Start(
      const PostgresClusterOptions& options = {});

  // StartReplica makes a streaming replica of `primary` with pg_basebackup -R
  // and starts it. Its walreceiver connects with application_name
  // `application_name`, the name that synchronous_standby_names lists.
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> StartReplica(
      const PostgresCluster& primary, std::string_view application_name,
      const PostgresClusterOptions& options = {});

  // The destructor stops the server (pg_ctl stop -m immediate) if it runs
  // and removes the folder.
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // Stop stops the server with pg_ctl stop -m fast; Restart starts it again
  // on the same port.
  absl::Status Stop();
  absl::Status Restart();

  // Kill sends SIGKILL to the postmaster, as a machine crash would end it,
  // and waits until it and its backends have exited.
  absl::Status Kill();

  // Promote promotes a replica (pg_ctl promote -w).
  absl::Status Promote();

  // CreateDatabase runs CREATE DATABASE `name` (letters, digits, '_').
  absl::Status CreateDatabase(std::string_view name);

  // Query runs one SQL statement on database "postgres" and returns the
  // first column of the first row ("" when there is none).
  absl::StatusOr<std::string> Query(std::string_view sql) const;

  // ConnectionString returns a libpq keyword/value string for `database`.
  std::string ConnectionString(std::string_view database = "postgres") const;
  // Url returns the same as a postgresql:// URL.
  std::string Url(std::string_view database = "postgres") const;

  uint16_t port() const { return port_; }
  const std::string& folder() const { return folder_; }
  const std::string& data_dir() const { return data_dir_; }
  // PostmasterPid returns the pid in postmaster.pid, or -1.
  pid_t PostmasterPid() const;
  // ServerLog returns the last `max_bytes` of the server log.
  std::string ServerLog(size_t max_bytes = 4000) const;

 private:
  PostgresCluster() = default;

  absl::Status Configure(const PostgresClusterOptions& options,
                         const std::vector<std::string>& extra_lines);
  absl::Status StartServer();

  std::string folder_;    // the temporary folder; owns data_dir_ and the socket
  std::string data_dir_;  // PGDATA
  uint16_t port_ = 0;
  bool running_ = false;
};

// RunProgram runs `argv` (argv[0] is a full path) as the PostgreSQL user
// (see above), appends its output to `log_file`, and returns its exit code.
absl::StatusOr<int> RunPostgresProgram(const std::vector<std::string>& argv,
                                       const std::string& log_file);

// PickFreeLoopbackPort binds 127.0.0.1:0, reads the port and closes it.
absl::StatusOr<uint16_t> PickFreeLoopbackPort();

}  // namespace vouch::testing

#endif  // VOUCH_TESTING_POSTGRES_CLUSTER_H_
