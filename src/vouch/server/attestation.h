// SEV-SNP attestation: from a parsed AttestRequest to the claims of a token.
#ifndef VOUCH_SERVER_ATTESTATION_H_
#define VOUCH_SERVER_ATTESTATION_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/collateral/amd_crl_provider.h"
#include "vouch/collateral/vcek_provider.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/attest_request.h"
#include "vouch/snp/appraisal.h"
#include "vouch/snp/certificates.h"

namespace vouch::server {

struct SnpAttestationOptions {
  // ARK keys trusted; the simulated root is added only when simulated
  // evidence is allowed.
  std::vector<snp::TrustedRoot> roots = snp::PinnedAmdRoots();
  // Certificates from the collateral folder, added to those of each request.
  std::vector<crypto::Certificate> collateral;
  // VCEKs for reports whose certificates are neither in the request nor in
  // the collateral folder: the cache folder, then AMD KDS. Null when neither
  // --collateral-cache nor --kds-url is set.
  std::shared_ptr<const collateral::VcekProvider> vcek_provider;
  // AMD CRLs: those of --amd-crl, checked with every chain of their ARK,
  // and the provider's CRL for each report (collateral folder, cache, KDS).
  // The provider is null when none of those sources is configured.
  std::vector<crypto::Crl> amd_crls;
  std::shared_ptr<const collateral::AmdCrlProvider> crl_provider;
  // require_crl rejects a chain when no CRL of its ARK is at hand.
  bool require_crl = false;
  snp::AppraisalPolicy appraisal;
};

// FindSnpCertificates returns `pool` plus what options.vcek_provider finds
// for `report` (nothing when there is no provider or `pool` already has the
// signer). A KDS that is unreachable, busy or timed out gives Unavailable
// (HTTP 503), so the client may retry later. Any other lookup failure means
// that the evidence does not verify (Unauthenticated).
absl::StatusOr<std::vector<crypto::Certificate>> FindSnpCertificates(
    ByteSpan report, std::vector<crypto::Certificate> pool, const SnpAttestationOptions& options,
    absl::Time now);

// FindSnpCrls returns options.amd_crls plus the CRL that options.crl_provider
// finds for `report`, whose chain is in `pool`. A lookup that finds no CRL,
// or cannot reach KDS, is skipped unless options.require_crl is set and
// options.amd_crls is empty. Then an unreachable KDS gives Unavailable
// (HTTP 503) and a missing CRL Unauthenticated. An invalid CRL is always
// Unauthenticated.
absl::StatusOr<std::vector<crypto::Crl>> FindSnpCrls(ByteSpan report,
                                                     const std::vector<crypto::Certificate>& pool,
                                                     const SnpAttestationOptions& options,
                                                     absl::Time now);

// AttestSnp runs the checks in order and returns the token claims:
//   1. snp::VerifyReport with the request's certificates, the collateral
//      and FindSnpCertificates' lookup (InvalidArgument for a malformed report, Unauthenticated when the
//      signature, chain, pin or validity check fails);
//   2. the runtime data binding: REPORT_DATA[0..32] must equal SHA-256 of
//      the runtime data bytes, as Azure Attestation requires (InvalidArgument);
//   3. snp::Appraise (PermissionDenied);
// then the claims are snp::SnpClaims plus "x-ms-runtime" (the runtime data
// JSON), "nonce" when the request has one, and "x-vouch-simulated": true
// when the report verified against the simulated root.
absl::StatusOr<nlohmann::json> AttestSnp(const AttestRequest& request,
                                         const SnpAttestationOptions& options, absl::Time now);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_ATTESTATION_H_
