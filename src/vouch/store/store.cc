#include "vouch/store/store.h"

#include "vouch/base/status.h"

namespace vouch::store {

namespace {

constexpr size_t kMaxNameChars = 127;
constexpr size_t kVersionChars = 32;

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

absl::Status ValidateKeyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameChars) {
    return InvalidArgumentf("key name has {} characters, want 1 to {}", name.size(), kMaxNameChars);
  }
  for (const char c : name) {
    if (!IsAsciiAlnum(c) && c != '-') {
      return InvalidArgumentf("key name '{}' is invalid: use only letters, digits and '-'", name);
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateKeyVersion(std::string_view version) {
  if (version.size() != kVersionChars) {
    return InvalidArgumentf("key version has {} characters, want {} lower-case hex digits",
                            version.size(), kVersionChars);
  }
  for (const char c : version) {
    if (!IsLowerHex(c)) {
      return InvalidArgumentf("key version '{}' is invalid: want {} lower-case hex digits", version,
                              kVersionChars);
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBlobName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameChars) {
    return InvalidArgumentf("blob name has {} characters, want 1 to {}", name.size(),
                            kMaxNameChars);
  }
  for (const char c : name) {
    if (!IsAsciiAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-') {
      return InvalidArgumentf(
          "blob name '{}' is invalid: use only letters, digits, '.', '_', ':' and '-'", name);
    }
  }
  return absl::OkStatus();
}

}  // namespace vouch::store
