// Keys shared by the crypto tests. Each is generated once per process
// because RSA key generation is slow and its time varies with the prime
// search (a 3072-bit key can take seconds). ctest runs every test in its own
// process, so tests use 3072-bit keys only where the size itself matters.
// Test-only: linked into vouch_crypto_test.
#ifndef VOUCH_CRYPTO_TEST_KEYS_H_
#define VOUCH_CRYPTO_TEST_KEYS_H_

#include <openssl/evp.h>

#include <string_view>

namespace vouch::crypto::testing {

// RsaTestKey returns a process-wide RSA private key of `bits` bits,
// generated on first use. Different `index` values give different keys of
// the same size. It aborts if generation fails.
EVP_PKEY* RsaTestKey(int bits, int index = 0);

// EcTestKey returns a process-wide EC private key on `curve` ("P-256",
// "P-384" or "P-521"), generated on first use.
EVP_PKEY* EcTestKey(std::string_view curve, int index = 0);

}  // namespace vouch::crypto::testing

#endif  // VOUCH_CRYPTO_TEST_KEYS_H_
