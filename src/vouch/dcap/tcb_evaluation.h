// DCAP TCB evaluation: how current is a genuine SGX or TDX platform?
//
// EvaluateTcb takes the collateral for one quote (Intel PCS TCB info, QE
// identity, CRLs and their issuer chains) and the TCB values read from the
// quote and its PCK certificate. It verifies the collateral (signatures up to
// the pinned Intel SGX Root CA, validity windows at `now`, FMSPC, PCE id and
// TEE type), checks the PCK chain against the CRLs, and selects the TCB level
// as Intel's Quote Verification Library (QVL) does:
// - platform: the first TCB level (highest first) whose 16 SGX component
//   SVNs and PCESVN are all <= the PCK certificate's; for TDX also the 16 TDX
//   component SVNs <= TEE_TCB_SVN, skipping components 0 and 1 when
//   TEE_TCB_SVN[1] != 0 (TDX module 1.5 and later);
// - TDX module: the tdxModuleIdentities entry "TDX_%02X" of TEE_TCB_SVN[1]
//   (MRSIGNER and masked attributes must match), then its first TCB level
//   with isvsvn <= TEE_TCB_SVN[0];
// - QE: the QE identity's MRSIGNER, ISVPRODID, masked MISCSELECT and
//   ATTRIBUTES must match, then its first TCB level with isvsvn <= ISVSVN.
// No matching level is "TCB level not supported" and an error, never a
// status. The statuses then merge as the QVL merges them (see TcbVerdict).
#ifndef VOUCH_DCAP_TCB_EVALUATION_H_
#define VOUCH_DCAP_TCB_EVALUATION_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"

namespace vouch::dcap {

// TcbStatus is a TCB level status of Intel's TCB info and QE identity
// documents, and the merged result of an evaluation.
enum class TcbStatus {
  kUpToDate,
  kSwHardeningNeeded,
  kConfigurationNeeded,
  kConfigurationAndSwHardeningNeeded,
  kOutOfDate,
  kOutOfDateConfigurationNeeded,
  kRevoked,
};

// TcbStatusName returns Intel's spelling: "UpToDate", "SWHardeningNeeded",
// "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate",
// "OutOfDateConfigurationNeeded", "Revoked".
std::string_view TcbStatusName(TcbStatus status);

// ParseTcbStatus accepts exactly the names TcbStatusName returns (case
// sensitive, as in Intel's JSON). Anything else is InvalidArgument.
absl::StatusOr<TcbStatus> ParseTcbStatus(std::string_view name);

// TeeType is the trusted execution environment of a quote (quote header
// tee_type 0x00000000 for SGX, 0x00000081 for TDX).
enum class TeeType { kSgx, kTdx };

// TeeTypeName returns "SGX" or "TDX", the spelling of TCB info's "id".
std::string_view TeeTypeName(TeeType tee_type);

// QuoteCollateral is the Intel collateral for one quote, as Intel's PCS v4
// API serves it. TCB info and QE identity are the exact response bodies:
// their signatures cover the exact bytes of the "tcbInfo" and
// "enclaveIdentity" values, so they are kept as text and never re-serialised.
// CRLs are DER or PEM. An empty CRL means "not available" (see
// TcbEvaluationOptions::require_crls).
struct QuoteCollateral {
  // {"tcbInfo":{...},"signature":"<hex r||s>"} for the quote's FMSPC.
  std::string tcb_info_json{};
  // TCB-Info-Issuer-Chain: the Intel SGX TCB Signing certificate, usually
  // followed by the root. May be empty when intel_certificates has them.
  std::vector<crypto::Certificate> tcb_info_issuer_chain{};

  // {"enclaveIdentity":{...},"signature":"<hex r||s>"}: QE for SGX, TD_QE
  // for TDX.
  std::string qe_identity_json{};
  // SGX-Enclave-Identity-Issuer-Chain (the same certificates as above).
  std::vector<crypto::Certificate> qe_identity_issuer_chain{};

  // CRL of the Intel SGX Root CA (revokes intermediate CAs).
  Bytes root_ca_crl{};
  // CRL of the PCK Platform CA or PCK Processor CA that issued the PCK
  // certificate.
  Bytes pck_crl{};
  // SGX-PCK-CRL-Issuer-Chain: the PCK CA certificate, usually with the root.
  std::vector<crypto::Certificate> pck_crl_issuer_chain{};

  // Further Intel certificates (root, TCB signing, PCK CAs) taken from a
  // collateral folder. Any root among them is still checked against the pin.
  std::vector<crypto::Certificate> intel_certificates{};
};

// PlatformTcb is what the quote and its PCK certificate report about the
// platform's TCB. PlatformTcbOf (verify.h) fills it from a verified quote.
struct PlatformTcb {
  TeeType tee_type = TeeType::kSgx;

  // From the PCK certificate's SGX extensions (OID 1.2.840.113741.1.13.1).
  Bytes fmspc{};   // 6 bytes
  Bytes pce_id{};  // 2 bytes
  // SGX TCB component SVNs 1..16 (sgxTcbCompNNSvn) at index 0..15.
  std::array<uint8_t, 16> sgx_tcb_components{};
  uint16_t pce_svn = 0;

