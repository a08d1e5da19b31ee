// vouch seal / vouch unseal: encrypt a file for a key that the server
// releases only to an attested VM, and decrypt it inside such a VM.
//
//   vouch seal --server URL --key NAME [--key-version V] IN OUT
//   vouch unseal --server URL IN OUT
//       [--platform auto|NAME] [--data-dir DIR] [--ca-cert FILE]
//
// Both attest this VM and have the key released; unseal takes the key name
// and version from the sealed file. The format is described in
// src/vouch/agent/seal.h. Exit status: 0 on success, 1 when a step failed,
// 2 for usage and I/O errors.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "vouch/agent/core_dumps.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/platform.h"
#include "vouch/agent/seal.h"
#include "vouch/base/status.h"
#include "vouch/cli/command.h"

namespace vouch::cli {
namespace {

struct SealFlags {
  std::string server;
  std::string key;
  std::string key_version;
  std::string input;
  std::string output;
  std::string platform = "auto";
  std::string data_dir;
  std::string ca_cert;
  std::string client_cert;
  std::string client_key;
};

std::string DefaultDataDir() {
  const char* env = std::getenv("VOUCH_DATA_DIR");
  return env != nullptr && env[0] != '\0' ? env : "/var/lib/vouch";
}

int RunSealCommand(const SealFlags& flags, bool seal) {
  const char* name = seal ? "seal" : "unseal";
  // The process holds the released key and, for unseal, the plaintext.
  if (absl::Status status = agent::DisableCoreDumps(); !status.ok()) {
    std::fprintf(stderr, "vouch %s: %s\n", name, std::string(status.message()).c_str());
    return kExitUsage;
  }
  agent::PlatformOptions platform_options;
  platform_options.data_dir = flags.data_dir.empty() ? DefaultDataDir() : flags.data_dir;
  absl::StatusOr<std::unique_ptr<agent::Platform>> platform =
      agent::OpenPlatform(flags.platform, platform_options);
  if (!platform.ok()) {
    std::fprintf(stderr, "vouch %s: %s\n", name, std::string(platform.status().message()).c_str());
    return platform.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                          : kExitRejected;
  }
  agent::HttpClientOptions http_options;
  http_options.ca_bundle_path = flags.ca_cert;
  http_options.client_cert_path = flags.client_cert;
  http_options.client_key_path = flags.client_key;
  const agent::HttpClient http(http_options);

  agent::SealFileOptions options;
  options.server_url = flags.server;
  options.key_name = flags.key;
  options.key_version = flags.key_version;
  options.input_path = flags.input;
  options.output_path = flags.output;
  const auto print_step = [](agent::UnlockStep step, std::string_view message) {
    const std::string_view step_name = agent::UnlockStepName(step);
    std::printf("%.*s: %.*s\n", static_cast<int>(step_name.size()), step_name.data(),
                static_cast<int>(message.size()), message.data());
    std::fflush(stdout);
  };
  absl::StatusOr<agent::SealFileResult> result =
      seal ? agent::SealFile(**platform, http, options, print_step)
           : agent::UnsealFile(**platform, http, options, print_step);
  if (!result.ok()) {
    std::fprintf(stderr, "vouch %s: %s\n", name, std::string(result.status().message()).c_str());
    return kExitRejected;
  }
  std::printf("%s %zu bytes with key %s version %s into %s\n", seal ? "sealed" : "unsealed",
              result->bytes, result->key_name.c_str(), result->key_version.c_str(),
              flags.output.c_str());
  return kExitOk;
}

void AddCommonFlags(CLI::App& sub, SealFlags& flags) {
  sub.add_option("--server", flags.server,
                 "Base URL of the vouch server, e.g. http://127.0.0.1:8443")
      ->required();
  sub.add_option("input", flags.input, "File to read")->required()->check(CLI::ExistingFile);
  sub.add_option("output", flags.output, "File to write (mode 0600; replaced if it exists)")
      ->required();
  sub.add_option(
      "--platform", flags.platform,
      "Evidence platform: " + absl::StrJoin(agent::PlatformNames(), ", ") + " (default: auto)");
  sub.add_option("--data-dir", flags.data_dir,
                 "Agent state folder; simulated-snp keeps its test chain here "
                 "(default: $VOUCH_DATA_DIR, else /var/lib/vouch)");
  sub.add_option("--ca-cert", flags.ca_cert,
                 "PEM CA bundle that the server's TLS certificate chains to")
      ->check(CLI::ExistingFile);
  sub.add_option("--client-cert", flags.client_cert,
                 "PEM client certificate for mutual TLS; its roles come from the server's --roles")
      ->check(CLI::ExistingFile);
  sub.add_option("--client-key", flags.client_key, "PEM private key of --client-cert")
      ->check(CLI::ExistingFile);
}

}  // namespace

Runner SetupSeal(CLI::App& sub) {
  auto flags = std::make_shared<SealFlags>();
  AddCommonFlags(sub, *flags);
  sub.add_option("--key", flags->key, "Name of the key to seal for")->required();
  sub.add_option("--key-version", flags->key_version, "Key version (default: the latest)");
  return [flags] { return RunSealCommand(*flags, /*seal=*/true); };
}

Runner SetupUnseal(CLI::App& sub) {
  auto flags = std::make_shared<SealFlags>();
  AddCommonFlags(sub, *flags);
  return [flags] { return RunSealCommand(*flags, /*seal=*/false); };
}

}  // namespace vouch::cli
