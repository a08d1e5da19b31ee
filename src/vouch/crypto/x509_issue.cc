// IssueCertificate, declared in x509.h: builds certificates for tests and
// for the simulated SEV-SNP chain.
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <limits>

#include "vouch/base/status.h"
#include "vouch/crypto/x509.h"

namespace vouch::crypto {
namespace {

bool IsRsa(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS"); }

bool IsEc(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "EC"); }

absl::Status CheckSchemeMatchesKey(SignatureScheme scheme, EVP_PKEY* key) {
  switch (scheme) {
    case SignatureScheme::kRsaPssSha384:
    case SignatureScheme::kRsaSha256:
      if (!IsRsa(key)) {
        return InvalidArgumentf("issue certificate: RSA signature scheme needs an RSA issuer key");
      }
      return absl::OkStatus();
    case SignatureScheme::kEcdsaSha384:
    case SignatureScheme::kEcdsaSha256:
      if (!IsEc(key)) {
        return InvalidArgumentf("issue certificate: ECDSA signature scheme needs an EC issuer key");
      }
      return absl::OkStatus();
  }
  return InvalidArgumentf("issue certificate: unknown signature scheme");
}

absl::Status AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  if (value.empty()) {
    return absl::OkStatus();
  }
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    fmt::format("issue certificate: subject {}={}", field, value));
  }
  return absl::OkStatus();
}

// BuildSubjectName uses AMD's attribute order (OU, C, L, ST, O, CN).
absl::StatusOr<SslPtr<X509_NAME>> BuildSubjectName(const CertificateSpec& spec) {
  if (spec.common_name.empty()) {
    return InvalidArgumentf("issue certificate: empty common name");
  }
  SslPtr<X509_NAME> name(X509_NAME_new());
  if (!name) {
    return SslError("issue certificate: X509_NAME_new");
  }
  VOUCH_RETURN_IF_ERROR(AddNameEntry(name.get(), "OU", spec.organizational_unit));
  VOUCH_RETURN_IF_ERROR(AddNameEntry(name.get(), "C", spec.country));
  VOUCH_RETURN_IF_ERROR(AddNameEntry(name.get(), "L", spec.locality));
  VOUCH_RETURN_IF_ERROR(AddNameEntry(name.get(), "ST", spec.state));
  VOUCH_RETURN_IF_ERROR(AddNameEntry(name.get(), "O", spec.organization));
  VOUCH_RETURN_IF_ERROR(AddNameEntry(name.get(), "CN", spec.common_name));
  return name;
}

absl::Status AddStandardExtension(X509* x509, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x509, nullptr, nullptr, 0);
  SslPtr<X509_EXTENSION> extension(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!extension || X509_add_ext(x509, extension.get(), -1) != 1) {
    return SslError(fmt::format("issue certificate: extension {}", value));
  }
  return absl::OkStatus();
}

