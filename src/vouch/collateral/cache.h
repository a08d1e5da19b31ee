// A folder cache of Intel collateral, keyed by TEE type and FMSPC.
//
// Layout (all files written atomically, readable by content alone):
//   tcbinfo-<sgx|tdx>-<fmspc>.json   TCB info response body
//   qeidentity-<sgx|tdx>.json        QE or TD_QE identity response body
//   crl-root.der                     Intel SGX Root CA CRL
//   crl-pck-<platform|processor>.der PCK CA CRL
//   certs-<sha256 prefix>.pem        issuer chain certificates
//   pckcert-<key>.pem                PCK certificate and its issuer chain, for
//                                    quotes with an encrypted PPID (key: a
//                                    SHA-256 prefix of PPID, CPU SVN, PCE SVN
//                                    and PCE id)
// Only parsed documents are stored, so an error body from a collateral
// service never reaches the cache. Lookup returns collateral only while
// every selected document is before its nextUpdate.
#ifndef VOUCH_COLLATERAL_CACHE_H_
#define VOUCH_COLLATERAL_CACHE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/collateral_set.h"
#include "vouch/dcap/quote.h"
#include "vouch/dcap/tcb_evaluation.h"

namespace vouch::collateral {

class CollateralCache {
 public:
  // The folder is created on the first Store.
  explicit CollateralCache(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // Lookup returns the cached collateral for `selector` when the TCB info,
  // QE identity and both CRLs are present and none is past its nextUpdate
  // at `now`. Otherwise NotFound (a stale entry reads as a miss, so the
  // caller refreshes it). A cached file that does not parse is an error.
  absl::StatusOr<dcap::QuoteCollateral> Lookup(const dcap::QuoteSelector& selector,
                                               absl::Time now) const;

  // Store writes each part of `collateral` that parses: TCB info (keyed by
  // its own TEE type and FMSPC), QE identity, CRLs (keyed by issuer) and
  // certificates. A part that does not parse is InvalidArgument and nothing
  // of it is written.
  absl::Status Store(const dcap::QuoteCollateral& collateral) const;

  // StoreSet writes every document of `set` (used by `vouch collateral
  // import`). Documents for the same key replace older ones only when their
  // issue date is not earlier.
  absl::Status StoreSet(const dcap::CollateralSet& set) const;

  // StorePckCertificate writes the PCK certificate (first) and its issuer
  // chain for `ppid`. LookupPckCertificate reads them back; NotFound when
  // absent or when the PCK certificate is outside its validity at `now`.
  // Neither checks signatures: the quote verification does.
  absl::Status StorePckCertificate(const dcap::EncryptedPpid& ppid,
                                   const std::vector<crypto::Certificate>& certificates) const;
  absl::StatusOr<std::vector<crypto::Certificate>> LookupPckCertificate(
      const dcap::EncryptedPpid& ppid, absl::Time now) const;

  // Load reads the whole cache folder into a set; an absent folder is an
  // empty set.
  absl::StatusOr<dcap::CollateralSet> Load() const;

 private:
  std::string dir_;
};

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_CACHE_H_
