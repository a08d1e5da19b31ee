#include "vouch/agent/platform.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "vouch/agent/simulated_platform.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

// Guest interfaces of the Linux kernel that real evidence providers use.
struct GuestInterface {
  const char* path;      // Relative to PlatformOptions::root.
  const char* provider;  // The provider that will read it.
};

constexpr GuestInterface kGuestInterfaces[] = {
    {"sys/kernel/config/tsm/report", "configfs-tsm"},
    {"dev/sev-guest", "sev-guest"},
    {"dev/tdx_guest", "tdx-guest"},
};

std::string JoinRoot(const std::string& root, const char* relative) {
  if (root.empty() || root == "/") {
    return std::string("/") + relative;
  }
  return root + (root.back() == '/' ? "" : "/") + relative;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// OpenAuto picks the guest interface that this VM has.
// TODO: open the configfs-tsm, /dev/sev-guest and /dev/tdx_guest providers
// here once they exist; until then "auto" only reports what it found.
absl::StatusOr<std::unique_ptr<Platform>> OpenAuto(const PlatformOptions& options) {
  std::vector<std::string> missing;
  for (const GuestInterface& interface : kGuestInterfaces) {
    const std::string path = JoinRoot(options.root, interface.path);
    if (Exists(path)) {
      return absl::UnimplementedError(
          fmt::format("platform auto: found {}, but the {} evidence provider is not built yet; "
                      "use --platform simulated-snp for a test run",
                      path, interface.provider));
    }
    missing.push_back(path);
  }
  return FailedPreconditionf(
      "platform auto: no SEV-SNP or TDX guest interface found: {} are missing; "
      "use --platform simulated-snp for a test run",
      absl::StrJoin(missing, ", "));
}

}  // namespace

std::vector<std::string> PlatformNames() { return {"auto", std::string(kSimulatedSnpName)}; }

absl::StatusOr<std::unique_ptr<Platform>> OpenPlatform(std::string_view name,
                                                       const PlatformOptions& options) {
  if (name == "auto") {
    return OpenAuto(options);
  }
  if (name == kSimulatedSnpName) {
    return OpenSimulatedSnp(options);
  }
  return InvalidArgumentf("platform {}: unknown platform, want one of: {}", name,
                          absl::StrJoin(PlatformNames(), ", "));
}

}  // namespace vouch::agent
