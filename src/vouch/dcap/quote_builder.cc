#include "vouch/dcap/quote_builder.h"

#include <initializer_list>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/dcap/pck.h"

namespace vouch::dcap::testing {
namespace {

void Append(Bytes& out, ByteSpan bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

void AppendLe(Bytes& out, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    out.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
}

// Tlv encodes one DER element (contents under 64 KiB).
Bytes Tlv(uint8_t tag, ByteSpan contents) {
  Bytes out = {tag};
  if (contents.size() < 0x80) {
    out.push_back(static_cast<uint8_t>(contents.size()));
  } else if (contents.size() < 0x100) {
    out.insert(out.end(), {0x81, static_cast<uint8_t>(contents.size())});
  } else {
    out.insert(out.end(), {0x82, static_cast<uint8_t>(contents.size() >> 8),
                           static_cast<uint8_t>(contents.size())});
  }
  Append(out, contents);
  return out;
}

// SgxOid encodes 1.2.840.113741.1.13.1 followed by `arcs` (each below 128).
Bytes SgxOid(std::initializer_list<uint8_t> arcs) {
  Bytes contents = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
  contents.insert(contents.end(), arcs.begin(), arcs.end());
  return Tlv(0x06, contents);
}

Bytes Pair(const Bytes& oid, const Bytes& value) {
  Bytes contents = oid;
  Append(contents, value);
  return Tlv(0x30, contents);
}

// Integer encodes a non-negative INTEGER in minimal DER form.
Bytes Integer(uint32_t value) {
  Bytes contents;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const uint8_t byte = static_cast<uint8_t>(value >> shift);
    if (contents.empty() && byte == 0 && shift != 0) {
      continue;
    }
    if (contents.empty() && (byte & 0x80) != 0) {
      contents.push_back(0);
    }
    contents.push_back(byte);
  }
  return Tlv(0x02, contents);
}

absl::StatusOr<Bytes> RawPublicKey(EVP_PKEY* key) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json jwk, crypto::PublicKeyToJwk(key));
  VOUCH_ASSIGN_OR_RETURN(Bytes out, Base64UrlDecode(jwk["x"].get<std::string>()));
  VOUCH_ASSIGN_OR_RETURN(const Bytes y, Base64UrlDecode(jwk["y"].get<std::string>()));
  Append(out, y);
  return out;
}

absl::StatusOr<crypto::Certificate> Issue(const std::string& cn, EVP_PKEY* subject_key,
                                          EVP_PKEY* issuer_key,
                                          const std::optional<crypto::Certificate>& issuer,
                                          bool is_ca, const TestPckOptions& options,
                                          std::vector<crypto::CertificateExtension> extensions) {
  crypto::CertificateSpec spec;
  spec.common_name = cn;
  spec.organization = "Intel Corporation";
  spec.locality = "Santa Clara";
  spec.state = "CA";
  spec.country = "US";
  spec.issuer = issuer;
  spec.subject_key = subject_key;
  spec.issuer_key = issuer_key;
  spec.not_before = options.not_before - absl::Hours(24 * 365);
  spec.not_after = options.not_after + absl::Hours(24 * 365);
  spec.is_ca = is_ca;
  spec.signature = crypto::SignatureScheme::kEcdsaSha256;
  spec.extensions = std::move(extensions);
  return crypto::IssueCertificate(spec);
}

}  // namespace

Bytes SgxExtensionDer(const TestPckOptions& options) {
  Bytes tcb;
  for (uint8_t i = 0; i < 16; ++i) {
    Append(tcb, Pair(SgxOid({2, static_cast<uint8_t>(i + 1)}),
                     Integer(options.sgx_tcb_components[i])));
  }
  Append(tcb, Pair(SgxOid({2, 17}), Integer(options.pce_svn)));
  Append(tcb, Pair(SgxOid({2, 18}), Tlv(0x04, Bytes(16, 0x01))));

  Bytes contents;
  Append(contents, Pair(SgxOid({1}), Tlv(0x04, Bytes(16, 0xaa))));
  Append(contents, Pair(SgxOid({2}), Tlv(0x30, tcb)));
  Append(contents, Pair(SgxOid({3}), Tlv(0x04, options.pce_id)));
  Append(contents, Pair(SgxOid({4}), Tlv(0x04, options.fmspc)));
  Append(contents, Pair(SgxOid({5}), Tlv(0x0a, Bytes{0x00})));
  return Tlv(0x30, contents);
}

