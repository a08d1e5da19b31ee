// Fuzz target: TCG crypto-agile event logs (measured boot, TDX CCEL).
#include <cstddef>
#include <cstdint>

#include "vouch/tpm/event_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan bytes(data, size);
  (void)vouch::tpm::ParseCryptoAgileEventLog(bytes);
  return 0;
}
