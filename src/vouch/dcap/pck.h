// Intel PCK certificates: the SGX extensions and the PCK chain.
//
// The layout below is Intel's PCK certificate profile ("SGX Extensions"), as
// the real PCK certificates in the test vectors carry it. A PCK certificate
// is issued by the Intel SGX PCK Platform CA (multi-package platforms, TDX)
// or the Intel SGX PCK Processor CA (single-package platforms), both issued
// by the Intel SGX Root CA. Its extension 1.2.840.113741.1.13.1 is a
// SEQUENCE of (OID, value) SEQUENCEs:
//   .1 PPID OCTET STRING (16)
//   .2 TCB SEQUENCE of (OID, value): .2.1-.2.16 SGX TCB component SVNs
//      INTEGER 0-255, .2.17 PCESVN INTEGER 0-65535, .2.18 CPUSVN OCTET
//      STRING (16)
//   .3 PCE-ID OCTET STRING (2)
//   .4 FMSPC OCTET STRING (6)
//   .5 SGX Type ENUMERATED (0 Standard, 1 Scalable, 2 Scalable with integrity)
//   .6 PlatformInstanceID OCTET STRING (16), Platform CA certificates only
//   .7 Configuration SEQUENCE of (OID, BOOLEAN): .7.1 dynamicPlatform,
//      .7.2 cachedKeys, .7.3 SMTEnabled (each optional), Platform CA only
#ifndef VOUCH_DCAP_PCK_H_
#define VOUCH_DCAP_PCK_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"

namespace vouch::dcap {

inline constexpr std::string_view kOidSgxExtensions = "1.2.840.113741.1.13.1";

inline constexpr std::string_view kPckPlatformCaCommonName = "Intel SGX PCK Platform CA";
inline constexpr std::string_view kPckProcessorCaCommonName = "Intel SGX PCK Processor CA";
inline constexpr std::string_view kPckCommonName = "Intel SGX PCK Certificate";

enum class SgxType { kStandard = 0, kScalable = 1, kScalableWithIntegrity = 2 };

std::string_view SgxTypeName(SgxType type);  // "Standard", "Scalable", ...

// PlatformConfiguration is extension .7; each flag is optional in it.
struct PlatformConfiguration {
  std::optional<bool> dynamic_platform;
  std::optional<bool> cached_keys;
  std::optional<bool> smt_enabled;
};

// PckExtensions are the SGX extensions of a PCK certificate.
struct PckExtensions {
  Bytes ppid;                                   // 16 bytes
  std::array<uint8_t, 16> sgx_tcb_components{};  // sgxTcbComp01Svn..16 at index 0..15
  uint16_t pce_svn = 0;
  std::array<uint8_t, 16> cpu_svn{};
  Bytes pce_id;  // 2 bytes
  Bytes fmspc;   // 6 bytes
  SgxType sgx_type = SgxType::kStandard;
  std::optional<Bytes> platform_instance_id;  // 16 bytes
  std::optional<PlatformConfiguration> configuration;
};

// ReadPckExtensions decodes extension 1.2.840.113741.1.13.1 with OpenSSL's
// ASN.1 decoder. Each element must have the type and length listed above;
// PPID, TCB (all 18 members), PCE-ID, FMSPC and SGX Type are required, and a
// repeated OID is rejected. OIDs that the profile does not define are
// ignored, so that later additions by Intel do not break verification.
// Errors are InvalidArgument and name the OID.
absl::StatusOr<PckExtensions> ReadPckExtensions(const crypto::Certificate& pck);

// PckCaKind is the PCK certificate's issuer.
enum class PckCaKind { kPlatform, kProcessor };

std::string_view PckCaKindName(PckCaKind kind);  // "Platform", "Processor"

// PckChain is a PCK certificate chain that verified up to the pinned root.
struct PckChain {
  crypto::Certificate pck;
  crypto::Certificate intermediate;  // the PCK Platform CA or Processor CA
  crypto::Certificate root;
  PckCaKind ca_kind = PckCaKind::kPlatform;

  // certificates returns {pck, intermediate, root}, leaf first.
  std::vector<crypto::Certificate> certificates() const { return {pck, intermediate, root}; }
};

struct PckChainOptions {
  absl::Time now;
  // trusted_root_spki_sha256 lists the SHA-256 of the SubjectPublicKeyInfo
  // of each trusted root. The default is the production Intel SGX Root CA
  // only; tests add their own roots.
  std::vector<Bytes> trusted_root_spki_sha256 = {IntelSgxRootCaSpkiSha256()};

  static Bytes IntelSgxRootCaSpkiSha256();
};

// VerifyPckChain verifies `chain` = {PCK, PCK CA, root} (leaf first,
// exactly three certificates), in this order:
// - the root's key is pinned (Unauthenticated "... is not the pinned Intel
//   SGX Root CA") and the root is self-signed;
// - the intermediate's subject CN is the Platform CA's or the Processor
//   CA's, and the leaf's CN is "Intel SGX PCK Certificate";
// - CA basic constraints on the root and the intermediate, none on the leaf;
//   key usage keyCertSign on both CAs and digitalSignature on the leaf;
// - each certificate's issuer name equals its issuer's subject name, and each
//   signature verifies under its issuer's key (Unauthenticated);
// - each certificate is valid at options.now (FailedPrecondition).
absl::StatusOr<PckChain> VerifyPckChain(const std::vector<crypto::Certificate>& chain,
                                        const PckChainOptions& options);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_PCK_H_
