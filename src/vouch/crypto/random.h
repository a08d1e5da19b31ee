// Cryptographically secure random bytes from OpenSSL's default DRBG.
#ifndef VOUCH_CRYPTO_RANDOM_H_
#define VOUCH_CRYPTO_RANDOM_H_

#include <cstddef>

#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::crypto {

// RandomBytes returns `n` random bytes for public values (nonces, ids).
// It aborts the process if the DRBG fails, because no caller can continue
// safely without randomness.
Bytes RandomBytes(size_t n);

// RandomSecret returns `n` random bytes for key material.
SecretBytes RandomSecret(size_t n);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_RANDOM_H_
