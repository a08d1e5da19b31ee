// The pinned Intel SGX Root CA, trust anchor of every DCAP certificate chain
// (PCK certificates, the TCB signing certificate, and the CRL issuers).
#ifndef VOUCH_DCAP_INTEL_ROOT_H_
#define VOUCH_DCAP_INTEL_ROOT_H_

#include <string_view>

namespace vouch::dcap {

// SHA-256 of the DER SubjectPublicKeyInfo of the production "Intel SGX Root
// CA" (CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US;
// valid 2018-05-21..2049-12-31; SHA-256 of the whole certificate
// 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3). Computed
// with `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER |
// sha256sum` from the certificate that Intel's PCS sends in its issuer-chain
// headers. Intel's non-production sample root has a different key.
inline constexpr std::string_view kIntelSgxRootCaSpkiSha256Hex =
    "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e";

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_INTEL_ROOT_H_
