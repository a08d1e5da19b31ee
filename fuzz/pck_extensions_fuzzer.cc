// Fuzz target: the SGX extensions of a PCK certificate, read from any
// certificate the input parses to.
#include <cstddef>
#include <cstdint>

#include "vouch/crypto/x509.h"
#include "vouch/dcap/pck.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto certificates = vouch::crypto::ParseCertificates(vouch::ByteSpan(data, size));
  if (certificates.ok()) {
    for (const vouch::crypto::Certificate& certificate : *certificates) {
      (void)vouch::dcap::ReadPckExtensions(certificate);
    }
  }
  return 0;
}
