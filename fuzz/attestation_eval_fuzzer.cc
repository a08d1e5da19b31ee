// Fuzz target: an attestation policy evaluated against incoming claims, as
// the attestation service does for every piece of evidence. The input is the
// policy text, one NUL byte, then the claims JSON text. Only policies that
// pass CheckSupported are evaluated, because the service rejects the others
// before it stores them.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/policy/attestation_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t separator = input.find('\0');
  if (separator == std::string_view::npos) {
    return 0;
  }
  const absl::StatusOr<vouch::policy::AttestationPolicy> policy =
      vouch::policy::AttestationPolicy::Parse(input.substr(0, separator));
  if (!policy.ok() || !policy->CheckSupported().ok()) {
    return 0;
  }
  const nlohmann::json claims =
      nlohmann::json::parse(input.substr(separator + 1), nullptr, /*allow_exceptions=*/false);
  if (claims.is_discarded()) {
    return 0;
  }
  (void)policy->Evaluate(claims);
  return 0;
}
