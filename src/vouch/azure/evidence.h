// Azure confidential VM evidence: parsing the JSON layouts in use and
// verifying the whole chain from the hardware report to the TPM quote.
//
// Accepted JSON layouts (detected by content):
// - Trustee az-snp-vtpm v0: {"report": [u8...], "quote": {"signature",
//   "message", "pcrs"} as u8 arrays, "vcek": PEM}.
// - Trustee az-snp-vtpm v1/v2: {"version": 1|2, "hcl_report": base64url,
//   "tpm_quote": {"signature": hex, "message": hex, "pcrs": [hex...]},
//   "vcek": base64url DER}.
// - Trustee az-tdx-vtpm v0: {"hcl_report": [u8...], "td_quote": [u8...],
//   "tpm_quote": {u8 arrays}}; v1: the same with "version": 1, base64url
//   and hex strings.
// - vouch's layout: the Trustee v1 members plus optional "event_log"
//   (base64url, TCG crypto-agile), "vcek_chain" (PEM, VCEK with ASK/ARK)
//   and a "tpm_quote.signature" that may be a marshalled TPMT_SIGNATURE.
// "pcrs" are the 24 SHA-256 PCR values in index order. "signature" is either
// a marshalled TPMT_SIGNATURE or, as Azure's vTPM agents send it, the bare
// RSASSA-PKCS1-v1_5 SHA-256 signature.
#ifndef VOUCH_AZURE_EVIDENCE_H_
#define VOUCH_AZURE_EVIDENCE_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/azure/hcl_report.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/tcb_evaluation.h"
#include "vouch/dcap/verify.h"
#include "vouch/snp/certificates.h"
#include "vouch/snp/verify.h"
#include "vouch/tpm/attest.h"
#include "vouch/tpm/event_log.h"

namespace vouch::azure {

// Upper bound on an evidence document.
inline constexpr size_t kMaxEvidenceJsonBytes = 1024 * 1024;

struct VtpmQuote {
  Bytes message;    // TPMS_ATTEST (or TPM2B_ATTEST)
  Bytes signature;  // TPMT_SIGNATURE or a bare RSASSA-PKCS1-v1_5 signature
  std::vector<Bytes> pcrs;  // SHA-256 bank, index = position
};

struct AzureEvidence {
  std::string layout;  // "trustee-az-snp-vtpm-v0", ..., "vouch"
  Bytes hcl_report;
  VtpmQuote tpm_quote;
  std::vector<crypto::Certificate> certificates;  // VCEK and any chain sent along (SNP)
  Bytes td_quote;                                 // TDX only
  Bytes event_log;                                // optional
};

// LooksLikeAzureEvidence is true for a JSON object with an HCL report
// ("hcl_report" or "report") and a TPM quote ("tpm_quote" or "quote").
bool LooksLikeAzureEvidence(const nlohmann::json& json);

// ParseAzureEvidence reads any accepted layout. kInvalidArgument names the
// member that is missing or malformed.
absl::StatusOr<AzureEvidence> ParseAzureEvidence(const nlohmann::json& json);
absl::StatusOr<AzureEvidence> ParseAzureEvidenceJson(ByteSpan text);

// ToVouchJson writes evidence in vouch's layout.
nlohmann::json ToVouchJson(const AzureEvidence& evidence);

// QuoteSignatureFromBytes reads a TPMT_SIGNATURE when `signature` is one, and
// otherwise treats it as a bare RSASSA-PKCS1-v1_5 SHA-256 signature.
tpm::QuoteSignature QuoteSignatureFromBytes(ByteSpan signature);

struct AzureVerifyOptions {
  absl::Time now = absl::Now();
  // The nonce the TPM quote's qualifying data must equal.
  Bytes expected_nonce;
  // SEV-SNP: trusted ARK keys and extra certificates (ASK, ARK, cached VCEKs).
  std::vector<snp::TrustedRoot> snp_roots = snp::PinnedAmdRoots();
  std::vector<crypto::Certificate> snp_certificates;
  // SEV-SNP: AMD CRLs for the chain, and whether one must be among them
  // (snp::VerifyOptions::crls and require_crl).
  std::vector<crypto::Crl> snp_crls;
  bool snp_require_crl = false;
  // TDX: collateral for the TCB evaluation. Without it the TD quote's
  // signatures and PCK chain are verified but its TCB is not evaluated, and
  // VerifiedAzureEvidence::td_tcb stays empty.
  std::optional<dcap::QuoteCollateral> tdx_collateral;
  dcap::VerifyOptions dcap;
};

// EventLogCheck is the replay of a supplied event log against the quoted PCRs.
struct EventLogCheck {
  std::vector<tpm::EventLogEntry> events;
  tpm::ReplayResult replay;
  // Quoted PCRs that a log event extends and that replay to the quoted value.
  std::vector<uint32_t> verified_pcrs;
  // Quoted PCRs whose value differs from the start value but no log event
  // extends them: measured by something outside the log.
  std::vector<uint32_t> not_covered_pcrs;
};

struct VerifiedAzureEvidence {
  HclReportType type = HclReportType::kSnp;
  HclReport hcl;
  BoundRuntimeClaims runtime;
  std::optional<snp::VerifiedReport> snp;  // SEV-SNP
  std::optional<TdReport> td_report;       // TDX
  std::optional<dcap::AuthenticQuote> td_quote;
  std::optional<dcap::TcbVerdict> td_tcb;  // when collateral was given
  tpm::VerifiedQuote quote;
  std::optional<EventLogCheck> event_log;
};

// VerifyAzureEvidence runs, in order: HCL report parse; hardware report
// (SEV-SNP: snp::VerifyReport with the evidence's and the options'
// certificates; TDX: dcap verification of the TD quote and equality of its
// body with the HCL report's TDREPORT); runtime-data binding; HCLAkPub from
// the bound claims; TPM quote signature with that key, qualifying data ==
// expected_nonce, PCR digest; event log replay when a log is present (a
// quoted PCR that the log extends must replay to the quoted value).
// kInvalidArgument for malformed input, kUnauthenticated for a failed
// signature, binding, nonce, digest or replay check, kFailedPrecondition for
// missing certificates; the message names the step.
absl::StatusOr<VerifiedAzureEvidence> VerifyAzureEvidence(const AzureEvidence& evidence,
                                                          const AzureVerifyOptions& options);

// CompareTdQuoteWithTdReport checks that every field of the TD quote body
// that the TDREPORT also has is equal (report data, TEE TCB SVN, MRSEAM,
// MRSIGNERSEAM, SEAM attributes, TD attributes, XFAM, MRTD, MRCONFIGID,
// MROWNER, MROWNERCONFIG, RTMR0..3). kUnauthenticated names the first field
// that differs.
absl::Status CompareTdQuoteWithTdReport(const dcap::TdReportBody& body, const TdReport& report);

}  // namespace vouch::azure

#endif  // VOUCH_AZURE_EVIDENCE_H_
