// Intel DCAP quotes (SGX and TDX): parsing only.
//
// The layout is Intel's DCAP quote format (the ECDSA quote library API for
// version 3, the TDX DCAP quoting library API for versions 4 and 5), checked
// against the real quotes in the test vectors. ParseQuote checks the format;
// verify.h checks the signatures, the PCK chain and the TCB.
//
// Quote v3 (SGX) and v4 (SGX or TDX):
//   header (48) | report body (SGX 384, TDX 1.0 584) | u32 signature data size |
//   signature data
// Quote v5 (SGX or TDX):
//   header (48) | u16 body type | u32 body size | body (1: SGX 384, 2: TDX 1.0
//   584, 3: TDX 1.5 648) | u32 signature data size | signature data
// The quote signature covers everything before the signature data size
// (for v5 that includes the body type and size).
//
// ECDSA-256 signature data:
//   quote signature r||s (64) | attestation key x||y (64) |
//   v3: QE report (384) | QE report signature (64) | u16 QE auth data size |
//       QE auth data | certification data
//   v4, v5: certification data of type 6, whose data is the QE report, its
//       signature, the QE auth data and a nested certification data
//   certification data: u16 type | u32 size | data
//     type 5: the PCK certificate chain in PEM (leaf, intermediate CA, root)
//     type 3: encrypted PPID (RSA-3072, 384) | CPUSVN (16) | PCE SVN (2) |
//             PCE ID (2); the PCK chain must then come from collateral
//
// Trailing bytes: bytes after the end that the length fields give are
// outside every signature. Real quotes carry zero padding (fixed 8000-byte
// buffers) and some carry other bytes. ParseQuote accepts them up to
// kMaxQuoteInputBytes of input, counts them in `trailing_bytes`, and drops
// them: `raw` holds only the quote's own bytes, so nothing downstream (claims
// included) can read them.
#ifndef VOUCH_DCAP_QUOTE_H_
#define VOUCH_DCAP_QUOTE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/dcap/tcb_evaluation.h"

