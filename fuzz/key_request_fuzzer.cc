// Fuzz target: the JSON bodies of PUT /keys/{name} (create),
// POST /keys/{name}/rotate and PUT /keys/{name}/releasepolicy. The server
// parses each body with policy::ParseStrictJson first, as here; every parsed
// value goes through all three body parsers.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/broker/key_request.h"
#include "vouch/policy/strict_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<nlohmann::json> body = vouch::policy::ParseStrictJson(text, "fuzz body");
  if (!body.ok()) {
    return 0;
  }
  (void)vouch::broker::ParseCreateKeyRequest(*body);
  (void)vouch::broker::ParseRotateKeyRequest(*body);
  (void)vouch::broker::ParseReleasePolicyBody(*body);
  return 0;
}
