// Fuzz target: X.509 CRLs in DER or PEM.
#include <cstddef>
#include <cstdint>

#include "vouch/crypto/crl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan bytes(data, size);
  (void)vouch::crypto::Crl::Parse(bytes);
  return 0;
}
