#include "vouch/crypto/x509.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/x509_fields.h"

namespace vouch::crypto {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kPemEnd = "-----END CERTIFICATE-----";

// DerElementSize returns the size of the DER element (header and content)
// at the start of `data`, or 0 when the header is malformed or longer than
// `data`. Only definite lengths are accepted, as DER requires.
size_t DerElementSize(ByteSpan data) {
  if (data.size() < 2) {
    return 0;
  }
  const uint8_t first_length_byte = data[1];
  if (first_length_byte < 0x80) {
    const size_t total = 2 + size_t{first_length_byte};
    return total <= data.size() ? total : 0;
  }
  const size_t num_length_bytes = first_length_byte & 0x7f;
  // 0x80 is the BER indefinite form. More than 4 length bytes would be far
  // past any certificate size limit.
  if (num_length_bytes == 0 || num_length_bytes > 4 || data.size() < 2 + num_length_bytes) {
    return 0;
  }
  size_t length = 0;
  for (size_t i = 0; i < num_length_bytes; ++i) {
    length = (length << 8) | data[2 + i];
  }
  const size_t total = 2 + num_length_bytes + length;
  return total <= data.size() ? total : 0;
}

bool IsBase64Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/' || c == '=';
}

absl::StatusOr<std::vector<Certificate>> ParsePem(std::string_view text) {
  std::vector<Certificate> out;
  size_t pos = 0;
  while ((pos = text.find(kPemBegin, pos)) != std::string_view::npos) {
    const size_t body_start = pos + kPemBegin.size();
    const size_t body_end = text.find(kPemEnd, body_start);
    if (body_end == std::string_view::npos) {
      return InvalidArgumentf("certificate PEM block {} has no END line", out.size() + 1);
    }
    std::string base64;
    for (const char c : text.substr(body_start, body_end - body_start)) {
      if (std::isspace(static_cast<unsigned char>(c)) != 0) {
        continue;
      }
      if (!IsBase64Char(c)) {
        return InvalidArgumentf("certificate PEM block {}: invalid base64 character 0x{:02x}",
                                out.size() + 1, static_cast<unsigned char>(c));
      }
      base64.push_back(c);
    }
    auto der = Base64Decode(base64);
    if (!der.ok()) {
      return Prefix(fmt::format("certificate PEM block {}", out.size() + 1), der.status());
    }
    auto certificate = Certificate::FromDer(*der);
    if (!certificate.ok()) {
      return Prefix(fmt::format("certificate PEM block {}", out.size() + 1),
                    certificate.status());
    }
    if (out.size() == kMaxCertificatesPerInput) {
      return InvalidArgumentf("certificate input: more than {} certificates",
                              kMaxCertificatesPerInput);
    }
    out.push_back(*std::move(certificate));
    pos = body_end + kPemEnd.size();
  }
  if (out.empty()) {
    return InvalidArgumentf("certificate input: no complete PEM CERTIFICATE block");
  }
  return out;
}

absl::StatusOr<std::vector<Certificate>> ParseDerSequence(ByteSpan data) {
  std::vector<Certificate> out;
  size_t offset = 0;
  while (offset < data.size()) {
    const ByteSpan rest = data.subspan(offset);
    const size_t size = DerElementSize(rest);
    if (size == 0) {
      return InvalidArgumentf(
          "certificate input: bytes at offset {} are not a complete DER element", offset);
    }
    auto certificate = Certificate::FromDer(rest.first(size));
    if (!certificate.ok()) {
      return Prefix(fmt::format("DER certificate {} at offset {}", out.size() + 1, offset),
                    certificate.status());
    }
    if (out.size() == kMaxCertificatesPerInput) {
      return InvalidArgumentf("certificate input: more than {} certificates",
                              kMaxCertificatesPerInput);
    }
    out.push_back(*std::move(certificate));
    offset += size;
  }
  return out;
}

}  // namespace

Certificate::Certificate(const Certificate& other) {
  if (other.x509_ != nullptr) {
    X509_up_ref(other.x509_.get());
    x509_.reset(other.x509_.get());
  }
}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    Certificate copy(other);
    x509_ = std::move(copy.x509_);
  }
  return *this;
}

