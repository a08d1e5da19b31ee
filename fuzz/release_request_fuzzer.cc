// Fuzz target: the JSON body of POST /keys/{name}/{version}/release.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vouch/broker/release_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vouch::broker::ParseReleaseRequest(text);
  return 0;
}
