// The "configfs-tsm" platform: attestation reports through the Linux
// configfs-tsm interface (Documentation/ABI/testing/configfs-tsm, Linux 6.7
// and later), which serves SEV-SNP reports and TDX quotes alike.
//
// One request: mkdir a fresh entry under <root>/sys/kernel/config/tsm/report,
// write the 64 bytes of report data to `inblob`, write `privlevel` where the
// entry has it, then read `outblob` (the report or quote, made by the kernel
// on first read) and `auxblob` (for SEV-SNP the certificate table, when the
// host provides one), and read `provider` ("sev_guest" or "tdx_guest"). The
// kernel adds 1 to `generation` at every write. A value other than the
// number of writes made here means that another process wrote to the same
// entry between the write and the read, so the provider retries with a new
// entry. The entry is removed with rmdir in every case.
#ifndef VOUCH_AGENT_CONFIGFS_TSM_H_
#define VOUCH_AGENT_CONFIGFS_TSM_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/agent/platform.h"
#include "vouch/base/bytes.h"

namespace vouch::agent {

inline constexpr std::string_view kConfigfsTsmName = "configfs-tsm";
inline constexpr std::string_view kConfigfsTsmReportDir = "sys/kernel/config/tsm/report";
inline constexpr int kConfigfsTsmAttempts = 3;
// Limit on outblob and auxblob. The TDX quotes and SEV-SNP certificate
// tables in the test vectors are about 5 KiB each.
inline constexpr size_t kConfigfsTsmMaxBlobBytes = 1 << 20;

// Points at which a test can act as the kernel, on a plain folder in place
// of configfs.
enum class TsmStage {
  kCreated,  // After mkdir: the kernel would create the attribute files.
  kWritten,  // After inblob and privlevel: the kernel makes outblob on read.
};
using TsmKernelHookForTest = std::function<void(const std::string& entry, TsmStage stage)>;

// TsmReport is what one request returned.
struct TsmReport {
  std::string provider;  // "sev_guest" or "tdx_guest"
  Bytes outblob;
  Bytes auxblob;  // Empty when the kernel has none.
};

class ConfigfsTsmPlatform final : public Platform {
 public:
  // `report_dir` is the configfs-tsm report folder; `privlevel` is written
  // where the entry has a `privlevel` attribute (the SEV-SNP VMPL).
  ConfigfsTsmPlatform(std::string report_dir, uint32_t privlevel,
                      TsmKernelHookForTest kernel_hook = nullptr);

  // GetEvidence returns kind "snp" (the raw report, certificates from
  // auxblob) for provider sev_guest and kind "tdx" (the DCAP quote) for
  // tdx_guest. Other providers are Unimplemented.
  absl::StatusOr<Evidence> GetEvidence(ByteSpan report_data) override;
  std::string_view Name() const override { return kConfigfsTsmName; }

  // GetReport runs one request, with up to kConfigfsTsmAttempts entries
  // when another writer interferes. Errors: Unavailable for file-system
  // failures and repeated interference.
  absl::StatusOr<TsmReport> GetReport(ByteSpan report_data);

 private:
  absl::StatusOr<TsmReport> TryOnce(ByteSpan report_data, bool& interfered);

  std::string report_dir_;
  uint32_t privlevel_;
  TsmKernelHookForTest kernel_hook_;
};

// OpenConfigfsTsm returns the provider for <root>/sys/kernel/config/tsm/report.
absl::StatusOr<std::unique_ptr<Platform>> OpenConfigfsTsm(const PlatformOptions& options);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_CONFIGFS_TSM_H_
