// CollateralProvider finds the collateral for a quote, trying in order:
//   1. what the request carries (a complete TCB info and QE identity);
//   2. local collateral folders (`--collateral DIR`, identified by content);
//   3. the cache folder, while its documents are before their nextUpdate;
//   4. a PCS v4 service (Intel's or a caching PCCS). Its documents are
//      checked (signatures up to the pinned root, at `now`) before they are
//      stored in the cache, so neither an error body nor a bad signature is
//      ever cached.
// Quotes with an encrypted PPID (certification data type 3) carry no PCK
// certificate; GetPckCertificates finds it in the same order (folders,
// cache, PCS) and returns it only once the quote's QE report verifies under
// it, up to a trusted root.
#ifndef VOUCH_COLLATERAL_PROVIDER_H_
#define VOUCH_COLLATERAL_PROVIDER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/collateral/cache.h"
#include "vouch/collateral/pcs_client.h"
#include "vouch/dcap/collateral_set.h"
#include "vouch/dcap/tcb_evaluation.h"

namespace vouch::collateral {

struct ProviderOptions {
  std::vector<std::string> collateral_dirs{};
  std::optional<std::string> cache_dir{};
  std::optional<PcsClientOptions> pcs{};
  // Roots trusted for collateral fetched from PCS; empty means Intel's.
  std::vector<Bytes> trusted_root_spki_sha256{};
};

// ProvidedCollateral is the collateral and where it came from.
struct ProvidedCollateral {
  dcap::QuoteCollateral collateral;
  std::string source;  // "request", "folder", "cache <dir>" or "pcs <url>"
};

// ProvidedPckCertificates is a PCK certificate with its issuer chain.
struct ProvidedPckCertificates {
  std::vector<crypto::Certificate> certificates;
  std::string source;  // "folder", "cache <dir>" or "pcs <url>"
};

class CollateralProvider {
 public:
  // Create loads the collateral folders (an unreadable folder or a
  // malformed collateral file is an error).
  static absl::StatusOr<std::unique_ptr<CollateralProvider>> Create(ProviderOptions options);

  // Get returns collateral for `selector` at `now`. `request` is the
  // request-supplied collateral, used when it has a TCB info and a QE
  // identity. NotFound when no source has it.
  absl::StatusOr<ProvidedCollateral> Get(const dcap::QuoteSelector& selector, absl::Time now,
                                         const dcap::QuoteCollateral* request = nullptr) const;

  // GetPckCertificates returns the PCK certificate and chain under which
  // the QE report of `quote` (certification data type 3) verifies up to a
  // trusted root at `now` (dcap::VerifyQuoteSignatures). A certificate
  // from PCS is cached only after that check. InvalidArgument for a quote
  // that does not parse or carries its chain; NotFound when no source has a
  // matching certificate; PCS errors keep their codes.
  absl::StatusOr<ProvidedPckCertificates> GetPckCertificates(ByteSpan quote, absl::Time now) const;

  const dcap::CollateralSet& folders() const { return folders_; }

 private:
  explicit CollateralProvider(ProviderOptions options) : options_(std::move(options)) {}

  ProviderOptions options_;
  dcap::CollateralSet folders_;
};

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_PROVIDER_H_