absl::StatusOr<Certificate> Certificate::FromDer(ByteSpan der) {
  if (der.empty()) {
    return InvalidArgumentf("certificate: empty input");
  }
  if (der.size() > kMaxCertificateBytes) {
    return InvalidArgumentf("certificate: {} bytes, more than the limit of {}", der.size(),
                            kMaxCertificateBytes);
  }
  const unsigned char* cursor = der.data();
  SslPtr<X509> x509(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!x509) {
    return SslError(absl::StatusCode::kInvalidArgument, "certificate: invalid DER");
  }
  const size_t consumed = static_cast<size_t>(cursor - der.data());
  if (consumed != der.size()) {
    return InvalidArgumentf("certificate: {} trailing bytes after the DER certificate",
                            der.size() - consumed);
  }
  // X509_get0_pubkey decodes the key lazily. Checking it here keeps
  // PublicKey() from returning null later.
  if (X509_get0_pubkey(x509.get()) == nullptr) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    "certificate: subject public key does not decode");
  }
  return Certificate(std::move(x509));
}

Bytes Certificate::Der() const {
  unsigned char* der = nullptr;
  const int size = i2d_X509(x509_.get(), &der);
  VOUCH_CHECK(size > 0);
  Bytes out(der, der + size);
  OPENSSL_free(der);
  return out;
}

std::string Certificate::Pem() const {
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  VOUCH_CHECK(bio != nullptr && PEM_write_bio_X509(bio.get(), x509_.get()) == 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string Certificate::Subject() const {
  return internal::NameToString(X509_get_subject_name(x509_.get()));
}

std::string Certificate::Issuer() const {
  return internal::NameToString(X509_get_issuer_name(x509_.get()));
}

std::string Certificate::SubjectCommonName() const {
  return internal::CommonName(X509_get_subject_name(x509_.get()));
}

std::string Certificate::IssuerCommonName() const {
  return internal::CommonName(X509_get_issuer_name(x509_.get()));
}

absl::Time Certificate::NotBefore() const {
  return internal::Asn1TimeToAbsl(X509_get0_notBefore(x509_.get()));
}

absl::Time Certificate::NotAfter() const {
  return internal::Asn1TimeToAbsl(X509_get0_notAfter(x509_.get()));
}

EVP_PKEY* Certificate::PublicKey() const { return X509_get0_pubkey(x509_.get()); }

Bytes Certificate::SpkiSha256() const {
  // The certificate's own X509_PUBKEY re-encodes without going through
  // OpenSSL 3's encoder set-up, which i2d_PUBKEY on the EVP_PKEY needs.
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509_.get()), &der);
  VOUCH_CHECK(size > 0);
  Bytes digest = crypto::Sha256(ByteSpan(der, static_cast<size_t>(size)));
  OPENSSL_free(der);
  return digest;
}

Bytes Certificate::Sha256() const { return crypto::Sha256(Der()); }

namespace {

// CachedOid returns ParseDottedOid(dotted_oid), parsed once per thread: the
// callers pass a few constant OIDs, and a verifier reads them on every
// report. Past kMaxCachedOids distinct texts, nothing more is cached.
const ASN1_OBJECT* CachedOid(std::string_view dotted_oid, SslPtr<ASN1_OBJECT>& uncached) {
  constexpr size_t kMaxCachedOids = 64;
  thread_local std::map<std::string, SslPtr<ASN1_OBJECT>, std::less<>> cache;
  if (const auto found = cache.find(dotted_oid); found != cache.end()) {
    return found->second.get();
  }
  SslPtr<ASN1_OBJECT> oid = ParseDottedOid(dotted_oid);
  if (!oid || cache.size() >= kMaxCachedOids) {
    uncached = std::move(oid);
    return uncached.get();
  }
  return cache.emplace(std::string(dotted_oid), std::move(oid)).first->second.get();
}

}  // namespace

std::optional<Bytes> Certificate::ExtensionValue(std::string_view dotted_oid) const {
  SslPtr<ASN1_OBJECT> uncached;
  const ASN1_OBJECT* oid = CachedOid(dotted_oid, uncached);
  if (oid == nullptr) {
    return std::nullopt;
  }
  const int index = X509_get_ext_by_OBJ(x509_.get(), oid, -1);
  if (index < 0) {
    return std::nullopt;
  }
  if (X509_get_ext_by_OBJ(x509_.get(), oid, index) >= 0) {
    return std::nullopt;  // RFC 5280 section 4.2 forbids repeating an extension.
  }
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(x509_.get(), index));
  const unsigned char* data = ASN1_STRING_get0_data(value);
  return Bytes(data, data + ASN1_STRING_length(value));
}

bool Certificate::IsCa() const {
  // X509_get_extension_flags also sets EXFLAG_CA for version 1 self-signed
  // certificates, so read basicConstraints itself.
  int critical = 0;
  SslPtr<BASIC_CONSTRAINTS> constraints(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(x509_.get(), NID_basic_constraints, &critical, nullptr)));
  ClearSslErrors();
  return constraints != nullptr && constraints->ca != 0;
}

