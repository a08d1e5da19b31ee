// Encrypted backups of a vouch instance: the store and what the key store
// needs to open it.
//
// A backup file contains every key version (sealed blobs as they are), the
// soft-deleted keys with their versions, every named blob of service state
// (the sealed token signing key, attestation policies, settings), the whole
// audit log and, for the software key store, the root key. The content is
// encrypted with AES-256-GCM under a fresh random backup key, and the
// backup key is split M-of-N with Shamir secret sharing (shamir.h) into
// share files (share_file.h) for different custodians.
//
// File format 2, integers big-endian (format 1 is the same without the
// PKCS#11 part at the end of the content; OpenBackup reads both):
//   0   magic "VOUCHBAK" (8 bytes)
//   8   format version, u32 (2)
//   12  backup id (16 random bytes), also written in every share file
//   28  created, Unix microseconds, i64
//   36  threshold M, u8; number of shares N, u8
//   38  key store kind, u8: 1 software (the root key is inside), 2 PKCS#11
//       (extractable token keys are inside, wrapped; see pkcs11_backup.h)
//   39  key versions, u32; deleted keys, u32; blobs, u32; audit events, u64
//   59  SHA-256 of the plaintext content (32 bytes)
//   91  ciphertext length, u64
//   99  AES-256-GCM nonce (12) || ciphertext || tag (16)
// The 99 header bytes are the GCM associated data, so a changed count, id or
// hash fails the tag. Nothing may follow the ciphertext.
//
// The content (before encryption) is a sequence of length-prefixed fields,
// documented in backup.cc beside EncodeContent. It contains the root key, so it
// is only ever in memory, in buffers that are wiped.
#ifndef VOUCH_BACKUP_BACKUP_H_
#define VOUCH_BACKUP_BACKUP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/backup/share_file.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/store/store.h"

