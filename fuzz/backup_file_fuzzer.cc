// Fuzz target: the backup file reader (vouch backup restore). Every input
// goes to ParseBackupHeader and ParseShareFile as it is. An input of at
// least kBackupHeaderBytes is also read as a 99-byte header followed by the
// content in clear. The target then sets the header's backup id,
// threshold, shares, content SHA-256 and ciphertext length to match,
// encrypts the content under a fixed backup key and opens the file with two
// shares of that key. So OpenBackup decodes and checks fuzzed content, which
// in a real file only the holders of enough shares could write.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/backup/backup.h"
#include "vouch/backup/shamir.h"
#include "vouch/backup/share_file.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/crypto/aead.h"
#include "vouch/crypto/hash.h"

namespace {

namespace backup = vouch::backup;

// Header offsets, from the file format in backup.h.
constexpr size_t kBackupIdOffset = 12;
constexpr size_t kThresholdOffset = 36;
constexpr size_t kContentSha256Offset = 59;
constexpr size_t kCiphertextLengthOffset = 91;

struct FixedBackupKey {
  vouch::SecretBytes key;
  vouch::Bytes backup_id;
  std::vector<backup::BackupShare> shares;
};

const FixedBackupKey& Fixed() {
  static const FixedBackupKey* const fixed = [] {
    auto* fixed_key = new FixedBackupKey;
    std::array<uint8_t, 32> key_bytes;
    key_bytes.fill(0x42);
    fixed_key->key = vouch::SecretBytes(vouch::ByteSpan(key_bytes));
    fixed_key->backup_id.assign(backup::kBackupIdBytes, 0x17);
    absl::StatusOr<std::vector<backup::SecretShare>> split =
        backup::SplitSecret(fixed_key->key, /*threshold=*/2, /*num_shares=*/2);
    if (!split.ok()) {
      std::abort();
    }
    for (backup::SecretShare& share : *split) {
      fixed_key->shares.push_back(backup::BackupShare{fixed_key->backup_id, 2, 2, std::move(share)});
    }
    return fixed_key;
  }();
  return *fixed;
}

void PutU64Be(uint64_t value, uint8_t* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value);
    value >>= 8;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const vouch::ByteSpan input(data, size);
  (void)backup::ParseBackupHeader(input);
  (void)backup::ParseShareFile(input);
  if (size < backup::kBackupHeaderBytes) {
    return 0;
  }

  const FixedBackupKey& fixed = Fixed();
  const vouch::ByteSpan content = input.subspan(backup::kBackupHeaderBytes);
  vouch::Bytes file(input.begin(), input.begin() + backup::kBackupHeaderBytes);
  std::copy(fixed.backup_id.begin(), fixed.backup_id.end(), file.begin() + kBackupIdOffset);
  file[kThresholdOffset] = 2;
  file[kThresholdOffset + 1] = 2;
  const vouch::Bytes content_sha256 = vouch::crypto::Sha256(content);
  std::copy(content_sha256.begin(), content_sha256.end(), file.begin() + kContentSha256Offset);
  PutU64Be(content.size() + vouch::crypto::kAesGcmNonceBytes + vouch::crypto::kAesGcmTagBytes,
           file.data() + kCiphertextLengthOffset);

  absl::StatusOr<vouch::Bytes> sealed = vouch::crypto::AesGcmSeal(fixed.key, content, file);
  if (!sealed.ok()) {
    return 0;
  }
  file.insert(file.end(), sealed->begin(), sealed->end());
  (void)backup::OpenBackup(file, fixed.shares);
  return 0;
}
