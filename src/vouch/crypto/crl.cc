#include "vouch/crypto/crl.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/pem.h>

#include <algorithm>
#include <ctime>
#include <string_view>

#include "vouch/base/status.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/crypto/x509_fields.h"

namespace vouch::crypto {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN X509 CRL-----";

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// StripLeadingZeros drops the sign-padding zeros of a DER INTEGER magnitude.
Bytes StripLeadingZeros(ByteSpan serial) {
  size_t first = 0;
  while (first + 1 < serial.size() && serial[first] == 0) {
    ++first;
  }
  return Bytes(serial.begin() + static_cast<std::ptrdiff_t>(first), serial.end());
}

Bytes IntegerBytes(const ASN1_INTEGER* value) {
  SslPtr<BIGNUM> bn(ASN1_INTEGER_to_BN(value, nullptr));
  if (!bn) {
    ClearSslErrors();
    return {};
  }
  Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out.empty() ? Bytes{0} : out;
}

absl::StatusOr<X509_CRL*> ParseDer(ByteSpan der) {
  const unsigned char* cursor = der.data();
  X509_CRL* crl = d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size()));
  if (crl == nullptr) {
    return SslError(absl::StatusCode::kInvalidArgument, "crl: DER does not parse");
  }
  if (cursor != der.data() + der.size()) {
    X509_CRL_free(crl);
    return InvalidArgumentf("crl: {} trailing bytes after the DER CRL",
                            der.size() - static_cast<size_t>(cursor - der.data()));
  }
  return crl;
}

absl::StatusOr<X509_CRL*> ParsePem(ByteSpan pem) {
  SslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return SslError("crl: BIO_new_mem_buf");
  }
  X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
  if (crl == nullptr) {
    return SslError(absl::StatusCode::kInvalidArgument, "crl: PEM X509 CRL block does not parse");
  }
  return crl;
}

}  // namespace

Crl::Crl(X509_CRL* crl)
    : crl_(crl, Deleter()),
      issuer_common_name_(internal::CommonName(X509_CRL_get_issuer(crl))),
      this_update_(internal::Asn1TimeToAbsl(X509_CRL_get0_lastUpdate(crl))),
      // Parse rejects a CRL without nextUpdate, so until then it reads as
      // expired.
      next_update_(X509_CRL_get0_nextUpdate(crl) == nullptr
                       ? absl::InfinitePast()
                       : internal::Asn1TimeToAbsl(X509_CRL_get0_nextUpdate(crl))) {}

absl::StatusOr<Crl> Crl::Parse(ByteSpan data) {
  if (data.empty()) {
    return InvalidArgumentf("crl: empty input");
  }
  if (data.size() > kMaxCrlBytes) {
    return InvalidArgumentf("crl: {} bytes, limit {}", data.size(), kMaxCrlBytes);
  }
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  absl::StatusOr<X509_CRL*> parsed = text.find(kPemBegin) != std::string_view::npos
                                         ? ParsePem(data)
                                         : ParseDer(data);
  if (!parsed.ok()) {
    return parsed.status();
  }
  Crl crl(*parsed);
  // RFC 5280 section 5.1.2.5 makes nextUpdate optional, but a CRL without it
  // never expires, so it cannot show that revocation data is current.
  if (X509_CRL_get0_nextUpdate(crl.get()) == nullptr) {
    return InvalidArgumentf("crl of {}: no nextUpdate", crl.Issuer());
  }
  return crl;
}

bool Crl::LooksLikeCrl(ByteSpan data) {
  const bool ok = Parse(data).ok();
  ClearSslErrors();
  return ok;
}

Bytes Crl::Der() const {
  unsigned char* der = nullptr;
  const int size = i2d_X509_CRL(crl_.get(), &der);
  VOUCH_CHECK(size > 0);
  Bytes out(der, der + size);
  OPENSSL_free(der);
  return out;
}

std::string Crl::Issuer() const {
  return internal::NameToString(X509_CRL_get_issuer(crl_.get()));
}

std::string Crl::IssuerCommonName() const { return issuer_common_name_; }

