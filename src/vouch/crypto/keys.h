// Key generation and PEM/DER encoding of RSA and EC keys.
#ifndef VOUCH_CRYPTO_KEYS_H_
#define VOUCH_CRYPTO_KEYS_H_

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto {

// Limits on RSA modulus sizes that GenerateRsaKey accepts. 1024 is allowed
// only so tests can build too-small keys that other checks must reject.
inline constexpr int kMinGeneratedRsaBits = 1024;
inline constexpr int kMaxRsaBits = 8192;
// Upper bound for PEM and DER key input.
inline constexpr size_t kMaxKeyInputBytes = 64 * 1024;

// GenerateRsaKey makes an RSA key with public exponent 65537.
absl::StatusOr<SslPtr<EVP_PKEY>> GenerateRsaKey(int bits);

// GenerateEcKey makes an EC key on "P-256", "P-384" or "P-521".
absl::StatusOr<SslPtr<EVP_PKEY>> GenerateEcKey(std::string_view curve);

// IsRsaKey and IsEcKey test the key type.
bool IsRsaKey(EVP_PKEY* key);
bool IsEcKey(EVP_PKEY* key);

// EcCurveName returns "P-256", "P-384" or "P-521" for an EC key on one of
// those curves, else InvalidArgument.
absl::StatusOr<std::string> EcCurveName(EVP_PKEY* key);

// PrivateKeyToPem writes an unencrypted PKCS#8 "PRIVATE KEY" block.
absl::StatusOr<SecretBytes> PrivateKeyToPem(EVP_PKEY* key);
// PrivateKeyFromPem reads an unencrypted PKCS#8 or traditional RSA/EC
// private key. Encrypted keys are rejected.
absl::StatusOr<SslPtr<EVP_PKEY>> PrivateKeyFromPem(ByteSpan pem);

// PublicKeyToPem writes a "PUBLIC KEY" (SubjectPublicKeyInfo) block.
absl::StatusOr<std::string> PublicKeyToPem(EVP_PKEY* key);
// PublicKeyFromPem reads a "PUBLIC KEY" block.
absl::StatusOr<SslPtr<EVP_PKEY>> PublicKeyFromPem(ByteSpan pem);

// PublicKeyToDer returns the DER SubjectPublicKeyInfo.
absl::StatusOr<Bytes> PublicKeyToDer(EVP_PKEY* key);
// PublicKeyFromDer parses exactly one DER SubjectPublicKeyInfo and rejects
// trailing bytes.
absl::StatusOr<SslPtr<EVP_PKEY>> PublicKeyFromDer(ByteSpan der);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_KEYS_H_
