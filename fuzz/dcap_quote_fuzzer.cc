// Fuzz target: DCAP quotes v3, v4 and v5 with their certification data.
#include <cstddef>
#include <cstdint>

#include "vouch/dcap/quote.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan bytes(data, size);
  (void)vouch::dcap::ParseQuote(bytes);
  return 0;
}
