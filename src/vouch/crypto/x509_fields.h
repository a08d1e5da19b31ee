// Readers of X.509 name and time fields that certificates and CRLs share.
// Internal to the crypto component.
#ifndef VOUCH_CRYPTO_X509_FIELDS_H_
#define VOUCH_CRYPTO_X509_FIELDS_H_

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <string>

#include "absl/time/time.h"

namespace vouch::crypto::internal {

// NameToString formats `name` as RFC 2253 text, or "" when OpenSSL fails.
std::string NameToString(const X509_NAME* name);

// CommonName returns the first CN of `name` as UTF-8, or "" when it has none.
std::string CommonName(const X509_NAME* name);

// Asn1TimeToAbsl converts an ASN.1 UTCTime or GeneralizedTime, and returns
// absl::InfinitePast() for a null or malformed time.
absl::Time Asn1TimeToAbsl(const ASN1_TIME* time);

}  // namespace vouch::crypto::internal

#endif  // VOUCH_CRYPTO_X509_FIELDS_H_