absl::Status AddCustomExtension(X509* x509, const CertificateExtension& extension) {
  const SslPtr<ASN1_OBJECT> oid = ParseDottedOid(extension.dotted_oid);
  if (!oid) {
    return InvalidArgumentf("issue certificate: extension OID \"{}\" is not a dotted numeric OID",
                            extension.dotted_oid);
  }
  if (extension.value.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return InvalidArgumentf("issue certificate: extension {} value too large",
                            extension.dotted_oid);
  }
  SslPtr<ASN1_OCTET_STRING> value(ASN1_OCTET_STRING_new());
  if (!value || ASN1_OCTET_STRING_set(value.get(), extension.value.data(),
                                      static_cast<int>(extension.value.size())) != 1) {
    return SslError("issue certificate: extension value");
  }
  SslPtr<X509_EXTENSION> built(X509_EXTENSION_create_by_OBJ(
      nullptr, oid.get(), extension.critical ? 1 : 0, value.get()));
  if (!built || X509_add_ext(x509, built.get(), -1) != 1) {
    return SslError(fmt::format("issue certificate: extension {}", extension.dotted_oid));
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* x509, EVP_PKEY* key, SignatureScheme scheme) {
  const bool sha384 =
      scheme == SignatureScheme::kRsaPssSha384 || scheme == SignatureScheme::kEcdsaSha384;
  SslPtr<EVP_MD_CTX> md_ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // Owned by md_ctx.
  if (!md_ctx || EVP_DigestSignInit(md_ctx.get(), &pkey_ctx, sha384 ? EVP_sha384() : EVP_sha256(),
                                    nullptr, key) != 1) {
    return SslError("issue certificate: signing init");
  }
  if (scheme == SignatureScheme::kRsaPssSha384 &&
      (EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_ctx, EVP_sha384()) != 1)) {
    return SslError("issue certificate: RSA-PSS parameters");
  }
  if (X509_sign_ctx(x509, md_ctx.get()) <= 0) {
    return SslError("issue certificate: signing");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Certificate> IssueCertificate(const CertificateSpec& spec) {
  if (spec.subject_key == nullptr || spec.issuer_key == nullptr) {
    return InvalidArgumentf("issue certificate: subject_key and issuer_key are required");
  }
  if (spec.issuer.has_value() && spec.issuer->empty()) {
    return InvalidArgumentf("issue certificate: issuer certificate is empty");
  }
  if (spec.not_after <= spec.not_before) {
    return InvalidArgumentf("issue certificate: not_after must be later than not_before");
  }
  VOUCH_RETURN_IF_ERROR(CheckSchemeMatchesKey(spec.signature, spec.issuer_key));

  SslPtr<X509> x509(X509_new());
  SslPtr<ASN1_INTEGER> serial(ASN1_INTEGER_new());
  if (!x509 || !serial || X509_set_version(x509.get(), X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set_uint64(serial.get(), spec.serial) != 1 ||
      X509_set_serialNumber(x509.get(), serial.get()) != 1) {
    return SslError("issue certificate: version and serial");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(x509.get()), absl::ToTimeT(spec.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x509.get()), absl::ToTimeT(spec.not_after)) == nullptr) {
    return SslError("issue certificate: validity");
  }

  VOUCH_ASSIGN_OR_RETURN(const SslPtr<X509_NAME> subject, BuildSubjectName(spec));
  const X509_NAME* issuer_name =
      spec.issuer.has_value() ? X509_get_subject_name(spec.issuer->get()) : subject.get();
  if (X509_set_subject_name(x509.get(), subject.get()) != 1 ||
      X509_set_issuer_name(x509.get(), issuer_name) != 1 ||
      X509_set_pubkey(x509.get(), spec.subject_key) != 1) {
    return SslError("issue certificate: names and public key");
  }

  if (spec.is_ca) {
    X509* issuer = spec.issuer.has_value() ? spec.issuer->get() : x509.get();
    VOUCH_RETURN_IF_ERROR(
        AddStandardExtension(x509.get(), issuer, NID_basic_constraints, "critical,CA:TRUE"));
    VOUCH_RETURN_IF_ERROR(
        AddStandardExtension(x509.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign"));
  }
  for (const CertificateExtension& extension : spec.extensions) {
    VOUCH_RETURN_IF_ERROR(AddCustomExtension(x509.get(), extension));
  }

  VOUCH_RETURN_IF_ERROR(Sign(x509.get(), spec.issuer_key, spec.signature));

  // Round-trip through DER so the result is exactly what a verifier parses.
  unsigned char* der = nullptr;
  const int size = i2d_X509(x509.get(), &der);
  if (size <= 0) {
    return SslError("issue certificate: encoding");
  }
  auto certificate = Certificate::FromDer(ByteSpan(der, static_cast<size_t>(size)));
  OPENSSL_free(der);
  return certificate;
}

}  // namespace vouch::crypto
