#include "vouch/backup/share_file.h"

#include <charconv>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"

namespace vouch::backup {
namespace {

constexpr std::string_view kFirstLine = "vouch-backup-share 1";
constexpr size_t kShareValueBytes = 32;

bool IsLowerHex(std::string_view text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// FieldValue returns the text after "<name>: " on `line`.
absl::StatusOr<std::string_view> FieldValue(std::string_view line, std::string_view name,
                                            int line_number) {
  const std::string prefix = std::string(name) + ": ";
  if (line.substr(0, prefix.size()) != prefix) {
    return InvalidArgumentf("share file: line {} must start with '{}'", line_number, prefix);
  }
  return line.substr(prefix.size());
}

absl::StatusOr<int> SmallNumber(std::string_view text, std::string_view name) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty() ||
      (text.size() > 1 && text[0] == '0') || value < 1 || value > kMaxShares) {
    return InvalidArgumentf("share file: {} '{}' is not a number from 1 to {}", name, text,
                            kMaxShares);
  }
  return value;
}

absl::StatusOr<Bytes> HexField(std::string_view text, std::string_view name, size_t bytes) {
  if (text.size() != 2 * bytes || !IsLowerHex(text)) {
    return InvalidArgumentf("share file: {} must be {} lower-case hex digits", name, 2 * bytes);
  }
  return HexDecode(text);
}

}  // namespace

absl::StatusOr<SecretBytes> EncodeShareFile(const BackupShare& share) {
  if (share.backup_id.size() != kBackupIdBytes || share.share.value.size() != kShareValueBytes) {
    return InvalidArgumentf(
        "share file: backup id of {} bytes and value of {} bytes, want {} "
        "and {}",
        share.backup_id.size(), share.share.value.size(), kBackupIdBytes, kShareValueBytes);
  }
  std::string text = std::string(kFirstLine) + "\n";
  text += "backup-id: " + HexEncode(share.backup_id) + "\n";
  text += "index: " + std::to_string(share.share.index) + "\n";
  text += "threshold: " + std::to_string(share.threshold) + "\n";
  text += "shares: " + std::to_string(share.num_shares) + "\n";
  text += "value: " + HexEncode(share.share.value.Expose()) + "\n";
  text += "checksum: " + HexEncode(crypto::Sha256(AsBytes(text))) + "\n";
  SecretBytes out(AsBytes(text));
  SecureWipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size()));
  return out;
}

absl::StatusOr<BackupShare> ParseShareFile(ByteSpan bytes) {
  if (bytes.size() > kMaxShareFileBytes) {
    return InvalidArgumentf("share file: {} bytes, at most {}", bytes.size(), kMaxShareFileBytes);
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      return InvalidArgumentf("share file: the last line has no newline (truncated?)");
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (lines.size() != 7) {
    return InvalidArgumentf("share file: {} lines, want 7", lines.size());
  }
  if (lines[0] != kFirstLine) {
    return InvalidArgumentf("share file: line 1 must be '{}'", kFirstLine);
  }

  // The checksum covers lines 1 to 6 with their newlines.
  const size_t checked_bytes = static_cast<size_t>(lines[6].data() - text.data());
  VOUCH_ASSIGN_OR_RETURN(const std::string_view checksum_text, FieldValue(lines[6], "checksum", 7));
  VOUCH_ASSIGN_OR_RETURN(const Bytes checksum, HexField(checksum_text, "checksum", 32));
  if (!ConstantTimeEquals(checksum, crypto::Sha256(bytes.first(checked_bytes)))) {
    return absl::DataLossError("share file: checksum mismatch: the file is damaged or was edited");
  }

  BackupShare share;
  VOUCH_ASSIGN_OR_RETURN(const std::string_view id, FieldValue(lines[1], "backup-id", 2));
  VOUCH_ASSIGN_OR_RETURN(share.backup_id, HexField(id, "backup-id", kBackupIdBytes));
  VOUCH_ASSIGN_OR_RETURN(const std::string_view index, FieldValue(lines[2], "index", 3));
  VOUCH_ASSIGN_OR_RETURN(const int index_value, SmallNumber(index, "index"));
  VOUCH_ASSIGN_OR_RETURN(const std::string_view threshold, FieldValue(lines[3], "threshold", 4));
  VOUCH_ASSIGN_OR_RETURN(share.threshold, SmallNumber(threshold, "threshold"));
  VOUCH_ASSIGN_OR_RETURN(const std::string_view num_shares, FieldValue(lines[4], "shares", 5));
  VOUCH_ASSIGN_OR_RETURN(share.num_shares, SmallNumber(num_shares, "shares"));
  if (share.threshold < kMinThreshold || share.threshold > share.num_shares ||
      index_value > share.num_shares) {
    return InvalidArgumentf(
        "share file: index {}, threshold {}, shares {}: want 1 <= index <= "
        "shares and 2 <= threshold <= shares",
        index_value, share.threshold, share.num_shares);
  }
  share.share.index = static_cast<uint8_t>(index_value);
  VOUCH_ASSIGN_OR_RETURN(const std::string_view value, FieldValue(lines[5], "value", 6));
  VOUCH_ASSIGN_OR_RETURN(Bytes value_bytes, HexField(value, "value", kShareValueBytes));
  share.share.value = SecretBytes(value_bytes);
  SecureWipe(value_bytes);
  return share;
}

}  // namespace vouch::backup
