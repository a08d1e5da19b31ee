// vouch unlock: attest this VM, have a key released and open a LUKS2 volume.
//
//   vouch unlock --server URL --key NAME [--key-version V] --volume IMAGE
//                [--platform auto|simulated-snp] [--data-dir DIR] [--name MAPPED_NAME]
//                [--ca-cert FILE]
//
// Prints one line per step. Exit status: 0 when the key opened the volume, 1
// when a step failed (the message names it), 2 for usage and I/O errors.
#include "vouch/agent/unlock.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "vouch/agent/core_dumps.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/platform.h"
#include "vouch/base/status.h"
#include "vouch/cli/command.h"

namespace vouch::cli {
namespace {

struct UnlockFlags {
  std::string server;
  std::string key;
  std::string key_version;
  std::string volume;
  std::string platform = "auto";
  std::string data_dir;
  std::string mapped_name;
  std::string ca_cert;
};

void PrintError(const absl::Status& status) {
  std::fprintf(stderr, "vouch unlock: %s\n", std::string(status.message()).c_str());
}

std::string DefaultDataDir() {
  const char* env = std::getenv("VOUCH_DATA_DIR");
  return env != nullptr && env[0] != '\0' ? env : "/var/lib/vouch";
}

int RunUnlockCommand(const UnlockFlags& flags) {
  // The process holds the released key: no core dumps, no ptrace by peers.
  if (absl::Status status = agent::DisableCoreDumps(); !status.ok()) {
    PrintError(status);
    return kExitUsage;
  }
  if (!flags.server.starts_with("http://") && !flags.server.starts_with("https://")) {
    PrintError(InvalidArgumentf("--server {}: want an http:// or https:// URL", flags.server));
    return kExitUsage;
  }
  struct stat st {};
  if (::stat(flags.volume.c_str(), &st) != 0) {
    PrintError(NotFoundf("--volume {}: no such file or device", flags.volume));
    return kExitUsage;
  }

  agent::PlatformOptions platform_options;
  platform_options.data_dir = flags.data_dir.empty() ? DefaultDataDir() : flags.data_dir;
  absl::StatusOr<std::unique_ptr<agent::Platform>> platform =
      agent::OpenPlatform(flags.platform, platform_options);
  if (!platform.ok()) {
    PrintError(platform.status());
    return platform.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                          : kExitRejected;
  }

  agent::HttpClientOptions http_options;
  http_options.ca_bundle_path = flags.ca_cert;
  const agent::HttpClient http(http_options);

  agent::UnlockOptions options;
  options.server_url = flags.server;
  options.key_name = flags.key;
  options.key_version = flags.key_version;
  options.volume_path = flags.volume;
  options.mapped_name = flags.mapped_name.empty() ? "vouch-" + flags.key : flags.mapped_name;

  const auto print_step = [](agent::UnlockStep step, std::string_view message) {
    const std::string_view name = agent::UnlockStepName(step);
    std::printf("%.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
                static_cast<int>(message.size()), message.data());
    std::fflush(stdout);
  };
  absl::StatusOr<agent::UnlockResult> result =
      agent::RunUnlock(**platform, http, options, print_step);
  if (!result.ok()) {
    PrintError(result.status());
    return kExitRejected;
  }
  return kExitOk;
}

}  // namespace

Runner SetupUnlock(CLI::App& sub) {
  auto flags = std::make_shared<UnlockFlags>();
  sub.add_option("--server", flags->server,
                 "Base URL of the vouch server, e.g. http://127.0.0.1:8443")
      ->required();
  sub.add_option("--key", flags->key, "Name of the key to release")->required();
  sub.add_option("--key-version", flags->key_version, "Key version (default: the latest)");
  sub.add_option("--volume", flags->volume, "LUKS2 image file or block device to open")->required();
  sub.add_option(
      "--platform", flags->platform,
      "Evidence platform: " + absl::StrJoin(agent::PlatformNames(), ", ") + " (default: auto)");
  sub.add_option("--data-dir", flags->data_dir,
                 "Agent state folder; simulated-snp keeps its test chain here "
                 "(default: $VOUCH_DATA_DIR, else /var/lib/vouch)");
  sub.add_option("--name", flags->mapped_name, "Name for /dev/mapper/NAME (default: vouch-KEY)");
  sub.add_option("--ca-cert", flags->ca_cert,
                 "PEM CA bundle that the server's TLS certificate chains to")
      ->check(CLI::ExistingFile);
  return [flags] { return RunUnlockCommand(*flags); };
}

}  // namespace vouch::cli
