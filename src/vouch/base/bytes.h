// Byte buffers and their text encodings (hex, base64, base64url).
#ifndef VOUCH_BASE_BYTES_H_
#define VOUCH_BASE_BYTES_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vouch {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

// AsBytes views the characters of `s` as bytes, without copying.
ByteSpan AsBytes(std::string_view s);
// ToBytes copies the characters of `s` into a byte buffer.
Bytes ToBytes(std::string_view s);
// ToString copies bytes into a std::string.
std::string ToString(ByteSpan bytes);

// HexEncode writes lower-case hex with no separators.
std::string HexEncode(ByteSpan bytes);
// HexDecode accepts upper- or lower-case hex of even length.
absl::StatusOr<Bytes> HexDecode(std::string_view hex);

// Base64Encode writes standard base64 with padding (RFC 4648 section 4).
std::string Base64Encode(ByteSpan bytes);
// Base64Decode accepts standard base64, with or without padding.
absl::StatusOr<Bytes> Base64Decode(std::string_view text);
// Base64UrlEncode writes base64url without padding (RFC 4648 section 5), as JOSE requires.
std::string Base64UrlEncode(ByteSpan bytes);
// Base64UrlDecode accepts base64url with or without padding.
absl::StatusOr<Bytes> Base64UrlDecode(std::string_view text);

// IsAllZero is true when every byte of `bytes` is zero (and for an empty span).
bool IsAllZero(ByteSpan bytes);

}  // namespace vouch

#endif  // VOUCH_BASE_BYTES_H_
