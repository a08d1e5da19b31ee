#include "vouch/dcap/pck.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "vouch/base/status.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/dcap/intel_root.h"

namespace vouch::dcap {
namespace {

constexpr std::string_view kContext = "pck extensions";

// Sub-OIDs of kOidSgxExtensions.
constexpr std::string_view kOidPpid = "1.2.840.113741.1.13.1.1";
constexpr std::string_view kOidTcb = "1.2.840.113741.1.13.1.2";
constexpr std::string_view kOidPceId = "1.2.840.113741.1.13.1.3";
constexpr std::string_view kOidFmspc = "1.2.840.113741.1.13.1.4";
constexpr std::string_view kOidSgxType = "1.2.840.113741.1.13.1.5";
constexpr std::string_view kOidPlatformInstanceId = "1.2.840.113741.1.13.1.6";
constexpr std::string_view kOidConfiguration = "1.2.840.113741.1.13.1.7";
constexpr size_t kTcbComponentCount = 16;

struct TypeStackDeleter {
  void operator()(ASN1_SEQUENCE_ANY* s) const { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); }
};
using TypeStack = std::unique_ptr<ASN1_SEQUENCE_ANY, TypeStackDeleter>;

// DecodeSequence decodes `der`, which must be exactly one SEQUENCE.
absl::StatusOr<TypeStack> DecodeSequence(ByteSpan der, std::string_view what) {
  const unsigned char* p = der.data();
  TypeStack seq(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(der.size())));
  crypto::ClearSslErrors();
  if (!seq || p != der.data() + der.size()) {
    return InvalidArgumentf("{}: {} is not one DER SEQUENCE", kContext, what);
  }
  return seq;
}

ByteSpan StringBytes(const ASN1_STRING* s) {
  return ByteSpan(ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string OidText(const ASN1_OBJECT* object) {
  char buffer[128];
  const int n = OBJ_obj2txt(buffer, sizeof(buffer), object, /*no_name=*/1);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buffer)) {
    return "(unreadable OID)";
  }
  return std::string(buffer, static_cast<size_t>(n));
}

// Entry is one (OID, value) SEQUENCE of the SGX extensions.
struct Entry {
  std::string oid;
  const ASN1_TYPE* value = nullptr;
};

// ReadEntries decodes a SEQUENCE of (OID, value) SEQUENCEs. The returned
// values point into `holders`, which keeps the decoded inner sequences.
absl::StatusOr<std::vector<Entry>> ReadEntries(ByteSpan der, std::string_view what,
                                               std::vector<TypeStack>& holders) {
  VOUCH_ASSIGN_OR_RETURN(TypeStack outer, DecodeSequence(der, what));
  std::vector<Entry> entries;
  std::set<std::string> seen;
  for (int i = 0; i < sk_ASN1_TYPE_num(outer.get()); ++i) {
    const ASN1_TYPE* element = sk_ASN1_TYPE_value(outer.get(), i);
    if (element->type != V_ASN1_SEQUENCE) {
      return InvalidArgumentf("{}: element {} of {} is not a SEQUENCE", kContext, i, what);
    }
    VOUCH_ASSIGN_OR_RETURN(TypeStack pair,
                           DecodeSequence(StringBytes(element->value.sequence),
                                          fmt::format("element {} of {}", i, what)));
    if (sk_ASN1_TYPE_num(pair.get()) != 2 ||
        sk_ASN1_TYPE_value(pair.get(), 0)->type != V_ASN1_OBJECT) {
      return InvalidArgumentf("{}: element {} of {} is not a SEQUENCE of OID and value", kContext,
                              i, what);
    }
    Entry entry{OidText(sk_ASN1_TYPE_value(pair.get(), 0)->value.object),
                sk_ASN1_TYPE_value(pair.get(), 1)};
    if (!seen.insert(entry.oid).second) {
      return InvalidArgumentf("{}: {} occurs more than once in {}", kContext, entry.oid, what);
    }
    entries.push_back(std::move(entry));
    holders.push_back(std::move(pair));
  }
  holders.push_back(std::move(outer));
  return entries;
}

absl::StatusOr<Bytes> OctetString(const Entry& entry, size_t size) {
  if (entry.value->type != V_ASN1_OCTET_STRING) {
    return InvalidArgumentf("{}: {} has ASN.1 type {}, want OCTET STRING", kContext, entry.oid,
                            entry.value->type);
  }
  const ByteSpan bytes = StringBytes(entry.value->value.octet_string);
  if (bytes.size() != size) {
    return InvalidArgumentf("{}: {} is {} bytes, want {}", kContext, entry.oid, bytes.size(), size);
  }
  return Bytes(bytes.begin(), bytes.end());
}

