#include "vouch/backup/restore.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "vouch/backup/pkcs11_backup.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/random.h"
#include "vouch/store/sqlite_store.h"

namespace vouch::backup {
namespace {

bool NeedsToken(const BackupContents& contents) {
  return !contents.wrapped_keys.empty() || !contents.sealed_secrets.empty();
}

// TokenImport writes the PKCS#11 part of a backup into the target token and
// removes it again unless the restore commits.
class TokenImport {
 public:
  ~TokenImport() {
    if (import_.has_value() && !committed_) {
      DestroyImportedKeys(*token_, *import_);
    }
  }

  absl::Status Run(const BackupContents& contents, keystore::Pkcs11KeyStore* token) {
    if (!NeedsToken(contents)) {
      return absl::OkStatus();
    }
    if (token == nullptr) {
      return FailedPreconditionf(
          "restore: the backup holds wrapped PKCS#11 keys: configure the target token "
          "(--keystore pkcs11 with its module, token and PIN)");
    }
    token_ = token;
    VOUCH_ASSIGN_OR_RETURN(import_, ImportPkcs11Keys(contents, *token));
    return absl::OkStatus();
  }

  // Blobs returns the blobs to write: resealed ones after an import,
  // otherwise nullptr for contents.blobs.
  const std::vector<NamedBlob>* blobs() const {
    return import_.has_value() ? &import_->blobs : nullptr;
  }
  void Commit() { committed_ = true; }

 private:
  keystore::Pkcs11KeyStore* token_ = nullptr;
  std::optional<Pkcs11Import> import_;
  bool committed_ = false;
};

bool Exists(const std::string& path) {
  struct stat info {};
  return lstat(path.c_str(), &info) == 0;
}

}  // namespace

absl::Status RestoreIntoSqlite(const BackupContents& contents, const RestoreOptions& options) {
  std::error_code error;
  const std::string& data_dir = options.data_dir;
  if (std::filesystem::exists(data_dir, error) && !std::filesystem::is_empty(data_dir, error)) {
    return FailedPreconditionf("{} is not empty: restore only into a new or empty folder",
                               data_dir);
  }
  const std::filesystem::path target = std::filesystem::absolute(data_dir, error);
  std::string staging =
      (target.parent_path() / ("." + target.filename().string() + ".restore-XXXXXX")).string();
  if (mkdtemp(staging.data()) == nullptr) {
    return FailedPreconditionf("cannot create a staging folder beside {}: {}", data_dir,
                               std::strerror(errno));
  }
  TokenImport token;
  const absl::Status status = [&]() -> absl::Status {
    VOUCH_RETURN_IF_ERROR(token.Run(contents, options.token));
    {
      VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> sqlite,
                             store::SqliteStore::Open(staging + "/" + options.database_file));
      VOUCH_RETURN_IF_ERROR(RestoreToStore(contents, *sqlite, token.blobs()));
    }
    if (contents.keystore == KeyStoreKind::kSoftware) {
      VOUCH_RETURN_IF_ERROR(WriteFileAtomic(staging + "/" + options.root_key_file,
                                            contents.root_key.Expose(), 0600));
    }
    if (rename(staging.c_str(), target.c_str()) != 0) {
      return FailedPreconditionf("cannot move {} to {}: {}", staging, target.string(),
                                 std::strerror(errno));
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    std::filesystem::remove_all(staging, error);
    return status;
  }
  token.Commit();
  return absl::OkStatus();
}

absl::Status RestoreIntoPostgres(const BackupContents& contents,
                                 const store::PostgresStoreOptions& postgres,
                                 const RestoreOptions& options) {
  const std::string root_key = options.data_dir + "/" + options.root_key_file;
  if (contents.keystore == KeyStoreKind::kSoftware && Exists(root_key)) {
    return FailedPreconditionf("{} exists: restore only into a new instance", root_key);
  }
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresStore> target,
                         store::PostgresStore::Open(postgres));
  VOUCH_RETURN_IF_ERROR(CheckStoreEmpty(*target));
  if (mkdir(options.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return FailedPreconditionf("cannot create {}: {}", options.data_dir, std::strerror(errno));
  }

  // The staging schema's name is random, so two restores never share one.
  store::PostgresStoreOptions staging = postgres;
  staging.schema = "vouch_restore_" + HexEncode(crypto::RandomBytes(8));
  staging.pool_size = 1;
  const std::string staged_root_key = root_key + ".restore";
  TokenImport token;
  bool switched = false;
  const absl::Status status = [&]() -> absl::Status {
    VOUCH_RETURN_IF_ERROR(token.Run(contents, options.token));
    {
      VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresStore> staged,
                             store::PostgresStore::Open(staging));
      VOUCH_RETURN_IF_ERROR(RestoreToStore(contents, *staged, token.blobs()));
    }
    if (contents.keystore == KeyStoreKind::kSoftware) {
      VOUCH_RETURN_IF_ERROR(WriteFileAtomic(staged_root_key, contents.root_key.Expose(), 0600));
    }
    VOUCH_RETURN_IF_ERROR(target->ReplaceSchemaWith(staging.schema));
    switched = true;
    // The database is complete from here on; only the root key file moves.
    if (contents.keystore == KeyStoreKind::kSoftware &&
        rename(staged_root_key.c_str(), root_key.c_str()) != 0) {
      return Internalf("restore: the database is restored, but moving {} to {} failed: {}: move "
                       "it by hand",
                       staged_root_key, root_key, std::strerror(errno));
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    if (switched) {
      // The database was switched in; keep the token keys and the staged
      // root key that it needs.
      token.Commit();
      return status;
    }
    std::remove(staged_root_key.c_str());
    const absl::Status dropped = store::PostgresStore::DropSchema(postgres, staging.schema);
    if (!dropped.ok()) {
      return Prefix(fmt::format("restore failed ({}), and dropping the staging schema {} failed",
                                std::string(status.message()), staging.schema),
                    dropped);
    }
    return status;
  }
  token.Commit();
  return absl::OkStatus();
}

}  // namespace vouch::backup
