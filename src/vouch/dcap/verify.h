// DCAP quote verification: is this SGX or TDX quote genuine, and how current
// is the platform that produced it?
//
// VerifyQuote runs the steps of Intel's Quote Verification Library, each
// with its own error, trust anchor first:
//   1. the PCK chain (PCK <- PCK Platform/Processor CA <- Intel SGX Root CA,
//      pinned): from the quote (certification data type 5) or, for a quote
//      with an encrypted PPID (type 3), from VerifyOptions::pck_certificates
//      and the collateral's CA certificates;
//   2. the QE report's ECDSA P-256 signature by the PCK key;
//   3. the QE report's report_data: SHA-256(attestation key || QE auth data)
//      in bytes 0..31 and zero in bytes 32..63;
//   4. the quote's ECDSA P-256 signature by the attestation key over header
//      and body;
//   5. the PCK certificate's SGX extensions;
//   6. the collateral and the TCB level, through EvaluateTcb.
// It appraises nothing (debug, TCB status acceptance): see appraisal.h.
#ifndef VOUCH_DCAP_VERIFY_H_
#define VOUCH_DCAP_VERIFY_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/pck.h"
#include "vouch/dcap/quote.h"
#include "vouch/dcap/tcb_evaluation.h"

namespace vouch::dcap {

struct VerifyOptions {
  // now is the verification time for certificates and collateral.
  absl::Time now = absl::Now();
  // Roots trusted for the PCK chain (SHA-256 of their SubjectPublicKeyInfo).
  // The default is the production Intel SGX Root CA only. Collateral
  // signatures are checked by EvaluateTcb against Intel's root.
  std::vector<Bytes> trusted_root_spki_sha256 = {PckChainOptions::IntelSgxRootCaSpkiSha256()};
  // PCK certificates for quotes that carry an encrypted PPID (certification
  // data type 3) instead of the chain, as Intel PCS serves them by PPID. The
  // leaf whose key verifies the QE report is used; its CA and root come from
  // the collateral (pck_crl_issuer_chain, intel_certificates) or from here.
  std::vector<crypto::Certificate> pck_certificates;
  TcbEvaluationOptions tcb;
};

// AuthenticQuote is a quote whose signatures and PCK chain verified (steps
// 1 to 5), before any TCB evaluation.
struct AuthenticQuote {
  Quote quote;
  PckChain pck_chain;
  PckExtensions pck_extensions;
};

// VerifiedQuote is a quote that passed every step, with its TCB verdict.
struct VerifiedQuote {
  Quote quote;
  PckChain pck_chain;
  PckExtensions pck_extensions;
  TcbVerdict tcb;
};

// VerifyQuoteSignatures runs steps 1 to 5. The error codes:
// - InvalidArgument: a malformed quote (see ParseQuote), PCK chain PEM or
//   PCK extension.
// - FailedPrecondition: no PCK certificate for a type-3 quote, or a
//   certificate not valid at options.now.
// - Unauthenticated: a signature, the root pin, a chain rule or the QE
//   report binding failed. Each message names the step.
absl::StatusOr<AuthenticQuote> VerifyQuoteSignatures(ByteSpan quote,
                                                     const QuoteCollateral& collateral,
                                                     const VerifyOptions& options);

// PlatformTcbOf returns what EvaluateTcb needs from an authentic quote.
PlatformTcb PlatformTcbOf(const AuthenticQuote& authentic);

// VerifyQuote runs every step and returns the verified quote with its TCB
// verdict. Errors of step 6 keep EvaluateTcb's codes (see tcb_evaluation.h)
// and are prefixed with "dcap verify: tcb".
absl::StatusOr<VerifiedQuote> VerifyQuote(ByteSpan quote, const QuoteCollateral& collateral,
                                          const VerifyOptions& options);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_VERIFY_H_
