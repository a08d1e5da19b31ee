// AES-256-GCM sealing with a random 96-bit nonce.
#ifndef VOUCH_CRYPTO_AEAD_H_
#define VOUCH_CRYPTO_AEAD_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::crypto {

inline constexpr size_t kAesGcmKeyBytes = 32;
inline constexpr size_t kAesGcmNonceBytes = 12;
inline constexpr size_t kAesGcmTagBytes = 16;

// AesGcmSeal encrypts `plaintext` under a 32-byte key and authenticates it
// together with `aad`. The output is nonce (12 bytes) || ciphertext || tag
// (16 bytes). With random nonces, NIST SP 800-38D section 8.3 limits one key
// to 2^32 seals.
absl::StatusOr<Bytes> AesGcmSeal(const SecretBytes& key32, ByteSpan plaintext, ByteSpan aad);

// AesGcmOpen reverses AesGcmSeal. It returns Unauthenticated when the tag
// does not match (wrong key, wrong aad or modified input) and InvalidArgument
// when the key size is wrong or `sealed` is shorter than nonce and tag.
absl::StatusOr<SecretBytes> AesGcmOpen(const SecretBytes& key32, ByteSpan sealed, ByteSpan aad);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_AEAD_H_
