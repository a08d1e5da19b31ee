#include "vouch/testing/postgres_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "vouch/base/status.h"

namespace vouch::testing {
namespace {

constexpr char kRunuser[] = "/usr/sbin/runuser";
constexpr char kUnprivilegedUser[] = "nobody";
constexpr char kMissingPackage[] =
    "PostgreSQL 15 server binaries not found in /usr/lib/postgresql/15/bin: "
    "install the Debian package postgresql-15 (apt-get install postgresql-15)";

std::string Bin(std::string_view program) {
  return std::string(kPostgresBinDir) + "/" + std::string(program);
}

bool RunningAsRoot() { return geteuid() == 0; }

absl::Status CheckBinaries() {
  for (const char* program : {"initdb", "pg_ctl", "postgres", "pg_basebackup"}) {
    if (access(Bin(program).c_str(), X_OK) != 0) {
      return FailedPreconditionf("{}", kMissingPackage);
    }
  }
  if (RunningAsRoot() && access(kRunuser, X_OK) != 0) {
    return FailedPreconditionf(
        "running as root needs {} to start PostgreSQL as '{}': install the Debian package "
        "util-linux",
        kRunuser, kUnprivilegedUser);
  }
  return absl::OkStatus();
}

// GiveToPostgresUser makes `path` belong to the user the server runs as.
absl::Status GiveToPostgresUser(const std::string& path) {
  if (!RunningAsRoot()) {
    return absl::OkStatus();
  }
  // nobody:nogroup is 65534:65534 on Debian.
  if (chown(path.c_str(), 65534, 65534) != 0) {
    return FailedPreconditionf("chown {} to nobody: {}", path, std::strerror(errno));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MakeTempFolder(std::string_view prefix) {
  std::string pattern = ::testing::TempDir() + std::string(prefix) + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return FailedPreconditionf("mkdtemp {}: {}", pattern, std::strerror(errno));
  }
  VOUCH_RETURN_IF_ERROR(GiveToPostgresUser(pattern));
  return pattern;
}

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() <= max_bytes ? all : all.substr(all.size() - max_bytes);
}

absl::Status AppendLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::app);
  for (const std::string& line : lines) {
    out << line << "\n";
  }
  out.close();
  if (!out) {
    return FailedPreconditionf("cannot append to {}", path);
  }
  return absl::OkStatus();
}

// ProcessIsGone treats a zombie as gone: the postmaster is not our child, so
// nothing here can reap it.
bool ProcessIsGone(pid_t pid) {
  if (kill(pid, 0) != 0) {
    return true;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content;
  std::getline(stat, content);
  const size_t paren = content.rfind(')');
  return paren != std::string::npos && paren + 2 < content.size() && content[paren + 2] == 'Z';
}

// TemplateFolder returns a folder with a fresh initdb result, making it once
// per machine and user. Concurrent test processes may each run initdb; the
// first rename wins and the others use its result.
absl::StatusOr<std::string> TemplateFolder() {
  const std::string path =
      ::testing::TempDir() + "vouch-pg15-template-uid" + std::to_string(geteuid());
  if (access((path + "/PG_VERSION").c_str(), R_OK) == 0) {
    return path;
  }
  VOUCH_ASSIGN_OR_RETURN(const std::string work, MakeTempFolder("vouch-pg15-initdb"));
  const std::string data = work + "/data";
  const std::string log = work + "/initdb.log";
  VOUCH_ASSIGN_OR_RETURN(
      const int code,
      RunPostgresProgram({Bin("initdb"), "-D", data, "-A", "trust", "-U", kPostgresUser,
                          "--no-sync", "-E", "UTF8", "--locale=C"},
                         log));
  if (code != 0) {
    return FailedPreconditionf("initdb exited with {}: {}", code, ReadTail(log, 2000));
  }
  if (rename(data.c_str(), path.c_str()) != 0 && access((path + "/PG_VERSION").c_str(), R_OK) != 0) {
    return FailedPreconditionf("rename {} to {}: {}", data, path, std::strerror(errno));
  }
  std::error_code ignored;
  std::filesystem::remove_all(work, ignored);
  return path;
}

}  // namespace

