// Bounded, thread-safe caches of DCAP verification results.
//
// A quote from a platform repeats what the previous quote from that
// platform carried: the PCK chain, the QE report with its signature, and the
// attestation key. VerifyQuoteSignatures (verify.h) keeps what it verified in
// SharedQuoteVerifyCaches(), so a repeated quote costs the parsing and one
// ECDSA P-256 verify (the quote signature by the attestation key).
//
// Rules the caches enforce:
// - Only VerifyQuoteSignatures inserts, and only after every step of the
//   quote verified. A lookup verifies nothing, so no entry can be made from
//   input that did not verify.
// - Keys are the exact bytes that were verified (CacheKey). A chain's key
//   covers its PEM and the trusted roots. A QE report's key covers the
//   report, its signature, the attestation key, the QE auth data and the
//   PCK certificate's SHA-256. Any changed byte is a miss.
// - A PCK chain entry is used only while the verification time is inside
//   every certificate's validity window. Revocation of the PCK is checked
//   against the collateral's CRLs on every call (EvaluateTcb), not cached.
// - Clear() drops every entry.
//
// CollateralCaches applies the same rules to EvaluateTcb's collateral: the
// TCB info and QE identity documents whose signing chain verified (keyed by
// the document's bytes and the trusted roots, and used only inside the
// signing chain's validity window), the CRLs whose signature verified (keyed
// by the CRL's bytes and its issuer's name and key), and the pinned root whose
// self-signature verified (keyed by the trusted roots, matched by X509_cmp). The checks that depend
// on the time or the quote (issueDate and nextUpdate, CRL thisUpdate and
// nextUpdate, revocation of the PCK and its CA, the TCB levels) run on every
// call. A refreshed document or CRL has other bytes, so it is a miss and is
// verified before use.
#ifndef VOUCH_DCAP_VERIFY_CACHE_H_
#define VOUCH_DCAP_VERIFY_CACHE_H_

#include <openssl/evp.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "vouch/base/bounded_cache.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/crl.h"
#include "vouch/dcap/pck.h"
#include "vouch/dcap/qe_identity.h"
#include "vouch/dcap/tcb_info.h"

namespace vouch::dcap {

// BoundedCache maps a CacheKey to a value valid within a time window. When
// full it evicts the oldest entry first.
template <typename Value>
using BoundedCache = vouch::BoundedCache<std::string, Value>;

// VerifiedPckChain is a PCK chain from a quote that verified, with the PCK
// certificate's SGX extensions and SHA-256.
struct VerifiedPckChain {
  PckChain chain;
  PckExtensions extensions;
  Bytes pck_sha256;
};

struct QuoteVerifyCaches {
  // The bound of each cache. A fleet has one PCK chain and one QE report per
  // platform and TCB version, and an entry is a few KiB.
  static constexpr size_t kDefaultCapacity = 4096;

  explicit QuoteVerifyCaches(size_t capacity = kDefaultCapacity)
      : pck_chains(capacity), qe_reports(capacity) {}

  void Clear() {
    pck_chains.Clear();
    qe_reports.Clear();
  }

  // Keyed by PckChainKey: chains carried in quotes (certification data type 5).
  BoundedCache<VerifiedPckChain> pck_chains;
  // Keyed by QeReportKey: the attestation key of a QE report whose signature
  // by the PCK key and whose report_data binding verified.
  BoundedCache<std::shared_ptr<EVP_PKEY>> qe_reports;
};

struct CollateralCaches {
  // Collateral is one document per FMSPC and TEE type plus a few CRLs.
  static constexpr size_t kDefaultCapacity = 1024;

  explicit CollateralCaches(size_t capacity = kDefaultCapacity)
      : tcb_infos(capacity), qe_identities(capacity), crls(capacity), roots(capacity) {}

  void Clear() {
    tcb_infos.Clear();
    qe_identities.Clear();
    crls.Clear();
    roots.Clear();
  }

  // Shared and const: a hit costs no copy of the TCB levels.
  BoundedCache<std::shared_ptr<const TcbInfo>> tcb_infos;
  BoundedCache<std::shared_ptr<const QeIdentity>> qe_identities;
  BoundedCache<crypto::Crl> crls;
  BoundedCache<crypto::Certificate> roots;
};

// CacheKey returns `parts` concatenated, each prefixed with its 8-byte
// length so that no two lists of parts give the same key. The key contains
// the bytes themselves, not a digest: comparing them costs less than
// hashing them, and no collision is possible.
std::string CacheKey(std::initializer_list<ByteSpan> parts);

// SharedCollateralCaches is the process-wide instance that EvaluateTcb uses.
CollateralCaches& SharedCollateralCaches();

// SharedQuoteVerifyCaches is the process-wide instance that
// VerifyQuoteSignatures and VerifyQuote use.
QuoteVerifyCaches& SharedQuoteVerifyCaches();

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_VERIFY_CACHE_H_
