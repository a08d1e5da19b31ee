// Fuzz target: Intel QE identity documents.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vouch/dcap/qe_identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vouch::dcap::ParseQeIdentity(text);
  return 0;
}
