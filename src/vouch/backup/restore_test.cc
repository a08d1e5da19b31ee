// Restores that must be all-or-nothing, and PKCS#11 keys carried wrapped
// from one SoftHSM2 token to another.
#include "vouch/backup/restore.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vouch/backup/pkcs11_backup.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/softhsm_testing.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/store/audit.h"
#include "vouch/store/postgres_store.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/postgres_cluster.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::backup {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
constexpr char kSigningKeyBlob[] = "token-signing-key";

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "/vouch-restore-XXXXXX";
  VOUCH_CHECK(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

std::string Version(int n) { return fmt::format("{:032x}", n); }

store::KeyRecord Record(const std::string& name, int version, const keystore::GeneratedKey& key,
                        const std::string& keystore_name) {
  store::KeyRecord record;
  record.name = name;
  record.version = Version(version);
  record.created = kT0 + absl::Seconds(version);
  record.updated = record.created;
  record.keystore = keystore_name;
  record.sealed_key = key.sealed;
  record.key_size_bits = key.spec.size_bits;
  switch (key.spec.type) {
    case keystore::KeyType::kAes:
      record.kty = "oct-HSM";
      break;
    case keystore::KeyType::kRsa:
      record.kty = "RSA-HSM";
      break;
    case keystore::KeyType::kEc:
      record.kty = "EC-HSM";
      record.curve = "P-256";
      break;
  }
  if (key.spec.type != keystore::KeyType::kAes) {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> public_key =
        crypto::PublicKeyFromPem(AsBytes(key.public_key_pem));
    VOUCH_CHECK(public_key.ok());
    absl::StatusOr<Bytes> der = crypto::PublicKeyToDer(public_key->get());
    VOUCH_CHECK(der.ok());
    record.public_key = *der;
  }
  return record;
}

void AppendAudit(store::Store& store, int count) {
  for (int i = 0; i < count; ++i) {
    store::AuditEvent event;
    event.time = kT0 + absl::Milliseconds(i + 1);
    event.actor = "admin";
    event.operation = "key.create";
    event.target = fmt::format("keys/k{}", i);
    event.outcome = "ok";
    ASSERT_OK(store.AppendAudit(event));
  }
}

std::vector<BackupShare> FirstShares(const CreatedBackup& backup, size_t count) {
  std::vector<BackupShare> picked;
  for (size_t i = 0; i < count; ++i) {
    const BackupShare& share = backup.shares[i];
    picked.push_back(BackupShare{share.backup_id, share.threshold, share.num_shares,
                                 SecretShare{share.share.index, share.share.value.Clone()}});
  }
  return picked;
}

std::function<absl::StatusOr<std::vector<store::KeyRecord>>(std::string_view)> DeletedVersions(
    store::SqliteStore* sqlite) {
  return [sqlite](std::string_view name) { return sqlite->ListDeletedKeyVersions(name); };
}

// ReleasedKey unwraps a release of `record` from `keystore` (RSA-OAEP with
// SHA-1, the only hash SoftHSM2 2.6 wraps with) and returns the key bytes:
// raw for AES, PKCS#8 DER for RSA and EC.
absl::StatusOr<SecretBytes> ReleasedKey(keystore::KeyStore& keystore,
                                        const store::KeyRecord& record) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> requester, crypto::GenerateRsaKey(2048));
  VOUCH_ASSIGN_OR_RETURN(
      const Bytes wrapped,
      keystore.WrapForRelease(record.sealed_key, keystore::KeyLabel(record.name, record.version),
                              requester.get(), crypto::HashAlg::kSha1));
  VOUCH_ASSIGN_OR_RETURN(SecretBytes key,
                         crypto::RsaAesKeyUnwrap(requester.get(), crypto::HashAlg::kSha1, wrapped));
  if (record.kty == "oct-HSM") {
    return key;
  }
  return keystore::ReleasedPkcs8Der(key);
}

// ---------------------------------------------------------------------------
// PKCS#11: a source token with keys and a sealed blob, and an empty target
// token in the same SoftHSM2 folder, so one SOFTHSM2_CONF serves both.

