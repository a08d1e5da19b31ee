// AMD SEV-SNP attestation report parsing.
//
// Layout source: AMD "SEV Secure Nested Paging Firmware ABI Specification"
// (publication 56860), revision 1.57, Table 22 "ATTESTATION_REPORT Structure",
// Table 9 (guest policy), Tables 3 and 4 (TCB_VERSION), and the ECDSA P-384
// SHA-384 signature format table. Versions 2, 3 and 5 are accepted. Version 3
// adds CPUID family/model/stepping at 0x188. Version 5 adds LAUNCH_MIT_VECTOR
// at 0x1F8 and CURRENT_MIT_VECTOR at 0x200, which revision 1.57 still lists
// as reserved; those offsets match a real Genoa version-5 report.
#ifndef VOUCH_SNP_REPORT_H_
#define VOUCH_SNP_REPORT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"

namespace vouch::snp {

inline constexpr size_t kReportSize = 0x4A0;         // 1184 bytes
inline constexpr size_t kSignedSize = 0x2A0;         // bytes 0x000..0x29F are signed
inline constexpr uint32_t kEcdsaP384Sha384 = 1;      // SIGNATURE_ALGO value
inline constexpr size_t kSignatureComponentSize = 72;  // R and S, little-endian, zero-extended
inline constexpr uint8_t kTurinCpuidFamily = 0x1A;
inline constexpr uint8_t kZen3Zen4CpuidFamily = 0x19;  // Milan, Genoa (and Bergamo, Siena)

// Guest policy bits (Table 9).
inline constexpr uint64_t kPolicySmt = uint64_t{1} << 16;
inline constexpr uint64_t kPolicyReservedOne = uint64_t{1} << 17;
inline constexpr uint64_t kPolicyMigrateMa = uint64_t{1} << 18;
inline constexpr uint64_t kPolicyDebug = uint64_t{1} << 19;
inline constexpr uint64_t kPolicySingleSocket = uint64_t{1} << 20;

// SIGNING_KEY (bits 4:2 at offset 0x48): which key signed the report.
// Values 2 to 6 are reserved and rejected by ParseReport.
enum class SigningKey : uint8_t { kVcek = 0, kVlek = 1, kNone = 7 };

std::string_view SigningKeyName(SigningKey key);

// TcbVersion is one TCB_VERSION field, kept raw and decoded. The byte layout
// depends on the product. Milan and Genoa (Table 3) have BOOT_LOADER in byte
// 0, TEE in byte 1, SNP in byte 6 and MICROCODE in byte 7. Turin (Table 4)
// has FMC in byte 0, BOOT_LOADER in byte 1, TEE in byte 2, SNP in byte 3 and
// MICROCODE in byte 7. `fmc` is zero outside Turin.
struct TcbVersion {
  uint64_t raw = 0;
  uint8_t boot_loader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;
  uint8_t fmc = 0;

  static TcbVersion Decode(uint64_t raw, bool turin);
  static uint64_t Encode(uint8_t boot_loader, uint8_t tee, uint8_t snp, uint8_t microcode,
                         uint8_t fmc, bool turin);
};

// AttestationReport is every field of ATTESTATION_REPORT with the
// specification's names, plus a copy of the raw bytes.
struct AttestationReport {
  uint32_t version = 0;                  // 0x000
  uint32_t guest_svn = 0;                // 0x004
  uint64_t policy = 0;                   // 0x008
  std::array<uint8_t, 16> family_id{};   // 0x010
  std::array<uint8_t, 16> image_id{};    // 0x020
  uint32_t vmpl = 0;                     // 0x030
  uint32_t signature_algo = 0;           // 0x034
  TcbVersion current_tcb;                // 0x038
  uint64_t platform_info = 0;            // 0x040
  bool author_key_en = false;            // 0x048 bit 0
  bool mask_chip_key = false;            // 0x048 bit 1
  SigningKey signing_key = SigningKey::kVcek;  // 0x048 bits 4:2
  std::array<uint8_t, 64> report_data{};        // 0x050
  std::array<uint8_t, 48> measurement{};        // 0x090
  std::array<uint8_t, 32> host_data{};          // 0x0C0
  std::array<uint8_t, 48> id_key_digest{};      // 0x0E0
  std::array<uint8_t, 48> author_key_digest{};  // 0x110
  std::array<uint8_t, 32> report_id{};          // 0x140
  std::array<uint8_t, 32> report_id_ma{};       // 0x160
  TcbVersion reported_tcb;                      // 0x180
  std::optional<uint8_t> cpuid_fam_id;          // 0x188, version 3 and later
  std::optional<uint8_t> cpuid_mod_id;          // 0x189, version 3 and later
  std::optional<uint8_t> cpuid_step;            // 0x18A, version 3 and later
  std::array<uint8_t, 64> chip_id{};            // 0x1A0 (Turin uses the first 8 bytes)
  TcbVersion committed_tcb;                     // 0x1E0
  uint8_t current_build = 0;                    // 0x1E8
  uint8_t current_minor = 0;                    // 0x1E9
  uint8_t current_major = 0;                    // 0x1EA
  uint8_t committed_build = 0;                  // 0x1EC
  uint8_t committed_minor = 0;                  // 0x1ED
  uint8_t committed_major = 0;                  // 0x1EE
  TcbVersion launch_tcb;                        // 0x1F0
  std::optional<uint64_t> launch_mit_vector;    // 0x1F8, version 5 and later
  std::optional<uint64_t> current_mit_vector;   // 0x200, version 5 and later
  std::array<uint8_t, kSignatureComponentSize> signature_r{};  // 0x2A0, little-endian
  std::array<uint8_t, kSignatureComponentSize> signature_s{};  // 0x2E8, little-endian
  Bytes raw;                                    // all 1184 bytes as received

  // signed_bytes views bytes 0x000..0x29F of `raw`, the input of the report signature.
  ByteSpan signed_bytes() const { return ByteSpan(raw).first(kSignedSize); }

  // is_turin is true for version 3+ reports whose CPUID family is 0x1A.
  bool is_turin() const { return cpuid_fam_id.has_value() && *cpuid_fam_id == kTurinCpuidFamily; }

  // hardware_id returns the part of CHIP_ID that a VCEK's hwID extension
  // certifies: the first 8 bytes on Turin, all 64 bytes otherwise.
  ByteSpan hardware_id() const;

  bool debug_allowed() const { return (policy & kPolicyDebug) != 0; }
  bool smt_allowed() const { return (policy & kPolicySmt) != 0; }
  bool migrate_ma_allowed() const { return (policy & kPolicyMigrateMa) != 0; }
  bool single_socket() const { return (policy & kPolicySingleSocket) != 0; }
};

// ParseReport parses a raw ATTESTATION_REPORT and checks its format only,
// not its signature (see VerifyReport). Each of these is rejected with
// kInvalidArgument and its own message: a length other than 1184, a version
// other than 2, 3 or 5, and a SIGNATURE_ALGO other than 1 (ECDSA P-384 with
// SHA-384). So are reserved SIGNING_KEY values, non-zero reserved fields and
// non-zero bytes in the signature's reserved area. Policy bits are left to
// the appraisal.
absl::StatusOr<AttestationReport> ParseReport(ByteSpan data);

// SerializeReport writes `report` in the ATTESTATION_REPORT layout, from its
// fields (not from `raw`), with every reserved byte zero and the
// version-gated fields written only for the versions that have them. TCB
// fields are written from their `raw` values. The simulated platform and the
// tests build reports with it.
Bytes SerializeReport(const AttestationReport& report);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_REPORT_H_
