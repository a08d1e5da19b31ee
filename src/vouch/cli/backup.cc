// vouch backup create|restore: encrypted backups of an instance.
//
//   vouch backup create --data DIR [--config FILE] [--store sqlite|postgres]
//       [--postgres-url-file F] [--postgres-schema S] [--keystore software|pkcs11]
//       --out FILE --shares N --threshold M --share-out DIR
//   vouch backup restore --in FILE --share F1 --share F2 ... --data DIR
//       [--config FILE] [--store ...] [--postgres-url-file F] [--postgres-schema S]
//
// create writes the encrypted backup and N share files (mode 0600) of which
// any M restore it. restore reads every share and the whole backup, then
// decrypts and verifies everything in memory before it writes anything, and
// writes only into an empty instance. With SQLite it builds the new data
// folder beside the target and renames it into place, so the target gets all
// of it or nothing. Shares, the backup key and the root key are never printed.
// The format and the procedure are in docs/backup.md.
#include "vouch/backup/backup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/backup/share_file.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/cli/command.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/server/config.h"
#include "vouch/server/dr_mode.h"
#include "vouch/server/service.h"
#include "vouch/store/postgres_store.h"
#include "vouch/store/sqlite_store.h"

namespace vouch::cli {
namespace {

struct BackupFlags {
  std::string config_file;
  server::Config flag_values;
  CLI::Option* data_dir = nullptr;
  CLI::Option* store = nullptr;
  CLI::Option* postgres_url_file = nullptr;
  CLI::Option* postgres_schema = nullptr;
  CLI::Option* keystore = nullptr;

  std::string out;
  std::string share_out;
  int num_shares = 0;
  int threshold = 0;
  std::string in;
  std::vector<std::string> share_files;
};

void PrintError(std::string_view action, const absl::Status& status) {
  std::fprintf(stderr, "vouch backup %.*s: %s\n", static_cast<int>(action.size()), action.data(),
               std::string(status.message()).c_str());
}

absl::StatusOr<server::Config> BuildConfig(const BackupFlags& flags) {
  server::Config config;
  if (!flags.config_file.empty()) {
    VOUCH_ASSIGN_OR_RETURN(config, server::LoadConfigFile(flags.config_file));
  }
  const server::Config& values = flags.flag_values;
  const auto apply = [](const CLI::Option* option, std::string& field, const std::string& value) {
    if (option != nullptr && option->count() > 0) {
      field = value;
    }
  };
  apply(flags.data_dir, config.data_dir, values.data_dir);
  apply(flags.store, config.store, values.store);
  apply(flags.postgres_url_file, config.postgres_url_file, values.postgres_url_file);
  apply(flags.postgres_schema, config.postgres_schema, values.postgres_schema);
  apply(flags.keystore, config.keystore, values.keystore);
  if (config.data_dir.empty()) {
    return InvalidArgumentf("no data folder: pass --data DIR or a config file with data_dir");
  }
  if (config.store != "sqlite" && config.store != "postgres") {
    return InvalidArgumentf("store '{}' is unknown: use sqlite or postgres", config.store);
  }
  if (config.keystore != "software" && config.keystore != "pkcs11") {
    return InvalidArgumentf("keystore '{}' is unknown: use software or pkcs11", config.keystore);
  }
  return config;
}

// OpenedStore is a store with the reader of its soft-deleted key versions.
struct OpenedStore {
  std::unique_ptr<store::Store> store;
  std::function<absl::StatusOr<std::vector<store::KeyRecord>>(std::string_view)> deleted_versions;
};

absl::StatusOr<OpenedStore> OpenSqlite(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> sqlite,
                         store::SqliteStore::Open(path));
  store::SqliteStore* raw = sqlite.get();
  return OpenedStore{std::move(sqlite),
                     [raw](std::string_view name) { return raw->ListDeletedKeyVersions(name); }};
}

absl::StatusOr<OpenedStore> OpenPostgres(const server::Config& config) {
  store::PostgresStoreOptions options;
  VOUCH_ASSIGN_OR_RETURN(options.conninfo, server::LoadPostgresUrl(config));
  options.schema = config.postgres_schema;
  options.pool_size = 2;
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresStore> postgres,
                         store::PostgresStore::Open(options));
  store::PostgresStore* raw = postgres.get();
  return OpenedStore{std::move(postgres),
                     [raw](std::string_view name) { return raw->ListDeletedKeyVersions(name); }};
}