absl::StatusOr<TestPckChain> MakeTestPckChain(const TestPckOptions& options) {
  TestPckChain chain;
  VOUCH_ASSIGN_OR_RETURN(chain.root_key, crypto::GenerateEcKey("P-256"));
  VOUCH_ASSIGN_OR_RETURN(chain.ca_key, crypto::GenerateEcKey("P-256"));
  VOUCH_ASSIGN_OR_RETURN(chain.pck_key, crypto::GenerateEcKey("P-256"));
  VOUCH_ASSIGN_OR_RETURN(chain.root, Issue("Intel SGX Root CA", chain.root_key.get(),
                                           chain.root_key.get(), std::nullopt, true, options, {}));
  VOUCH_ASSIGN_OR_RETURN(chain.ca, Issue(std::string(kPckPlatformCaCommonName), chain.ca_key.get(),
                                         chain.root_key.get(), chain.root, true, options, {}));
  std::vector<crypto::CertificateExtension> extensions = {
      {"2.5.29.15", Bytes{0x03, 0x02, 0x06, 0xc0}, true},  // digitalSignature, nonRepudiation
      {std::string(kOidSgxExtensions), options.extension_der.value_or(SgxExtensionDer(options)),
       false}};
  VOUCH_ASSIGN_OR_RETURN(chain.pck, Issue(std::string(kPckCommonName), chain.pck_key.get(),
                                          chain.ca_key.get(), chain.ca, false, options,
                                          std::move(extensions)));
  return chain;
}

absl::StatusOr<BuiltQuote> BuildQuote(const QuoteSpec& spec, const TestPckChain& chain) {
  BuiltQuote out;
  VOUCH_ASSIGN_OR_RETURN(out.attestation_key, crypto::GenerateEcKey("P-256"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes attestation_key, RawPublicKey(out.attestation_key.get()));

  Bytes quote;
  AppendLe(quote, spec.version, 2);
  AppendLe(quote, kAttestationKeyTypeEcdsaP256, 2);
  AppendLe(quote, spec.tee_type, 4);
  AppendLe(quote, 0, 4);
  Append(quote, kIntelQeVendorId);
  Append(quote, Bytes(20, 0x11));
  if (spec.version == 5) {
    AppendLe(quote, spec.body_type, 2);
    AppendLe(quote, spec.body.size(), 4);
  }
  Append(quote, spec.body);
  VOUCH_ASSIGN_OR_RETURN(const Bytes signature,
                         crypto::SignEcdsaRaw(out.attestation_key.get(), crypto::HashAlg::kSha256,
                                              quote));

  Bytes qe_report = spec.qe_report;
  if (spec.bind_qe_report) {
    Bytes bound = attestation_key;
    Append(bound, spec.qe_auth_data);
    const Bytes digest = crypto::Sha256(bound);
    std::copy(digest.begin(), digest.end(), qe_report.begin() + 320);
    std::fill(qe_report.begin() + 352, qe_report.end(), 0);
    qe_report[352] = spec.qe_report_data_tail_byte;
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes qe_signature,
                         crypto::SignEcdsaRaw(chain.pck_key.get(), crypto::HashAlg::kSha256,
                                              qe_report));

  Bytes pck_data;
  if (spec.pck_data_type == 3) {
    pck_data = Bytes(kEncryptedPpidSize, 0x77);
    Append(pck_data, Bytes(16, 0x01));
    AppendLe(pck_data, 13, 2);
    AppendLe(pck_data, 0, 2);
  } else {
    pck_data = ToBytes(chain.Pem());
  }
  Bytes certification;
  Append(certification, qe_report);
  Append(certification, qe_signature);
  AppendLe(certification, spec.qe_auth_data.size(), 2);
  Append(certification, spec.qe_auth_data);

  Bytes signature_data = signature;
  Append(signature_data, attestation_key);
  if (spec.version == 3) {
    Append(signature_data, certification);
    AppendLe(signature_data, spec.pck_data_type, 2);
    AppendLe(signature_data, pck_data.size(), 4);
    Append(signature_data, pck_data);
  } else {
    AppendLe(certification, spec.pck_data_type, 2);
    AppendLe(certification, pck_data.size(), 4);
    Append(certification, pck_data);
    AppendLe(signature_data, 6, 2);
    AppendLe(signature_data, certification.size(), 4);
    Append(signature_data, certification);
  }
  AppendLe(quote, signature_data.size(), 4);
  Append(quote, signature_data);
  Append(quote, spec.trailing);
  out.quote = std::move(quote);
  return out;
}

}  // namespace vouch::dcap::testing
