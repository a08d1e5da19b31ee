// Fuzz target: Azure-format key release policies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vouch/policy/release_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)vouch::policy::ReleasePolicy::Parse(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
