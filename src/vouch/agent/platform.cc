#include "vouch/agent/platform.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "vouch/agent/azure_cvm_platform.h"
#include "vouch/agent/configfs_tsm.h"
#include "vouch/agent/root_path.h"
#include "vouch/agent/sev_guest.h"
#include "vouch/agent/simulated_platform.h"
#include "vouch/agent/simulated_tdx_platform.h"
#include "vouch/agent/tdx_guest.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

absl::StatusOr<std::unique_ptr<Platform>> OpenTdxGuestPlatform(const PlatformOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<TdxGuestPlatform> platform, OpenTdxGuest(options));
  return std::unique_ptr<Platform>(std::move(platform));
}

// A guest interface of the Linux kernel and the provider that reads it.
struct GuestInterface {
  std::string_view name;  // The --platform name.
  std::string_view path;  // Relative to PlatformOptions::root.
  absl::StatusOr<std::unique_ptr<Platform>> (*open)(const PlatformOptions& options);
};

// The order is the order in which "auto" tries them: configfs-tsm serves
// both SEV-SNP and TDX with the certificates or the quote, the ioctl
// devices are for kernels before 6.7.
// Azure CVMs hide the hardware interface behind the paravisor and expose a
// vTPM, so azure-cvm comes last.
constexpr GuestInterface kGuestInterfaces[] = {
    {kConfigfsTsmName, kConfigfsTsmReportDir, OpenConfigfsTsm},
    {kSevGuestName, kSevGuestDevice, OpenSevGuest},
    {kTdxGuestName, kTdxGuestDevice, OpenTdxGuestPlatform},
    {kAzureCvmName, "dev/tpmrm0", OpenAzureCvm},
};

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// OpenAuto opens the first guest interface that exists under the root.
absl::StatusOr<std::unique_ptr<Platform>> OpenAuto(const PlatformOptions& options) {
  std::vector<std::string> missing;
  for (const GuestInterface& interface : kGuestInterfaces) {
    const std::string path = UnderRoot(options.root, interface.path);
    if (Exists(path)) {
      return interface.open(options);
    }
    missing.push_back(path);
  }
  return FailedPreconditionf(
      "platform auto: no SEV-SNP or TDX guest interface found: {} are missing; this does not "
      "look like a confidential VM (run `vouch check` for details), or use --platform "
      "simulated-snp for a test run",
      absl::StrJoin(missing, ", "));
}

}  // namespace

std::vector<std::string> PlatformNames() {
  std::vector<std::string> names = {"auto"};
  for (const GuestInterface& interface : kGuestInterfaces) {
    names.emplace_back(interface.name);
  }
  names.emplace_back(kSimulatedSnpName);
  names.emplace_back(kSimulatedTdxName);
  return names;
}

absl::StatusOr<std::unique_ptr<Platform>> OpenPlatform(std::string_view name,
                                                       const PlatformOptions& options) {
  if (name == "auto") {
    return OpenAuto(options);
  }
  for (const GuestInterface& interface : kGuestInterfaces) {
    if (name == interface.name) {
      return interface.open(options);
    }
  }
  if (name == kSimulatedSnpName) {
    return OpenSimulatedSnp(options);
  }
  if (name == kSimulatedTdxName) {
    return OpenSimulatedTdx(options);
  }
  return InvalidArgumentf("platform {}: unknown platform, want one of: {}", name,
                          absl::StrJoin(PlatformNames(), ", "));
}

}  // namespace vouch::agent
