// SEV-SNP appraisal: is a genuine report acceptable?
//
// VerifyReport establishes that a report is genuine; Appraise then applies
// the guest-configuration rules that vouch enforces by default: no
// debug-enabled guest (policy bit 19, DEBUG) and VMPL 0 only. Configuration
// can relax each rule explicitly.
#ifndef VOUCH_SNP_APPRAISAL_H_
#define VOUCH_SNP_APPRAISAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/snp/verify.h"

namespace vouch::snp {

// MinimumTcb is the lowest security version accepted for each TCB component
// of REPORTED_TCB. `fmc` applies to Turin reports only, because other
// products have no FMC component.
struct MinimumTcb {
  uint8_t boot_loader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;
  uint8_t fmc = 0;
};

// ParseMinimumTcb reads "bootloader=N,tee=N,snp=N,microcode=N[,fmc=N]"
// (decimal or 0x hex, 0 to 255, each name at most once, names left out are
// 0). InvalidArgument names the bad item.
absl::StatusOr<MinimumTcb> ParseMinimumTcb(std::string_view text);

// FormatMinimumTcb returns the text ParseMinimumTcb reads.
std::string FormatMinimumTcb(const MinimumTcb& tcb);

struct AppraisalPolicy {
  // allow_debug accepts guests whose policy allows the host to debug them
  // (and so to read their memory).
  bool allow_debug = false;
  // max_vmpl is the highest VMPL accepted (0 is the most privileged level).
  uint32_t max_vmpl = 0;
  // min_reported_tcb rejects reports whose REPORTED_TCB is below it in any
  // component, so a host cannot roll firmware back below a fixed version.
  // Unset accepts every TCB that the VCEK or VLEK certifies.
  std::optional<MinimumTcb> min_reported_tcb = std::nullopt;
};

// Appraise returns OK when `verified` meets `policy`, else PermissionDenied
// naming the check, the field, and the expected and found values.
absl::Status Appraise(const VerifiedReport& verified, const AppraisalPolicy& policy);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_APPRAISAL_H_
