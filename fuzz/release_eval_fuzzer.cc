// Fuzz target: a key release policy evaluated against a claim set, as the
// key broker does before it releases a key. The input is the policy JSON
// text, one NUL byte, then the claims JSON text. The claims come from a
// token that passed validation, so they are hostile only as far as the
// evidence and runtime data that the attestation service copied into them.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/policy/release_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t separator = input.find('\0');
  if (separator == std::string_view::npos) {
    return 0;
  }
  const absl::StatusOr<vouch::policy::ReleasePolicy> policy =
      vouch::policy::ReleasePolicy::Parse(input.substr(0, separator));
  if (!policy.ok()) {
    return 0;
  }
  const nlohmann::json claims =
      nlohmann::json::parse(input.substr(separator + 1), nullptr, /*allow_exceptions=*/false);
  if (claims.is_discarded()) {
    return 0;
  }

  // Each authority of the policy plays the token issuer in turn, so that the
  // conditions of its statement are evaluated. The last issuer matches none.
  for (const std::string& authority : policy->Authorities()) {
    (void)policy->Evaluate(claims, authority);
  }
  (void)policy->Evaluate(claims, "https://unknown-issuer.example");
  if (claims.is_object()) {
    for (const auto& [name, value] : claims.items()) {
      (void)policy->NamesClaim(name);
    }
  }
  return 0;
}
