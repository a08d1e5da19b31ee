// Fuzz target: Azure Attestation policy language text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vouch/policy/attestation_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vouch::policy::AttestationPolicy::Parse(text);
  return 0;
}
