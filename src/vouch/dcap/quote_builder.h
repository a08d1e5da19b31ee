// Builder of DCAP quotes signed through a test PCK chain, for the dcap and
// server tests and the simulated TDX platform (simulated.h). Nothing it
// builds chains to Intel's root.
#ifndef VOUCH_DCAP_QUOTE_BUILDER_H_
#define VOUCH_DCAP_QUOTE_BUILDER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/quote.h"

namespace vouch::dcap::testing {

// TestPckChain is a PCK chain under a test root, shaped as Intel's: a root
// "Intel SGX Root CA", a "Intel SGX PCK Platform CA" and a leaf "Intel SGX
// PCK Certificate" with SGX extensions (ECDSA P-256 keys throughout).
struct TestPckChain {
  crypto::SslPtr<EVP_PKEY> root_key;
  crypto::SslPtr<EVP_PKEY> ca_key;
  crypto::SslPtr<EVP_PKEY> pck_key;
  crypto::Certificate root;
  crypto::Certificate ca;
  crypto::Certificate pck;

  std::string Pem() const { return pck.Pem() + ca.Pem() + root.Pem(); }
  std::vector<crypto::Certificate> Certificates() const { return {pck, ca, root}; }
  Bytes RootSpkiSha256() const { return root.SpkiSha256(); }
};

struct TestPckOptions {
  std::array<uint8_t, 16> sgx_tcb_components{};
  uint16_t pce_svn = 13;
  std::array<uint8_t, 6> fmspc = {0x00, 0x80, 0x6f, 0x05, 0x00, 0x00};
  std::array<uint8_t, 2> pce_id = {0x00, 0x00};
  absl::Time not_before = absl::FromUnixSeconds(1700000000);  // 2023-11-14
  absl::Time not_after = absl::FromUnixSeconds(1900000000);   // 2030-03-17
  // extension_der replaces the SGX extension's value when set.
  std::optional<Bytes> extension_der;
};

// SgxExtensionDer encodes extension 1.2.840.113741.1.13.1 for `options`.
Bytes SgxExtensionDer(const TestPckOptions& options);

// MakeTestPckChain issues a fresh test chain.
absl::StatusOr<TestPckChain> MakeTestPckChain(const TestPckOptions& options = {});

// QuoteSpec describes a quote for BuildQuote. The body bytes are taken as
// given (their layout is the caller's), so tests control every field.
struct QuoteSpec {
  uint16_t version = 4;
  uint32_t tee_type = kTeeTypeTdxValue;
  uint16_t body_type = 2;  // version 5 only
  Bytes body = Bytes(kTdx10ReportBodySize, 0);
  // qe_report is the 384-byte QE report; its report_data is overwritten
  // with SHA-256(attestation key || qe_auth_data) unless `bind_qe_report` is false.
  Bytes qe_report = Bytes(kSgxReportBodySize, 0);
  bool bind_qe_report = true;
  // qe_report_data_tail_byte is written to QE report_data byte 32 after the
  // binding (which must be zero).
  uint8_t qe_report_data_tail_byte = 0;
  Bytes qe_auth_data = Bytes(32, 0x5a);
  // pck_data_type 5 embeds the chain's PEM; 3 embeds an encrypted PPID.
  uint16_t pck_data_type = 5;
  Bytes trailing;
};

// BuiltQuote is a signed quote and the attestation key that signed it.
struct BuiltQuote {
  Bytes quote;
  crypto::SslPtr<EVP_PKEY> attestation_key;
};

// BuildQuote lays out and signs a quote: a fresh P-256 attestation key signs
// header and body, and `chain.pck_key` signs the QE report.
absl::StatusOr<BuiltQuote> BuildQuote(const QuoteSpec& spec, const TestPckChain& chain);

}  // namespace vouch::dcap::testing

#endif  // VOUCH_DCAP_QUOTE_BUILDER_H_
