// Fuzz target: Intel TCB info documents (SGX and TDX, v2 and v3).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vouch/dcap/tcb_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vouch::dcap::ParseTcbInfo(text);
  return 0;
}
