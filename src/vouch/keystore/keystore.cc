#include "vouch/keystore/keystore.h"

#include "vouch/base/status.h"

namespace vouch::keystore {

absl::Status ValidateKeySpec(const KeySpec& spec) {
  switch (spec.type) {
    case KeyType::kAes:
      if (spec.size_bits == 128 || spec.size_bits == 192 || spec.size_bits == 256) {
        return absl::OkStatus();
      }
      return InvalidArgumentf("keystore: AES key size {} bits, want 128, 192 or 256",
                              spec.size_bits);
    case KeyType::kRsa:
      if (spec.size_bits == 2048 || spec.size_bits == 3072 || spec.size_bits == 4096) {
        return absl::OkStatus();
      }
      return InvalidArgumentf("keystore: RSA key size {} bits, want 2048, 3072 or 4096",
                              spec.size_bits);
    case KeyType::kEc:
      if (spec.size_bits == 256 || spec.size_bits == 384) {
        return absl::OkStatus();
      }
      return InvalidArgumentf("keystore: EC key size {} bits, want 256 (P-256) or 384 (P-384)",
                              spec.size_bits);
  }
  return InvalidArgumentf("keystore: unknown key type {}", static_cast<int>(spec.type));
}

std::string KeySpecName(const KeySpec& spec) {
  switch (spec.type) {
    case KeyType::kAes:
      return fmt::format("AES-{}", spec.size_bits);
    case KeyType::kRsa:
      return fmt::format("RSA-{}", spec.size_bits);
    case KeyType::kEc:
      return fmt::format("EC-P-{}", spec.size_bits);
  }
  return fmt::format("unknown-{}", spec.size_bits);
}

absl::StatusOr<std::string> EcCurveForSpec(const KeySpec& spec) {
  if (spec.type == KeyType::kEc && spec.size_bits == 256) {
    return std::string("P-256");
  }
  if (spec.type == KeyType::kEc && spec.size_bits == 384) {
    return std::string("P-384");
  }
  return InvalidArgumentf("keystore: {} is not an EC P-256 or P-384 spec", KeySpecName(spec));
}

ReleasedKeyFormat ReleasedFormatFor(KeyType type) {
  return type == KeyType::kAes ? ReleasedKeyFormat::kRawAes : ReleasedKeyFormat::kPkcs8Der;
}

absl::StatusOr<SecretBytes> ReleasedPkcs8Der(const SecretBytes& released) {
  const ByteSpan bytes = released.Expose();
  // X.690 section 8.1: tag 0x30 (SEQUENCE), then a short or long length.
  if (bytes.size() < 2 || bytes[0] != 0x30) {
    return InvalidArgumentf("keystore: released private key is not a DER SEQUENCE");
  }
  size_t header = 2;
  size_t length = bytes[1];
  if ((bytes[1] & 0x80) != 0) {
    const size_t length_bytes = bytes[1] & 0x7f;
    if (length_bytes == 0 || length_bytes > 3 || bytes.size() < 2 + length_bytes) {
      return InvalidArgumentf("keystore: released private key has a bad DER length");
    }
    length = 0;
    for (size_t i = 0; i < length_bytes; ++i) {
      length = (length << 8) | bytes[2 + i];
    }
    header += length_bytes;
  }
  const size_t der_size = header + length;
  if (der_size > bytes.size() || bytes.size() - der_size > 7 ||
      !IsAllZero(bytes.subspan(der_size))) {
    return InvalidArgumentf("keystore: released private key has {} bytes, but its DER has {}",
                            bytes.size(), der_size);
  }
  return SecretBytes(bytes.first(der_size));
}

}  // namespace vouch::keystore
