// Evidence platforms of the guest agent: where an attestation report comes
// from inside the VM.
//
// A Platform turns 64 bytes of REPORT_DATA into evidence that a vouch server
// can verify. Built today: "simulated-snp", which signs SEV-SNP reports with
// a test chain stored in the data folder. Real providers (configfs-tsm,
// /dev/sev-guest, /dev/tdx_guest) implement the same interface and read
// their kernel interfaces under PlatformOptions::root, so tests can point
// them at a temporary tree that behaves like the kernel interface.
#ifndef VOUCH_AGENT_PLATFORM_H_
#define VOUCH_AGENT_PLATFORM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"

namespace vouch::agent {

// REPORT_DATA size in SEV-SNP reports and TDX TDREPORTs.
inline constexpr size_t kReportDataBytes = 64;

struct Evidence {
  // Evidence format: "snp" for a raw SEV-SNP ATTESTATION_REPORT.
  std::string kind;
  Bytes report;
  // Certificates that came with the evidence (for SEV-SNP: VCEK or VLEK,
  // then ASK or ASVK, then ARK). Empty when the platform has none, in which
  // case the server uses its own collateral.
  std::vector<crypto::Certificate> certificates;
  // True for evidence signed by a test chain; a server accepts it only when
  // configured to allow simulated evidence.
  bool simulated = false;
};

class Platform {
 public:
  virtual ~Platform() = default;

  // GetEvidence returns evidence that binds `report_data` (exactly
  // kReportDataBytes, else InvalidArgument). Errors name the platform and
  // the interface that failed.
  virtual absl::StatusOr<Evidence> GetEvidence(ByteSpan report_data) = 0;

  // Name returns the name that OpenPlatform accepts for this platform.
  virtual std::string_view Name() const = 0;
};

struct PlatformOptions {
  // Folder for agent state. "simulated-snp" keeps its test chain in
  // <data_dir>/simulated-snp/.
  std::string data_dir = "/var/lib/vouch";
  // Root of the kernel interfaces (/dev, /sys) that real providers and
  // "auto" probe. Tests set a temporary tree.
  std::string root = "/";
  // Privilege level requested in the report (SEV-SNP VMPL).
  uint32_t vmpl = 0;
  // TCTI of the TPM for "azure-cvm" (tpm2-tss syntax, for example
  // "swtpm:host=127.0.0.1,port=2321"). Empty means the kernel's resource
  // manager, "device:/dev/tpmrm0".
  std::string tpm_tcti;
};

// PlatformNames lists the names that OpenPlatform accepts.
std::vector<std::string> PlatformNames();

// OpenPlatform returns the platform called `name`:
//   "simulated-snp"  SEV-SNP reports signed by a test VCEK/ASK/ARK chain
//                    created on first use under <data_dir>/simulated-snp.
//   "auto"           the guest interface that this VM has. "auto" never
//                    picks "simulated-snp".
// Errors: InvalidArgument for an unknown name; FailedPrecondition when
// "auto" finds no guest interface; Unimplemented when it finds one whose
// provider is not built yet.
absl::StatusOr<std::unique_ptr<Platform>> OpenPlatform(std::string_view name,
                                                       const PlatformOptions& options);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_PLATFORM_H_
