#include "vouch/snp/appraisal.h"

#include "vouch/base/status.h"

namespace vouch::snp {

absl::Status Appraise(const VerifiedReport& verified, const AppraisalPolicy& policy) {
  const AttestationReport& report = verified.report;
  if (report.debug_allowed() && !policy.allow_debug) {
    return PermissionDeniedf("snp appraisal: policy {:#x} has DEBUG (bit 19) set, want it clear: "
                             "the host can debug this guest (allow with --allow-debug)",
                             report.policy);
  }
  if (report.vmpl > policy.max_vmpl) {
    return PermissionDeniedf("snp appraisal: vmpl {}, want at most {} (allow with --max-vmpl {})",
                             report.vmpl, policy.max_vmpl, report.vmpl);
  }
  return absl::OkStatus();
}

}  // namespace vouch::snp
