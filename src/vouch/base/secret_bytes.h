// SecretBytes: key material that is wiped when freed and never printed.
//
// The type is move-only, compares in constant time, and has no stream or fmt
// formatter, so logging one fails to compile. Raw bytes come out only through
// Expose(), at the point where they leave the process (a wrap operation, an
// HSM call, a LUKS keyslot).
#ifndef VOUCH_BASE_SECRET_BYTES_H_
#define VOUCH_BASE_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vouch/base/bytes.h"

namespace vouch {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : bytes_(size) {}
  // Copies `bytes`; the caller wipes its own copy if it owns one.
  explicit SecretBytes(ByteSpan bytes) : bytes_(bytes.begin(), bytes.end()) {}
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // Clone makes an explicit copy; copies are never implicit.
  SecretBytes Clone() const { return SecretBytes(Expose()); }

  ByteSpan Expose() const { return bytes_; }
  std::span<uint8_t> MutableExpose() { return bytes_; }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  // Constant-time comparison: the time depends on the sizes only.
  bool operator==(const SecretBytes& other) const;

 private:
  void Wipe();

  std::vector<uint8_t> bytes_;
};

// ConstantTimeEquals compares two byte strings in time that depends only on
// their sizes. Use it for MACs, tokens and credential hashes.
bool ConstantTimeEquals(ByteSpan a, ByteSpan b);

// SecureWipe overwrites `bytes` with zeros in a way the compiler keeps.
void SecureWipe(std::span<uint8_t> bytes);

}  // namespace vouch

#endif  // VOUCH_BASE_SECRET_BYTES_H_