class Pkcs11BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    ASSERT_OK_AND_ASSIGN(const keystore::SoftHsmToken source,
                         keystore::CreateSoftHsmToken(dir_, "source"));
    ASSERT_OK_AND_ASSIGN(const keystore::SoftHsmToken target,
                         keystore::CreateSoftHsmToken(dir_, "target"));
    ASSERT_OK_AND_ASSIGN(source_, keystore::Pkcs11KeyStore::Open(source.Options()));
    ASSERT_OK_AND_ASSIGN(target_, keystore::Pkcs11KeyStore::Open(target.Options()));
    ASSERT_OK_AND_ASSIGN(store_, store::SqliteStore::Open(dir_ + "/source.db"));

    const std::vector<std::pair<std::string, keystore::KeySpec>> keys = {
        {"disk", keystore::KeySpec::Aes(256)},
        {"small", keystore::KeySpec::Aes(128)},
        {"signer", keystore::KeySpec::Rsa(2048)},
        {"ec-signer", keystore::KeySpec::Ec(256)},
        {"gone", keystore::KeySpec::Aes(256)},
    };
    int version = 1;
    for (const auto& [name, spec] : keys) {
      ASSERT_OK_AND_ASSIGN(const keystore::GeneratedKey key,
                           source_->GenerateKey(spec, keystore::KeyLabel(name, Version(version))));
      const store::KeyRecord record = Record(name, version, key, "pkcs11");
      ASSERT_OK(store_->PutKeyVersion(record));
      records_.push_back(record);
      ++version;
    }
    ASSERT_OK(store_->SoftDeleteKey("gone", kT0 + absl::Hours(1), kT0 + absl::Hours(2), nullptr));
    ASSERT_OK_AND_ASSIGN(const Bytes sealed,
                         source_->Seal(SecretBytes(ToBytes("signing key pem")), kSigningKeyBlob));
    ASSERT_OK(store_->PutBlob(kSigningKeyBlob, sealed));
    ASSERT_OK(store_->PutBlob("settings.purge-protection", Bytes{1}));
    AppendAudit(*store_, 3);
  }

  void TearDown() override {
    target_.reset();
    source_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  absl::StatusOr<BackupContents> ReadWithKeys(bool references_only,
                                              std::vector<std::string>* left_out = nullptr) {
    BackupSource source;
    source.store = store_.get();
    source.deleted_key_versions = DeletedVersions(store_.get());
    source.keystore = KeyStoreKind::kPkcs11;
    VOUCH_ASSIGN_OR_RETURN(BackupContents contents, ReadSource(source));
    VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> references,
                           AddPkcs11KeyMaterial(*source_, contents, references_only));
    if (left_out != nullptr) {
      *left_out = std::move(references);
    }
    return contents;
  }

  absl::StatusOr<CreatedBackup> CreateWithKeys() {
    VOUCH_ASSIGN_OR_RETURN(BackupContents contents, ReadWithKeys(false));
    return SealContents(std::move(contents), 2, 3, kT0 + absl::Hours(3));
  }

  // ExpectNotOnTarget checks that the target token contains none of the keys.
  void ExpectNotOnTarget() {
    for (const store::KeyRecord& record : records_) {
      EXPECT_THAT(ReleasedKey(*target_, record), StatusIs(absl::StatusCode::kUnauthenticated))
          << record.name;
    }
  }

  std::string dir_;
  std::unique_ptr<keystore::Pkcs11KeyStore> source_;
  std::unique_ptr<keystore::Pkcs11KeyStore> target_;
  std::unique_ptr<store::SqliteStore> store_;
  std::vector<store::KeyRecord> records_;
};

TEST_F(Pkcs11BackupTest, RestoredTokenReleasesSameKeys) {
  ASSERT_OK_AND_ASSIGN(const CreatedBackup backup, CreateWithKeys());
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup.file, FirstShares(backup, 2)));
  EXPECT_EQ(contents.header.format_version, kBackupFormatVersion);
  EXPECT_EQ(contents.wrapped_keys.size(), records_.size());
  EXPECT_EQ(contents.wrapping_key.size(), 32u);
  ASSERT_EQ(contents.sealed_secrets.size(), 1u);

  RestoreOptions options;
  options.data_dir = dir_ + "/restored";
  options.token = target_.get();
  ASSERT_OK(RestoreIntoSqlite(contents, options));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> restored,
                       store::SqliteStore::Open(options.data_dir + "/vouch.db"));
  for (const store::KeyRecord& original : records_) {
    SCOPED_TRACE(original.name);
    ASSERT_OK_AND_ASSIGN(const SecretBytes from_source, ReleasedKey(*source_, original));
    ASSERT_OK_AND_ASSIGN(const SecretBytes from_target, ReleasedKey(*target_, original));
    EXPECT_FALSE(from_source.empty());
    EXPECT_TRUE(from_source == from_target);
  }
  // The live records point at the restored token objects unchanged.
  ASSERT_OK_AND_ASSIGN(const store::KeyRecord disk, restored->GetKey("disk", ""));
  EXPECT_EQ(disk.sealed_key, records_[0].sealed_key);
  ASSERT_OK_AND_ASSIGN(const store::DeletedKey gone, restored->GetDeletedKey("gone"));
  EXPECT_EQ(gone.name, "gone");

  // The signing key blob is sealed again by the target token's seal key.
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> blob, restored->GetBlob(kSigningKeyBlob));
  ASSERT_TRUE(blob.has_value());
  ASSERT_OK_AND_ASSIGN(const SecretBytes pem, target_->Unseal(*blob, kSigningKeyBlob));
  EXPECT_EQ(ToString(pem.Expose()), "signing key pem");
  EXPECT_THAT(source_->Unseal(*blob, kSigningKeyBlob),
              StatusIs(absl::StatusCode::kUnauthenticated));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> flag,
                       restored->GetBlob("settings.purge-protection"));
  EXPECT_EQ(flag, Bytes{1});
  EXPECT_OK(store::VerifyAuditChain(*restored));
}

