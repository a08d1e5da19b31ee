#include "vouch/dcap/appraisal.h"

#include "vouch/base/status.h"

namespace vouch::dcap {
namespace {

absl::Status CheckDebug(const Quote& quote, const AppraisalPolicy& policy) {
  if (policy.allow_debug) {
    return absl::OkStatus();
  }
  if (quote.td_body.has_value() && quote.td_body->debug()) {
    return PermissionDeniedf("dcap appraisal: td_attributes {} has DEBUG (bit 0) set, want it "
                             "clear: the host can read this TD's memory (allow with "
                             "--allow-debug)",
                             HexEncode(quote.td_body->td_attributes));
  }
  if (quote.sgx_body.has_value() && quote.sgx_body->debug()) {
    return PermissionDeniedf("dcap appraisal: enclave attributes flags {:#x} have DEBUG (bit 1) "
                             "set, want it clear: this enclave's memory can be read (allow with "
                             "--allow-debug)",
                             quote.sgx_body->attribute_flags());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Appraise(const VerifiedQuote& verified, const AppraisalPolicy& policy) {
  const absl::Status tcb = CheckTcbAccepted(verified.tcb, policy.tcb);
  if (!tcb.ok()) {
    return Prefix("dcap appraisal", tcb);
  }
  return CheckDebug(verified.quote, policy);
}

}  // namespace vouch::dcap
