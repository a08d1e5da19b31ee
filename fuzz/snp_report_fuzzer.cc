// Fuzz target: SEV-SNP ATTESTATION_REPORT parser.
#include <cstddef>
#include <cstdint>

#include "vouch/snp/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)vouch::snp::ParseReport(vouch::ByteSpan(data, size));
  return 0;
}
