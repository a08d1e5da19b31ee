// Fuzz target: the GUID-indexed certificate table of an SEV-SNP extended report.
#include <cstddef>
#include <cstdint>

#include "vouch/snp/cert_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan bytes(data, size);
  (void)vouch::snp::ParseCertTable(bytes);
  return 0;
}