absl::StatusOr<int64_t> IntegerInRange(const Entry& entry, int64_t max) {
  int64_t value = 0;
  if (entry.value->type != V_ASN1_INTEGER ||
      ASN1_INTEGER_get_int64(&value, entry.value->value.integer) != 1) {
    crypto::ClearSslErrors();
    return InvalidArgumentf("{}: {} has ASN.1 type {}, want INTEGER", kContext, entry.oid,
                            entry.value->type);
  }
  if (value < 0 || value > max) {
    return InvalidArgumentf("{}: {} is {}, want 0 to {}", kContext, entry.oid, value, max);
  }
  return value;
}

absl::StatusOr<bool> Boolean(const Entry& entry) {
  if (entry.value->type != V_ASN1_BOOLEAN) {
    return InvalidArgumentf("{}: {} has ASN.1 type {}, want BOOLEAN", kContext, entry.oid,
                            entry.value->type);
  }
  return entry.value->value.boolean != 0;
}

absl::StatusOr<ByteSpan> SequenceBytes(const Entry& entry) {
  if (entry.value->type != V_ASN1_SEQUENCE) {
    return InvalidArgumentf("{}: {} has ASN.1 type {}, want SEQUENCE", kContext, entry.oid,
                            entry.value->type);
  }
  return StringBytes(entry.value->value.sequence);
}

// ReadTcb reads extension .2: 16 component SVNs, PCESVN and CPUSVN, all required.
absl::Status ReadTcb(const Entry& tcb_entry, PckExtensions& out) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan der, SequenceBytes(tcb_entry));
  std::vector<TypeStack> holders;
  VOUCH_ASSIGN_OR_RETURN(const std::vector<Entry> entries, ReadEntries(der, kOidTcb, holders));
  std::set<std::string> found;
  for (const Entry& entry : entries) {
    const std::string prefix = std::string(kOidTcb) + ".";
    if (entry.oid.rfind(prefix, 0) != 0) {
      return InvalidArgumentf("{}: {} inside {} is not a TCB member", kContext, entry.oid, kOidTcb);
    }
    const std::string member = entry.oid.substr(prefix.size());
    int index = 0;
    if (member.empty() || member.size() > 2 || !absl::SimpleAtoi(AbslView(member), &index) ||
        index < 1 || index > 18) {
      return InvalidArgumentf("{}: {} inside {} is not a TCB member", kContext, entry.oid, kOidTcb);
    }
    found.insert(entry.oid);
    if (index <= static_cast<int>(kTcbComponentCount)) {
      VOUCH_ASSIGN_OR_RETURN(const int64_t svn, IntegerInRange(entry, 255));
      out.sgx_tcb_components[static_cast<size_t>(index - 1)] = static_cast<uint8_t>(svn);
    } else if (index == 17) {
      VOUCH_ASSIGN_OR_RETURN(const int64_t pce_svn, IntegerInRange(entry, 65535));
      out.pce_svn = static_cast<uint16_t>(pce_svn);
    } else {
      VOUCH_ASSIGN_OR_RETURN(const Bytes cpu_svn, OctetString(entry, out.cpu_svn.size()));
      std::copy(cpu_svn.begin(), cpu_svn.end(), out.cpu_svn.begin());
    }
  }
  if (found.size() != 18) {
    return InvalidArgumentf("{}: {} has {} of its 18 members (16 component SVNs, PCESVN, CPUSVN)",
                            kContext, kOidTcb, found.size());
  }
  return absl::OkStatus();
}

absl::StatusOr<PlatformConfiguration> ReadConfiguration(const Entry& configuration_entry) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan der, SequenceBytes(configuration_entry));
  std::vector<TypeStack> holders;
  VOUCH_ASSIGN_OR_RETURN(const std::vector<Entry> entries,
                         ReadEntries(der, kOidConfiguration, holders));
  PlatformConfiguration out;
  const std::string prefix = std::string(kOidConfiguration) + ".";
  for (const Entry& entry : entries) {
    if (entry.oid == prefix + "1") {
      VOUCH_ASSIGN_OR_RETURN(out.dynamic_platform, Boolean(entry));
    } else if (entry.oid == prefix + "2") {
      VOUCH_ASSIGN_OR_RETURN(out.cached_keys, Boolean(entry));
    } else if (entry.oid == prefix + "3") {
      VOUCH_ASSIGN_OR_RETURN(out.smt_enabled, Boolean(entry));
    }
  }
  return out;
}