namespace vouch::backup {

inline constexpr char kBackupMagic[] = "VOUCHBAK";
inline constexpr uint32_t kBackupFormatVersion = 2;
// The oldest format version OpenBackup reads.
inline constexpr uint32_t kMinBackupFormatVersion = 1;
inline constexpr size_t kBackupHeaderBytes = 99;
// kMaxBackupBytes limits the file a restore reads into memory.
inline constexpr size_t kMaxBackupBytes = size_t{1} << 30;

enum class KeyStoreKind : uint8_t {
  kSoftware = 1,
  kPkcs11 = 2,
};

// BackupHeader is the authenticated header of a backup file.
struct BackupHeader {
  uint32_t format_version = kBackupFormatVersion;
  Bytes backup_id;
  absl::Time created;
  int threshold = 0;
  int num_shares = 0;
  KeyStoreKind keystore = KeyStoreKind::kSoftware;
  uint32_t num_key_versions = 0;
  uint32_t num_deleted_keys = 0;
  uint32_t num_blobs = 0;
  uint64_t num_audit_events = 0;
  Bytes content_sha256;
  uint64_t ciphertext_bytes = 0;
};

// DeletedKeyBackup is a soft-deleted key with all its versions.
struct DeletedKeyBackup {
  store::DeletedKey key;
  std::vector<store::KeyRecord> versions;
};

struct NamedBlob {
  std::string name;
  Bytes value;
};

// WrappedKey is one PKCS#11 key version wrapped under the backup's
// wrapping key (Pkcs11KeyStore::ExportWrapped output).
struct WrappedKey {
  std::string name;
  std::string version;
  Bytes wrapped;
};

// SealedSecret is the secret of a named blob that the PKCS#11 key store
// sealed under the blob's name. The token's seal key cannot leave the
// token, so a restore seals the secret again under the target token's key.
struct SealedSecret {
  std::string blob_name;
  SecretBytes secret;
};

// BackupContents is the decrypted and checked content of a backup.
struct BackupContents {
  BackupHeader header;
  KeyStoreKind keystore = KeyStoreKind::kSoftware;
  SecretBytes root_key;                // software key store only; empty for PKCS#11
  std::vector<store::KeyRecord> keys;  // every version of every live key, with sealed_key
  std::vector<DeletedKeyBackup> deleted_keys;
  std::vector<NamedBlob> blobs;
  std::vector<store::AuditEvent> audit;  // with sequence, prev_hash and hash
  // PKCS#11 only, format 2 (pkcs11_backup.h): the 32-byte key the token
  // keys are wrapped under (empty when none is), the wrapped keys, and the
  // secrets of sealed blobs. A key version without a wrapped key was backed
  // up as a reference only.
  SecretBytes wrapping_key;
  std::vector<WrappedKey> wrapped_keys;
  std::vector<SealedSecret> sealed_secrets;
};

// BackupSource is the instance to back up.
struct BackupSource {
  store::Store* store = nullptr;
  // Returns every version of a soft-deleted key with its sealed blob
  // (SqliteStore and PostgresStore::ListDeletedKeyVersions).
  std::function<absl::StatusOr<std::vector<store::KeyRecord>>(std::string_view)>
      deleted_key_versions;
  KeyStoreKind keystore = KeyStoreKind::kSoftware;
  // The software key store's root key (32 bytes); empty for PKCS#11.
  const SecretBytes* root_key = nullptr;
  absl::Time now = absl::Now();
};

// CreatedBackup is the output of CreateBackup.
struct CreatedBackup {
  BackupHeader header;
  Bytes file;                       // the encrypted backup file
  std::vector<BackupShare> shares;  // write each with EncodeShareFile, mode 0600
};

// ReadSource reads everything a backup contains from `source` (not yet
// encrypted). The reads are separate queries: take the backup while no
// writes run, or accept that the audit log may be newer than the keys.
absl::StatusOr<BackupContents> ReadSource(const BackupSource& source);

// CreateBackup reads `source`, encrypts it under a fresh backup key and
// splits that key into `num_shares` shares of which `threshold` restore it
// (2 <= threshold <= num_shares <= 16). The audit chain is verified first,
// so a backup never carries a broken log. The backup key is wiped.
absl::StatusOr<CreatedBackup> CreateBackup(const BackupSource& source, int threshold,
                                           int num_shares);

// SealContents encrypts `contents` (whose header counts it fills in) with
// a fresh backup key; CreateBackup is ReadSource followed by this.
absl::StatusOr<CreatedBackup> SealContents(BackupContents contents, int threshold, int num_shares,
                                           absl::Time now);

// ParseBackupHeader reads and checks the header of a backup file and that
// the file ends right after the ciphertext. InvalidArgument for a wrong
// magic, an unknown version or a truncated or over-long file.
absl::StatusOr<BackupHeader> ParseBackupHeader(ByteSpan file);

// OpenBackup checks the shares against the header (same backup id, M and N,
// distinct indexes, at least M of them) and combines them. It then decrypts
// the content and verifies its SHA-256, the counts, every key name, version
// and blob name, and the audit chain. All of it happens in memory.
// Errors: InvalidArgument for a malformed file or share set,
// FailedPrecondition for too few shares, Unauthenticated when the
// combined key does not open the backup (a wrong share or a tampered file),
// DataLoss when the content does not match the header or the audit chain
// is broken.
absl::StatusOr<BackupContents> OpenBackup(ByteSpan file, std::span<const BackupShare> shares);

// CheckStoreEmpty returns FailedPrecondition, naming what it found, unless
// the store has no keys, deleted keys, blobs and audit events.
absl::Status CheckStoreEmpty(store::Store& store);

// RestoreToStore writes `contents` into an empty store: key versions in
// their order, soft deletions, blobs (`blobs` in place of contents.blobs
// when given), then the audit events one by one.
// The store recomputes the audit chain, and RestoreToStore checks that
// every recomputed hash equals the backup's (DataLoss otherwise). The
// writes are separate transactions; callers that need all-or-nothing write
// into a staging store first (restore.h does).
absl::Status RestoreToStore(const BackupContents& contents, store::Store& store,
                            const std::vector<NamedBlob>* blobs = nullptr);

}  // namespace vouch::backup

#endif  // VOUCH_BACKUP_BACKUP_H_
