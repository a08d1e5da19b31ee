// Intel TCB info documents (PCS v4 "tcb" responses), SGX and TDX, versions
// 2 and 3, and the signed-JSON envelope they share with QE identities.
//
// Source: Intel "SGX and TDX PCS API" v4, "TCB Info" and "Enclave
// Identity" response models. A document is
//   {"tcbInfo":{...},"signature":"<hex r||s>"}
// where the ECDSA P-256 SHA-256 signature, by the Intel SGX TCB Signing key,
// covers the exact bytes of the "tcbInfo" value as they appear in the
// response. Those bytes are therefore kept and verified as received, never
// re-serialised.
#ifndef VOUCH_DCAP_TCB_INFO_H_
#define VOUCH_DCAP_TCB_INFO_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/tcb_evaluation.h"

namespace vouch::dcap {

// Upper bound for a collateral JSON document (real ones are under 20 KiB).
inline constexpr size_t kMaxCollateralJsonBytes = 1024 * 1024;

inline constexpr std::string_view kTcbSigningCommonName = "Intel SGX TCB Signing";

// SignedJson is a signed document split into its signed body and signature.
struct SignedJson {
  std::string body;  // the exact bytes of the body value
  Bytes signature;   // 64 bytes, r||s big-endian
};

// SplitSignedJson checks that `document` is a JSON object with exactly the
// members `body_key` (an object) and "signature" (64 bytes in hex), with no
// repeated member name at any depth, and returns the body's exact bytes and
// the signature. Errors are InvalidArgument.
absl::StatusOr<SignedJson> SplitSignedJson(std::string_view document, std::string_view body_key);

// VerifyTcbSigningChain finds, among `certificates`, an Intel SGX TCB
// Signing certificate that verifies `signed_json` (ECDSA P-256 SHA-256) and
// is valid at `now`, and a root that issued it, is self-signed, is valid at
// `now` and whose SubjectPublicKeyInfo SHA-256 is in `trusted_roots`.
// Intel re-issued the TCB Signing certificate in May 2025 with the same key
// and serial (2018-05-21..2025-05-21, then 2025-05-06..2032-05-06), so any
// certificate with that name is a candidate and the validity check picks
// the one for `now`. `what` names the document in errors. Errors:
// Unauthenticated for a signature, chain or pin failure, FailedPrecondition
// when no candidate is valid at `now` or none is present.
absl::Status VerifyTcbSigningChain(const SignedJson& signed_json,
                                   const std::vector<crypto::Certificate>& certificates,
                                   const std::vector<Bytes>& trusted_roots, absl::Time now,
                                   std::string_view what);

// IntelRootSpkiSha256 returns kIntelSgxRootCaSpkiSha256Hex decoded.
Bytes IntelRootSpkiSha256();

// TcbComponent is one entry of sgxtcbcomponents or tdxtcbcomponents.
struct TcbComponent {
  uint8_t svn = 0;
  std::string category{};  // optional in the document
  std::string type{};      // optional in the document
};

// TcbLevel is one entry of tcbLevels.
struct TcbLevel {
  std::array<uint8_t, 16> sgx_components{};
  uint16_t pce_svn = 0;
  // tdx_components is set for TDX TCB info (version 3, id "TDX").
  std::optional<std::array<uint8_t, 16>> tdx_components{};
  absl::Time tcb_date{};
  std::string tcb_date_text{};
  TcbStatus status = TcbStatus::kUpToDate;
  std::vector<std::string> advisory_ids{};
};

// TdxModule is the "tdxModule" object or the identity part of a
// "tdxModuleIdentities" entry.
struct TdxModule {
  Bytes mrsigner{};         // 48 bytes
  Bytes attributes{};       // 8 bytes
  Bytes attributes_mask{};  // 8 bytes
};

// TdxModuleTcbLevel is one TCB level of a TDX module identity.
struct TdxModuleTcbLevel {
  uint8_t isv_svn = 0;
  absl::Time tcb_date{};
  std::string tcb_date_text{};
  TcbStatus status = TcbStatus::kUpToDate;
  std::vector<std::string> advisory_ids{};
};

struct TdxModuleIdentity {
  std::string id{};  // "TDX_01", "TDX_03", ...
  TdxModule module{};
  std::vector<TdxModuleTcbLevel> tcb_levels{};
};

// TcbInfo is a parsed TCB info document.
struct TcbInfo {
  TeeType tee_type = TeeType::kSgx;  // "id"; version 2 has no id and is SGX
  uint32_t version = 0;              // 2 or 3
  absl::Time issue_date{};
  absl::Time next_update{};
  std::string issue_date_text{};
  std::string next_update_text{};
  Bytes fmspc{};   // 6 bytes
  Bytes pce_id{};  // 2 bytes
  uint32_t tcb_type = 0;
  uint32_t tcb_evaluation_data_number = 0;
  std::optional<TdxModule> tdx_module{};                 // TDX only
  std::vector<TdxModuleIdentity> tdx_module_identities{};  // TDX only, may be empty
  std::vector<TcbLevel> tcb_levels{};                    // in document order

  SignedJson signed_json{};

  // Describe returns "TDX tcb info fmspc 00806f050000 v3".
  std::string Describe() const;
};

// ParseTcbInfo parses a TCB info document (see SplitSignedJson). It checks
// every member that the evaluation reads: types, hex lengths, RFC 3339
// dates, 16 components per level, a known tcbStatus, version 2 (SGX only)
// or 3, tcbType 0, and for TDX the tdxModule object and the 16 TDX
// components per level. Members it does not read are ignored. Errors are
// InvalidArgument naming the member.
absl::StatusOr<TcbInfo> ParseTcbInfo(std::string_view document);

// VerifyTcbInfo checks the signature and signing chain (see
// VerifyTcbSigningChain) and that `now` lies in [issueDate, nextUpdate]
// (FailedPrecondition naming the document and both dates).
absl::Status VerifyTcbInfo(const TcbInfo& info,
                           const std::vector<crypto::Certificate>& certificates,
                           const std::vector<Bytes>& trusted_roots, absl::Time now);

// CheckCollateralWindow returns FailedPrecondition "<what>: issued <issue>,
// next update <next>, not valid at <now>" when `now` is outside the window.
absl::Status CheckCollateralWindow(std::string_view what, absl::Time issue_date,
                                   absl::Time next_update, absl::Time now);

namespace internal {

// Readers for members of Intel's collateral JSON, shared by tcb_info.cc and
// qe_identity.cc. Each returns InvalidArgument naming `context` and the
// member when it is missing or has the wrong type, size or range.
absl::StatusOr<const nlohmann::json*> Member(const nlohmann::json& object, std::string_view name,
                                             std::string_view context);
absl::StatusOr<std::string> StringMember(const nlohmann::json& object, std::string_view name,
                                         std::string_view context);
absl::StatusOr<uint64_t> UintMember(const nlohmann::json& object, std::string_view name,
                                    uint64_t max, std::string_view context);
absl::StatusOr<Bytes> HexMember(const nlohmann::json& object, std::string_view name,
                                size_t size, std::string_view context);
absl::StatusOr<absl::Time> DateMember(const nlohmann::json& object, std::string_view name,
                                      std::string_view context, std::string* text);
absl::StatusOr<TcbStatus> StatusMember(const nlohmann::json& object, std::string_view context);
absl::StatusOr<std::vector<std::string>> AdvisoryIds(const nlohmann::json& object,
                                                     std::string_view context);

}  // namespace internal

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_TCB_INFO_H_
