// SEV-SNP appraisal: is a genuine report acceptable?
//
// VerifyReport establishes that a report is genuine; Appraise then applies
// the guest-configuration rules that vouch enforces by default: no
// debug-enabled guest (policy bit 19, DEBUG) and VMPL 0 only. Configuration
// can relax each rule explicitly.
#ifndef VOUCH_SNP_APPRAISAL_H_
#define VOUCH_SNP_APPRAISAL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "vouch/snp/verify.h"

namespace vouch::snp {

struct AppraisalPolicy {
  // allow_debug accepts guests whose policy allows the host to debug them
  // (and so to read their memory).
  bool allow_debug = false;
  // max_vmpl is the highest VMPL accepted (0 is the most privileged level).
  uint32_t max_vmpl = 0;
};

// Appraise returns OK when `verified` meets `policy`, else PermissionDenied
// naming the check, the field, and the expected and found values.
absl::Status Appraise(const VerifiedReport& verified, const AppraisalPolicy& policy);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_APPRAISAL_H_
