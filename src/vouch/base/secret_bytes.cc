#include "vouch/base/secret_bytes.h"

#include <openssl/crypto.h>

#include <utility>

namespace vouch {

SecretBytes::~SecretBytes() { Wipe(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
  other.bytes_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

void SecretBytes::Wipe() {
  SecureWipe(bytes_);
  bytes_.clear();
}

bool SecretBytes::operator==(const SecretBytes& other) const {
  return ConstantTimeEquals(bytes_, other.bytes_);
}

bool ConstantTimeEquals(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void SecureWipe(std::span<uint8_t> bytes) {
  if (!bytes.empty()) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
  }
}

}  // namespace vouch
