#include "vouch/server/attestation.h"

#include <algorithm>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/server/logging.h"
#include "vouch/snp/claims.h"
#include "vouch/snp/verify.h"

namespace vouch::server {
namespace {

// kBoundBytes is how much of REPORT_DATA carries SHA-256(runtime data); the
// remaining 32 bytes are not checked, as in Azure Attestation.
constexpr size_t kBoundBytes = 32;

absl::StatusOr<snp::VerifiedReport> VerifyEvidence(const AttestRequest& request,
                                                   const SnpAttestationOptions& options,
                                                   absl::Time now) {
  std::vector<crypto::Certificate> pool = request.certificates;
  pool.insert(pool.end(), options.collateral.begin(), options.collateral.end());
  VOUCH_ASSIGN_OR_RETURN(pool, FindSnpCertificates(request.report, std::move(pool), options, now));
  snp::VerifyOptions verify_options;
  verify_options.now = now;
  verify_options.roots = options.roots;
  VOUCH_ASSIGN_OR_RETURN(verify_options.crls, FindSnpCrls(request.report, pool, options, now));
  verify_options.require_crl = options.require_crl;

  absl::StatusOr<snp::VerifiedReport> verified =
      snp::VerifyReport(request.report, pool, verify_options);
  if (verified.ok() || verified.status().code() == absl::StatusCode::kInvalidArgument) {
    return verified;
  }
  // A missing or expired certificate means the evidence does not verify, as
  // a bad signature does, so both map to Unauthenticated (HTTP 401).
  return Unauthenticatedf("snp evidence did not verify: {}", verified.status().message());
}

absl::Status CheckRuntimeDataBinding(const snp::VerifiedReport& verified,
                                     const AttestRequest& request) {
  const Bytes digest = crypto::Sha256(request.runtime_data);
  const auto& report_data = verified.report.report_data;
  if (std::equal(digest.begin(), digest.end(), report_data.begin())) {
    return absl::OkStatus();
  }
  return InvalidArgumentf(
      "runtime data binding: REPORT_DATA[0..32] is {}, want SHA-256 of the runtime data {}",
      HexEncode(ByteSpan(report_data.data(), kBoundBytes)), HexEncode(digest));
}

}  // namespace

absl::StatusOr<std::vector<crypto::Certificate>> FindSnpCertificates(
    ByteSpan report, std::vector<crypto::Certificate> pool, const SnpAttestationOptions& options,
    absl::Time now) {
  if (options.vcek_provider == nullptr) {
    return pool;
  }
  snp::VerifyOptions verify_options;
  verify_options.now = now;
  verify_options.roots = options.roots;
  absl::StatusOr<std::vector<crypto::Certificate>> found =
      options.vcek_provider->FindCertificates(report, pool, verify_options);
  if (!found.ok()) {
    const absl::StatusCode code = found.status().code();
    if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
      return Unavailablef("snp evidence: the VCEK lookup failed, retry later: {}",
                          found.status().message());
    }
    return Unauthenticatedf("snp evidence did not verify: {}", found.status().message());
  }
  pool.insert(pool.end(), found->begin(), found->end());
  return pool;
}

absl::StatusOr<std::vector<crypto::Crl>> FindSnpCrls(ByteSpan report,
                                                     const std::vector<crypto::Certificate>& pool,
                                                     const SnpAttestationOptions& options,
                                                     absl::Time now) {
  std::vector<crypto::Crl> crls = options.amd_crls;
  if (options.crl_provider == nullptr) {
    return crls;
  }
  snp::VerifyOptions verify_options;
  verify_options.now = now;
  verify_options.roots = options.roots;
  absl::StatusOr<crypto::Crl> found = options.crl_provider->FindCrl(report, pool, verify_options);
  if (found.ok()) {
    crls.push_back(*std::move(found));
    return crls;
  }
  const absl::Status& status = found.status();
  if (collateral::IsInvalidCrlError(status)) {
    return Unauthenticatedf("snp evidence did not verify: AMD CRL: {}", status.message());
  }
  // With --amd-crl CRLs at hand, snp::VerifyReport decides whether one of
  // them covers the chain when a CRL is required.
  if (!options.require_crl || !crls.empty()) {
    // The provider logs each failed KDS request once; this repeats per report.
    ServerLogger()->debug("snp evidence: no AMD CRL found: {}", status.message());
    return crls;
  }
  if (status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    return Unavailablef("snp evidence: the AMD CRL lookup failed and a CRL is required, retry "
                        "later: {}",
                        status.message());
  }
  return Unauthenticatedf("snp evidence did not verify: a CRL is required and none was found: {}",
                          status.message());
}

absl::StatusOr<nlohmann::json> AttestSnp(const AttestRequest& request,
                                         const SnpAttestationOptions& options, absl::Time now) {
  VOUCH_ASSIGN_OR_RETURN(const snp::VerifiedReport verified, VerifyEvidence(request, options, now));

  VOUCH_RETURN_IF_ERROR(CheckRuntimeDataBinding(verified, request));

  VOUCH_RETURN_IF_ERROR(snp::Appraise(verified, options.appraisal));

  nlohmann::json claims = snp::SnpClaims(verified);
  claims["x-ms-runtime"] = request.runtime_json;
  if (request.nonce.has_value()) {
    claims["nonce"] = *request.nonce;
  }
  if (verified.simulated()) {
    claims["x-vouch-simulated"] = true;
  }
  return claims;
}

}  // namespace vouch::server
