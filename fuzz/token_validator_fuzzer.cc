// Fuzz target: attestation token validation in the key broker
// (token::TokenValidator over one trusted issuer with a fixed JWKS).
//
// The jws target covers only the compact-JWS decoding. This one also runs the
// header checks. It signs fuzzed claims itself, so the checks that follow a
// good signature (times, audience) also see hostile claims. The input is a
// JOSE header JSON, one NUL byte, then the claims JSON. Without a NUL byte
// the whole input is validated as token text. The header's "kid" is set to
// the issuer's key id when the header has none, since that id is a
// thumbprint of a key made once per process and no seed can know it.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace {

// The seeds' tokens are valid at this time: 2026-01-01T00:00:00Z.
constexpr int64_t kNowUnixSeconds = 1767225600;

struct FixedIssuer {
  vouch::token::TokenIssuer issuer;
  vouch::token::TokenValidator validator;
};

const FixedIssuer& Fixed() {
  static const FixedIssuer* const fixed = [] {
    absl::StatusOr<vouch::crypto::SslPtr<EVP_PKEY>> key = vouch::crypto::GenerateEcKey("P-256");
    if (!key.ok()) {
      std::abort();
    }
    absl::StatusOr<vouch::token::TokenIssuer> issuer = vouch::token::TokenIssuer::Create(
        *std::move(key), {.issuer = "https://attest.example"});
    if (!issuer.ok()) {
      std::abort();
    }
    vouch::token::TokenValidatorOptions options;
    options.audiences = {"https://broker.example"};
    absl::StatusOr<vouch::token::TokenValidator> validator =
        vouch::token::TokenValidator::ForIssuer(*issuer, options);
    if (!validator.ok()) {
      std::abort();
    }
    return new FixedIssuer{*std::move(issuer), *std::move(validator)};
  }();
  return *fixed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const FixedIssuer& fixed = Fixed();
  const absl::Time now = absl::FromUnixSeconds(kNowUnixSeconds);

  const size_t separator = input.find('\0');
  if (separator == std::string_view::npos) {
    (void)fixed.validator.Validate(input, now);
    return 0;
  }
  nlohmann::json header =
      nlohmann::json::parse(input.substr(0, separator), nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) {
    return 0;
  }
  if (!header.contains("kid")) {
    header["kid"] = fixed.issuer.kid();
  }
  // JwsSign overwrites "alg" with the issuer's algorithm (ES256).
  const absl::StatusOr<std::string> token = vouch::crypto::JwsSign(
      fixed.issuer.signing_key(), fixed.issuer.alg(), header, input.substr(separator + 1));
  if (!token.ok()) {
    return 0;
  }
  (void)fixed.validator.Validate(*token, now);
  return 0;
}