absl::StatusOr<SgxType> ReadSgxType(const Entry& entry) {
  int64_t value = 0;
  if (entry.value->type != V_ASN1_ENUMERATED ||
      ASN1_ENUMERATED_get_int64(&value, entry.value->value.enumerated) != 1) {
    crypto::ClearSslErrors();
    return InvalidArgumentf("{}: {} has ASN.1 type {}, want ENUMERATED", kContext, entry.oid,
                            entry.value->type);
  }
  if (value < 0 || value > 2) {
    return InvalidArgumentf("{}: {} is {}, want 0 (Standard), 1 (Scalable) or 2 (Scalable with "
                            "integrity)",
                            kContext, entry.oid, value);
  }
  return static_cast<SgxType>(value);
}

// ---- Chain checks ----

constexpr std::string_view kChainContext = "pck chain";

absl::Status CheckKeyUsage(const crypto::Certificate& certificate, std::string_view role,
                           uint32_t want, std::string_view want_name) {
  X509* x509 = certificate.get();
  const bool has_key_usage = (X509_get_extension_flags(x509) & EXFLAG_KUSAGE) != 0;
  if (!has_key_usage || (X509_get_key_usage(x509) & want) == 0) {
    return Unauthenticatedf("{}: key usage of the {} ({}) lacks {}", kChainContext, role,
                            certificate.Subject(), want_name);
  }
  return absl::OkStatus();
}

absl::Status CheckCaFlags(const crypto::Certificate& certificate, std::string_view role,
                          bool want_ca) {
  if (certificate.IsCa() != want_ca) {
    return Unauthenticatedf("{}: the {} ({}) has basic constraints cA {}, want {}", kChainContext,
                            role, certificate.Subject(), !want_ca, want_ca);
  }
  if (want_ca) {
    return CheckKeyUsage(certificate, role, KU_KEY_CERT_SIGN, "keyCertSign");
  }
  return CheckKeyUsage(certificate, role, KU_DIGITAL_SIGNATURE, "digitalSignature");
}

absl::Status CheckLink(const crypto::Certificate& child, std::string_view child_role,
                       const crypto::Certificate& issuer, std::string_view issuer_role) {
  if (child.Issuer() != issuer.Subject()) {
    return Unauthenticatedf("{}: the {}'s issuer is {}, but the {}'s subject is {}", kChainContext,
                            child_role, child.Issuer(), issuer_role, issuer.Subject());
  }
  const absl::Status status = child.VerifySignedBy(issuer);
  if (!status.ok()) {
    return Prefix(fmt::format("{}: signature of the {} by the {}", kChainContext, child_role,
                              issuer_role),
                  status);
  }
  return absl::OkStatus();
}

absl::Status CheckRootPinned(const crypto::Certificate& root, const PckChainOptions& options) {
  const Bytes spki_sha256 = root.SpkiSha256();
  for (const Bytes& pin : options.trusted_root_spki_sha256) {
    if (pin == spki_sha256) {
      return absl::OkStatus();
    }
  }
  return Unauthenticatedf("{}: root {} has key SHA-256 {}, which is not the pinned Intel SGX Root "
                          "CA (key SHA-256 {}) or another trusted root",
                          kChainContext, root.Subject(), HexEncode(spki_sha256),
                          kIntelSgxRootCaSpkiSha256Hex);
}

absl::StatusOr<PckCaKind> ClassifyIntermediate(const crypto::Certificate& intermediate) {
  const std::string cn = intermediate.SubjectCommonName();
  if (cn == kPckPlatformCaCommonName) {
    return PckCaKind::kPlatform;
  }
  if (cn == kPckProcessorCaCommonName) {
    return PckCaKind::kProcessor;
  }
  return Unauthenticatedf("{}: intermediate CN {:?}, want {:?} or {:?}", kChainContext, cn,
                          kPckPlatformCaCommonName, kPckProcessorCaCommonName);
}

}  // namespace

std::string_view SgxTypeName(SgxType type) {
  switch (type) {
    case SgxType::kStandard:
      return "Standard";
    case SgxType::kScalable:
      return "Scalable";
    case SgxType::kScalableWithIntegrity:
      return "ScalableWithIntegrity";
  }
  VOUCH_UNREACHABLE("SgxTypeName");
}

std::string_view PckCaKindName(PckCaKind kind) {
  return kind == PckCaKind::kPlatform ? "Platform" : "Processor";
}

