#include "vouch/tpm/swtpm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/status.h"

extern char** environ;

namespace vouch::tpm {
namespace {

constexpr char kSwtpmBinary[] = "/usr/bin/swtpm";

// FreePortPair returns a port P such that P and P+1 were free on 127.0.0.1 a
// moment ago. Another process may take them before swtpm binds, so Start
// retries with a new pair when swtpm exits early.
absl::StatusOr<uint16_t> FreePortPair() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      return Unavailablef("swtpm: no free loopback port: {}", std::strerror(errno));
    }
    const uint16_t port = ntohs(addr.sin_port);
    ::close(fd);
    if (port == 65535) {
      continue;
    }
    int second = ::socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_port = htons(static_cast<uint16_t>(port + 1));
    const bool free = second >= 0 &&
                      ::bind(second, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (second >= 0) ::close(second);
    if (free) {
      return port;
    }
  }
  return Unavailablef("swtpm: found no two adjacent free loopback ports");
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

absl::StatusOr<pid_t> Spawn(uint16_t port, const std::string& dir) {
  const std::string server = fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port);
  const std::string ctrl = fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port + 1);
  const std::string state = "dir=" + dir;
  std::vector<std::string> args = {kSwtpmBinary, "socket",     "--tpm2",   "--server", server,
                                   "--ctrl",     ctrl,         "--tpmstate", state,    "--flags",
                                   "not-need-init,startup-clear"};
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, kSwtpmBinary, nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    return Unavailablef("swtpm: start {}: {}", kSwtpmBinary, std::strerror(rc));
  }
  return pid;
}

bool Exited(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Swtpm>> Swtpm::Start(absl::Duration timeout) {
  if (::access(kSwtpmBinary, X_OK) != 0) {
    return FailedPreconditionf("swtpm: {} not found; install the Debian package swtpm",
                               kSwtpmBinary);
  }
  char dir_template[] = "/tmp/vouch-swtpm-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    return Unavailablef("swtpm: create state folder: {}", std::strerror(errno));
  }
  const std::string dir = dir_template;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    VOUCH_ASSIGN_OR_RETURN(const uint16_t port, FreePortPair());
    VOUCH_ASSIGN_OR_RETURN(const pid_t pid, Spawn(port, dir));
    std::unique_ptr<Swtpm> swtpm(new Swtpm(pid, port, dir));
    while (absl::Now() < deadline) {
      if (Accepts(port)) {
        return swtpm;
      }
      if (Exited(pid)) {
        swtpm->pid_ = 0;  // a port was taken meanwhile: try another pair
        swtpm->dir_.clear();
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  std::filesystem::remove_all(dir);
  return absl::DeadlineExceededError(
      fmt::format("swtpm: not accepting connections after {}", absl::FormatDuration(timeout)));
}

Swtpm::~Swtpm() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(1);
    bool exited = false;
    while (!(exited = Exited(pid_)) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (!exited) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string Swtpm::Tcti() const { return fmt::format("swtpm:host=127.0.0.1,port={}", port_); }

}  // namespace vouch::tpm
