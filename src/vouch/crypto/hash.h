// Message digests by algorithm name.
#ifndef VOUCH_CRYPTO_HASH_H_
#define VOUCH_CRYPTO_HASH_H_

#include <openssl/evp.h>

#include <cstddef>
#include <string_view>

#include "vouch/base/bytes.h"

namespace vouch::crypto {

enum class HashAlg { kSha1, kSha256, kSha384, kSha512 };

// EvpMd returns OpenSSL's static digest for `alg` (never null, never freed).
const EVP_MD* EvpMd(HashAlg alg);

// HashSize returns the digest size in bytes (20, 32, 48 or 64).
size_t HashSize(HashAlg alg);

// HashAlgName returns "SHA-1", "SHA-256", "SHA-384" or "SHA-512".
std::string_view HashAlgName(HashAlg alg);

Bytes Hash(HashAlg alg, ByteSpan data);
Bytes Sha256(ByteSpan data);
Bytes Sha384(ByteSpan data);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_HASH_H_