absl::StatusOr<PckExtensions> ReadPckExtensions(const crypto::Certificate& pck) {
  const std::optional<Bytes> value = pck.ExtensionValue(kOidSgxExtensions);
  if (!value.has_value()) {
    return InvalidArgumentf("{}: {} has no SGX extension {} (or has it twice)", kContext,
                            pck.Subject(), kOidSgxExtensions);
  }
  std::vector<TypeStack> holders;
  VOUCH_ASSIGN_OR_RETURN(const std::vector<Entry> entries,
                         ReadEntries(*value, kOidSgxExtensions, holders));
  PckExtensions out;
  bool has_ppid = false, has_tcb = false, has_pce_id = false, has_fmspc = false;
  bool has_sgx_type = false;
  for (const Entry& entry : entries) {
    if (entry.oid == kOidPpid) {
      VOUCH_ASSIGN_OR_RETURN(out.ppid, OctetString(entry, 16));
      has_ppid = true;
    } else if (entry.oid == kOidTcb) {
      VOUCH_RETURN_IF_ERROR(ReadTcb(entry, out));
      has_tcb = true;
    } else if (entry.oid == kOidPceId) {
      VOUCH_ASSIGN_OR_RETURN(out.pce_id, OctetString(entry, 2));
      has_pce_id = true;
    } else if (entry.oid == kOidFmspc) {
      VOUCH_ASSIGN_OR_RETURN(out.fmspc, OctetString(entry, 6));
      has_fmspc = true;
    } else if (entry.oid == kOidSgxType) {
      VOUCH_ASSIGN_OR_RETURN(out.sgx_type, ReadSgxType(entry));
      has_sgx_type = true;
    } else if (entry.oid == kOidPlatformInstanceId) {
      VOUCH_ASSIGN_OR_RETURN(out.platform_instance_id, OctetString(entry, 16));
    } else if (entry.oid == kOidConfiguration) {
      VOUCH_ASSIGN_OR_RETURN(out.configuration, ReadConfiguration(entry));
    }
  }
  const std::pair<bool, std::string_view> required[] = {{has_ppid, kOidPpid},
                                                        {has_tcb, kOidTcb},
                                                        {has_pce_id, kOidPceId},
                                                        {has_fmspc, kOidFmspc},
                                                        {has_sgx_type, kOidSgxType}};
  for (const auto& [present, oid] : required) {
    if (!present) {
      return InvalidArgumentf("{}: {} is missing from {}", kContext, oid, kOidSgxExtensions);
    }
  }
  return out;
}

Bytes PckChainOptions::IntelSgxRootCaSpkiSha256() {
  return *HexDecode(kIntelSgxRootCaSpkiSha256Hex);
}

absl::StatusOr<PckChain> VerifyPckChain(const std::vector<crypto::Certificate>& chain,
                                        const PckChainOptions& options) {
  if (chain.size() != 3) {
    return InvalidArgumentf("{}: {} certificates, want 3 (PCK, PCK CA, root)", kChainContext,
                            chain.size());
  }
  PckChain out{chain[0], chain[1], chain[2], PckCaKind::kPlatform};

  VOUCH_RETURN_IF_ERROR(CheckRootPinned(out.root, options));
  VOUCH_RETURN_IF_ERROR(CheckLink(out.root, "root", out.root, "root itself"));
  VOUCH_ASSIGN_OR_RETURN(out.ca_kind, ClassifyIntermediate(out.intermediate));
  if (out.pck.SubjectCommonName() != kPckCommonName) {
    return Unauthenticatedf("{}: leaf CN {:?}, want {:?}", kChainContext,
                            out.pck.SubjectCommonName(), kPckCommonName);
  }

  VOUCH_RETURN_IF_ERROR(CheckCaFlags(out.root, "root", /*want_ca=*/true));
  VOUCH_RETURN_IF_ERROR(CheckCaFlags(out.intermediate, "PCK CA", /*want_ca=*/true));
  VOUCH_RETURN_IF_ERROR(CheckCaFlags(out.pck, "PCK certificate", /*want_ca=*/false));

  VOUCH_RETURN_IF_ERROR(CheckLink(out.intermediate, "PCK CA", out.root, "root"));
  VOUCH_RETURN_IF_ERROR(CheckLink(out.pck, "PCK certificate", out.intermediate, "PCK CA"));

  const std::pair<const crypto::Certificate*, std::string_view> roles[] = {
      {&out.pck, "PCK certificate"}, {&out.intermediate, "PCK CA"}, {&out.root, "root"}};
  for (const auto& [certificate, role] : roles) {
    const absl::Status status = certificate->CheckValidAt(options.now);
    if (!status.ok()) {
      return Prefix(fmt::format("{}: validity of the {}", kChainContext, role), status);
    }
  }
  return out;
}

}  // namespace vouch::dcap
