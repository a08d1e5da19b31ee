#include "vouch/keystore/softhsm_testing.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "vouch/base/file.h"
#include "vouch/base/status.h"

extern char** environ;

namespace vouch::keystore {
namespace {

constexpr char kSoftHsmUtil[] = "softhsm2-util";
constexpr char kInstallHint[] = "install the Debian package softhsm2";

// FindInPath returns the full path of `program` in PATH, or "".
std::string FindInPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path == nullptr ? "/usr/bin:/bin" : path;
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

// Run runs `argv` with stdout and stderr sent to `log_path` and waits for it.
absl::Status Run(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return Internalf("softhsm: cannot start {}: {}", argv[0], std::strerror(spawned));
  }
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      return Internalf("softhsm: waitpid: {}", std::strerror(errno));
    }
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    absl::StatusOr<Bytes> log = ReadFile(log_path, 4096);
    return Internalf("softhsm: {} failed (status {}): {}", argv[0], wait_status,
                     log.ok() ? ToString(*log) : std::string("no output"));
  }
  return absl::OkStatus();
}

}  // namespace

Pkcs11Options SoftHsmToken::Options() const {
  Pkcs11Options options;
  options.module_path = kSoftHsmModulePath;
  options.token_label = label;
  options.pin = SecretBytes(AsBytes(pin));
  return options;
}

SoftHsmToken UseSoftHsmToken(const std::string& dir, const std::string& label,
                             const std::string& pin) {
  SoftHsmToken token{dir, dir + "/softhsm2.conf", label, pin};
  setenv("SOFTHSM2_CONF", token.config_path.c_str(), 1);
  return token;
}

absl::StatusOr<SoftHsmToken> CreateSoftHsmToken(const std::string& dir, const std::string& label,
                                                const std::string& pin) {
  const std::string util = FindInPath(kSoftHsmUtil);
  if (util.empty()) {
    return FailedPreconditionf("{} not found in PATH: {}", kSoftHsmUtil, kInstallHint);
  }
  if (access(kSoftHsmModulePath, R_OK) != 0) {
    return FailedPreconditionf("{} not found: {}", kSoftHsmModulePath, kInstallHint);
  }
  const std::string token_dir = dir + "/tokens";
  if (mkdir(token_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Internalf("softhsm: mkdir {}: {}", token_dir, std::strerror(errno));
  }
  SoftHsmToken token = UseSoftHsmToken(dir, label, pin);
  const std::string config = fmt::format(
      "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", token_dir);
  VOUCH_RETURN_IF_ERROR(WriteFileAtomic(token.config_path, AsBytes(config), 0600));
  VOUCH_RETURN_IF_ERROR(Run({util, "--init-token", "--free", "--label", label, "--pin", pin,
                             "--so-pin", pin + "-so"},
                            dir + "/softhsm2-util.log"));
  return token;
}

}  // namespace vouch::keystore
