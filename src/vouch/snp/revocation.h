// AMD certificate revocation lists for SEV-SNP endorsement chains.
//
// AMD KDS serves one CRL per product and key kind at
// /vcek/v1/{product}/crl and /vlek/v1/{product}/crl (VCEK Certificate and
// KDS Interface Specification, AMD publication 57230). Each is a
// DER X.509 CRL, signed by the product's ARK with RSASSA-PSS SHA-384, and
// lists the serial numbers of revoked ASK or ASVK certificates.
//
// VerifyEndorsementChain (verify.h) calls CheckRevocation on every chain,
// including chains served from the chain cache, so a CRL takes effect on the
// next verification.
#ifndef VOUCH_SNP_REVOCATION_H_
#define VOUCH_SNP_REVOCATION_H_

#include <openssl/evp.h>

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/verify.h"

namespace vouch::snp {

// CheckRevocation checks `chain` against the CRLs in `crls` whose issuer name
// is the subject of the chain's ARK; CRLs of other issuers are ignored. Each
// such CRL must verify under the ARK's key (Unauthenticated) and be valid at
// `now`, thisUpdate <= now <= nextUpdate (FailedPrecondition). The
// intermediate (ASK or ASVK) must not be listed (Unauthenticated, naming the
// certificate and its serial). The leaf is not looked up: its serial comes
// from the ASK or ASVK, and a CRL lists serials of its own issuer only. When
// no CRL matches, the result is OK, or FailedPrecondition when `require_crl`
// is set.
absl::Status CheckRevocation(const VerifiedChain& chain, const std::vector<crypto::Crl>& crls,
                             bool require_crl, absl::Time now);

// VerifyAmdCrl checks that `crl` is signed by `ark` (name and key) and valid
// at `now`. Collateral sources call it before they cache a CRL.
absl::Status VerifyAmdCrl(const crypto::Crl& crl, const crypto::Certificate& ark, absl::Time now);

// AmdCrlSpec describes a CRL for IssueAmdCrl.
struct AmdCrlSpec {
  const crypto::Certificate* ark = nullptr;  // issuer: its subject becomes the CRL issuer
  EVP_PKEY* ark_key = nullptr;               // the ARK's RSA private key
  absl::Time this_update{};
  absl::Time next_update{};
  std::vector<Bytes> revoked_serials{};  // big-endian, as crypto::SerialOf returns
};

// IssueAmdCrl builds a version 2 CRL signed as AMD signs theirs (RSASSA-PSS,
// SHA-384, MGF1-SHA-384, 48-byte salt), for tests and the simulated
// platform.
absl::StatusOr<crypto::Crl> IssueAmdCrl(const AmdCrlSpec& spec);

// AmdCrlKeyKind returns "vcek" or "vlek", the first path segment of the KDS
// CRL request for chains with a leaf of `leaf_kind`.
std::string_view AmdCrlKeyKind(AmdCertKind leaf_kind);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_REVOCATION_H_
