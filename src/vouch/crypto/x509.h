// X.509 certificates: parsing, inspection, signature checks and a small
// issuer for test and simulated chains.
//
// Certificate deliberately has no path building (X509_verify_cert): AMD's
// ARK/ASK/VCEK certificates are not RFC 5280 profile certificates (serial 0,
// no key identifiers on the VCEK), so callers verify chains link by link
// with VerifySignedBy and their own pinning.
#ifndef VOUCH_CRYPTO_X509_H_
#define VOUCH_CRYPTO_X509_H_

#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto {

// Upper bounds for untrusted certificate input.
inline constexpr size_t kMaxCertificateBytes = 64 * 1024;
inline constexpr size_t kMaxCertificateInputBytes = 1024 * 1024;
inline constexpr size_t kMaxCertificatesPerInput = 64;

// Certificate is a parsed X.509 certificate. Copies share the same X509
// object (by reference count), so copying is cheap. A default-constructed
// Certificate is empty: only empty(), get() and assignment may be used on it.
class Certificate {
 public:
  Certificate() = default;
  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;
  ~Certificate() = default;

  // FromDer parses exactly one DER certificate. Trailing bytes and input over
  // kMaxCertificateBytes are InvalidArgument.
  static absl::StatusOr<Certificate> FromDer(ByteSpan der);

  bool empty() const { return x509_ == nullptr; }
  // get returns the X509 object, owned by this Certificate.
  X509* get() const { return x509_.get(); }

  Bytes Der() const;
  std::string Pem() const;

  // Subject and Issuer return the name in RFC 2253 one-line form, for
  // example "CN=SEV-Milan,O=Advanced Micro Devices,...".
  std::string Subject() const;
  std::string Issuer() const;
  // SubjectCommonName and IssuerCommonName return the first CN as UTF-8, or
  // "" when there is none.
  std::string SubjectCommonName() const;
  std::string IssuerCommonName() const;

  absl::Time NotBefore() const;
  absl::Time NotAfter() const;

  // PublicKey returns the subject public key, owned by this Certificate.
  EVP_PKEY* PublicKey() const;

  // SpkiSha256 returns SHA-256 of the DER SubjectPublicKeyInfo, the value
  // used to pin root keys.
  Bytes SpkiSha256() const;
  // Sha256 returns SHA-256 of the whole DER certificate.
  Bytes Sha256() const;

  // ExtensionValue returns the contents of the extnValue OCTET STRING of the
  // extension with OID `dotted_oid` (e.g. "1.3.6.1.4.1.3704.1.3.1"). It
  // returns nullopt when the extension is absent, when it occurs more than
  // once, or when `dotted_oid` is not a numeric OID.
  std::optional<Bytes> ExtensionValue(std::string_view dotted_oid) const;

  // IsCa is true when basicConstraints is present with cA TRUE.
  bool IsCa() const;

  // CheckValidAt returns FailedPrecondition naming the subject, the validity
  // window and `t` when `t` is outside [NotBefore, NotAfter].
  absl::Status CheckValidAt(absl::Time t) const;

  // VerifySignedBy checks that `issuer`'s subject name equals this
  // certificate's issuer name and that `issuer`'s public key verifies this
  // certificate's signature. RSA PKCS#1 v1.5, RSA-PSS (as AMD uses, with
  // SHA-384) and ECDSA signatures are accepted. It returns Unauthenticated
  // when either check fails. Validity times are not checked here.
  absl::Status VerifySignedBy(const Certificate& issuer) const;

 private:
  explicit Certificate(SslPtr<X509> x509) : x509_(std::move(x509)) {}

  SslPtr<X509> x509_;
};

// ParseCertificates parses one or more PEM "CERTIFICATE" blocks (text
// outside the blocks is ignored) or one or more concatenated DER
// certificates. Empty input, input with no certificate, malformed blocks and
// trailing bytes after DER certificates are InvalidArgument. Input is limited
// to kMaxCertificateInputBytes and kMaxCertificatesPerInput certificates.
absl::StatusOr<std::vector<Certificate>> ParseCertificates(ByteSpan data);

// LoadCertificatesFromDir returns the certificates of every regular file in
// `dir` (not recursive, in file name order). Files that do not parse as
// certificates, or are larger than kMaxCertificateInputBytes, are skipped.
// A missing or unreadable folder, or an unreadable file, is an error.
absl::StatusOr<std::vector<Certificate>> LoadCertificatesFromDir(const std::string& dir);

// ParseDottedOid returns the object for an OID in canonical dotted numeric
// form ("2.5.29.19"), or null for anything else (names, spaces, leading zeros).
SslPtr<ASN1_OBJECT> ParseDottedOid(std::string_view dotted_oid);

// Signature algorithms IssueCertificate can sign with.
enum class SignatureScheme {
  kRsaPssSha384,  // RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 bytes (AMD's choice)
  kEcdsaSha384,
  kEcdsaSha256,
  kRsaSha256,  // RSASSA-PKCS1-v1_5
};

// CertificateExtension is one extension to add, with the DER bytes that go
// inside extnValue's OCTET STRING (for example an encoded INTEGER).
struct CertificateExtension {
  std::string dotted_oid{};
  Bytes value{};
  bool critical = false;
};

// CertificateSpec describes a certificate for IssueCertificate. Empty name
// fields are left out of the subject.
struct CertificateSpec {
  std::string common_name{};
  std::string organization{};
  std::string organizational_unit{};
  std::string country{};
  std::string state{};
  std::string locality{};

  // issuer is nullopt for a self-signed certificate, whose issuer name is
  // its own subject name.
  std::optional<Certificate> issuer{};
  // subject_key supplies the public key. A private part is ignored.
  EVP_PKEY* subject_key = nullptr;
  // issuer_key is the private key that signs (the subject's own key when
  // self-signed).
  EVP_PKEY* issuer_key = nullptr;

  uint64_t serial = 1;
  absl::Time not_before{};
  absl::Time not_after{};
  // is_ca adds critical basicConstraints cA TRUE and keyUsage keyCertSign,
  // cRLSign.
  bool is_ca = false;
  SignatureScheme signature = SignatureScheme::kEcdsaSha384;
  std::vector<CertificateExtension> extensions{};
};

// IssueCertificate builds and signs a version 3 certificate from `spec`.
// It returns InvalidArgument for a missing key, a key that does not match
// the signature scheme, an empty validity window or a bad extension OID.
absl::StatusOr<Certificate> IssueCertificate(const CertificateSpec& spec);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_X509_H_
