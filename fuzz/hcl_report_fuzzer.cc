// Fuzz target: Azure HCL reports (header, hardware report, runtime claims).
#include <cstddef>
#include <cstdint>

#include "vouch/azure/hcl_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan bytes(data, size);
  (void)vouch::azure::ParseHclReport(bytes);
  return 0;
}
