#include "vouch/crypto/x509_fields.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>

#include <ctime>

#include "absl/time/civil_time.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto::internal {

std::string NameToString(const X509_NAME* name) {
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ClearSslErrors();
    return "";
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

std::string CommonName(const X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) {
    return "";
  }
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(&utf8, value);
  if (size < 0) {
    ClearSslErrors();
    return "";
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(size));
  OPENSSL_free(utf8);
  return out;
}

absl::Time Asn1TimeToAbsl(const ASN1_TIME* time) {
  struct tm parts {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    ClearSslErrors();
    return absl::InfinitePast();
  }
  const absl::CivilSecond civil(parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                                parts.tm_hour, parts.tm_min, parts.tm_sec);
  return absl::FromCivil(civil, absl::UTCTimeZone());
}

}  // namespace vouch::crypto::internal
