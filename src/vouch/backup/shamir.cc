#include "vouch/backup/shamir.h"

#include <cstddef>
#include <set>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/random.h"

namespace vouch::backup {
namespace {

// GfInverse returns a^254, which is a^-1 for a != 0 (the multiplicative
// group has order 255), by square-and-multiply over a fixed exponent.
uint8_t GfInverse(uint8_t a) {
  uint8_t result = 1;
  uint8_t power = a;
  for (int bit = 0; bit < 8; ++bit) {
    if ((254 >> bit) & 1) {
      result = GfMultiply(result, power);
    }
    power = GfMultiply(power, power);
  }
  return result;
}

}  // namespace

uint8_t GfMultiply(uint8_t a, uint8_t b) {
  uint8_t product = 0;
  for (int bit = 0; bit < 8; ++bit) {
    // mask is 0xff when the low bit of b is set, 0 otherwise.
    const uint8_t mask = static_cast<uint8_t>(-(b & 1));
    product ^= a & mask;
    // Multiply a by x, reducing by x^8 + x^4 + x^3 + x + 1 (0x11b).
    const uint8_t carry = static_cast<uint8_t>(-(a >> 7));
    a = static_cast<uint8_t>((a << 1) ^ (0x1b & carry));
    b >>= 1;
  }
  return product;
}

absl::StatusOr<std::vector<SecretShare>> SplitSecret(const SecretBytes& secret, int threshold,
                                                     int num_shares) {
  if (threshold < kMinThreshold || threshold > num_shares || num_shares > kMaxShares) {
    return InvalidArgumentf(
        "shamir: threshold {} of {} shares, want 2 <= threshold <= shares <= {}", threshold,
        num_shares, kMaxShares);
  }
  if (secret.empty()) {
    return InvalidArgumentf("shamir: the secret is empty");
  }

  std::vector<SecretShare> shares(static_cast<size_t>(num_shares));
  for (int i = 0; i < num_shares; ++i) {
    shares[static_cast<size_t>(i)].index = static_cast<uint8_t>(i + 1);
    shares[static_cast<size_t>(i)].value = SecretBytes(secret.size());
  }

  // coefficients[0] is the secret byte, the others are random.
  SecretBytes coefficients(static_cast<size_t>(threshold));
  for (size_t byte = 0; byte < secret.size(); ++byte) {
    SecretBytes random = crypto::RandomSecret(static_cast<size_t>(threshold - 1));
    std::span<uint8_t> coefficient = coefficients.MutableExpose();
    coefficient[0] = secret.Expose()[byte];
    for (size_t k = 1; k < coefficient.size(); ++k) {
      coefficient[k] = random.Expose()[k - 1];
    }
    for (SecretShare& share : shares) {
      // Horner's rule from the highest coefficient down.
      uint8_t y = 0;
      for (size_t k = coefficient.size(); k-- > 0;) {
        y = static_cast<uint8_t>(GfMultiply(y, share.index) ^ coefficient[k]);
      }
      share.value.MutableExpose()[byte] = y;
    }
  }
  return shares;
}

absl::StatusOr<SecretBytes> CombineShares(std::span<const SecretShare> shares) {
  if (shares.size() < static_cast<size_t>(kMinThreshold)) {
    return InvalidArgumentf("shamir: {} shares, need at least {}", shares.size(), kMinThreshold);
  }
  const size_t length = shares[0].value.size();
  std::set<uint8_t> indexes;
  for (const SecretShare& share : shares) {
    if (share.index == 0) {
      return InvalidArgumentf("shamir: share index 0 is invalid");
    }
    if (!indexes.insert(share.index).second) {
      return InvalidArgumentf("shamir: share index {} given twice", share.index);
    }
    if (share.value.size() != length || length == 0) {
      return InvalidArgumentf("shamir: share {} has {} bytes, want {}", share.index,
                              share.value.size(), length);
    }
  }

  // Lagrange basis at x = 0: l_i = prod_{j != i} x_j / (x_j - x_i); in
  // GF(2^8) subtraction is XOR. The indexes are public, so these need no
  // constant-time care beyond GfMultiply.
  std::vector<uint8_t> basis(shares.size());
  for (size_t i = 0; i < shares.size(); ++i) {
    uint8_t numerator = 1;
    uint8_t denominator = 1;
    for (size_t j = 0; j < shares.size(); ++j) {
      if (i == j) {
        continue;
      }
      numerator = GfMultiply(numerator, shares[j].index);
      denominator = GfMultiply(denominator, shares[j].index ^ shares[i].index);
    }
    basis[i] = GfMultiply(numerator, GfInverse(denominator));
  }

  SecretBytes secret(length);
  for (size_t byte = 0; byte < length; ++byte) {
    uint8_t value = 0;
    for (size_t i = 0; i < shares.size(); ++i) {
      value ^= GfMultiply(basis[i], shares[i].value.Expose()[byte]);
    }
    secret.MutableExpose()[byte] = value;
  }
  return secret;
}

}  // namespace vouch::backup
