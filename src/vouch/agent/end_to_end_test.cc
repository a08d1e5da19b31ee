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

#include "vouch/agent/luks.h"
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

  CommandResult Unlock(const std::string& name, const std::string& image,
                       const std::string& platform = "simulated-snp") {
    return RunCommand({kVouch, "unlock", "--server", url_, "--key", name, "--volume", image,
                       "--platform", platform, "--data-dir", dir_.File("data")},
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

// The same flow on the simulated TDX platform: a DCAP quote signed through
// the test PCK chain goes to /attest/TdxVm, and the release policy reads the
// TDX claims.
TEST_F(EndToEndTest, TdxReleasedKeyOpensVolume) {
  const std::string image = dir_.File("tdx-disk.img");
  const std::string policy =
      WritePolicy("tdx-disk", R"({"claim":"tdx_td_attributes_debug","equals":false})");
  const CommandResult created = CreateKey("tdx-disk", policy, image);
  ASSERT_EQ(created.exit_code, 0) << created.output;

  const CommandResult unlocked = Unlock("tdx-disk", image, "simulated-tdx");
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.output << "\nserver log:\n"
                                   << ReadText(dir_.File("serve.log"));
  EXPECT_THAT(unlocked.output, HasSubstr("attest: token issued by " + url_));
  EXPECT_THAT(unlocked.output, HasSubstr("unlock: keyslot 0 opened"));
}

// A policy on SEV-SNP claims does not release to TDX evidence.
TEST_F(EndToEndTest, TdxEvidenceDoesNotMeetSnpPolicy) {
  const std::string image = dir_.File("snp-only.img");
  const std::string policy =
      WritePolicy("snp-only", R"({"claim":"x-ms-sevsnpvm-is-debuggable","equals":false})");
  ASSERT_EQ(CreateKey("snp-only", policy, image).exit_code, 0);

  const CommandResult unlocked = Unlock("snp-only", image, "simulated-tdx");
  EXPECT_NE(unlocked.exit_code, 0) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("release"));
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
  // The server keeps the failed rule (x-ms-sevsnpvm-vmpl) in its audit log,
  // so that a caller cannot tell a refusal from a missing key.
  EXPECT_THAT(unlocked.output, HasSubstr("the audit log has the reason"));
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
  // `keys create --format-luks` tags each key with its volume's UUID, so the
  // swap is caught by the header check before any keyslot is tried.
  EXPECT_THAT(unlocked.output, HasSubstr("vouch unlock: unlock: luks2: " + second + ": volume UUID "));
  EXPECT_THAT(unlocked.output, HasSubstr("the disk or its header was replaced"));
}

TEST_F(EndToEndTest, UnlockChecksVolumeUuid) {
  const std::string image = dir_.File("uuid.img");
  const std::string policy = WritePolicy("uuid", R"({"claim":"x-ms-sevsnpvm-vmpl","equals":0})");
  ASSERT_EQ(CreateKey("uuid", policy, image).exit_code, 0);
  absl::StatusOr<Luks2Header> header = ReadLuks2Header(image);
  ASSERT_TRUE(header.ok()) << header.status();

  CommandResult unlocked = RunCommand(
      {kVouch, "unlock", "--server", url_, "--key", "uuid", "--volume", image, "--platform",
       "simulated-snp", "--data-dir", dir_.File("data"), "--volume-uuid", header->uuid},
      dir_.File("unlock-uuid.log"));
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("header checked, volume UUID " + header->uuid));

  unlocked = RunCommand({kVouch, "unlock", "--server", url_, "--key", "uuid", "--volume", image,
                         "--platform", "simulated-snp", "--data-dir", dir_.File("data"),
                         "--volume-uuid", "11111111-2222-3333-4444-555555555555"},
                        dir_.File("unlock-uuid-wrong.log"));
  EXPECT_EQ(unlocked.exit_code, 1) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("the key's tag luks2-uuid names volume " + header->uuid));

  // Without --volume-uuid the UUID in the key's signed tags is checked.
  unlocked = RunCommand({kVouch, "unlock", "--server", url_, "--key", "uuid", "--volume", image,
                         "--platform", "simulated-snp", "--data-dir", dir_.File("data")},
                        dir_.File("unlock-uuid-tag.log"));
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("header checked, volume UUID " + header->uuid));

  unlocked = RunCommand({kVouch, "unlock", "--server", url_, "--key", "uuid", "--volume", image,
                         "--platform", "simulated-snp", "--data-dir", dir_.File("data"),
                         "--volume-uuid", ""},
                        dir_.File("unlock-uuid-empty.log"));
  EXPECT_EQ(unlocked.exit_code, 2) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("--volume-uuid \"\""));
}