TEST_F(Pkcs11BackupTest, NonExtractableKeyRejected) {
  ASSERT_OK(source_->SetNotExtractableForTest(
      records_[2].sealed_key, keystore::KeyLabel(records_[2].name, records_[2].version)));
  EXPECT_THAT(ReadWithKeys(false),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(keystore::KeyLabel("signer", Version(3))),
                             HasSubstr("CKA_EXTRACTABLE false"),
                             HasSubstr("--pkcs11-references-only"))));
}

TEST_F(Pkcs11BackupTest, ReferencesOnlyLeavesKeyOut) {
  ASSERT_OK(source_->SetNotExtractableForTest(
      records_[0].sealed_key, keystore::KeyLabel(records_[0].name, records_[0].version)));
  std::vector<std::string> left_out;
  ASSERT_OK_AND_ASSIGN(const BackupContents contents, ReadWithKeys(true, &left_out));
  EXPECT_EQ(left_out, std::vector<std::string>{keystore::KeyLabel("disk", Version(1))});
  EXPECT_EQ(contents.wrapped_keys.size(), records_.size() - 1);
  EXPECT_EQ(contents.keys.size() + contents.deleted_keys.size(), records_.size());
}

TEST_F(Pkcs11BackupTest, TamperedBackupWritesNothing) {
  ASSERT_OK_AND_ASSIGN(CreatedBackup backup, CreateWithKeys());
  backup.file[backup.file.size() - 40] ^= 0x01;
  EXPECT_THAT(OpenBackup(backup.file, FirstShares(backup, 2)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  ExpectNotOnTarget();
}

TEST_F(Pkcs11BackupTest, FailedStoreRestoreRemovesTokenKeys) {
  ASSERT_OK_AND_ASSIGN(const CreatedBackup backup, CreateWithKeys());
  ASSERT_OK_AND_ASSIGN(BackupContents contents, OpenBackup(backup.file, FirstShares(backup, 2)));
  // The last audit event no longer matches its chain, so the restore fails
  // after the token import and after every store write.
  contents.audit.back().hash[0] ^= 0x01;
  RestoreOptions options;
  options.data_dir = dir_ + "/restored";
  options.token = target_.get();
  EXPECT_THAT(RestoreIntoSqlite(contents, options), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(std::filesystem::exists(options.data_dir));
  ExpectNotOnTarget();
}

TEST_F(Pkcs11BackupTest, RestoreNeedsTargetToken) {
  ASSERT_OK_AND_ASSIGN(const CreatedBackup backup, CreateWithKeys());
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup.file, FirstShares(backup, 2)));
  RestoreOptions options;
  options.data_dir = dir_ + "/restored";
  EXPECT_THAT(RestoreIntoSqlite(contents, options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--keystore pkcs11")));
  // A token that contains the keys already is rejected, and keeps them.
  options.token = source_.get();
  EXPECT_THAT(RestoreIntoSqlite(contents, options), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(ReleasedKey(*source_, records_[0]).status());
}

// ---------------------------------------------------------------------------
// All-or-nothing restores with the software key store.

// MakeSoftwareContents backs up a new SQLite instance in `dir` with two key
// versions, a blob and audit events, and opens the backup.
absl::StatusOr<BackupContents> MakeSoftwareContents(const std::string& dir) {
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<keystore::SoftwareKeyStore> keys,
                         keystore::SoftwareKeyStore::OpenOrCreate(dir + "/root.key"));
  VOUCH_ASSIGN_OR_RETURN(Bytes root, ReadFile(dir + "/root.key"));
  const SecretBytes root_key(root);
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> sqlite,
                         store::SqliteStore::Open(dir + "/vouch.db"));
  for (int i = 1; i <= 2; ++i) {
    VOUCH_ASSIGN_OR_RETURN(
        const keystore::GeneratedKey key,
        keys->GenerateKey(keystore::KeySpec::Aes(256), keystore::KeyLabel("disk", Version(i))));
    VOUCH_RETURN_IF_ERROR(sqlite->PutKeyVersion(Record("disk", i, key, "software")));
  }
  VOUCH_RETURN_IF_ERROR(sqlite->PutBlob("settings.purge-protection", Bytes{1}));
  for (int i = 0; i < 3; ++i) {
    store::AuditEvent event;
    event.time = kT0 + absl::Milliseconds(i + 1);
    event.actor = "admin";
    event.operation = "key.create";
    event.target = "keys/disk";
    event.outcome = "ok";
    VOUCH_RETURN_IF_ERROR(sqlite->AppendAudit(event));
  }
  BackupSource source;
  source.store = sqlite.get();
  source.deleted_key_versions = DeletedVersions(sqlite.get());
  source.root_key = &root_key;
  VOUCH_ASSIGN_OR_RETURN(const CreatedBackup backup, CreateBackup(source, 2, 2));
  return OpenBackup(backup.file, FirstShares(backup, 2));
}

// Failures injected at the end of a restore: a key version that violates
// the unique (name, version) constraint after the others, and an audit
// event whose hash differs once every record is written.
enum class Injected { kDuplicateKeyVersion, kBrokenLastAuditHash };

void Inject(BackupContents& contents, Injected failure) {
  if (failure == Injected::kDuplicateKeyVersion) {
    store::KeyRecord copy = contents.keys.back();
    contents.keys.push_back(std::move(copy));
  } else {
    contents.audit.back().hash[0] ^= 0x01;
  }
}

TEST(AtomicRestoreTest, SqliteLeavesNothingOnFailure) {
  const std::string dir = MakeTempDir();
  for (const Injected failure : {Injected::kDuplicateKeyVersion, Injected::kBrokenLastAuditHash}) {
    ASSERT_OK_AND_ASSIGN(BackupContents contents, MakeSoftwareContents(MakeTempDir()));
    Inject(contents, failure);
    RestoreOptions options;
    options.data_dir = dir + "/target";
    EXPECT_FALSE(RestoreIntoSqlite(contents, options).ok());
    EXPECT_FALSE(std::filesystem::exists(options.data_dir));
    // No staging folder is left beside it.
    EXPECT_TRUE(std::filesystem::is_empty(dir));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST(AtomicRestoreTest, PostgresLeavesSchemaEmptyOnFailure) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<vouch::testing::PostgresCluster> cluster,
                       vouch::testing::PostgresCluster::Start());
  store::PostgresStoreOptions postgres;
  postgres.conninfo = cluster->ConnectionString();
  postgres.schema = "target";
  const std::string source_dir = MakeTempDir();
  ASSERT_OK_AND_ASSIGN(BackupContents good, MakeSoftwareContents(source_dir));

  for (const Injected failure : {Injected::kDuplicateKeyVersion, Injected::kBrokenLastAuditHash}) {
    ASSERT_OK_AND_ASSIGN(BackupContents contents, MakeSoftwareContents(MakeTempDir()));
    Inject(contents, failure);
    RestoreOptions options;
    options.data_dir = MakeTempDir();
    EXPECT_FALSE(RestoreIntoPostgres(contents, postgres, options).ok());
    EXPECT_FALSE(std::filesystem::exists(options.data_dir + "/root.key"));
    EXPECT_FALSE(std::filesystem::exists(options.data_dir + "/root.key.restore"));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::PostgresStore> target,
                         store::PostgresStore::Open(postgres));
    EXPECT_OK(CheckStoreEmpty(*target));
    ASSERT_OK_AND_ASSIGN(
        const std::string staging,
        cluster->Query("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'vouch_restore_%'"));
    EXPECT_EQ(staging, "0");
  }

  // The same target then takes a good restore, and a second one is rejected.
  RestoreOptions options;
  options.data_dir = MakeTempDir();
  ASSERT_OK(RestoreIntoPostgres(good, postgres, options));
  ASSERT_OK_AND_ASSIGN(const Bytes root_key, ReadFile(options.data_dir + "/root.key"));
  EXPECT_TRUE(SecretBytes(root_key) == good.root_key);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::PostgresStore> target,
                       store::PostgresStore::Open(postgres));
  ASSERT_OK_AND_ASSIGN(const std::vector<store::KeyRecord> versions,
                       target->ListKeyVersions("disk"));
  EXPECT_EQ(versions.size(), 2u);
  EXPECT_OK(store::VerifyAuditChain(*target));
  RestoreOptions again;
  again.data_dir = MakeTempDir();
  EXPECT_THAT(RestoreIntoPostgres(good, postgres, again),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not empty")));
}

}  // namespace
}  // namespace vouch::backup
