// Fuzz target: public JWKs, as they arrive in runtime data and JWKS files.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "vouch/crypto/jwk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json jwk = nlohmann::json::parse(data, data + size, nullptr, false);
  if (!jwk.is_discarded()) {
    (void)vouch::crypto::PublicKeyFromJwk(jwk);
  }
  return 0;
}