absl::Status Certificate::CheckValidAt(absl::Time t) const {
  const absl::Time not_before = NotBefore();
  const absl::Time not_after = NotAfter();
  if (t < not_before || t > not_after) {
    return FailedPreconditionf("certificate {}: valid from {} to {}, not at {}", Subject(),
                               absl::FormatTime(not_before, absl::UTCTimeZone()),
                               absl::FormatTime(not_after, absl::UTCTimeZone()),
                               absl::FormatTime(t, absl::UTCTimeZone()));
  }
  return absl::OkStatus();
}

absl::Status Certificate::VerifySignedBy(const Certificate& issuer) const {
  if (empty() || issuer.empty()) {
    return InvalidArgumentf("certificate: VerifySignedBy on an empty certificate");
  }
  if (X509_NAME_cmp(X509_get_issuer_name(x509_.get()), X509_get_subject_name(issuer.get())) !=
      0) {
    return Unauthenticatedf("certificate {}: issuer name {} differs from the subject {} of the "
                            "candidate issuer",
                            Subject(), Issuer(), issuer.Subject());
  }
  // X509_verify takes the algorithm (including RSA-PSS parameters) from the
  // certificate's signatureAlgorithm, which must equal the TBS signature
  // field, and rejects a key of the wrong type.
  if (X509_verify(x509_.get(), issuer.PublicKey()) != 1) {
    return SslError(absl::StatusCode::kUnauthenticated,
                    fmt::format("certificate {}: signature does not verify with the key of {}",
                                Subject(), issuer.Subject()));
  }
  return absl::OkStatus();
}

SslPtr<ASN1_OBJECT> ParseDottedOid(std::string_view dotted_oid) {
  // OBJ_txt2obj needs a NUL-terminated string, and no_name = 1 accepts only
  // the numeric form. It also tolerates spaces and similar noise, so the
  // result must print back to exactly the input.
  const std::string text(dotted_oid);
  SslPtr<ASN1_OBJECT> oid(OBJ_txt2obj(text.c_str(), 1));
  if (!oid) {
    ClearSslErrors();
    return nullptr;
  }
  char canonical[128];
  const int size = OBJ_obj2txt(canonical, sizeof(canonical), oid.get(), 1);
  if (size <= 0 || static_cast<size_t>(size) >= sizeof(canonical) ||
      std::string_view(canonical, static_cast<size_t>(size)) != dotted_oid) {
    return nullptr;
  }
  return oid;
}

absl::StatusOr<std::vector<Certificate>> ParseCertificates(ByteSpan data) {
  if (data.empty()) {
    return InvalidArgumentf("certificate input: empty");
  }
  if (data.size() > kMaxCertificateInputBytes) {
    return InvalidArgumentf("certificate input: {} bytes, more than the limit of {}", data.size(),
                            kMaxCertificateInputBytes);
  }
  // A DER certificate starts with a SEQUENCE header (0x30) whose length fits
  // the input. PEM text may also start with 0x30 ('0'), but then the length
  // check almost always fails, so PEM is tried next.
  if (data[0] == 0x30 && DerElementSize(data) != 0) {
    return ParseDerSequence(data);
  }
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (text.find(kPemBegin) != std::string_view::npos) {
    return ParsePem(text);
  }
  return InvalidArgumentf(
      "certificate input: neither DER nor PEM with a CERTIFICATE block (first byte 0x{:02x})",
      data[0]);
}

absl::StatusOr<std::vector<Certificate>> LoadCertificatesFromDir(const std::string& dir) {
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  if (error) {
    return NotFoundf("certificate folder {}: {}", dir, error.message());
  }
  std::vector<std::filesystem::path> files;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) {
      return Internalf("certificate folder {}: {}", dir, error.message());
    }
    std::error_code type_error;
    if (it->is_regular_file(type_error)) {
      files.push_back(it->path());
    }
  }
  if (error) {
    return Internalf("certificate folder {}: {}", dir, error.message());
  }
  std::sort(files.begin(), files.end());

  std::vector<Certificate> out;
  for (const std::filesystem::path& path : files) {
    std::error_code size_error;
    const uintmax_t size = std::filesystem::file_size(path, size_error);
    if (!size_error && size > kMaxCertificateInputBytes) {
      continue;
    }
    VOUCH_ASSIGN_OR_RETURN(const Bytes contents, ReadFile(path.string(), kMaxCertificateInputBytes));
    auto certificates = ParseCertificates(contents);
    if (!certificates.ok()) {
      continue;  // Not a certificate file (README, key, CRL...).
    }
    for (Certificate& certificate : *certificates) {
      out.push_back(std::move(certificate));
    }
  }
  return out;
}

}  // namespace vouch::crypto
