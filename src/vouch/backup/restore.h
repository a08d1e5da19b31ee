// All-or-nothing restores of a backup into a new instance.
//
// Both restores write into a staging copy first and switch it into place in
// one step at the end, so a failure anywhere leaves the target empty:
//   SQLite:     a staging folder beside the data folder, moved into place
//               with rename(2), which replaces an empty folder atomically.
//   PostgreSQL: a staging schema of the same database, which
//               PostgresStore::ReplaceSchemaWith renames to the target
//               schema in one transaction.
// A PKCS#11 backup with wrapped keys (pkcs11_backup.h) unwraps them into
// the target token before the store is written, and destroys them again
// when the store restore fails.
#ifndef VOUCH_BACKUP_RESTORE_H_
#define VOUCH_BACKUP_RESTORE_H_

#include <string>

#include "absl/status/status.h"
#include "vouch/backup/backup.h"
#include "vouch/keystore/pkcs11_keystore.h"
#include "vouch/store/postgres_store.h"

namespace vouch::backup {

struct RestoreOptions {
  // The instance's data folder; for SQLite it must be missing or empty.
  std::string data_dir;
  // File names inside data_dir (server/service.h has the values vouch
  // serve uses).
  std::string database_file = "vouch.db";
  std::string root_key_file = "root.key";
  // The target token, required for a PKCS#11 backup with wrapped keys or
  // sealed secrets. Its token must not contain the backup's keys yet.
  keystore::Pkcs11KeyStore* token = nullptr;
};

// RestoreIntoSqlite writes `contents` into a new SQLite data folder (the
// database and, for a software key store, the root key with mode 0600).
// FailedPrecondition when data_dir is not empty.
absl::Status RestoreIntoSqlite(const BackupContents& contents, const RestoreOptions& options);

// RestoreIntoPostgres writes `contents` into the empty schema of `postgres`
// and, for a software key store, the root key into data_dir.
// FailedPrecondition when the schema contains keys, blobs or audit events, or
// the root key file exists.
absl::Status RestoreIntoPostgres(const BackupContents& contents,
                                 const store::PostgresStoreOptions& postgres,
                                 const RestoreOptions& options);

}  // namespace vouch::backup

#endif  // VOUCH_BACKUP_RESTORE_H_
