#include "vouch/snp/chain_cache.h"

namespace vouch::snp {

ChainCache::ChainCache(size_t capacity) : cache_(capacity) {}

std::optional<VerifiedChain> ChainCache::Lookup(const std::string& key, absl::Time now) {
  return cache_.Lookup(key, now);
}

void ChainCache::Insert(const std::string& key, const VerifiedChain& chain, absl::Time not_before,
                        absl::Time not_after) {
  cache_.Insert(key, chain, not_before, not_after);
}

void ChainCache::Clear() { cache_.Clear(); }

size_t ChainCache::size() const { return cache_.size(); }

uint64_t ChainCache::hits() const { return cache_.hits(); }

uint64_t ChainCache::misses() const { return cache_.misses(); }

ChainCache& SharedChainCache() {
  static ChainCache* const cache = new ChainCache();
  return *cache;
}

}  // namespace vouch::snp