namespace vouch::dcap {

inline constexpr size_t kMaxQuoteInputBytes = 64 * 1024;
inline constexpr size_t kQuoteHeaderSize = 48;
inline constexpr size_t kSgxReportBodySize = 384;
inline constexpr size_t kTdx10ReportBodySize = 584;
inline constexpr size_t kTdx15ReportBodySize = 648;
inline constexpr size_t kEcdsa256SignatureSize = 64;  // r||s, big-endian
inline constexpr size_t kEcdsa256KeySize = 64;        // x||y, big-endian
inline constexpr size_t kEncryptedPpidSize = 384;     // RSA-3072 OAEP

// Header attestation_key_type 2: ECDSA-256-with-P-256 curve. Type 3
// (ECDSA-384) is defined but never produced by Intel's quoting enclaves.
inline constexpr uint16_t kAttestationKeyTypeEcdsaP256 = 2;

// Intel's quoting enclave vendor id, 939A7233-F79C-4CA9-940A-0DB3957F0607.
inline constexpr std::array<uint8_t, 16> kIntelQeVendorId = {
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
    0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

// Header tee_type values (TeeType is in tcb_evaluation.h). Version 3 quotes
// have a reserved zero field there, which reads as SGX.
inline constexpr uint32_t kTeeTypeSgxValue = 0x00000000;
inline constexpr uint32_t kTeeTypeTdxValue = 0x00000081;

// Body type of the version-5 body descriptor. Versions 3 and 4 get the
// equivalent value from tee_type.
enum class BodyType : uint16_t { kSgx = 1, kTdx10 = 2, kTdx15 = 3 };

enum class CertificationDataType : uint16_t {
  kEncryptedPpidRsa3072 = 3,
  kPckCertChain = 5,
  kQeReportCertificationData = 6,
};

// SGX ATTRIBUTES.FLAGS bits of the enclave SECS.
inline constexpr uint64_t kSgxAttributeDebug = uint64_t{1} << 1;
inline constexpr uint64_t kSgxAttributeMode64Bit = uint64_t{1} << 2;
inline constexpr uint64_t kSgxAttributeProvisionKey = uint64_t{1} << 4;
inline constexpr uint64_t kSgxAttributeKss = uint64_t{1} << 7;

// TDX TD ATTRIBUTES bits, as the TDX module defines them (Linux names them
// DEBUG, SEPT_VE_DISABLE, PKS, KL and PERFMON).
inline constexpr uint64_t kTdAttributeDebug = uint64_t{1} << 0;
inline constexpr uint64_t kTdAttributeSeptVeDisable = uint64_t{1} << 28;
inline constexpr uint64_t kTdAttributeProtectionKeys = uint64_t{1} << 30;
inline constexpr uint64_t kTdAttributeKeyLocker = uint64_t{1} << 31;
inline constexpr uint64_t kTdAttributePerfmon = uint64_t{1} << 63;

// QuoteHeader is the 48-byte header.
struct QuoteHeader {
  uint16_t version = 0;               // 0
  uint16_t attestation_key_type = 0;  // 2
  TeeType tee_type = TeeType::kSgx;   // 4 (reserved in version 3)
  uint16_t qe_svn = 0;                // 8, version 3 only (reserved later)
  uint16_t pce_svn = 0;               // 10, version 3 only (reserved later)
  std::array<uint8_t, 16> qe_vendor_id{};  // 12
  std::array<uint8_t, 20> user_data{};     // 28: the first 16 bytes are the QE's platform id
};

// SgxReportBody is the 384-byte SGX REPORTBODY, used for SGX quote bodies
// and for the QE report. Reserved fields must be zero.
struct SgxReportBody {
  std::array<uint8_t, 16> cpu_svn{};          // 0
  uint32_t misc_select = 0;                   // 16
  std::array<uint8_t, 16> isv_ext_prod_id{};  // 32
  std::array<uint8_t, 16> attributes{};       // 48: FLAGS (u64 LE) | XFRM (u64 LE)
  std::array<uint8_t, 32> mr_enclave{};       // 64
  std::array<uint8_t, 32> mr_signer{};        // 128
  std::array<uint8_t, 64> config_id{};        // 192
  uint16_t isv_prod_id = 0;                   // 256
  uint16_t isv_svn = 0;                       // 258
  uint16_t config_svn = 0;                    // 260
  std::array<uint8_t, 16> isv_family_id{};    // 304
  std::array<uint8_t, 64> report_data{};      // 320

  uint64_t attribute_flags() const;
  uint64_t xfrm() const;
  bool debug() const { return (attribute_flags() & kSgxAttributeDebug) != 0; }
};

// TdReportBody is the TDX TD report body of a quote: 584 bytes for TDX 1.0,
// 648 for TDX 1.5 (version-5 body type 3), which adds tee_tcb_svn2 and
// mr_service_td.
struct TdReportBody {
  std::array<uint8_t, 16> tee_tcb_svn{};      // 0
  std::array<uint8_t, 48> mr_seam{};          // 16
  std::array<uint8_t, 48> mr_signer_seam{};   // 64
  std::array<uint8_t, 8> seam_attributes{};   // 112
  std::array<uint8_t, 8> td_attributes{};     // 120
  std::array<uint8_t, 8> xfam{};              // 128
  std::array<uint8_t, 48> mr_td{};            // 136
  std::array<uint8_t, 48> mr_config_id{};     // 184
  std::array<uint8_t, 48> mr_owner{};         // 232
  std::array<uint8_t, 48> mr_owner_config{};  // 280
  std::array<std::array<uint8_t, 48>, 4> rtmr{};  // 328, 376, 424, 472
  std::array<uint8_t, 64> report_data{};      // 520
  std::optional<std::array<uint8_t, 16>> tee_tcb_svn2;   // 584, TDX 1.5 only
  std::optional<std::array<uint8_t, 48>> mr_service_td;  // 600, TDX 1.5 only

  uint64_t td_attribute_bits() const;  // td_attributes as a little-endian u64
  bool debug() const { return (td_attribute_bits() & kTdAttributeDebug) != 0; }
};

// EncryptedPpid is certification data type 3.
struct EncryptedPpid {
  Bytes encrypted_ppid;  // 384 bytes
  std::array<uint8_t, 16> cpu_svn{};
  uint16_t pce_svn = 0;
  uint16_t pce_id = 0;
};

// QeCertification is what certifies the attestation key: the QE report (an
// SGX report whose report_data binds the key), its signature by the PCK key,
// the QE authentication data, and the PCK certification data (type 5 or 3).
struct QeCertification {
  SgxReportBody qe_report;
  Bytes qe_report_raw;  // the 384 signed bytes
  std::array<uint8_t, kEcdsa256SignatureSize> qe_report_signature{};
  Bytes qe_auth_data;
  CertificationDataType pck_data_type = CertificationDataType::kPckCertChain;
  std::string pck_chain_pem;                   // type 5
  std::optional<EncryptedPpid> encrypted_ppid;  // type 3
};

// Quote is a parsed DCAP quote. Exactly one of sgx_body and td_body is set.
struct Quote {
  QuoteHeader header;
  BodyType body_type = BodyType::kSgx;
  std::optional<SgxReportBody> sgx_body;
  std::optional<TdReportBody> td_body;
  std::array<uint8_t, kEcdsa256SignatureSize> signature{};
  std::array<uint8_t, kEcdsa256KeySize> attestation_key{};
  // Type of the outermost certification data: 5 or 3 in version 3, 6 later.
  CertificationDataType certification_data_type = CertificationDataType::kPckCertChain;
  QeCertification qe;
  size_t signed_size = 0;     // header and body (with the v5 descriptor)
  size_t trailing_bytes = 0;  // bytes after the quote, dropped (see above)
  Bytes raw;                  // the quote's own bytes, without trailing bytes

  TeeType tee_type() const { return header.tee_type; }
  // signed_bytes views the header and body, the input of the quote signature.
  ByteSpan signed_bytes() const { return ByteSpan(raw).first(signed_size); }
  // report_data returns the body's 64-byte report data.
  ByteSpan report_data() const;
  // has_pck_chain is true when the quote carries the PCK chain (type 5).
  bool has_pck_chain() const { return qe.pck_data_type == CertificationDataType::kPckCertChain; }
};

// ParseQuote parses a DCAP quote and checks its format, not its signatures.
// It rejects with InvalidArgument, naming the field, its offset and the
// expected and found values: input over kMaxQuoteInputBytes, a version other
// than 3, 4 or 5, an attestation key type other than 2, a tee_type other than
// 0 or 0x81 (0 only in version 3), a QE vendor id other than Intel's, a v5
// body type or size that does not match its tee_type, non-zero reserved
// fields, certification data types other than 3, 5 and 6 (6 only as the
// outer type of versions 4 and 5, and required there), nested sizes that do
// not add up exactly to the enclosing size, and every truncation.
absl::StatusOr<Quote> ParseQuote(ByteSpan data);

// ParseSgxReportBody parses exactly 384 bytes of SGX REPORTBODY.
absl::StatusOr<SgxReportBody> ParseSgxReportBody(ByteSpan data, std::string_view context);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_QUOTE_H_
