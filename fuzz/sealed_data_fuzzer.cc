// Fuzz target: the agent's sealed-file format (vouch unseal). The input is
// a sealed file. Its header is parsed, then UnsealData unwraps the data key
// with a fixed 256-bit key and opens the content. Seeds sealed under that
// same key reach the AES-GCM step, and mutated ones test the AES key unwrap
// (RFC 5649) on hostile wrapped bytes.
#include <array>
#include <cstddef>
#include <cstdint>

#include "vouch/agent/seal.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"

namespace {

// The released key of the seeds in fuzz/corpus/sealed_data: 32 bytes of 0x5a.
const vouch::SecretBytes& FixedKey() {
  static const vouch::SecretBytes* const key = [] {
    std::array<uint8_t, 32> bytes;
    bytes.fill(0x5a);
    return new vouch::SecretBytes(vouch::ByteSpan(bytes));
  }();
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan sealed(data, size);
  (void)vouch::agent::ParseSealedHeader(sealed);
  (void)vouch::agent::UnsealData(sealed, FixedKey());
  return 0;
}