absl::StatusOr<int> RunPostgresProgram(const std::vector<std::string>& argv,
                                       const std::string& log_file) {
  std::vector<std::string> full;
  if (RunningAsRoot()) {
    full = {kRunuser, "-u", kUnprivilegedUser, "--"};
  }
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (std::string& arg : full) {
    args.push_back(arg.data());
  }
  args.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    return FailedPreconditionf("fork: {}", std::strerror(errno));
  }
  if (pid == 0) {
    const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return FailedPreconditionf("waitpid: {}", std::strerror(errno));
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

absl::StatusOr<uint16_t> PickFreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return FailedPreconditionf("socket: {}", std::strerror(errno));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  close(fd);
  if (!ok) {
    return FailedPreconditionf("bind 127.0.0.1:0: {}", std::strerror(errno));
  }
  return ntohs(address.sin_port);
}

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::Start(
    const PostgresClusterOptions& options) {
  VOUCH_RETURN_IF_ERROR(CheckBinaries());
  VOUCH_ASSIGN_OR_RETURN(const std::string template_dir, TemplateFolder());

  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster());
  VOUCH_ASSIGN_OR_RETURN(cluster->folder_, MakeTempFolder("vouch-pg"));
  cluster->data_dir_ = cluster->folder_ + "/data";
  VOUCH_ASSIGN_OR_RETURN(const int copied,
                         RunPostgresProgram({"/bin/cp", "-a", template_dir, cluster->data_dir_},
                                            cluster->folder_ + "/setup.log"));
  if (copied != 0) {
    return FailedPreconditionf("copy the initdb template {}: cp exited with {}", template_dir,
                               copied);
  }
  VOUCH_RETURN_IF_ERROR(cluster->Configure(options, {}));
  VOUCH_RETURN_IF_ERROR(cluster->StartServer());
  return cluster;
}

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::StartReplica(
    const PostgresCluster& primary, std::string_view application_name,
    const PostgresClusterOptions& options) {
  VOUCH_RETURN_IF_ERROR(CheckBinaries());
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster());
  VOUCH_ASSIGN_OR_RETURN(cluster->folder_, MakeTempFolder("vouch-pg-replica"));
  cluster->data_dir_ = cluster->folder_ + "/data";
  const std::string log = cluster->folder_ + "/setup.log";
  VOUCH_ASSIGN_OR_RETURN(
      const int code,
      RunPostgresProgram({Bin("pg_basebackup"), "-h", "127.0.0.1", "-p",
                          std::to_string(primary.port()), "-U", kPostgresUser, "-D",
                          cluster->data_dir_, "-R", "-X", "stream", "--checkpoint=fast",
                          "--no-sync"},
                         log));
  if (code != 0) {
    return FailedPreconditionf("pg_basebackup exited with {}: {}", code, ReadTail(log, 2000));
  }
  // A later primary_conninfo line overrides the one pg_basebackup -R wrote.
  const std::string conninfo =
      fmt::format("primary_conninfo = 'host=127.0.0.1 port={} user={} application_name={}'",
                  primary.port(), kPostgresUser, application_name);
  VOUCH_RETURN_IF_ERROR(AppendLines(cluster->data_dir_ + "/postgresql.auto.conf", {conninfo}));
  // The copied postgresql.conf names the primary's synchronous standby. Once
  // promoted, the replica has no standby of its own, and commits would wait
  // for one forever, so the replica starts with none.
  VOUCH_RETURN_IF_ERROR(cluster->Configure(options, {"synchronous_standby_names = ''"}));
  VOUCH_RETURN_IF_ERROR(cluster->StartServer());
  return cluster;
}

PostgresCluster::~PostgresCluster() {
  if (running_) {
    (void)RunPostgresProgram({Bin("pg_ctl"), "-D", data_dir_, "-m", "immediate", "-w", "stop"},
                             folder_ + "/setup.log");
  }
  if (!folder_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }
}

absl::Status PostgresCluster::Configure(const PostgresClusterOptions& options,
                                        const std::vector<std::string>& extra_lines) {
  VOUCH_ASSIGN_OR_RETURN(port_, PickFreeLoopbackPort());
  std::vector<std::string> lines = {
      "# vouch test cluster: loopback only, socket in the test folder",
      "listen_addresses = '127.0.0.1'",
      fmt::format("port = {}", port_),
      fmt::format("unix_socket_directories = '{}'", folder_),
      fmt::format("fsync = {}", options.fsync ? "on" : "off"),
      "max_connections = 100",
      "shared_buffers = 16MB",
      "wal_level = replica",
      "max_wal_senders = 5",
      "hot_standby = on",
      "wal_receiver_status_interval = 1s",
      "logging_collector = off",
  };
  lines.insert(lines.end(), options.settings.begin(), options.settings.end());
  lines.insert(lines.end(), extra_lines.begin(), extra_lines.end());
  return AppendLines(data_dir_ + "/postgresql.conf", lines);
}

