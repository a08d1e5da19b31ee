#include "vouch/dcap/verify_cache.h"


namespace vouch::dcap {

std::string CacheKey(std::initializer_list<ByteSpan> parts) {
  size_t total = 0;
  for (const ByteSpan part : parts) {
    total += 8 + part.size();
  }
  std::string key;
  key.reserve(total);
  for (const ByteSpan part : parts) {
    const uint64_t size = part.size();
    for (int shift = 56; shift >= 0; shift -= 8) {
      key.push_back(static_cast<char>(static_cast<uint8_t>(size >> shift)));
    }
    key.append(reinterpret_cast<const char*>(part.data()), part.size());
  }
  return key;
}

CollateralCaches& SharedCollateralCaches() {
  static CollateralCaches* const caches = new CollateralCaches();
  return *caches;
}

QuoteVerifyCaches& SharedQuoteVerifyCaches() {
  static QuoteVerifyCaches* const caches = new QuoteVerifyCaches();
  return *caches;
}

}  // namespace vouch::dcap
