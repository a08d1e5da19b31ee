#include "vouch/snp/certificates.h"

#include <openssl/asn1.h>

#include <memory>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::snp {
namespace {

// ASN1_INTEGER, ASN1_OCTET_STRING and ASN1_IA5STRING are all ASN1_STRING.
struct Asn1StringDeleter {
  void operator()(ASN1_STRING* s) const { ASN1_STRING_free(s); }
};
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Asn1StringDeleter>;

// Size of the hwID: CHIP_ID is 64 bytes, of which Turin uses the first 8.
constexpr size_t kHardwareIdSize = 64;
constexpr size_t kTurinHardwareIdSize = 8;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// DecodeWhole runs an OpenSSL d2i function over all of `der` and rejects
// trailing bytes.
template <typename D2i>
Asn1StringPtr DecodeWhole(D2i d2i, ByteSpan der) {
  const unsigned char* p = der.data();
  Asn1StringPtr value(d2i(nullptr, &p, static_cast<long>(der.size())));
  if (!value || p != der.data() + der.size()) {
    crypto::ClearSslErrors();
    return nullptr;
  }
  return value;
}

absl::StatusOr<int64_t> ReadInteger(const crypto::Certificate& cert, std::string_view oid,
                                    std::string_view name) {
  const std::optional<Bytes> der = cert.ExtensionValue(oid);
  if (!der) {
    return InvalidArgumentf("amd certificate {}: extension {} ({}) is missing", cert.Subject(), name,
                            oid);
  }
  Asn1StringPtr integer = DecodeWhole(d2i_ASN1_INTEGER, *der);
  int64_t value = 0;
  if (!integer || ASN1_INTEGER_get_int64(&value, integer.get()) != 1) {
    crypto::ClearSslErrors();
    return InvalidArgumentf("amd certificate {}: extension {} ({}) is not a DER INTEGER: {}",
                            cert.Subject(), name, oid, HexEncode(*der));
  }
  return value;
}

absl::StatusOr<uint8_t> ReadSpl(const crypto::Certificate& cert, std::string_view oid,
                                std::string_view name) {
  VOUCH_ASSIGN_OR_RETURN(const int64_t value, ReadInteger(cert, oid, name));
  if (value < 0 || value > 255) {
    return InvalidArgumentf("amd certificate {}: extension {} ({}) is {}, want 0 to 255",
                            cert.Subject(), name, oid, value);
  }
  return static_cast<uint8_t>(value);
}

absl::StatusOr<std::optional<uint8_t>> ReadOptionalSpl(const crypto::Certificate& cert,
                                                       std::string_view oid,
                                                       std::string_view name) {
  if (!cert.ExtensionValue(oid)) {
    return std::optional<uint8_t>();
  }
  VOUCH_ASSIGN_OR_RETURN(const uint8_t value, ReadSpl(cert, oid, name));
  return std::optional<uint8_t>(value);
}

absl::StatusOr<std::optional<std::string>> ReadIa5String(const crypto::Certificate& cert,
                                                         std::string_view oid,
                                                         std::string_view name) {
  const std::optional<Bytes> der = cert.ExtensionValue(oid);
  if (!der) {
    return std::optional<std::string>();
  }
  Asn1StringPtr text = DecodeWhole(d2i_ASN1_IA5STRING, *der);
  if (!text) {
    return InvalidArgumentf("amd certificate {}: extension {} ({}) is not a DER IA5String: {}",
                            cert.Subject(), name, oid, HexEncode(*der));
  }
  const unsigned char* data = ASN1_STRING_get0_data(text.get());
  return std::optional<std::string>(
      std::string(data, data + ASN1_STRING_length(text.get())));
}

// AMD KDS puts the raw hwID bytes in extnValue; some certificates wrap them
// in a DER OCTET STRING. Raw values are exactly 64 or 8 bytes, which a DER
// OCTET STRING of 64 or 8 content bytes (2 header bytes) can never be, so
// the two forms cannot be confused.
absl::StatusOr<std::optional<Bytes>> ReadHardwareId(const crypto::Certificate& cert) {
  const std::optional<Bytes> value = cert.ExtensionValue(kOidHardwareId);
  if (!value) {
    return std::optional<Bytes>();
  }
  if (value->size() == kHardwareIdSize || value->size() == kTurinHardwareIdSize) {
    return value;
  }
  Asn1StringPtr octets = DecodeWhole(d2i_ASN1_OCTET_STRING, *value);
  if (octets) {
    const unsigned char* data = ASN1_STRING_get0_data(octets.get());
    const size_t size = static_cast<size_t>(ASN1_STRING_length(octets.get()));
    if (size == kHardwareIdSize || size == kTurinHardwareIdSize) {
      return std::optional<Bytes>(Bytes(data, data + size));
    }
  }
  return InvalidArgumentf("amd certificate {}: extension hwID ({}) has {} bytes, want 64 or 8 "
                          "(raw or in an OCTET STRING)",
                          cert.Subject(), kOidHardwareId, value->size());
}

}  // namespace

