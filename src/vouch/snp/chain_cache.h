// A bounded, thread-safe cache of verified SEV-SNP endorsement chains.
//
// VerifyEndorsementChain (verify.h) verifies three RSA-4096 signatures per
// chain (ARK self-signature, ASK or ASVK by the ARK, VCEK or VLEK by the
// ASK or ASVK), which costs more than the report's own ECDSA P-384
// signature. A chip's chain changes only when its TCB changes, so the
// verifier keeps each chain it verified in SharedChainCache() and skips
// those checks for the same certificates.
//
// Rules the cache enforces:
// - Only VerifyEndorsementChain inserts, and only after every check of the
//   chain passed. A lookup never verifies anything, so an entry cannot be
//   made from input that did not verify.
// - The key is SHA-256 over the trusted roots (product and key digest) and
//   the DER of the leaf, the intermediate and the ARK, so a changed byte in
//   any certificate, or another set of trusted roots, is a miss.
// - An entry is used only while the verification time is inside every
//   certificate's validity window (latest notBefore to earliest notAfter).
// - Clear() drops every entry. A caller that refreshes revocation data for
//   AMD's chains must call it.
// - A hit does not check the report: VerifyReport still verifies the report
//   signature with the leaf's key and matches the leaf's extensions.
#ifndef VOUCH_SNP_CHAIN_CACHE_H_
#define VOUCH_SNP_CHAIN_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "vouch/base/bounded_cache.h"
#include "vouch/snp/verify.h"

namespace vouch::snp {

class ChainCache {
 public:
  // The bound of SharedChainCache(). One entry contains three certificates
  // (about 5 KiB); a fleet has one chain per chip and TCB version.
  static constexpr size_t kDefaultCapacity = 4096;

  explicit ChainCache(size_t capacity = kDefaultCapacity);

  // Lookup returns the chain stored under `key` when `now` is inside its
  // validity window, and counts a hit or a miss.
  std::optional<VerifiedChain> Lookup(const std::string& key, absl::Time now);

  // Insert stores `chain` under `key`, valid from `not_before` to
  // `not_after`. When the cache is full it evicts the oldest entry first.
  void Insert(const std::string& key, const VerifiedChain& chain, absl::Time not_before,
              absl::Time not_after);

  void Clear();

  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  BoundedCache<std::string, VerifiedChain> cache_;
};

// SharedChainCache is the process-wide cache that VerifyEndorsementChain
// (and so VerifyReport) uses.
ChainCache& SharedChainCache();

}  // namespace vouch::snp

#endif  // VOUCH_SNP_CHAIN_CACHE_H_
