#include "vouch/store/store.h"

#include "vouch/base/status.h"
#include "vouch/store/blob_writes.h"

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

namespace internal {

absl::Status ValidateBlobWrites(const std::vector<BlobPrecondition>& preconditions,
                                const std::vector<BlobWrite>& writes) {
  if (writes.empty()) {
    return InvalidArgumentf("write blobs: no writes given, want at least one");
  }
  for (const BlobPrecondition& precondition : preconditions) {
    VOUCH_RETURN_IF_ERROR(ValidateBlobName(precondition.name));
  }
  for (const BlobWrite& write : writes) {
    VOUCH_RETURN_IF_ERROR(ValidateBlobName(write.name));
    if (write.value.has_value() && write.value->size() > kMaxBlobBytes) {
      return InvalidArgumentf("blob {}: {} bytes, more than the limit of {}", write.name,
                              write.value->size(), kMaxBlobBytes);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckBlobPrecondition(const BlobPrecondition& precondition,
                                   const std::optional<Bytes>& current) {
  if (precondition.value == current) {
    return absl::OkStatus();
  }
  if (!precondition.value.has_value()) {
    return absl::AbortedError(fmt::format(
        "blob {} exists, want it absent: another writer stored it after it was read; read it "
        "again and retry",
        precondition.name));
  }
  if (!current.has_value()) {
    return absl::AbortedError(fmt::format(
        "blob {} not found: another writer deleted it after it was read; read it again and retry",
        precondition.name));
  }
  return absl::AbortedError(fmt::format(
      "blob {} changed after it was read: another writer stored a new value; read it again and "
      "retry",
      precondition.name));
}

}  // namespace internal

}  // namespace vouch::store