TEST_F(EndToEndTest, UnlockRetriesThenGivesUp) {
  const std::string image = dir_.File("retry.img");
  const std::string policy = WritePolicy("retry", R"({"claim":"x-ms-sevsnpvm-vmpl","equals":0})");
  ASSERT_EQ(CreateKey("retry", policy, image).exit_code, 0);
  // Port 1 on loopback: nothing listens, so every attempt is refused.
  const CommandResult unlocked = RunCommand(
      {kVouch, "unlock", "--server", "http://127.0.0.1:1", "--key", "retry", "--volume", image,
       "--platform", "simulated-snp", "--data-dir", dir_.File("data"), "--retry-for", "2s"},
      dir_.File("unlock-retry.log"));
  EXPECT_EQ(unlocked.exit_code, 1) << unlocked.output;
  EXPECT_THAT(unlocked.output, HasSubstr("retry: attempt 1 failed"));
  EXPECT_THAT(unlocked.output, HasSubstr("vouch unlock: gave up after "));
}

TEST_F(EndToEndTest, SealThenUnsealThroughServer) {
  const std::string policy = WritePolicy("files", R"({"claim":"x-ms-sevsnpvm-vmpl","equals":0})");
  const CommandResult created = RunCommand(
      {kVouch, "keys", "create", "files", "--server", url_, "--policy", policy,
       "--admin-token-file", dir_.File("admin-token")},
      dir_.File("keys-files.log"));
  ASSERT_EQ(created.exit_code, 0) << created.output;

  const std::string plain = dir_.File("plain.txt");
  const std::string sealed = dir_.File("plain.txt.vseal");
  const std::string opened = dir_.File("opened.txt");
  WriteText(plain, "api token: 0123456789\n");
  const std::vector<std::string> common = {"--server", url_, "--platform", "simulated-snp",
                                           "--data-dir", dir_.File("data")};

  std::vector<std::string> seal = {kVouch, "seal", "--key", "files", plain, sealed};
  seal.insert(seal.end(), common.begin(), common.end());
  const CommandResult sealed_run = RunCommand(seal, dir_.File("seal.log"));
  ASSERT_EQ(sealed_run.exit_code, 0) << sealed_run.output;
  EXPECT_THAT(sealed_run.output, HasSubstr("sealed 22 bytes with key files version "));
  const std::string sealed_text = ReadText(sealed);
  EXPECT_EQ(sealed_text.substr(0, 5), "VSEAL");
  EXPECT_EQ(sealed_text.find("api token"), std::string::npos);

  std::vector<std::string> unseal = {kVouch, "unseal", sealed, opened};
  unseal.insert(unseal.end(), common.begin(), common.end());
  const CommandResult unsealed_run = RunCommand(unseal, dir_.File("unseal.log"));
  ASSERT_EQ(unsealed_run.exit_code, 0) << unsealed_run.output;
  EXPECT_EQ(ReadText(opened), "api token: 0123456789\n");
  struct stat st {};
  ASSERT_EQ(::stat(opened.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A changed byte in the content makes unseal fail and write nothing.
  std::string tampered = sealed_text;
  tampered[tampered.size() - 20] ^= 0x01;
  WriteText(sealed, tampered);
  std::vector<std::string> unseal_bad = {kVouch, "unseal", sealed, dir_.File("bad.txt")};
  unseal_bad.insert(unseal_bad.end(), common.begin(), common.end());
  const CommandResult bad = RunCommand(unseal_bad, dir_.File("unseal-bad.log"));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("content or header was modified"));
  EXPECT_NE(::stat(dir_.File("bad.txt").c_str(), &st), 0);
}

TEST_F(EndToEndTest, CheckAttestsWithSimulatedEvidence) {
  const CommandResult checked =
      RunCommand({kVouch, "check", "--platform", "simulated-snp", "--data-dir", dir_.File("data"),
                  "--server", url_, "--json"},
                 dir_.File("check.log"));
  // Simulated evidence on a machine without a TEE: the attestation works,
  // but the VM is not confidential.
  EXPECT_EQ(checked.exit_code, 1) << checked.output;
  EXPECT_THAT(checked.output, HasSubstr("\"confidential\": false"));
  EXPECT_THAT(checked.output, HasSubstr("\"x-vouch-simulated\": true"));
  EXPECT_THAT(checked.output, HasSubstr("token issued by " + url_));
}

}  // namespace
}  // namespace vouch::agent
