// The main job end to end with the built `vouch` binary: `vouch serve` on
// 127.0.0.1 with simulated evidence allowed, `vouch keys create
// --format-luks`, then `vouch unlock` on the simulated SEV-SNP platform.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vouch/agent/test_support.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;

const std::string kVouch = std::string(VOUCH_BINARY_DIR) + "/src/vouch/cli/vouch";
constexpr char kAdminToken[] = "end-to-end-admin-token";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// StartProcess runs `args` with stdout and stderr sent to `log_path`.
pid_t StartProcess(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult RunCommand(const std::vector<std::string>& args, const std::string& log_path) {
  const pid_t pid = StartProcess(args, log_path);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadText(log_path)};
}

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st {};
    if (::stat(kVouch.c_str(), &st) != 0) {
      GTEST_SKIP() << kVouch << " is missing: build the `vouch` target first";
    }
    WriteText(dir_.File("admin-token"), kAdminToken);
    ::chmod(dir_.File("admin-token").c_str(), 0600);

    server_pid_ =
        StartProcess({kVouch, "serve", "--listen", "127.0.0.1:0", "--port-file", dir_.File("port"),
                      "--data-dir", dir_.File("data"), "--admin-token-file",
                      dir_.File("admin-token"), "--allow-simulated-snp"},
                     dir_.File("serve.log"));
    // Creating the simulated chain (two RSA-4096 keys) can take a while on a
    // loaded machine.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string port = ReadText(dir_.File("port"));
      if (!port.empty() && port.back() == '\n') {
        url_ = "http://127.0.0.1:" + port.substr(0, port.size() - 1);
        break;
      }
      if (!port.empty() && port.find_first_not_of("0123456789") == std::string::npos) {
        url_ = "http://127.0.0.1:" + port;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_FALSE(url_.empty()) << "vouch serve did not write its port; log:\n"
                               << ReadText(dir_.File("serve.log"));
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      ::kill(server_pid_, SIGTERM);
      int status = 0;
      ::waitpid(server_pid_, &status, 0);
    }
  }

  // WritePolicy writes a release policy for simulated evidence from this
  // server, with `extra_condition` added, and returns its path.
  std::string WritePolicy(const std::string& name, const std::string& extra_condition) {
    const std::string path = dir_.File(name + ".json");
    // Tokens for simulated evidence come from the server's simulated issuer.
    WriteText(path, R"({"version":"1.0.0","anyOf":[{"authority":")" + url_ +
                        R"(/simulated","allOf":[{"claim":"x-vouch-simulated","equals":true},)" +
                        extra_condition + "]}]}");
    return path;
  }

  CommandResult CreateKey(const std::string& name, const std::string& policy,
                          const std::string& image) {
    return RunCommand(
        {kVouch, "keys", "create", name, "--server", url_, "--policy", policy, "--admin-token-file",
         dir_.File("admin-token"), "--format-luks", image, "--image-size", "20"},
        dir_.File("keys-" + name + ".log"));
  }

  CommandResult Unlock(const std::string& name, const std::string& image) {
    return RunCommand({kVouch, "unlock", "--server", url_, "--key", name, "--volume", image,
                       "--platform", "simulated-snp", "--data-dir", dir_.File("data")},
                      dir_.File("unlock-" + name + ".log"));
  }

  ScopedTempDir dir_;
  pid_t server_pid_ = -1;
  std::string url_;
};

TEST_F(EndToEndTest, ReleasedKeyOpensVolume) {
  const std::string image = dir_.File("disk.img");
  const std::string policy =
      WritePolicy("disk", R"({"claim":"x-ms-sevsnpvm-is-debuggable","equals":false})");
  const CommandResult created = CreateKey("disk", policy, image);
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("formatted " + image + " as LUKS2"));
  EXPECT_THAT(created.output, HasSubstr("kid: " + url_ + "/keys/disk/"));

  const CommandResult unlocked = Unlock("disk", image);
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("attest: token issued by " + url_));
  EXPECT_THAT(unlocked.output, HasSubstr("release: key disk version "));
  EXPECT_THAT(unlocked.output, HasSubstr("unwrap: 256-bit key unwrapped"));
  EXPECT_THAT(unlocked.output, HasSubstr("unlock: keyslot 0 opened"));
}

TEST_F(EndToEndTest, PolicyMismatchFailsAtRelease) {
  const std::string image = dir_.File("denied.img");
  const std::string policy = WritePolicy("denied", R"({"claim":"x-ms-sevsnpvm-vmpl","equals":2})");
  const CommandResult created = CreateKey("denied", policy, image);
  ASSERT_EQ(created.exit_code, 0) << created.output;

  const CommandResult unlocked = Unlock("denied", image);
  EXPECT_EQ(unlocked.exit_code, 1) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("vouch unlock: release: POST " + url_ +
                                         "/keys/denied/release: HTTP 403 AccessDenied"));
  EXPECT_THAT(unlocked.output, HasSubstr("x-ms-sevsnpvm-vmpl"));
  EXPECT_THAT(unlocked.output, ::testing::Not(HasSubstr("unlock: keyslot")));
}

TEST_F(EndToEndTest, KeyOfOtherVolumeFailsAtUnlock) {
  const std::string first = dir_.File("first.img");
  const std::string second = dir_.File("second.img");
  const std::string policy = WritePolicy("first", R"({"claim":"x-ms-sevsnpvm-vmpl","equals":0})");
  ASSERT_EQ(CreateKey("first", policy, first).exit_code, 0);
  ASSERT_EQ(CreateKey("second", policy, second).exit_code, 0);

  const CommandResult unlocked = Unlock("first", second);
  EXPECT_EQ(unlocked.exit_code, 1) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("vouch unlock: unlock: luks2: " + second +
                                         ": the key did not open any keyslot"));
}

}  // namespace
}  // namespace vouch::agent
