// Fuzz target: TPMS_ATTEST quote structures and TPMT_SIGNATURE.
#include <cstddef>
#include <cstdint>

#include "vouch/tpm/attest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan bytes(data, size);
  (void)vouch::tpm::ParseQuoteAttest(bytes);
  (void)vouch::tpm::ParseSignature(bytes);
  return 0;
}
