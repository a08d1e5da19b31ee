// The simulated Intel TDX and SGX platform, for machines without the
// hardware.
//
// SimulatedTdx makes, on first use, a PKI shaped like Intel's, all ECDSA
// P-256: a root "Intel SGX Root CA", a "Intel SGX PCK Platform CA", a PCK
// certificate with SGX extensions for the simulated FMSPC, and a "Intel SGX
// TCB Signing" certificate. It keeps certificates and keys in a folder,
// produces version-4 TDX quotes (TDX 1.0 body, certification data type 6
// nesting the PCK chain) and version-3 SGX quotes (enclave report body,
// certification data type 5). It issues matching collateral for each TEE
// type: TCB info ("TDX" or "SGX") and QE identity ("TD_QE" or "QE"), signed
// by the TCB signing key, and the root CA and PCK CA CRLs, which both types
// share. The quotes go through the real VerifyQuote path unchanged. They
// verify only where the trusted roots include RootSpkiSha256(), because the
// simulated root is pinned nowhere else.
#ifndef VOUCH_DCAP_SIMULATED_H_
#define VOUCH_DCAP_SIMULATED_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/dcap/quote_builder.h"
#include "vouch/dcap/tcb_evaluation.h"
#include "vouch/dcap/verify.h"

namespace vouch::dcap {

// FMSPC of the simulated platform: "vouch" and a zero byte, so that its
// collateral never matches a real platform's.
inline constexpr std::array<uint8_t, 6> kSimulatedFmspc = {0x76, 0x6f, 0x75, 0x63, 0x68, 0x00};

// ISVPRODID and ISVSVN of the enclave in every simulated SGX quote.
inline constexpr uint16_t kSimulatedEnclaveProdId = 7;
inline constexpr uint16_t kSimulatedEnclaveSvn = 3;

// How long the collateral from SimulatedTdx::Collateral stays valid.
inline constexpr absl::Duration kSimulatedCollateralLifetime = absl::Hours(24 * 30);

class SimulatedTdx {
 public:
  // LoadOrCreate loads the PKI from `dir`, or creates it there when `dir`
  // has none. Creation writes into a fresh sibling folder and renames it to
  // `dir`, so concurrent callers end up with the same PKI. Private keys have
  // mode 0600.
  static absl::StatusOr<SimulatedTdx> LoadOrCreate(const std::string& dir);

  // GetQuote returns a signed version-4 TDX quote whose report data is
  // `report_data` (exactly 64 bytes). MRTD is SimulatedMrTd(), RTMRs are
  // zero, and the TD is not debuggable. With `pck_data`
  // kEncryptedPpidRsa3072 the quote carries an encrypted PPID instead of the
  // chain, so its verifier needs PckCertificates() from elsewhere.
  absl::StatusOr<Bytes> GetQuote(
      ByteSpan report_data,
      CertificationDataType pck_data = CertificationDataType::kPckCertChain) const;

  // GetSgxQuote returns a signed version-3 SGX quote whose enclave report
  // data is `report_data` (exactly 64 bytes). The enclave has MRENCLAVE
  // SimulatedMrEnclave(), MRSIGNER SimulatedMrSigner(), ISVPRODID
  // kSimulatedEnclaveProdId and ISVSVN kSimulatedEnclaveSvn, and is not
  // debuggable. `pck_data` works as for GetQuote.
  absl::StatusOr<Bytes> GetSgxQuote(
      ByteSpan report_data,
      CertificationDataType pck_data = CertificationDataType::kPckCertChain) const;

  // PckCertificates returns the PCK certificate, the PCK CA and the root, as
  // a PCS would serve them for a quote with an encrypted PPID.
  std::vector<crypto::Certificate> PckCertificates() const;

  // Collateral returns TCB info, QE identity and CRLs for the simulated
  // FMSPC, issued at `now` - 1 hour and valid for kSimulatedCollateralLifetime.
  // Quotes from GetQuote evaluate to UpToDate against it.
  absl::StatusOr<QuoteCollateral> Collateral(absl::Time now) const;

  // Collateral returns the collateral for quotes of `tee_type`: for kTdx the
  // same as Collateral(now), for kSgx TCB info "SGX" and QE identity "QE",
  // under which quotes from GetSgxQuote evaluate to UpToDate.
  absl::StatusOr<QuoteCollateral> Collateral(absl::Time now, TeeType tee_type) const;

  // VerifyOptionsAt returns options that trust the simulated root (and only
  // it) for the PCK chain and the collateral, at `now`.
  VerifyOptions VerifyOptionsAt(absl::Time now) const;

  // RootSpkiSha256 is the SHA-256 of the simulated root's
  // SubjectPublicKeyInfo.
  Bytes RootSpkiSha256() const { return chain_->root.SpkiSha256(); }

  // SimulatedMrTd is the fixed MRTD of every simulated quote: SHA-384 of
  // "vouch simulated TDX guest".
  static std::array<uint8_t, 48> SimulatedMrTd();

  // SimulatedMrEnclave and SimulatedMrSigner are the fixed MRENCLAVE and
  // MRSIGNER of every simulated SGX quote: SHA-256 of "vouch simulated SGX
  // enclave" and of "vouch simulated SGX enclave signer".
  static std::array<uint8_t, 32> SimulatedMrEnclave();
  static std::array<uint8_t, 32> SimulatedMrSigner();

 private:
  SimulatedTdx() = default;

  absl::Status Load(const std::string& dir);

  // Shared so that SimulatedTdx is copyable.
  std::shared_ptr<testing::TestPckChain> chain_;
  std::shared_ptr<EVP_PKEY> tcb_signing_key_;
  crypto::Certificate tcb_signing_;
};

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_SIMULATED_H_
