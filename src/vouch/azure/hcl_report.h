// Azure confidential VM HCL reports (vTPM NV index 0x01400001).
//
// Azure's paravisor (the HCL) requests a hardware report at boot and
// whenever the guest writes NV index 0x01400002, and stores the result in NV
// index 0x01400001. Layout (IGVM attestation report, as Azure's
// confidential-computing-cvm-guest-attestation client library reads it; all
// integers little-endian):
//
//   0     header (32): signature "HCLA", version, report_size, request_type,
//         status, reserved (12)
//   32    hardware report (1184): an SEV-SNP ATTESTATION_REPORT, or a TDX
//         TDREPORT_STRUCT (1024) followed by 160 zero bytes
//   1216  runtime-data header (20): data_size, version, report_type
//         (2 = SEV-SNP, 4 = TDX), hash_type (1 = SHA-256, 2 = SHA-384,
//         3 = SHA-512), runtime_data_size
//   1236  runtime data: a JSON object with "keys" (a JWK set with HCLAkPub and
//         HCLEkPub), "vm-configuration" and "user-data"
//
// report_size covers everything up to the end of the runtime data. The NV
// index is larger than the report, so the rest is zero padding.
//
// Binding: the hardware report's REPORT_DATA starts with the hash (hash_type)
// of the exact runtime-data bytes. The hardware report is signed (SEV-SNP) or
// quoted (TDX), so the runtime claims are as trustworthy as the hardware
// report once the binding holds. Keys come only from BoundRuntimeClaims,
// which only VerifyRuntimeDataBinding returns.
#ifndef VOUCH_AZURE_HCL_REPORT_H_
#define VOUCH_AZURE_HCL_REPORT_H_

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::azure {

// vTPM indices and handles of Azure confidential VMs.
inline constexpr uint32_t kHclReportNvIndex = 0x01400001;
inline constexpr uint32_t kHclUserDataNvIndex = 0x01400002;
inline constexpr uint32_t kAkPersistentHandle = 0x81000003;
// Size of user data written to kHclUserDataNvIndex; it appears in the runtime
// claims as "user-data" (hex).
inline constexpr size_t kHclUserDataSize = 64;

inline constexpr size_t kHclHeaderSize = 32;
inline constexpr size_t kHclHardwareReportSize = 1184;
inline constexpr size_t kHclRuntimeHeaderSize = 20;
inline constexpr size_t kHclRuntimeDataOffset =
    kHclHeaderSize + kHclHardwareReportSize + kHclRuntimeHeaderSize;
inline constexpr size_t kTdReportSize = 1024;
// Upper bound on the runtime data and on the whole input (the NV index is
// 2600 bytes on current Azure VMs).
inline constexpr size_t kMaxHclRuntimeDataSize = 16 * 1024;
inline constexpr size_t kMaxHclInputSize = kHclRuntimeDataOffset + kMaxHclRuntimeDataSize;

enum class HclReportType : uint32_t { kSnp = 2, kTdx = 4 };

std::string_view HclReportTypeName(HclReportType type);  // "sevsnpvm" or "tdxvm"

// TdReport contains the fields of a TDX TDREPORT_STRUCT (Intel TDX Module ABI,
// "TDREPORT_STRUCT") that a TD quote body repeats.
struct TdReport {
  std::array<uint8_t, 16> cpu_svn{};          // REPORTMACSTRUCT 32
  std::array<uint8_t, 64> report_data{};      // REPORTMACSTRUCT 128
  std::array<uint8_t, 16> tee_tcb_svn{};      // TEE_TCB_INFO 8 (TDREPORT 264)
  std::array<uint8_t, 48> mr_seam{};          // TEE_TCB_INFO 24
  std::array<uint8_t, 48> mr_signer_seam{};   // TEE_TCB_INFO 72
  std::array<uint8_t, 8> seam_attributes{};   // TEE_TCB_INFO 120
  std::array<uint8_t, 8> td_attributes{};     // TDINFO 0 (TDREPORT 512)
  std::array<uint8_t, 8> xfam{};              // TDINFO 8
  std::array<uint8_t, 48> mr_td{};            // TDINFO 16
  std::array<uint8_t, 48> mr_config_id{};     // TDINFO 64
  std::array<uint8_t, 48> mr_owner{};         // TDINFO 112
  std::array<uint8_t, 48> mr_owner_config{};  // TDINFO 160
  std::array<std::array<uint8_t, 48>, 4> rtmr{};  // TDINFO 208
};

// ParseTdReport reads a 1024-byte TDREPORT_STRUCT. REPORTTYPE must be TDX
// (type 0x81, subtype 0, version 0 or 1).
absl::StatusOr<TdReport> ParseTdReport(ByteSpan raw);

struct HclReport {
  uint32_t version = 0;       // header version: 1 or 2
  uint32_t request_type = 0;  // 2 on every report seen so far
  HclReportType report_type = HclReportType::kSnp;
  crypto::HashAlg hash_alg = crypto::HashAlg::kSha256;
  uint32_t runtime_data_version = 0;
  // The hardware report: 1184 bytes for SEV-SNP, the 1024-byte TDREPORT for
  // TDX (without the padding).
  Bytes hardware_report;
  // The 64-byte REPORT_DATA of the hardware report.
  std::array<uint8_t, 64> report_data{};
  // The runtime data exactly as bound (the JSON text).
  Bytes runtime_data;
};

// ParseHclReport reads an HCL report and checks its format. It requires
// signature "HCLA", header version 1 or 2, status 0, zero reserved bytes, and
// report_size and data_size consistent with runtime_data_size and the input.
// It requires request type 2, report type 2 or 4 matching the hardware
// report (an SEV-SNP report that parses, or a TDREPORT with zero padding),
// hash type 1 to 3, and zero bytes after report_size. It does not check the
// binding or any signature. Errors are kInvalidArgument naming the field.
absl::StatusOr<HclReport> ParseHclReport(ByteSpan raw);

// A key from the bound runtime claims.
struct RuntimeKey {
  std::string kid;
  nlohmann::json jwk;  // as in the runtime data
  crypto::SslPtr<EVP_PKEY> key;
};

// BoundRuntimeClaims are runtime claims whose hash the hardware report
// carries.
struct BoundRuntimeClaims {
  nlohmann::json claims;  // the whole runtime-data JSON object
  std::vector<RuntimeKey> keys;

  // Key returns the key with `kid`, or nullptr.
  const RuntimeKey* Key(std::string_view kid) const;
};

// VerifyRuntimeDataBinding checks that REPORT_DATA starts with the hash of
// the runtime data, else kUnauthenticated. The rest of REPORT_DATA is not
// checked because Azure leaves it zero. It then parses the runtime data as
// a JSON object and reads every JWK of its "keys" member (kInvalidArgument
// for malformed JSON, a key without "kid", a duplicate "kid" or a key that
// does not parse).
absl::StatusOr<BoundRuntimeClaims> VerifyRuntimeDataBinding(const HclReport& report);

inline constexpr char kHclAkKid[] = "HCLAkPub";
inline constexpr char kHclEkKid[] = "HCLEkPub";

// AttestationKey returns HCLAkPub from bound claims and checks that it fits
// an attestation key: RSA of at least 2048 bits or EC P-256/P-384, and, when
// the JWK has "key_ops", only "sign" or "verify" among them (an AK never
// encrypts). kInvalidArgument when the key is missing, kPermissionDenied when
// its attributes do not fit.
absl::StatusOr<EVP_PKEY*> AttestationKey(const BoundRuntimeClaims& claims);

}  // namespace vouch::azure

#endif  // VOUCH_AZURE_HCL_REPORT_H_
