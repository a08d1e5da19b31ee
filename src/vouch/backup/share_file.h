// Share files: one M-of-N share of a backup key, as text.
//
//   vouch-backup-share 1
//   backup-id: <32 lower-case hex digits>
//   index: <1..16>
//   threshold: <M>
//   shares: <N>
//   value: <64 lower-case hex digits>
//   checksum: <SHA-256 of every line above, newlines included, in hex>
//
// The checksum catches a damaged or mistyped file before the shares are
// combined. It is no authentication: a wrong share that carries a fresh
// checksum gives a wrong backup key, and the backup's AES-GCM tag rejects it.
#ifndef VOUCH_BACKUP_SHARE_FILE_H_
#define VOUCH_BACKUP_SHARE_FILE_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "vouch/backup/shamir.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::backup {

inline constexpr size_t kBackupIdBytes = 16;
inline constexpr size_t kMaxShareFileBytes = 4096;

// BackupShare is one parsed share file.
struct BackupShare {
  Bytes backup_id;  // kBackupIdBytes, the id in the backup's header
  int threshold = 0;
  int num_shares = 0;
  SecretShare share;
};

// EncodeShareFile returns the text of a share file. It contains key material,
// so it comes back as SecretBytes; write it with mode 0600.
absl::StatusOr<SecretBytes> EncodeShareFile(const BackupShare& share);

// ParseShareFile reads a share file. InvalidArgument names the first line
// that does not match the format above or a value out of range; DataLoss
// when the checksum does not match.
absl::StatusOr<BackupShare> ParseShareFile(ByteSpan text);

}  // namespace vouch::backup

#endif  // VOUCH_BACKUP_SHARE_FILE_H_
