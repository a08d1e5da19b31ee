#include "vouch/base/bytes.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "vouch/base/status.h"

namespace vouch {

ByteSpan AsBytes(std::string_view s) {
  // Viewing chars as unsigned chars is the one aliasing the language allows.
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

Bytes ToBytes(std::string_view s) {
  const ByteSpan view = AsBytes(s);
  return Bytes(view.begin(), view.end());
}

std::string ToString(ByteSpan bytes) { return std::string(bytes.begin(), bytes.end()); }

std::string HexEncode(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

namespace {

// Debian's Abseil has its own absl::string_view, so bytes are viewed as one here.
using ::vouch::AbslView;
absl::string_view AbslView(ByteSpan b) {
  return absl::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return InvalidArgumentf("hex: odd length {}", hex.size());
  }
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgumentf("hex: invalid character at offset {}", hi < 0 ? 2 * i : 2 * i + 1);
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string Base64Encode(ByteSpan bytes) {
  return absl::Base64Escape(AbslView(bytes));
}

absl::StatusOr<Bytes> Base64Decode(std::string_view text) {
  std::string out;
  if (!absl::Base64Unescape(AbslView(text), &out)) {
    return InvalidArgumentf("base64: invalid encoding of {} characters", text.size());
  }
  return ToBytes(out);
}

std::string Base64UrlEncode(ByteSpan bytes) {
  return absl::WebSafeBase64Escape(AbslView(bytes));
}

absl::StatusOr<Bytes> Base64UrlDecode(std::string_view text) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(AbslView(text), &out)) {
    return InvalidArgumentf("base64url: invalid encoding of {} characters", text.size());
  }
  return ToBytes(out);
}

bool IsAllZero(ByteSpan bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace vouch