absl::Time Crl::ThisUpdate() const { return this_update_; }

absl::Time Crl::NextUpdate() const { return next_update_; }

size_t Crl::NumRevoked() const {
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  return revoked == nullptr ? 0 : static_cast<size_t>(sk_X509_REVOKED_num(revoked));
}

absl::Status Crl::VerifySignedBy(const Certificate& issuer) const {
  if (issuer.empty()) {
    return InvalidArgumentf("crl: VerifySignedBy with an empty certificate");
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl_.get()), X509_get_subject_name(issuer.get())) != 0) {
    return Unauthenticatedf("crl of {}: issuer differs from the subject {} of the candidate issuer",
                            Issuer(), issuer.Subject());
  }
  if (X509_CRL_verify(crl_.get(), issuer.PublicKey()) != 1) {
    return SslError(absl::StatusCode::kUnauthenticated,
                    fmt::format("crl of {}: signature does not verify", Issuer()));
  }
  return absl::OkStatus();
}

absl::Status Crl::CheckValidAt(absl::Time t) const {
  const absl::Time this_update = ThisUpdate();
  const absl::Time next_update = NextUpdate();
  if (t < this_update || t > next_update) {
    return FailedPreconditionf("crl of {}: thisUpdate {}, nextUpdate {}, not valid at {}",
                               IssuerCommonName(), FormatUtc(this_update), FormatUtc(next_update),
                               FormatUtc(t));
  }
  return absl::OkStatus();
}

bool Crl::IsRevoked(ByteSpan serial) const {
  const Bytes wanted = StripLeadingZeros(serial);
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  if (revoked == nullptr) {
    return false;
  }
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    if (IntegerBytes(X509_REVOKED_get0_serialNumber(entry)) == wanted) {
      return true;
    }
  }
  return false;
}

bool Crl::IsRevoked(const Certificate& cert) const { return IsRevoked(SerialOf(cert)); }

Bytes SerialOf(const Certificate& cert) {
  return IntegerBytes(X509_get0_serialNumber(cert.get()));
}

absl::StatusOr<Crl> IssueCrl(const CrlSpec& spec) {
  if (spec.issuer == nullptr || spec.issuer->empty() || spec.issuer_key == nullptr) {
    return InvalidArgumentf("issue crl: issuer certificate and key are required");
  }
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> holder(X509_CRL_new(), &X509_CRL_free);
  if (!holder) {
    return SslError("issue crl: X509_CRL_new");
  }
  X509_CRL* crl = holder.get();
  SslPtr<ASN1_STRING> this_update(ASN1_TIME_set(nullptr, absl::ToTimeT(spec.this_update)));
  SslPtr<ASN1_STRING> next_update(ASN1_TIME_set(nullptr, absl::ToTimeT(spec.next_update)));
  if (X509_CRL_set_version(crl, 1) != 1 ||
      X509_CRL_set_issuer_name(crl, X509_get_subject_name(spec.issuer->get())) != 1 ||
      !this_update || !next_update || X509_CRL_set1_lastUpdate(crl, this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl, next_update.get()) != 1) {
    return SslError("issue crl: header fields");
  }
  for (const Bytes& serial : spec.revoked_serials) {
    X509_REVOKED* entry = X509_REVOKED_new();
    SslPtr<BIGNUM> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
    SslPtr<ASN1_STRING> number(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
    if (entry == nullptr || !number ||
        X509_REVOKED_set_serialNumber(entry, number.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry, this_update.get()) != 1 ||
        X509_CRL_add0_revoked(crl, entry) != 1) {
      X509_REVOKED_free(entry);
      return SslError("issue crl: revoked entry");
    }
  }
  if (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, spec.issuer_key, EVP_sha256()) <= 0) {
    return SslError("issue crl: sign");
  }
  unsigned char* der = nullptr;
  const int size = i2d_X509_CRL(crl, &der);
  if (size <= 0) {
    return SslError("issue crl: encode");
  }
  const Bytes out(der, der + size);
  OPENSSL_free(der);
  return Crl::Parse(out);
}

}  // namespace vouch::crypto