std::string_view AmdCertKindName(AmdCertKind kind) {
  switch (kind) {
    case AmdCertKind::kArk:
      return "ARK";
    case AmdCertKind::kAsk:
      return "ASK";
    case AmdCertKind::kAsvk:
      return "ASVK";
    case AmdCertKind::kVcek:
      return "VCEK";
    case AmdCertKind::kVlek:
      return "VLEK";
  }
  return "unknown";
}

absl::StatusOr<AmdCertificate> ClassifyAmdCertificate(const crypto::Certificate& certificate) {
  const std::string cn = certificate.SubjectCommonName();
  auto make = [&](AmdCertKind kind, std::string_view product) -> absl::StatusOr<AmdCertificate> {
    if (kind != AmdCertKind::kVcek && kind != AmdCertKind::kVlek && product.empty()) {
      return InvalidArgumentf("amd certificate: CN {:?} names no product", cn);
    }
    return AmdCertificate{kind, std::string(product), certificate};
  };
  if (cn == "SEV-VCEK") {
    return make(AmdCertKind::kVcek, "");
  }
  if (cn == "SEV-VLEK") {
    return make(AmdCertKind::kVlek, "");
  }
  if (StartsWith(cn, "ARK-")) {
    return make(AmdCertKind::kArk, std::string_view(cn).substr(4));
  }
  if (StartsWith(cn, "SEV-VLEK-")) {
    return make(AmdCertKind::kAsvk, std::string_view(cn).substr(9));
  }
  if (StartsWith(cn, "SEV-")) {
    return make(AmdCertKind::kAsk, std::string_view(cn).substr(4));
  }
  return InvalidArgumentf("amd certificate: CN {:?} is not an AMD ARK, ASK, ASVK, VCEK or VLEK", cn);
}

absl::StatusOr<EndorsementKeyExtensions> ReadEndorsementKeyExtensions(
    const crypto::Certificate& certificate) {
  EndorsementKeyExtensions ext;
  if (certificate.ExtensionValue(kOidStructVersion)) {
    VOUCH_ASSIGN_OR_RETURN(ext.struct_version,
                           ReadInteger(certificate, kOidStructVersion, "structVersion"));
  }
  VOUCH_ASSIGN_OR_RETURN(ext.product_name,
                         ReadIa5String(certificate, kOidProductName, "productName"));
  VOUCH_ASSIGN_OR_RETURN(ext.boot_loader_spl, ReadSpl(certificate, kOidBootLoaderSpl, "blSPL"));
  VOUCH_ASSIGN_OR_RETURN(ext.tee_spl, ReadSpl(certificate, kOidTeeSpl, "teeSPL"));
  VOUCH_ASSIGN_OR_RETURN(ext.snp_spl, ReadSpl(certificate, kOidSnpSpl, "snpSPL"));
  VOUCH_ASSIGN_OR_RETURN(ext.microcode_spl, ReadSpl(certificate, kOidMicrocodeSpl, "ucodeSPL"));
  VOUCH_ASSIGN_OR_RETURN(ext.fmc_spl, ReadOptionalSpl(certificate, kOidFmcSpl, "fmcSPL"));
  VOUCH_ASSIGN_OR_RETURN(ext.hardware_id, ReadHardwareId(certificate));
  VOUCH_ASSIGN_OR_RETURN(ext.csp_id, ReadIa5String(certificate, kOidCspId, "CSP_ID"));
  return ext;
}

std::vector<TrustedRoot> PinnedAmdRoots() {
  // SHA-256 of each ARK's DER SubjectPublicKeyInfo, computed from the
  // certificate chains that AMD KDS serves (/vcek/v1/<product>/cert_chain and
  // /vlek/v1/<product>/cert_chain; both carry the same ARK):
  //   openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum
  struct Pin {
    const char* product;
    const char* spki_sha256_hex;
  };
  static constexpr Pin kPins[] = {
      {"Milan", "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9"},
      {"Genoa", "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831"},
      {"Turin", "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08"},
  };
  std::vector<TrustedRoot> roots;
  for (const Pin& pin : kPins) {
    absl::StatusOr<Bytes> digest = HexDecode(pin.spki_sha256_hex);
    VOUCH_CHECK(digest.ok() && digest->size() == 32);
    roots.push_back(TrustedRoot{pin.product, *std::move(digest)});
  }
  return roots;
}

}  // namespace vouch::snp
