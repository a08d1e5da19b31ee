// Fuzz target: compact JWS decoding, which every token and signed policy
// passes through before any signature check.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vouch/crypto/jws.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)vouch::crypto::JwsDecode(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
