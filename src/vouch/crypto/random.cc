#include "vouch/crypto/random.h"

#include <openssl/rand.h>

#include <climits>
#include <span>

#include "vouch/base/status.h"

namespace vouch::crypto {
namespace {

void FillRandom(std::span<uint8_t> out) {
  while (!out.empty()) {
    const size_t chunk = out.size() < static_cast<size_t>(INT_MAX) ? out.size() : INT_MAX;
    VOUCH_CHECK(RAND_bytes(out.data(), static_cast<int>(chunk)) == 1);
    out = out.subspan(chunk);
  }
}

}  // namespace

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  FillRandom(out);
  return out;
}

SecretBytes RandomSecret(size_t n) {
  SecretBytes out(n);
  FillRandom(out.MutableExpose());
  return out;
}

}  // namespace vouch::crypto