bool Exists(const std::string& path) {
  struct stat info {};
  return lstat(path.c_str(), &info) == 0;
}

// ReadRootKey reads the software key store's root key after the key store's
// own checks (regular file, mode 0600, 32 bytes). It never creates one.
absl::StatusOr<SecretBytes> ReadRootKey(const std::string& data_dir) {
  const std::string path = data_dir + "/" + server::kRootKeyFile;
  if (!Exists(path)) {
    return FailedPreconditionf(
        "{} not found: the software key store of this instance has no "
        "root key",
        path);
  }
  VOUCH_RETURN_IF_ERROR(keystore::SoftwareKeyStore::OpenOrCreate(path).status());
  VOUCH_ASSIGN_OR_RETURN(Bytes bytes, ReadFile(path, 64));
  SecretBytes root_key(bytes);
  SecureWipe(bytes);
  return root_key;
}

// WriteNewFile creates `path` with `mode`, failing when it exists, and
// flushes it to disk.
absl::Status WriteNewFile(const std::string& path, ByteSpan data, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return FailedPreconditionf("cannot create {}: {}", path, std::strerror(errno));
  }
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n <= 0) {
      close(fd);
      return Internalf("writing {} failed: {}", path, std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = fsync(fd) == 0;
  close(fd);
  if (!synced) {
    return Internalf("fsync of {} failed", path);
  }
  return absl::OkStatus();
}

absl::Status RunCreate(const BackupFlags& flags) {
  VOUCH_ASSIGN_OR_RETURN(const server::Config config, BuildConfig(flags));
  if (Exists(flags.out)) {
    return FailedPreconditionf("{} exists: choose a new file for the backup", flags.out);
  }

  backup::BackupSource source;
  SecretBytes root_key;
  if (config.keystore == "software") {
    VOUCH_ASSIGN_OR_RETURN(root_key, ReadRootKey(config.data_dir));
    source.root_key = &root_key;
  } else {
    source.keystore = backup::KeyStoreKind::kPkcs11;
    std::fprintf(stderr,
                 "vouch backup create: PKCS#11 keys stay in the token; the backup holds "
                 "references to them. Back up the token itself (softhsm2-util or the HSM "
                 "vendor's tool; see docs/backup.md).\n");
  }

  OpenedStore opened;
  if (config.store == "sqlite") {
    const std::string db = config.data_dir + "/" + server::kDatabaseFile;
    if (!Exists(db)) {
      return FailedPreconditionf("{} not found: nothing to back up", db);
    }
    VOUCH_ASSIGN_OR_RETURN(opened, OpenSqlite(db));
  } else {
    VOUCH_ASSIGN_OR_RETURN(opened, OpenPostgres(config));
  }
  source.store = opened.store.get();
  source.deleted_key_versions = opened.deleted_versions;

  VOUCH_ASSIGN_OR_RETURN(const backup::CreatedBackup created,
                         backup::CreateBackup(source, flags.threshold, flags.num_shares));

  // Share files first, into a folder that only the owner can enter.
  if (mkdir(flags.share_out.c_str(), 0700) != 0 && errno != EEXIST) {
    return FailedPreconditionf("cannot create {}: {}", flags.share_out, std::strerror(errno));
  }
  const std::string id = HexEncode(created.header.backup_id);
  std::vector<std::string> share_paths;
  for (const backup::BackupShare& share : created.shares) {
    const std::string path = fmt::format("{}/vouch-backup-{}-share-{}-of-{}.txt", flags.share_out,
                                         id.substr(0, 8), share.share.index, share.num_shares);
    VOUCH_ASSIGN_OR_RETURN(const SecretBytes text, backup::EncodeShareFile(share));
    VOUCH_RETURN_IF_ERROR(WriteNewFile(path, text.Expose(), 0600));
    share_paths.push_back(path);
  }
  VOUCH_RETURN_IF_ERROR(WriteNewFile(flags.out, created.file, 0600));

  const backup::BackupHeader& header = created.header;
  std::printf("backup %s written to %s (%zu bytes)\n", id.c_str(), flags.out.c_str(),
              created.file.size());
  std::printf("  %u key versions, %u deleted keys, %u blobs, %llu audit events, key store %s\n",
              header.num_key_versions, header.num_deleted_keys, header.num_blobs,
              static_cast<unsigned long long>(header.num_audit_events), config.keystore.c_str());
  std::printf("  %d of %d shares restore it; give each share file to a different custodian:\n",
              header.threshold, header.num_shares);
  for (const std::string& path : share_paths) {
    std::printf("    %s\n", path.c_str());
  }
  return absl::OkStatus();
}

absl::StatusOr<backup::BackupContents> ReadAndOpen(const BackupFlags& flags) {
  std::vector<backup::BackupShare> shares;
  for (const std::string& path : flags.share_files) {
    VOUCH_ASSIGN_OR_RETURN(Bytes text, ReadFile(path, backup::kMaxShareFileBytes));
    absl::StatusOr<backup::BackupShare> share = backup::ParseShareFile(text);
    SecureWipe(text);
    if (!share.ok()) {
      return Prefix(path, share.status());
    }
    shares.push_back(*std::move(share));
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes file, ReadFile(flags.in, backup::kMaxBackupBytes));
  return backup::OpenBackup(file, shares);
}

// RestoreSqlite builds the data folder in a staging folder beside the
// target and renames it into place. rename(2) replaces an empty folder
// atomically, so the target ends up either empty or complete.
absl::Status RestoreSqlite(const backup::BackupContents& contents, const std::string& data_dir) {
  std::error_code error;
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
  const absl::Status status = [&]() -> absl::Status {
    {
      VOUCH_ASSIGN_OR_RETURN(OpenedStore opened, OpenSqlite(staging + "/" + server::kDatabaseFile));
      VOUCH_RETURN_IF_ERROR(backup::RestoreToStore(contents, *opened.store));
    }
    if (contents.keystore == backup::KeyStoreKind::kSoftware) {
      VOUCH_RETURN_IF_ERROR(
          WriteNewFile(staging + "/" + server::kRootKeyFile, contents.root_key.Expose(), 0600));
    }
    if (rename(staging.c_str(), target.c_str()) != 0) {
      return FailedPreconditionf("cannot move {} to {}: {}", staging, target.string(),
                                 std::strerror(errno));
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    std::filesystem::remove_all(staging, error);
  }
  return status;
}

// RestorePostgres checks that the database and the data folder are empty,
// writes the store, then the root key.
absl::Status RestorePostgres(const backup::BackupContents& contents, const server::Config& config) {
  const std::string root_key = config.data_dir + "/" + server::kRootKeyFile;
  if (contents.keystore == backup::KeyStoreKind::kSoftware && Exists(root_key)) {
    return FailedPreconditionf("{} exists: restore only into a new instance", root_key);
  }
  VOUCH_ASSIGN_OR_RETURN(OpenedStore opened, OpenPostgres(config));
  VOUCH_RETURN_IF_ERROR(backup::CheckStoreEmpty(*opened.store));
  if (mkdir(config.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return FailedPreconditionf("cannot create {}: {}", config.data_dir, std::strerror(errno));
  }
  // NOTE: the writes below are separate transactions. If one fails, the
  // database is partly restored: drop the schema and run the restore again.
  VOUCH_RETURN_IF_ERROR(backup::RestoreToStore(contents, *opened.store));
  if (contents.keystore == backup::KeyStoreKind::kSoftware) {
    VOUCH_RETURN_IF_ERROR(WriteNewFile(root_key, contents.root_key.Expose(), 0600));
  }
  return absl::OkStatus();
}

absl::Status RunRestore(const BackupFlags& flags) {
  VOUCH_ASSIGN_OR_RETURN(const server::Config config, BuildConfig(flags));
  // Everything is decrypted and verified before anything is written.
  VOUCH_ASSIGN_OR_RETURN(const backup::BackupContents contents, ReadAndOpen(flags));
  if (config.store == "sqlite") {
    VOUCH_RETURN_IF_ERROR(RestoreSqlite(contents, config.data_dir));
  } else {
    VOUCH_RETURN_IF_ERROR(RestorePostgres(contents, config));
  }
  const backup::BackupHeader& header = contents.header;
  std::printf("restored backup %s of %s into %s (%s store)\n", HexEncode(header.backup_id).c_str(),
              absl::FormatTime(absl::RFC3339_sec, header.created, absl::UTCTimeZone()).c_str(),
              config.data_dir.c_str(), config.store.c_str());
  std::printf(
      "  %u key versions, %u deleted keys, %u blobs, %llu audit events; the audit "
      "chain verifies\n",
      header.num_key_versions, header.num_deleted_keys, header.num_blobs,
      static_cast<unsigned long long>(header.num_audit_events));
  if (contents.keystore == backup::KeyStoreKind::kPkcs11) {
    std::printf("  keys of the PKCS#11 key store are references: restore the token as well\n");
  }
  return absl::OkStatus();
}

void AddStoreFlags(CLI::App& app, BackupFlags& flags) {
  app.add_option("--config", flags.config_file, "JSON config file of vouch serve");
  flags.data_dir = app.add_option("--data,--data-dir", flags.flag_values.data_dir,
                                  "Data folder of the instance (vouch.db, root.key)");
  flags.store = app.add_option("--store", flags.flag_values.store,
                               "Store: sqlite (<data>/vouch.db, default) or postgres");
  flags.postgres_url_file =
      app.add_option("--postgres-url-file", flags.flag_values.postgres_url_file,
                     "File with the PostgreSQL connection string (default: $VOUCH_POSTGRES_URL)");
  flags.postgres_schema = app.add_option("--postgres-schema", flags.flag_values.postgres_schema,
                                         "PostgreSQL schema of vouch's tables");
}

}  // namespace

Runner SetupBackup(CLI::App& sub) {
  // Each subcommand has its own flags, because BuildConfig checks each
  // option's count to see whether it was given.
  auto create_flags = std::make_shared<BackupFlags>();
  auto restore_flags = std::make_shared<BackupFlags>();
  auto selected = std::make_shared<Runner>();
  sub.require_subcommand(1);

  CLI::App* create = sub.add_subcommand(
      "create",
      "Write an encrypted backup of keys, policies and the audit log, with M-of-N "
      "key shares");
  AddStoreFlags(*create, *create_flags);
  create_flags->keystore = create->add_option("--keystore", create_flags->flag_values.keystore,
                                              "Key store: software (default) or pkcs11");
  create->add_option("--out", create_flags->out, "Backup file to create")->required();
  create->add_option("--shares", create_flags->num_shares, "Number of share files N (2 to 16)")
      ->required();
  create->add_option("--threshold", create_flags->threshold, "Shares M needed to restore (2 to N)")
      ->required();
  create
      ->add_option("--share-out", create_flags->share_out, "Folder for the share files (mode 0700)")
      ->required();
  create->callback([create_flags, selected] {
    *selected = [create_flags] {
      const absl::Status status = RunCreate(*create_flags);
      if (!status.ok()) {
        PrintError("create", status);
        return kExitRejected;
      }
      return kExitOk;
    };
  });

  CLI::App* restore =
      sub.add_subcommand("restore", "Restore a backup into an empty instance with M shares");
  AddStoreFlags(*restore, *restore_flags);
  restore->add_option("--in", restore_flags->in, "Backup file")->required();
  restore->add_option("--share", restore_flags->share_files, "Share file; repeat for each share")
      ->required();
  restore->callback([restore_flags, selected] {
    *selected = [restore_flags] {
      const absl::Status status = RunRestore(*restore_flags);
      if (!status.ok()) {
        PrintError("restore", status);
        return kExitRejected;
      }
      return kExitOk;
    };
  });

  return [selected] { return (*selected)(); };
}

}  // namespace vouch::cli
