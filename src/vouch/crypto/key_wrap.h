// Key wrapping: AES Key Wrap (RFC 3394), AES Key Wrap with Padding
// (RFC 5649), RSA-OAEP, and their combination, the PKCS#11 mechanism
// CKM_RSA_AES_KEY_WRAP, which Azure Key Vault uses for secure key release.
#ifndef VOUCH_CRYPTO_KEY_WRAP_H_
#define VOUCH_CRYPTO_KEY_WRAP_H_

#include <openssl/evp.h>

#include <cstddef>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/crypto/hash.h"

namespace vouch::crypto {

// Upper bound on the size of a key to wrap.
inline constexpr size_t kMaxWrappedKeyBytes = 64 * 1024;

// AesKeyWrapPad wraps `key` (1 to kMaxWrappedKeyBytes bytes) under a 16-,
// 24- or 32-byte KEK with RFC 5649. The output is 8 bytes longer than `key`
// rounded up to a multiple of 8.
absl::StatusOr<Bytes> AesKeyWrapPad(const SecretBytes& kek, ByteSpan key);
// AesKeyUnwrapPad returns Unauthenticated when the integrity check fails
// (wrong KEK or modified input) and InvalidArgument for a bad size.
absl::StatusOr<SecretBytes> AesKeyUnwrapPad(const SecretBytes& kek, ByteSpan wrapped);

// AesKeyWrap wraps `key` with RFC 3394, which needs a multiple of 8 bytes
// and at least 16.
absl::StatusOr<Bytes> AesKeyWrap(const SecretBytes& kek, ByteSpan key);
absl::StatusOr<SecretBytes> AesKeyUnwrap(const SecretBytes& kek, ByteSpan wrapped);

// RsaOaepEncrypt encrypts with RSAES-OAEP (RFC 8017 section 7.1), with the
// same hash for OAEP and MGF1 and an empty label.
absl::StatusOr<Bytes> RsaOaepEncrypt(EVP_PKEY* public_key, HashAlg hash, ByteSpan plaintext);
// RsaOaepDecrypt returns Unauthenticated when the ciphertext does not
// decrypt (wrong key, wrong hash, or modified input).
absl::StatusOr<SecretBytes> RsaOaepDecrypt(EVP_PKEY* private_key, HashAlg hash,
                                           ByteSpan ciphertext);

// RsaAesKeyWrap implements CKM_RSA_AES_KEY_WRAP: it makes a fresh AES-256
// key, wraps it with RSA-OAEP (`oaep_hash` for OAEP and MGF1) and wraps
// `target_key` under it with RFC 5649. Output: RSA ciphertext (the modulus
// size) || RFC 5649 output.
absl::StatusOr<Bytes> RsaAesKeyWrap(EVP_PKEY* public_key, HashAlg oaep_hash, ByteSpan target_key);
// RsaAesKeyUnwrap reverses RsaAesKeyWrap. It accepts a 16-, 24- or 32-byte
// temporary AES key, as PKCS#11 allows.
absl::StatusOr<SecretBytes> RsaAesKeyUnwrap(EVP_PKEY* private_key, HashAlg oaep_hash,
                                            ByteSpan wrapped);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_KEY_WRAP_H_
