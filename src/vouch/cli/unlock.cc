// vouch unlock: attest this VM, have a key released and open a LUKS2 volume.
//
//   vouch unlock --server URL --key NAME [--key-version V] --volume IMAGE
//                [--platform auto|simulated-snp|azure-cvm|...] [--tpm-tcti CONF]
//                [--data-dir DIR] [--name MAPPED_NAME]
//                [--ca-cert FILE] [--volume-uuid UUID] [--retry-for DURATION]
//
// Prints one line per step, and one line per retry. Exit status: 0 when the
// key opened the volume, 1 when a step failed (the message names it), 2 for
// usage and I/O errors. The key is never printed.
#include "vouch/agent/unlock.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
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
  std::string tpm_tcti = "device:/dev/tpmrm0";
  std::string data_dir;
  std::string mapped_name;
  std::string ca_cert;
  std::string client_cert;
  std::string client_key;
  std::string volume_uuid;
  bool volume_uuid_set = false;
  std::string retry_for = "0s";
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
  absl::Duration retry_for;
  if (!absl::ParseDuration(flags.retry_for, &retry_for) || retry_for < absl::ZeroDuration()) {
    PrintError(InvalidArgumentf("--retry-for {}: want a duration such as 90s, 5m or 1h",
                                flags.retry_for));
    return kExitUsage;
  }
  if (flags.volume_uuid_set && flags.volume_uuid.size() != 36) {
    // An empty value from an unset variable in a unit file must not turn the
    // UUID check off.
    PrintError(InvalidArgumentf("--volume-uuid \"{}\": want a LUKS2 UUID of 36 characters",
                                flags.volume_uuid));
    return kExitUsage;
  }
  struct stat st {};
  if (::stat(flags.volume.c_str(), &st) != 0) {
    PrintError(NotFoundf("--volume {}: no such file or device", flags.volume));
    return kExitUsage;
  }

  agent::PlatformOptions platform_options;
  platform_options.data_dir = flags.data_dir.empty() ? DefaultDataDir() : flags.data_dir;
  platform_options.tpm_tcti = flags.tpm_tcti;
  absl::StatusOr<std::unique_ptr<agent::Platform>> platform =
      agent::OpenPlatform(flags.platform, platform_options);
  if (!platform.ok()) {
    PrintError(platform.status());
    return platform.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                          : kExitRejected;
  }

  agent::HttpClientOptions http_options;
  http_options.ca_bundle_path = flags.ca_cert;
  http_options.client_cert_path = flags.client_cert;
  http_options.client_key_path = flags.client_key;
  const agent::HttpClient http(http_options);

  agent::UnlockOptions options;
  options.server_url = flags.server;
  options.key_name = flags.key;
  options.key_version = flags.key_version;
  options.volume_path = flags.volume;
  options.mapped_name = flags.mapped_name.empty() ? "vouch-" + flags.key : flags.mapped_name;
  options.volume_uuid = flags.volume_uuid;

  agent::RetryOptions retry;
  retry.retry_for = retry_for;
  const auto print_retry = [](int attempt, const absl::Status& failure, absl::Duration wait) {
    std::printf("retry: attempt %d failed: %s; next attempt in %s\n", attempt,
                std::string(failure.message()).c_str(), absl::FormatDuration(wait).c_str());
    std::fflush(stdout);
  };

  const auto print_step = [](agent::UnlockStep step, std::string_view message) {
    const std::string_view name = agent::UnlockStepName(step);
    std::printf("%.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
                static_cast<int>(message.size()), message.data());
    std::fflush(stdout);
  };
  absl::StatusOr<agent::UnlockResult> result =
      agent::RunUnlockWithRetry(**platform, http, options, retry, print_step, print_retry);
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
  sub.add_option("--tpm-tcti", flags->tpm_tcti,
                 "tpm2-tss TCTI of the TPM that azure-cvm uses, e.g. "
                 "swtpm:host=127.0.0.1,port=2321")
      ->capture_default_str();
  sub.add_option("--data-dir", flags->data_dir,
                 "Agent state folder; simulated-snp keeps its test chain here "
                 "(default: $VOUCH_DATA_DIR, else /var/lib/vouch)");
  sub.add_option("--name", flags->mapped_name, "Name for /dev/mapper/NAME (default: vouch-KEY)");
  sub.add_option("--ca-cert", flags->ca_cert,
                 "PEM CA bundle that the server's TLS certificate chains to")
      ->check(CLI::ExistingFile);
  sub.add_option("--client-cert", flags->client_cert,
                 "PEM client certificate for mutual TLS; its roles come from the server's --roles")
      ->check(CLI::ExistingFile);
  sub.add_option("--client-key", flags->client_key, "PEM private key of --client-cert")
      ->check(CLI::ExistingFile);
  CLI::Option* uuid_opt = sub.add_option(
      "--volume-uuid", flags->volume_uuid,
      "LUKS2 UUID the volume must have (cryptsetup luksUUID); a \"luks2-uuid\" tag on the "
      "key must agree");
  sub.add_option("--retry-for", flags->retry_for,
                 "Retry network and server failures with backoff for this long, e.g. 5m "
                 "(default: 0s, one attempt)");
  return [flags, uuid_opt] {
    flags->volume_uuid_set = uuid_opt->count() > 0;
    return RunUnlockCommand(*flags);
  };
}

}  // namespace vouch::cli
