// The simulated SEV-SNP platform, for machines without SEV-SNP hardware.
//
// SimulatedSnp makes, on first use, a certificate chain shaped like AMD's:
// an ARK and an ASK (RSA-4096 keys, RSA-PSS SHA-384 signatures, CNs
// "ARK-Simulated" and "SEV-Simulated") and a VCEK (EC P-384, CN "SEV-VCEK",
// with AMD's TCB SPL and hwID extensions). It stores certificates and keys in
// a folder and signs version-3 attestation reports with the VCEK. Those
// reports go through the real VerifyReport path unchanged; they verify only
// where VerifyOptions::roots includes Root(), because the simulated ARK is
// pinned nowhere else.
#ifndef VOUCH_SNP_SIMULATED_H_
#define VOUCH_SNP_SIMULATED_H_

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/certificates.h"
#include "vouch/snp/report.h"

namespace vouch::snp {

// Files SimulatedSnp keeps in its folder. Private keys have mode 0600 and
// the folder 0700.
inline constexpr char kSimulatedArkFile[] = "ark.pem";
inline constexpr char kSimulatedAskFile[] = "ask.pem";
inline constexpr char kSimulatedVcekFile[] = "vcek.pem";
inline constexpr char kSimulatedArkKeyFile[] = "ark-key.pem";
inline constexpr char kSimulatedAskKeyFile[] = "ask-key.pem";
inline constexpr char kSimulatedVcekKeyFile[] = "vcek-key.pem";

// TCB of the simulated platform: REPORTED_TCB of its reports and the SPL
// extensions of its VCEK.
inline constexpr uint8_t kSimulatedBootLoaderSpl = 4;
inline constexpr uint8_t kSimulatedTeeSpl = 0;
inline constexpr uint8_t kSimulatedSnpSpl = 22;
inline constexpr uint8_t kSimulatedMicrocodeSpl = 213;

class SimulatedSnp {
 public:
  // LoadOrCreate loads the chain and keys from `dir`, or creates them there
  // when `dir` has no complete set (vcek.pem is written last). A lock file in
  // `dir` keeps concurrent callers from creating two different chains.
  static absl::StatusOr<SimulatedSnp> LoadOrCreate(const std::string& dir);

  // GetReport returns a signed version-3 report with `report_data` (exactly
  // 64 bytes) at the requested VMPL (0 to 3). It has policy 0x30000, a fixed
  // measurement (SimulatedMeasurement()) and a Milan CPUID. Its CHIP_ID is the
  // VCEK's hwID and its REPORTED_TCB is the VCEK's SPLs.
  absl::StatusOr<Bytes> GetReport(ByteSpan report_data, uint32_t vmpl = 0) const;

  // Certificates returns the VCEK, ASK and ARK, in that order.
  std::vector<crypto::Certificate> Certificates() const;

  // Root returns the simulated ARK as a TrustedRoot with product "simulated".
  TrustedRoot Root() const;

  // SimulatedMeasurement is the fixed MEASUREMENT of every simulated report:
  // SHA-384 of "vouch simulated SEV-SNP guest".
  static std::array<uint8_t, 48> SimulatedMeasurement();

 private:
  SimulatedSnp() = default;

  // Load reads the chain and the VCEK key from `dir` into this object.
  absl::Status Load(const std::string& dir);

  crypto::Certificate ark_;
  crypto::Certificate ask_;
  crypto::Certificate vcek_;
  std::shared_ptr<EVP_PKEY> vcek_key_;  // shared so that SimulatedSnp is copyable
  std::array<uint8_t, 64> chip_id_{};
  uint64_t tcb_raw_ = 0;  // REPORTED_TCB, from the VCEK's SPL extensions
};

}  // namespace vouch::snp

#endif  // VOUCH_SNP_SIMULATED_H_
