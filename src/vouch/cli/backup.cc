// vouch backup create|restore: encrypted backups of an instance.
//
//   vouch backup create --data DIR [--config FILE] [--store sqlite|postgres]
//       [--postgres-url-file F] [--postgres-schema S] [--keystore software|pkcs11]
//       [PKCS#11 flags] [--pkcs11-references-only]
//       --out FILE --shares N --threshold M --share-out DIR
//   vouch backup restore --in FILE --share F1 --share F2 ... --data DIR
//       [--config FILE] [--store ...] [--postgres-url-file F] [--postgres-schema S]
//       [--keystore software|pkcs11] [PKCS#11 flags]
// PKCS#11 flags: --pkcs11-module, --pkcs11-token-label or --pkcs11-slot,
// --pkcs11-pin-file (or VOUCH_PKCS11_PIN), as for vouch serve.
//
// create writes the encrypted backup and N share files (mode 0600) of which
// any M restore it; with a PKCS#11 key store it exports the token's keys
// wrapped (backup/pkcs11_backup.h). restore reads every share and the whole
// backup, then decrypts and verifies everything in memory before it writes
// anything, and writes only into an empty instance, all or nothing
// (backup/restore.h). Shares, the backup key and the root key are never
// printed. The format and the procedure are in docs/backup.md.
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
#include "vouch/backup/pkcs11_backup.h"
#include "vouch/backup/restore.h"
#include "vouch/backup/share_file.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/cli/command.h"
#include "vouch/keystore/pkcs11_keystore.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/server/config.h"
#include "vouch/server/dr_mode.h"
#include "vouch/server/service.h"
#include "vouch/store/audit.h"
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
  CLI::Option* pkcs11_module = nullptr;
  CLI::Option* pkcs11_token_label = nullptr;
  CLI::Option* pkcs11_slot = nullptr;
  uint64_t pkcs11_slot_value = 0;
  CLI::Option* pkcs11_pin_file = nullptr;
  bool pkcs11_references_only = false;

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
  apply(flags.pkcs11_module, config.pkcs11_module, values.pkcs11_module);
  apply(flags.pkcs11_token_label, config.pkcs11_token_label, values.pkcs11_token_label);
  apply(flags.pkcs11_pin_file, config.pkcs11_pin_file, values.pkcs11_pin_file);
  if (flags.pkcs11_slot != nullptr && flags.pkcs11_slot->count() > 0) {
    config.pkcs11_slot = flags.pkcs11_slot_value;
  }
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

// OpenToken opens the PKCS#11 token of `config`, as vouch serve does.
absl::StatusOr<std::unique_ptr<keystore::Pkcs11KeyStore>> OpenToken(const server::Config& config) {
  keystore::Pkcs11Options options;
  options.module_path = config.pkcs11_module;
  options.token_label = config.pkcs11_token_label;
  options.slot = config.pkcs11_slot;
  VOUCH_ASSIGN_OR_RETURN(options.pin, keystore::ReadPkcs11Pin(config.pkcs11_pin_file));
  return keystore::Pkcs11KeyStore::Open(std::move(options));
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
  std::unique_ptr<keystore::Pkcs11KeyStore> token;
  if (config.keystore == "software") {
    VOUCH_ASSIGN_OR_RETURN(root_key, ReadRootKey(config.data_dir));
    source.root_key = &root_key;
  } else {
    source.keystore = backup::KeyStoreKind::kPkcs11;
    VOUCH_ASSIGN_OR_RETURN(token, OpenToken(config));
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

  VOUCH_ASSIGN_OR_RETURN(backup::BackupContents contents, backup::ReadSource(source));
  VOUCH_RETURN_IF_ERROR(Prefix("backup: the audit log of the store does not verify",
                               store::VerifyAuditChain(contents.audit)));
  std::vector<std::string> references_only;
  if (token != nullptr) {
    VOUCH_ASSIGN_OR_RETURN(references_only, backup::AddPkcs11KeyMaterial(
                                                *token, contents, flags.pkcs11_references_only));
  }
  VOUCH_ASSIGN_OR_RETURN(const backup::CreatedBackup created,
                         backup::SealContents(std::move(contents), flags.threshold,
                                              flags.num_shares, absl::Now()));

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
  if (!references_only.empty()) {
    std::printf("  without key material (back up the token for these): %s\n",
                fmt::format("{}", fmt::join(references_only, ", ")).c_str());
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

absl::Status RunRestore(const BackupFlags& flags) {
  VOUCH_ASSIGN_OR_RETURN(const server::Config config, BuildConfig(flags));
  // Everything is decrypted and verified before anything is written.
  VOUCH_ASSIGN_OR_RETURN(const backup::BackupContents contents, ReadAndOpen(flags));
  backup::RestoreOptions options;
  options.data_dir = config.data_dir;
  options.database_file = server::kDatabaseFile;
  options.root_key_file = server::kRootKeyFile;
  std::unique_ptr<keystore::Pkcs11KeyStore> token;
  if (config.keystore == "pkcs11") {
    VOUCH_ASSIGN_OR_RETURN(token, OpenToken(config));
    options.token = token.get();
  }
  if (config.store == "sqlite") {
    VOUCH_RETURN_IF_ERROR(backup::RestoreIntoSqlite(contents, options));
  } else {
    store::PostgresStoreOptions postgres;
    VOUCH_ASSIGN_OR_RETURN(postgres.conninfo, server::LoadPostgresUrl(config));
    postgres.schema = config.postgres_schema;
    postgres.pool_size = 2;
    VOUCH_RETURN_IF_ERROR(backup::RestoreIntoPostgres(contents, postgres, options));
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
    std::printf("  %zu PKCS#11 key versions unwrapped into the token, %zu sealed blobs sealed "
                "again\n",
                contents.wrapped_keys.size(), contents.sealed_secrets.size());
    if (contents.wrapped_keys.size() < header.num_key_versions) {
      std::printf("  %zu key versions had no key material in the backup: restore the token's "
                  "own backup for them\n",
                  header.num_key_versions - contents.wrapped_keys.size());
    }
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
  flags.keystore = app.add_option("--keystore", flags.flag_values.keystore,
                                  "Key store: software (default) or pkcs11");
  flags.pkcs11_module = app.add_option("--pkcs11-module", flags.flag_values.pkcs11_module,
                                       "PKCS#11 module path, e.g. /usr/lib/softhsm/libsofthsm2.so");
  flags.pkcs11_token_label =
      app.add_option("--pkcs11-token-label", flags.flag_values.pkcs11_token_label,
                     "PKCS#11 token label (or --pkcs11-slot)");
  flags.pkcs11_slot =
      app.add_option("--pkcs11-slot", flags.pkcs11_slot_value, "PKCS#11 slot id");
  flags.pkcs11_pin_file =
      app.add_option("--pkcs11-pin-file", flags.flag_values.pkcs11_pin_file,
                     "File with the token's user PIN, mode 0600 (default: $VOUCH_PKCS11_PIN)");
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
  create->add_flag("--pkcs11-references-only", create_flags->pkcs11_references_only,
                   "Back up PKCS#11 keys that cannot leave the token (CKA_EXTRACTABLE false) as "
                   "records without key material; the token needs its own backup");
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
