// ECDSA signatures in the raw r||s form used by SEV-SNP reports and JOSE,
// and in the DER form used by X.509 and TLS.
#ifndef VOUCH_CRYPTO_ECDSA_H_
#define VOUCH_CRYPTO_ECDSA_H_

#include <openssl/evp.h>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"

namespace vouch::crypto {

// EcFieldSize returns the size in bytes of a coordinate (and of r and s) for
// the EC key's curve: 32 for P-256, 48 for P-384, 66 for P-521. It returns
// InvalidArgument for a key that is not an EC key.
absl::StatusOr<size_t> EcFieldSize(EVP_PKEY* key);

// VerifyEcdsaRaw verifies an ECDSA signature over `message` (hashed here
// with `hash`) given big-endian r and s. Leading zero bytes in r and s are
// allowed because SEV-SNP stores them in 72-byte fields. Without those bytes
// each must fit the curve's field size. Returns Unauthenticated when the signature does not
// verify, including r or s empty, zero, too long or not below the group
// order, and InvalidArgument when `key` is not an EC key.
absl::Status VerifyEcdsaRaw(EVP_PKEY* key, HashAlg hash, ByteSpan message, ByteSpan r_be,
                            ByteSpan s_be);

// VerifyEcdsaP1363 verifies a signature in IEEE P1363 form (r||s, each
// exactly EcFieldSize bytes), as JOSE (RFC 7518 section 3.4) uses. Any other
// size is Unauthenticated. Otherwise the same as VerifyEcdsaRaw.
absl::Status VerifyEcdsaP1363(EVP_PKEY* key, HashAlg hash, ByteSpan message, ByteSpan signature);

// VerifyEcdsaDer verifies a DER ECDSA-Sig-Value. OpenSSL rejects non-DER
// (BER) encodings and trailing bytes. Same status codes as VerifyEcdsaRaw.
absl::Status VerifyEcdsaDer(EVP_PKEY* key, HashAlg hash, ByteSpan message, ByteSpan der);

// SignEcdsaRaw signs `message` (hashed with `hash`) with an EC private key
// and returns r||s, each big-endian and EcFieldSize bytes long.
absl::StatusOr<Bytes> SignEcdsaRaw(EVP_PKEY* key, HashAlg hash, ByteSpan message);

}  // namespace vouch::crypto

#endif  // VOUCH_CRYPTO_ECDSA_H_
