// Fuzz target: the JSON body of POST /attest/TdxVm and /attest/SgxEnclave.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vouch/server/dcap_attestation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vouch::server::ParseDcapAttestRequest(text);
  return 0;
}
