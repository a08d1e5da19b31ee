// AMD SEV-SNP certificates: classification by content, the VCEK and VLEK
// extensions, and the pinned AMD root keys.
//
// Names and extensions follow AMD's "Versioned Chip Endorsement Key (VCEK)
// Certificate and KDS Interface Specification" (publication 57230) and the
// certificates AMD KDS serves. The ARK is self-signed with CN "ARK-<product>".
// It signs the ASK ("SEV-<product>"), which signs VCEKs, and the ASVK
// ("SEV-VLEK-<product>"), which signs VLEKs. The leaves are "SEV-VCEK" and
// "SEV-VLEK".
#ifndef VOUCH_SNP_CERTIFICATES_H_
#define VOUCH_SNP_CERTIFICATES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"

namespace vouch::snp {

// AMD certificate extension OIDs (VCEK specification, "VCEK Certificate
// Extensions" table).
inline constexpr std::string_view kOidStructVersion = "1.3.6.1.4.1.3704.1.1";
inline constexpr std::string_view kOidProductName = "1.3.6.1.4.1.3704.1.2";
inline constexpr std::string_view kOidBootLoaderSpl = "1.3.6.1.4.1.3704.1.3.1";
inline constexpr std::string_view kOidTeeSpl = "1.3.6.1.4.1.3704.1.3.2";
inline constexpr std::string_view kOidSnpSpl = "1.3.6.1.4.1.3704.1.3.3";
inline constexpr std::string_view kOidMicrocodeSpl = "1.3.6.1.4.1.3704.1.3.8";
inline constexpr std::string_view kOidFmcSpl = "1.3.6.1.4.1.3704.1.3.9";  // Turin
inline constexpr std::string_view kOidHardwareId = "1.3.6.1.4.1.3704.1.4";
inline constexpr std::string_view kOidCspId = "1.3.6.1.4.1.3704.1.5";  // VLEK

// Product name of the simulated platform's chain (see simulated.h).
inline constexpr std::string_view kSimulatedProduct = "simulated";

enum class AmdCertKind { kArk, kAsk, kAsvk, kVcek, kVlek };

std::string_view AmdCertKindName(AmdCertKind kind);

// AmdCertificate is a certificate with its role in an AMD chain.
struct AmdCertificate {
  AmdCertKind kind;
  // product is the name in the subject CN for ARK, ASK and ASVK ("Milan");
  // empty for VCEK and VLEK, whose CN carries no product.
  std::string product;
  crypto::Certificate certificate;
};

// ClassifyAmdCertificate determines the role of `certificate` from its
// subject CN. It returns InvalidArgument when the CN matches none of AMD's names. Whether the
// issuer names chain up is checked when the chain is verified.
absl::StatusOr<AmdCertificate> ClassifyAmdCertificate(const crypto::Certificate& certificate);

// EndorsementKeyExtensions are the AMD extensions of a VCEK or VLEK.
struct EndorsementKeyExtensions {
  std::optional<int64_t> struct_version;
  std::optional<std::string> product_name;  // "Milan-B0", "Genoa", "Turin"
  uint8_t boot_loader_spl = 0;
  uint8_t tee_spl = 0;
  uint8_t snp_spl = 0;
  uint8_t microcode_spl = 0;
  std::optional<uint8_t> fmc_spl;       // Turin only
  std::optional<Bytes> hardware_id;     // 64 bytes, or 8 on Turin; VCEK only
  std::optional<std::string> csp_id;    // VLEK only, e.g. "CN=cc-us-east-2.amazonaws.com"
};

// ReadEndorsementKeyExtensions decodes the AMD extensions with OpenSSL's DER
// decoders. The four SPLs (boot loader, TEE, SNP, microcode) are required
// and must be INTEGERs from 0 to 255. The hwID is accepted as the raw 64 (or
// 8) bytes that AMD KDS puts in extnValue, or wrapped in an OCTET STRING as
// some third-party certificates do. It returns InvalidArgument naming the
// OID on malformed or missing values.
absl::StatusOr<EndorsementKeyExtensions> ReadEndorsementKeyExtensions(
    const crypto::Certificate& certificate);

// TrustedRoot is an ARK key trusted for one product line.
struct TrustedRoot {
  std::string product;  // "Milan", "Genoa", "Turin", or "simulated"
  Bytes spki_sha256;    // SHA-256 of the ARK's DER SubjectPublicKeyInfo
};

// PinnedAmdRoots returns AMD's ARK keys for Milan, Genoa and Turin. The same
// ARK signs both the ASK (VCEK chain) and the ASVK (VLEK chain) of a product.
std::vector<TrustedRoot> PinnedAmdRoots();

}  // namespace vouch::snp

#endif  // VOUCH_SNP_CERTIFICATES_H_
