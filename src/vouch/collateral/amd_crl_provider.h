// AmdCrlProvider finds AMD's CRL for the chain of an SEV-SNP report, so that
// snp::VerifyReport can check the ASK or ASVK for revocation.
//
// Sources, in order, for a report of product P (from the CPUID, or the
// configured product) signed by a VCEK (kind "vcek") or a VLEK ("vlek"):
//   1. <collateral_dir>/amd/crl-<kind>-<P>.der, used as given: the verifier
//      rejects it when it does not verify or is not current.
//   2. A copy in memory, then <cache_dir>/amd/crl-<kind>-<P>.der, used while
//      it verifies under a trusted ARK of the pool and is inside
//      thisUpdate..nextUpdate at the verification time.
//   3. AMD KDS, GET /<kind>/v1/<P>/crl, only when a KDS client is configured.
//      A fetched CRL is cached only after it verifies under a trusted ARK
//      and is current. After a failed request, KDS is not asked again for
//      that CRL before retry_interval has passed; the failure is returned.
// The file may be DER or PEM.
#ifndef VOUCH_COLLATERAL_AMD_CRL_PROVIDER_H_
#define VOUCH_COLLATERAL_AMD_CRL_PROVIDER_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/collateral/kds_client.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/verify.h"

namespace vouch::collateral {

struct AmdCrlProviderOptions {
  // Folder whose "amd" subfolder may contain CRL files. Empty: none.
  std::string collateral_dir{};
  // Cache folder. Fetched CRLs go to its "amd" subfolder. Empty: no cache.
  std::string cache_dir{};
  // KDS client settings. Unset (the default): KDS is never contacted.
  std::optional<KdsClientOptions> kds{};
  // KDS product name ("Milan", "Genoa", "Turin"). Empty: taken from the
  // report's CPUID (see KdsProductForReport).
  std::string product{};
  // Wait after a failed KDS CRL request before the next request for the
  // same CRL.
  absl::Duration retry_interval = absl::Minutes(5);
};

class AmdCrlProvider {
 public:
  explicit AmdCrlProvider(AmdCrlProviderOptions options);

  // FindCrl returns the CRL for the chain of `report`. `pool` must contain
  // the chain's ARK, because a cached or fetched CRL is used only when it
  // verifies under an ARK of the pool that options.roots trusts.
  // Error codes group the causes so that callers can choose to go on
  // without a CRL:
  // - NotFound: no source has the CRL (no file, no cache entry and no KDS
  //   configured, or KDS returned 404), or the report does not parse. Also
  //   when the fetched CRL's issuer is not an ARK of the pool, because the
  //   CRL then belongs to another chain.
  // - FailedPrecondition: the product is unknown (a version 2 report and no
  //   configured product), or KDS returned an unexpected status.
  // - Unavailable, DeadlineExceeded: KDS did not respond or returned 429 or
  //   5xx.
  // - Unauthenticated, InvalidArgument, ResourceExhausted: a CRL was found
  //   but is invalid (does not parse, is too large, does not verify under a
  //   trusted ARK, or is not current).
  absl::StatusOr<crypto::Crl> FindCrl(ByteSpan report,
                                      const std::vector<crypto::Certificate>& pool,
                                      const snp::VerifyOptions& options) const;

  // FileName returns "crl-<key_kind>-<product>.der", the name of the CRL in
  // the "amd" subfolder of the collateral and cache folders.
  static std::string FileName(std::string_view key_kind, std::string_view product);

  const AmdCrlProviderOptions& options() const { return options_; }

 private:
  struct Failure {
    absl::Time retry_after;
    absl::Status status;
  };

  absl::StatusOr<crypto::Crl> FromCache(const std::string& file_name,
                                        const std::vector<crypto::Certificate>& pool,
                                        const snp::VerifyOptions& options) const;
  absl::StatusOr<crypto::Crl> FromKds(std::string_view key_kind, const std::string& product,
                                      const std::string& file_name,
                                      const std::vector<crypto::Certificate>& pool,
                                      const snp::VerifyOptions& options) const;
  void Remember(const std::string& file_name, const crypto::Crl& crl) const;

  AmdCrlProviderOptions options_;
  std::optional<KdsClient> kds_;
  mutable std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  // CRLs that verified, by file name.
  mutable std::map<std::string, crypto::Crl> verified_;
  // The last failed KDS request, by file name.
  mutable std::map<std::string, Failure> failures_;
};

// IsInvalidCrlError is true when a FindCrl error means that a CRL was found
// but is invalid, which rejects the evidence. It is false for OK and for the
// "no CRL" and "KDS unreachable" codes (NotFound, FailedPrecondition,
// Unavailable, DeadlineExceeded), after which verification may go on
// without a CRL unless one is required.
bool IsInvalidCrlError(const absl::Status& status);

// VerifyCrlUnderTrustedArk checks `crl` with snp::VerifyAmdCrl against the
// ARK in `pool` whose subject is the CRL's issuer and whose key one of
// `roots` pins. Unauthenticated when the pool has no such ARK.
absl::Status VerifyCrlUnderTrustedArk(const crypto::Crl& crl,
                                      const std::vector<crypto::Certificate>& pool,
                                      const std::vector<snp::TrustedRoot>& roots, absl::Time now);

// LoadAmdCrls reads the CRLs of `path`: one CRL file (DER or PEM), or every
// regular file of a folder, each of which must be a CRL. Empty `path` gives
// an empty list, and a folder without files is InvalidArgument.
absl::StatusOr<std::vector<crypto::Crl>> LoadAmdCrls(const std::string& path);

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_AMD_CRL_PROVIDER_H_
