// SEV-SNP report verification: is this report genuine?
//
// VerifyReport checks the report's format, finds the VCEK or VLEK that the
// report's SIGNING_KEY field names among the given certificates, verifies
// the chain VCEK <- ASK <- ARK (or VLEK <- ASVK <- ARK) link by link against
// a pinned ARK key, checks every certificate's validity at the verification
// time, matches the leaf's extensions (hwID, TCB SPLs, product) to the
// report, and verifies the report's ECDSA P-384 SHA-384 signature. It
// appraises nothing (debug, VMPL, measurements): see appraisal.h.
#ifndef VOUCH_SNP_VERIFY_H_
#define VOUCH_SNP_VERIFY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/certificates.h"
#include "vouch/snp/report.h"

namespace vouch::snp {

struct VerifyOptions {
  // now is the verification time: every certificate must be valid then.
  absl::Time now = absl::Now();
  // roots are the ARK keys trusted; any other root is rejected. Add
  // SimulatedSnp::Root() only where simulated evidence is allowed.
  std::vector<TrustedRoot> roots = PinnedAmdRoots();
  // crls are AMD CRLs (see revocation.h). The chain is checked against each
  // CRL issued by its ARK; CRLs of other issuers are ignored. None: the
  // chain is not checked for revocation, unless require_crl is set.
  std::vector<crypto::Crl> crls{};
  // require_crl rejects a chain when no CRL in `crls` is issued by its ARK.
  bool require_crl = false;
};

// VerifiedChain is an endorsement key chain that verified up to a trusted root.
struct VerifiedChain {
  std::string product;  // the trusted root's product: "Milan", "Genoa", "Turin", "simulated"
  AmdCertKind leaf_kind = AmdCertKind::kVcek;
  crypto::Certificate leaf;          // VCEK or VLEK
  crypto::Certificate intermediate;  // ASK for a VCEK, ASVK for a VLEK
  crypto::Certificate root;          // ARK
};

// VerifiedReport is a report whose signature, chain and extensions verified.
struct VerifiedReport {
  enum SigningKeyKind { kVcek, kVlek };

  AttestationReport report;
  std::string product;  // as in VerifiedChain
  SigningKeyKind signing_key = kVcek;
  crypto::Certificate signer;        // the VCEK or VLEK
  crypto::Certificate intermediate;  // ASK or ASVK
  crypto::Certificate root;          // ARK
  EndorsementKeyExtensions signer_extensions;

  // simulated is true when the chain ends at the simulated platform's root.
  bool simulated() const { return product == kSimulatedProduct; }
};

// VerifyReport verifies `report` (1184 raw bytes) with the certificates in
// `certificates`, in any order. Certificates it does not need are ignored.
// Errors name the failed check, the field, and the expected and found values.
// The codes:
// - InvalidArgument: the report is malformed (see ParseReport) or unsigned.
// - FailedPrecondition: a needed certificate is missing, or one is not valid
//   at options.now, or a CRL is not valid then, or options.require_crl is
//   set and no CRL of the chain's ARK was given.
// - Unauthenticated: a chain, report or CRL signature, the root pin, or an
//   extension or product match failed, or a CRL lists the ASK or ASVK.
absl::StatusOr<VerifiedReport> VerifyReport(ByteSpan report,
                                            const std::vector<crypto::Certificate>& certificates,
                                            const VerifyOptions& options);

// VerifyEndorsementChain verifies the chain above `leaf` (a VCEK or VLEK)
// with issuers taken from `certificates`: issuer kind (ASK for a VCEK, ASVK
// for a VLEK), ARK self-signature and pin, each link's RSA-PSS signature,
// names, validity at options.now, and revocation against options.crls
// (CheckRevocation in revocation.h). VerifyReport calls it; it is public
// for checking collateral without a report.
absl::StatusOr<VerifiedChain> VerifyEndorsementChain(
    const crypto::Certificate& leaf, const std::vector<crypto::Certificate>& certificates,
    const VerifyOptions& options);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_VERIFY_H_
