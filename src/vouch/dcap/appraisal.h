// DCAP appraisal: is a verified SGX or TDX quote acceptable?
//
// VerifyQuote establishes that a quote is genuine and evaluates its TCB.
// Appraise then applies the rules vouch enforces by default. The TCB status
// must be UpToDate (Revoked is never accepted), and the TD (TD ATTRIBUTES
// bit 0) or enclave (SGX ATTRIBUTES.FLAGS bit 1) must not be debuggable.
// Configuration can accept further statuses, restrict advisories and allow
// debug.
#ifndef VOUCH_DCAP_APPRAISAL_H_
#define VOUCH_DCAP_APPRAISAL_H_

#include "absl/status/status.h"
#include "vouch/dcap/tcb_evaluation.h"
#include "vouch/dcap/verify.h"

namespace vouch::dcap {

struct AppraisalPolicy {
  // tcb lists the accepted TCB statuses (default UpToDate) and, when set,
  // the accepted advisory ids.
  TcbAcceptance tcb;
  // allow_debug accepts debuggable TDs and enclaves, whose memory the host
  // (TDX) or the enclave's owner (SGX) can read.
  bool allow_debug = false;
};

// Appraise returns OK when `verified` meets `policy`, else PermissionDenied
// naming the TCB status and advisory ids, or the debug attribute and its
// value.
absl::Status Appraise(const VerifiedQuote& verified, const AppraisalPolicy& policy);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_APPRAISAL_H_