absl::Status PostgresCluster::StartServer() {
  const std::string log = folder_ + "/server.log";
  VOUCH_ASSIGN_OR_RETURN(const int code,
                         RunPostgresProgram({Bin("pg_ctl"), "-D", data_dir_, "-l", log, "-w", "-t",
                                             "30", "start"},
                                            folder_ + "/setup.log"));
  if (code != 0) {
    return FailedPreconditionf("pg_ctl start on port {} exited with {}: {}", port_, code,
                               ReadTail(log, 2000));
  }
  running_ = true;
  return absl::OkStatus();
}

absl::Status PostgresCluster::Stop() {
  VOUCH_ASSIGN_OR_RETURN(const int code,
                         RunPostgresProgram({Bin("pg_ctl"), "-D", data_dir_, "-m", "fast", "-w",
                                             "-t", "30", "stop"},
                                            folder_ + "/setup.log"));
  if (code != 0) {
    return FailedPreconditionf("pg_ctl stop exited with {}", code);
  }
  running_ = false;
  return absl::OkStatus();
}

absl::Status PostgresCluster::Restart() { return StartServer(); }

absl::Status PostgresCluster::Kill() {
  const pid_t pid = PostmasterPid();
  if (pid <= 0) {
    return FailedPreconditionf("no postmaster.pid in {}", data_dir_);
  }
  if (kill(pid, SIGKILL) != 0) {
    return FailedPreconditionf("kill -9 {}: {}", pid, std::strerror(errno));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ProcessIsGone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return FailedPreconditionf("postmaster {} still runs 10 s after SIGKILL", pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  running_ = false;
  return absl::OkStatus();
}

absl::Status PostgresCluster::Promote() {
  VOUCH_ASSIGN_OR_RETURN(const int code,
                         RunPostgresProgram({Bin("pg_ctl"), "-D", data_dir_, "-w", "-t", "30",
                                             "promote"},
                                            folder_ + "/setup.log"));
  if (code != 0) {
    return FailedPreconditionf("pg_ctl promote exited with {}: {}", code,
                               ReadTail(folder_ + "/setup.log", 2000));
  }
  return absl::OkStatus();
}

absl::Status PostgresCluster::CreateDatabase(std::string_view name) {
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return InvalidArgumentf("database name {:?}: use letters, digits and '_'", name);
    }
  }
  return Query(fmt::format("CREATE DATABASE {}", name)).status();
}

absl::StatusOr<std::string> PostgresCluster::Query(std::string_view sql) const {
  PGconn* conn = PQconnectdb(ConnectionString().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    return Unavailablef("connect to test cluster on port {}: {}", port_, message);
  }
  PGresult* result = PQexec(conn, std::string(sql).c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::string value;
  absl::Status outcome = absl::OkStatus();
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    outcome = FailedPreconditionf("{}: {}", sql, PQresultErrorMessage(result));
  } else if (status == PGRES_TUPLES_OK && PQntuples(result) > 0 && PQnfields(result) > 0) {
    value = PQgetvalue(result, 0, 0);
  }
  PQclear(result);
  PQfinish(conn);
  if (!outcome.ok()) {
    return outcome;
  }
  return value;
}

std::string PostgresCluster::ConnectionString(std::string_view database) const {
  return fmt::format("host=127.0.0.1 port={} user={} dbname={} connect_timeout=5", port_,
                     kPostgresUser, database);
}

std::string PostgresCluster::Url(std::string_view database) const {
  return fmt::format("postgresql://{}@127.0.0.1:{}/{}?connect_timeout=5", kPostgresUser, port_,
                     database);
}

pid_t PostgresCluster::PostmasterPid() const {
  std::ifstream in(data_dir_ + "/postmaster.pid");
  long pid = -1;
  if (!(in >> pid)) {
    return -1;
  }
  return static_cast<pid_t>(pid);
}

std::string PostgresCluster::ServerLog(size_t max_bytes) const {
  return ReadTail(folder_ + "/server.log", max_bytes);
}

}  // namespace vouch::testing
