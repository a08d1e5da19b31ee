// VcekProvider finds the VCEK (and its ASK and ARK) for an SEV-SNP report
// that arrived without one, so that snp::VerifyReport can check it.
//
// Sources, in order: the certificates the caller already has (from the
// request or evidence, then the collateral folder), the cache folder, and
// AMD KDS (only when a KDS client is configured). The cache is
// <cache_dir>/amd/ with these files, written atomically:
//   vcek-<product>-<hwid hex>-<SPLs>.der   one VCEK per chip and REPORTED_TCB,
//                                          e.g. vcek-Milan-<128 hex>-bl4-tee0-snp22-ucode213.der
//                                          (Turin adds "-fmcN")
//   chain-<product>.pem                    ASK and ARK from /vcek/v1/<product>/cert_chain
// A VCEK from KDS is cached only after its hwID and SPLs match the report
// and its chain verifies up to a trusted ARK at the verification time.
// Cached certificates are returned, not trusted: the caller verifies the
// report, and so the chain up to the pinned ARK, on every use.
//
// KDS is never asked for a report whose chip id is masked (MASK_CHIP_ID, or
// CHIP_ID all zeros) or that a VLEK signed: such a report verifies only
// with the VCEK or VLEK sent along with the evidence.
#ifndef VOUCH_COLLATERAL_VCEK_PROVIDER_H_
#define VOUCH_COLLATERAL_VCEK_PROVIDER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/collateral/kds_client.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/report.h"
#include "vouch/snp/verify.h"

namespace vouch::collateral {

struct VcekProviderOptions {
  // Collateral cache folder; the VCEK files go to its "amd" subfolder.
  // Empty: no cache.
  std::string cache_dir{};
  // KDS client settings. Unset (the default): KDS is never contacted.
  std::optional<KdsClientOptions> kds{};
  // KDS product name ("Milan", "Genoa", "Turin"). Empty: taken from the
  // report's CPUID (see KdsProductForReport).
  std::string product{};
};

class VcekProvider {
 public:
  explicit VcekProvider(VcekProviderOptions options);

  // FindCertificates returns the certificates to add to `available` so that
  // `report` can be verified: the VCEK, ASK and ARK from the cache or KDS.
  // It returns an empty list when `available` already has a VCEK whose hwID
  // and SPLs match the report, or a VLEK for a VLEK-signed report. It also
  // returns an empty list when the report does not parse, so that
  // VerifyReport names the fault.
  // Errors:
  // - FailedPrecondition: the chip id is masked or a VLEK signed the report
  //   (the message states that the certificate must come with the evidence), or the
  //   product is unknown.
  // - NotFound: no cached VCEK and no KDS configured, or KDS returned 404.
  // - Unauthenticated: KDS returned a VCEK for another chip or TCB, or one
  //   whose chain does not verify to a root in `options.roots`.
  // - The KdsClient errors (Unavailable, DeadlineExceeded, ...).
  absl::StatusOr<std::vector<crypto::Certificate>> FindCertificates(
      ByteSpan report, const std::vector<crypto::Certificate>& available,
      const snp::VerifyOptions& options) const;

  // CacheFileName returns the file name of the cached VCEK for `report`.
  static std::string CacheFileName(std::string_view product, const snp::AttestationReport& report);

  const VcekProviderOptions& options() const { return options_; }

 private:
  absl::StatusOr<std::vector<crypto::Certificate>> FromCache(
      const std::string& product, const snp::AttestationReport& report) const;
  absl::StatusOr<std::vector<crypto::Certificate>> FromKds(
      const std::string& product, const snp::AttestationReport& report,
      const std::vector<crypto::Certificate>& available, const snp::VerifyOptions& options) const;
  absl::Status StoreInCache(const std::string& file_name,
                            const std::vector<crypto::Certificate>& certificates,
                            bool der) const;

  VcekProviderOptions options_;
  std::optional<KdsClient> kds_;
};

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_VCEK_PROVIDER_H_
