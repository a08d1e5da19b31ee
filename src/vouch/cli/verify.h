// Offline evidence verification shared by `vouch verify` and `vouch policy
// test`, so both read, detect, verify and appraise evidence the same way.
#ifndef VOUCH_CLI_VERIFY_H_
#define VOUCH_CLI_VERIFY_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/dcap/appraisal.h"
#include "vouch/snp/appraisal.h"

namespace vouch::cli {

struct EvidenceInput {
  std::string file;
  // Certificate folders or files; empty means the folder holding `file`.
  std::vector<std::string> collateral;
  absl::Time now;
  snp::AppraisalPolicy appraisal;
  // dcap_appraisal applies to SGX and TDX quotes (default: TCB status
  // UpToDate only, no debug).
  dcap::AppraisalPolicy dcap_appraisal{};
  // Azure vTPM evidence: the TPM quote's expected qualifying data, hex.
  std::string nonce_hex{};
  // SEV-SNP VCEK lookup when the collateral has none: a cache folder (VCEKs
  // in its "amd" subfolder) and AMD KDS, contacted only when kds_url is set.
  // kds_product names the product of version 2 reports.
  std::string collateral_cache_dir{};
  std::string kds_url{};
  std::string kds_product{};
  // SEV-SNP revocation: AMD CRL files or folders checked against the chain,
  // besides the CRL found in the first collateral folder
  // (amd/crl-vcek-<product>.der), the cache folder or KDS. require_crl
  // rejects a chain without a CRL of its ARK.
  std::vector<std::string> amd_crls{};
  bool require_crl = false;
};

struct VerifiedEvidence {
  std::string kind;     // evidence kind as in /attest/{kind}: "SevSnpVm", "TdxVm", "SgxEnclave",
                        // "AzureGuest"
  nlohmann::json claims;  // the claims a token would carry
  std::string summary;  // one line: "verified: SEV-SNP attestation report version 2, ..."
};

// EvidenceFailure describes how VerifyEvidenceFile failed: the step for the
// error line, the exit status (kExitUsage for unreadable or unknown
// evidence and collateral, kExitRejected for evidence that does not verify
// or pass the appraisal), and an optional hint line.
struct EvidenceFailure {
  std::string step;
  int exit_status = 0;
  std::string hint;
};

// VerifyEvidenceFile reads `input.file`, detects its format (a raw SEV-SNP
// report or an SGX/TDX DCAP quote), verifies it against the collateral at
// `input.now`, appraises it and returns its claims. On error it also fills
// `failure`.
absl::StatusOr<VerifiedEvidence> VerifyEvidenceFile(const EvidenceInput& input,
                                                    EvidenceFailure& failure);

}  // namespace vouch::cli

#endif  // VOUCH_CLI_VERIFY_H_
