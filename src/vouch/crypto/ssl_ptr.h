// Owning smart pointers for OpenSSL objects and conversion of the OpenSSL
// error queue into absl::Status.
#ifndef VOUCH_CRYPTO_SSL_PTR_H_
#define VOUCH_CRYPTO_SSL_PTR_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string_view>

#include "absl/status/status.h"

namespace vouch::crypto {

// SslDeleter<T> frees a T with the matching OpenSSL *_free function. Only the
// specializations below exist, so SslPtr of an unlisted type fails to compile.
template <typename T>
struct SslDeleter;

#define VOUCH_SSL_DELETER_(type, free_fn)                 \
  template <>                                             \
  struct SslDeleter<type> {                               \
    void operator()(type* p) const noexcept { free_fn(p); } \
  }

VOUCH_SSL_DELETER_(X509, X509_free);
VOUCH_SSL_DELETER_(X509_NAME, X509_NAME_free);
VOUCH_SSL_DELETER_(X509_EXTENSION, X509_EXTENSION_free);
VOUCH_SSL_DELETER_(X509_STORE, X509_STORE_free);
VOUCH_SSL_DELETER_(X509_STORE_CTX, X509_STORE_CTX_free);
VOUCH_SSL_DELETER_(ASN1_OBJECT, ASN1_OBJECT_free);
// ASN1_INTEGER, ASN1_OCTET_STRING and ASN1_TIME are all ASN1_STRING.
VOUCH_SSL_DELETER_(ASN1_STRING, ASN1_STRING_free);
VOUCH_SSL_DELETER_(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free);
VOUCH_SSL_DELETER_(EVP_PKEY, EVP_PKEY_free);
VOUCH_SSL_DELETER_(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
VOUCH_SSL_DELETER_(EVP_MD_CTX, EVP_MD_CTX_free);
VOUCH_SSL_DELETER_(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free);
VOUCH_SSL_DELETER_(BIO, BIO_free_all);
VOUCH_SSL_DELETER_(BIGNUM, BN_free);
VOUCH_SSL_DELETER_(BN_CTX, BN_CTX_free);
VOUCH_SSL_DELETER_(ECDSA_SIG, ECDSA_SIG_free);
VOUCH_SSL_DELETER_(EC_GROUP, EC_GROUP_free);
VOUCH_SSL_DELETER_(EC_POINT, EC_POINT_free);
VOUCH_SSL_DELETER_(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
VOUCH_SSL_DELETER_(OSSL_PARAM, OSSL_PARAM_free);

#undef VOUCH_SSL_DELETER_

template <typename T>
using SslPtr = std::unique_ptr<T, SslDeleter<T>>;

// SslError returns an Internal status "context: <OpenSSL errors>", draining
// the calling thread's OpenSSL error queue.
absl::Status SslError(std::string_view context);

// SslError with an explicit code, for failures caused by the input (for
// example kInvalidArgument for a key that does not parse).
absl::Status SslError(absl::StatusCode code, std::string_view context);

// ClearSslErrors drops queued OpenSSL errors after a failure that the caller
// handles itself, so they do not leak into a later SslError message.
void ClearSslErrors();

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_SSL_PTR_H_
