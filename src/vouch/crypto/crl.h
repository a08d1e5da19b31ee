// X.509 certificate revocation lists (RFC 5280 section 5): parsing, the
// issuer's signature, the thisUpdate/nextUpdate window, and serial lookup.
#ifndef VOUCH_CRYPTO_CRL_H_
#define VOUCH_CRYPTO_CRL_H_

#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"

namespace vouch::crypto {

// Upper bound for untrusted CRL input. Intel's PCK CRLs are about 3 KiB.
inline constexpr size_t kMaxCrlBytes = 1024 * 1024;

// Crl is a parsed CRL. Copies share the X509_CRL object by reference count.
class Crl {
 public:
  // Parse reads one CRL in DER or in PEM ("-----BEGIN X509 CRL-----"). Input
  // that is neither, trailing bytes after the DER, a CRL without nextUpdate
  // and input over kMaxCrlBytes are InvalidArgument: an unparseable CRL is
  // never read as "nothing revoked".
  static absl::StatusOr<Crl> Parse(ByteSpan data);

  // LooksLikeCrl is a cheap content check for sorting files: true when
  // `data` parses as a CRL.
  static bool LooksLikeCrl(ByteSpan data);

  X509_CRL* get() const { return crl_.get(); }
  Bytes Der() const;

  // Issuer returns the issuer name in RFC 2253 form; IssuerCommonName the
  // first CN, or "".
  std::string Issuer() const;
  std::string IssuerCommonName() const;

  absl::Time ThisUpdate() const;
  absl::Time NextUpdate() const;
  size_t NumRevoked() const;

  // VerifySignedBy checks that `issuer`'s subject equals the CRL's issuer
  // name and that its public key verifies the CRL signature. Either failure
  // is Unauthenticated.
  absl::Status VerifySignedBy(const Certificate& issuer) const;

  // CheckValidAt returns FailedPrecondition naming the issuer and both dates
  // when `t` is before thisUpdate or after nextUpdate.
  absl::Status CheckValidAt(absl::Time t) const;

  // IsRevoked is true when the CRL lists `serial` (big-endian magnitude, as
  // SerialOf returns; leading zero bytes are ignored).
  bool IsRevoked(ByteSpan serial) const;
  // IsRevoked(cert) looks up the certificate's serial number.
  bool IsRevoked(const Certificate& cert) const;

 private:
  struct Deleter {
    void operator()(X509_CRL* crl) const noexcept { X509_CRL_free(crl); }
  };
  explicit Crl(X509_CRL* crl);

  std::shared_ptr<X509_CRL> crl_;
  // Read once at parse time: a verifier checks them on every quote.
  std::string issuer_common_name_;
  absl::Time this_update_;
  absl::Time next_update_;
};

// SerialOf returns a certificate's serial number as big-endian bytes
// without leading zeros ("00" for serial 0).
Bytes SerialOf(const Certificate& cert);

// CrlSpec describes a CRL for IssueCrl (tests and simulated collateral).
struct CrlSpec {
  const Certificate* issuer = nullptr;  // the CA whose name goes in the CRL
  EVP_PKEY* issuer_key = nullptr;       // its private key (EC or RSA)
  absl::Time this_update{};
  absl::Time next_update{};
  std::vector<Bytes> revoked_serials{};  // big-endian
};

// IssueCrl builds and signs a version 2 CRL with SHA-256.
absl::StatusOr<Crl> IssueCrl(const CrlSpec& spec);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_CRL_H_
