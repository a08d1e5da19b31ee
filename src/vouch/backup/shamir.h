// Shamir secret sharing over GF(2^8), byte by byte.
//
// SplitSecret makes `num_shares` shares of a secret such that any
// `threshold` of them give the secret back and fewer reveal nothing about
// it (Shamir, "How to share a secret", CACM 22(11), 1979). Each secret byte
// is the constant term of its own random polynomial of degree threshold-1;
// share i contains the polynomials evaluated at x = i (1..num_shares). The field
// is GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1
// (FIPS 197 section 4.2), and the field operations run in constant time
// (no tables indexed by secret bytes).
#ifndef VOUCH_BACKUP_SHAMIR_H_
#define VOUCH_BACKUP_SHAMIR_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::backup {

// Bounds on the number of shares and the threshold: 2 <= threshold <=
// num_shares <= kMaxShares.
inline constexpr int kMinThreshold = 2;
inline constexpr int kMaxShares = 16;

// SecretShare is one share: its x coordinate (1..kMaxShares) and one y byte
// per secret byte.
struct SecretShare {
  uint8_t index = 0;
  SecretBytes value;
};

// GfMultiply multiplies in GF(2^8) with the AES polynomial, in constant time.
uint8_t GfMultiply(uint8_t a, uint8_t b);

// SplitSecret returns `num_shares` shares with indexes 1..num_shares.
// InvalidArgument when the bounds above do not hold or `secret` is empty.
absl::StatusOr<std::vector<SecretShare>> SplitSecret(const SecretBytes& secret, int threshold,
                                                     int num_shares);

// CombineShares interpolates the shares at x = 0 (Lagrange) and returns the
// secret. It needs at least two shares, distinct non-zero indexes and
// values of one length, else InvalidArgument. It cannot tell a wrong share
// from a right one: the caller checks the result, for example with an AEAD
// tag. The caller also checks that it passes at least the threshold.
absl::StatusOr<SecretBytes> CombineShares(std::span<const SecretShare> shares);

}  // namespace vouch::backup

#endif  // VOUCH_BACKUP_SHAMIR_H_
