// Fuzz target: the key release response as the agent imports it. The input
// is the "value" member of the broker's response (a compact JWS). The agent
// decodes it, reads key_hsm and unwraps the key with its ephemeral RSA key.
// Each input goes through twice: without a signature check (the agent
// trusts the TLS channel) and with the broker's JWKS, whose key lookup and
// algorithm checks then run on the fuzzed header.
//
// The RSA key is made once per process, so no input can carry a ciphertext
// that decrypts under it: the RSA-OAEP step always fails here, and the AES
// key unwrap that follows it is reached by the sealed_data target instead.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/token/issuer.h"

namespace {

struct FixedKeys {
  vouch::crypto::SslPtr<EVP_PKEY> ephemeral_key;
  nlohmann::json broker_jwks;
};

const FixedKeys& Keys() {
  static const FixedKeys* const keys = [] {
    auto* new_keys = new FixedKeys;
    absl::StatusOr<vouch::crypto::SslPtr<EVP_PKEY>> rsa = vouch::crypto::GenerateRsaKey(2048);
    absl::StatusOr<vouch::crypto::SslPtr<EVP_PKEY>> ec = vouch::crypto::GenerateEcKey("P-256");
    if (!rsa.ok() || !ec.ok()) {
      std::abort();
    }
    new_keys->ephemeral_key = *std::move(rsa);
    absl::StatusOr<vouch::token::TokenIssuer> broker = vouch::token::TokenIssuer::Create(
        *std::move(ec), {.issuer = "https://broker.example"});
    if (!broker.ok()) {
      std::abort();
    }
    new_keys->broker_jwks = broker->Jwks();
    return new_keys;
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const FixedKeys& keys = Keys();
  (void)vouch::broker::UnwrapReleasedKey(value, keys.ephemeral_key.get());

  const vouch::broker::ReleaseVerification with_jwks{.broker_jwks = &keys.broker_jwks};
  (void)vouch::broker::UnwrapReleasedKey(value, keys.ephemeral_key.get(), with_jwks);
  return 0;
}
