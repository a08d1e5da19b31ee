// vouch check: is this VM confidential, and can it attest?
//
//   vouch check [--server URL] [--platform auto|NAME] [--vmpl N] [--json]
//               [--root DIR] [--ca-cert FILE] [--data-dir DIR]
//
// Prints one line per check (OK, WARN or FAIL, the reason, and what to do).
// Exit status: 0 when the VM is confidential and nothing failed, 1 when it
// is not confidential or a check failed, 2 for usage errors.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "vouch/agent/platform.h"
#include "vouch/agent/tee_probe.h"
#include "vouch/cli/command.h"

namespace vouch::cli {
namespace {

struct CheckFlags {
  std::string server;
  std::string platform = "auto";
  uint32_t vmpl = 0;
  bool json = false;
  std::string root = "/";
  std::string ca_cert;
  std::string data_dir;
};

std::string DefaultDataDir() {
  const char* env = std::getenv("VOUCH_DATA_DIR");
  return env != nullptr && env[0] != '\0' ? env : "/var/lib/vouch";
}

void PrintText(const agent::ProbeResult& result) {
  for (const agent::CheckLine& line : result.lines) {
    std::printf("%-4s  %-20s %s\n", std::string(agent::CheckStatusName(line.status)).c_str(),
                line.name.c_str(), line.detail.c_str());
    if (!line.action.empty()) {
      std::printf("      %-20s -> %s\n", "", line.action.c_str());
    }
  }
  if (result.token_claims.is_object()) {
    std::printf("\ntoken claims:\n%s\n", result.token_claims.dump(2).c_str());
  }
  std::printf("\n%s\n",
              result.confidential()
                  ? ("confidential VM (" + std::string(agent::TeeTypeName(result.tee)) +
                     ") and it can attest")
                        .c_str()
                  : "NOT a confidential VM that can attest: see the FAIL lines above");
}

int RunCheck(const CheckFlags& flags) {
  if (!flags.server.empty() && !flags.server.starts_with("http://") &&
      !flags.server.starts_with("https://")) {
    std::fprintf(stderr, "vouch check: --server %s: want an http:// or https:// URL\n",
                 flags.server.c_str());
    return kExitUsage;
  }
  const std::unique_ptr<agent::CpuidSource> cpuid = agent::HostCpuid();
  agent::ProbeOptions options;
  options.root = flags.root;
  options.cpuid = flags.root == "/" ? cpuid.get() : nullptr;
  options.platform = flags.platform;
  options.vmpl = flags.vmpl;
  options.data_dir = flags.data_dir.empty() ? DefaultDataDir() : flags.data_dir;
  options.server_url = flags.server;
  options.http.ca_bundle_path = flags.ca_cert;

  const agent::ProbeResult result = agent::ProbeTee(options);
  if (flags.json) {
    std::printf("%s\n", result.ToJson().dump(2).c_str());
  } else {
    PrintText(result);
  }
  return result.confidential() ? kExitOk : kExitRejected;
}

}  // namespace

Runner SetupCheck(CLI::App& sub) {
  auto flags = std::make_shared<CheckFlags>();
  sub.add_option("--server", flags->server,
                 "Also attest against this vouch server and show the token's claims");
  sub.add_option("--platform", flags->platform,
                 "Evidence platform: " + absl::StrJoin(agent::PlatformNames(), ", ") +
                     " (default: auto)");
  sub.add_option("--vmpl", flags->vmpl, "SEV-SNP VMPL to request in the report (default: 0)")
      ->check(CLI::Range(0, 3));
  sub.add_option("--data-dir", flags->data_dir,
                 "Agent state folder; simulated-snp keeps its test chain here "
                 "(default: $VOUCH_DATA_DIR, else /var/lib/vouch)");
  sub.add_flag("--json", flags->json, "Print the result as JSON");
  sub.add_option("--root", flags->root,
                 "Read /proc, /sys and /dev below this folder instead of / (for tests; "
                 "CPUID checks are skipped)");
  sub.add_option("--ca-cert", flags->ca_cert,
                 "PEM CA bundle that the server's TLS certificate chains to")
      ->check(CLI::ExistingFile);
  return [flags] { return RunCheck(*flags); };
}

}  // namespace vouch::cli
