// Fuzz target: Azure vTPM evidence documents in Trustee's JSON layouts.
#include <cstddef>
#include <cstdint>

#include "vouch/azure/evidence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan bytes(data, size);
  (void)vouch::azure::ParseAzureEvidenceJson(bytes);
  return 0;
}