  // TDX only, from the TD report body: TEE_TCB_SVN (16 bytes), MRSIGNERSEAM
  // (48 bytes) and SEAMATTRIBUTES (8 bytes).
  std::array<uint8_t, 16> tee_tcb_svn{};
  Bytes mr_signer_seam{};
  Bytes seam_attributes{};

  // From the QE report (an SGX enclave report), for the QE identity.
  Bytes qe_mrsigner{};     // 32 bytes
  uint16_t qe_isv_prod_id = 0;
  uint16_t qe_isv_svn = 0;
  uint32_t qe_miscselect = 0;
  Bytes qe_attributes{};   // 16 bytes
};

// CollateralItem records one collateral document that the evaluation used.
struct CollateralItem {
  // kind is "tcb info", "qe identity", "root ca crl" or "pck crl".
  std::string kind{};
  // description names the document: "TDX tcb info fmspc 00806f050000 v3",
  // "TD_QE identity v2", "crl of Intel SGX PCK Platform CA".
  std::string description{};
  absl::Time issue_date{};   // issueDate, or a CRL's thisUpdate
  absl::Time next_update{};  // nextUpdate
  uint32_t tcb_evaluation_data_number = 0;  // 0 for CRLs
};

// TcbVerdict is the outcome of a successful evaluation. The caller decides
// whether the status is acceptable (see CheckTcbAccepted).
struct TcbVerdict {
  // status merges platform, TDX module and QE as Intel's QVL does: a QE or
  // TDX module that is OutOfDate turns UpToDate and SWHardeningNeeded into
  // OutOfDate, and ConfigurationNeeded and ConfigurationAndSWHardeningNeeded
  // into OutOfDateConfigurationNeeded. Revoked anywhere gives Revoked.
  TcbStatus status = TcbStatus::kUpToDate;
  TcbStatus platform_status = TcbStatus::kUpToDate;
  std::optional<TcbStatus> tdx_module_status{};  // TDX with a module identity only
  TcbStatus qe_status = TcbStatus::kUpToDate;

  // advisory_ids is the sorted union of the advisoryIDs of the selected
  // platform, TDX module and QE levels ("INTEL-SA-00615").
  std::vector<std::string> advisory_ids{};
  // tcb_date is the tcbDate of the selected platform level.
  absl::Time tcb_date{};
  // tdx_module_id is "TDX_01" etc. when a module identity was checked.
  std::string tdx_module_id{};

  std::vector<CollateralItem> collateral{};
  // revocation_checked is false only when TcbEvaluationOptions allowed
  // missing CRLs and one was missing.
  bool revocation_checked = true;
};

struct TcbEvaluationOptions {
  // require_crls rejects collateral without a root CA CRL or PCK CRL. Turn it
  // off only for evidence older than any CRL at hand; the verdict then has
  // revocation_checked == false.
  bool require_crls = true;
  // trusted_root_spki_sha256 lists the SHA-256 of the SubjectPublicKeyInfo
  // of each root trusted to sign collateral. Empty means the production
  // Intel SGX Root CA only (intel_root.h); tests and the simulated platform
  // name their own roots.
  std::vector<Bytes> trusted_root_spki_sha256{};
};

// EvaluateTcb verifies `collateral` and evaluates `platform` against it at
// `now`. `pck_chain` is the quote's PCK chain, leaf first (PCK, PCK CA, root),
// already verified by the caller. The CRLs are checked against it: the PCK
// CRL must be signed by its PCK CA. Errors:
// - InvalidArgument: malformed collateral (JSON, hex, CRL, certificates).
// - Unauthenticated: a collateral signature or issuer chain did not verify,
//   or its root is not the pinned Intel SGX Root CA.
// - FailedPrecondition: collateral not valid at `now` (the message names the
//   item and its issue and next-update dates), missing collateral, or
//   collateral for another FMSPC, PCE id or TEE type.
// - PermissionDenied: "tcb level not supported" (no matching platform, TDX
//   module or QE level), a QE or TDX module identity mismatch (MRSIGNER,
//   ISVPRODID, MISCSELECT, ATTRIBUTES), or a PCK or intermediate certificate
//   revoked by a CRL (the message starts "tcb status Revoked").
absl::StatusOr<TcbVerdict> EvaluateTcb(const QuoteCollateral& collateral,
                                       const PlatformTcb& platform,
                                       const std::vector<crypto::Certificate>& pck_chain,
                                       absl::Time now, const TcbEvaluationOptions& options = {});

// TcbAcceptance is the configurable part of the TCB appraisal.
struct TcbAcceptance {
  // statuses lists the accepted statuses; Revoked is never accepted.
  std::vector<TcbStatus> statuses = {TcbStatus::kUpToDate};
  // When set, every advisory id of the verdict must be in this list.
  std::optional<std::vector<std::string>> advisory_ids{};
};

// ParseAcceptedTcbStatuses reads "UpToDate,SWHardeningNeeded" (comma
// separated, spaces allowed). "Revoked", an unknown name or an empty list is
// InvalidArgument.
absl::StatusOr<std::vector<TcbStatus>> ParseAcceptedTcbStatuses(std::string_view list);

// CheckTcbAccepted returns OK when `verdict` meets `acceptance`, else
// PermissionDenied naming the status or advisory that is not accepted.
absl::Status CheckTcbAccepted(const TcbVerdict& verdict, const TcbAcceptance& acceptance);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_TCB_EVALUATION_H_
