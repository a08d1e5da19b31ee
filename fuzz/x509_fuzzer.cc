// Fuzz target: certificate parsing (PEM blocks or concatenated DER), the
// first step for every chain that comes with evidence.
#include <cstddef>
#include <cstdint>

#include "vouch/crypto/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)vouch::crypto::ParseCertificates(vouch::ByteSpan(data, size));
  return 0;
}
