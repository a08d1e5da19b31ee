#include "vouch/backup/backup.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/store/audit.h"
#include "vouch/store/postgres_store.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/postgres_cluster.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::backup {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

// TempDirs removes the folders of MakeTempDir when the test binary ends.
class TempDirs : public ::testing::Environment {
 public:
  static std::vector<std::string>& Folders() {
    static auto* folders = new std::vector<std::string>();
    return *folders;
  }
  void TearDown() override {
    std::error_code error;
    for (const std::string& folder : Folders()) {
      std::filesystem::remove_all(folder, error);
    }
  }
};
const auto* const kTempDirs = ::testing::AddGlobalTestEnvironment(new TempDirs());

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "/vouch-backup-XXXXXX";
  VOUCH_CHECK(mkdtemp(pattern.data()) != nullptr);
  TempDirs::Folders().push_back(pattern);
  return pattern;
}

std::string Version(int n) { return fmt::format("{:032x}", n); }

// Instance is a store with a software key store in a temporary folder.
struct Instance {
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::function<absl::StatusOr<std::vector<store::KeyRecord>>(std::string_view)> deleted_versions;
  std::unique_ptr<keystore::SoftwareKeyStore> keystore;
  SecretBytes root_key;
};

Instance OpenSqlite(const std::string& dir) {
  Instance instance;
  instance.dir = dir;
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> sqlite =
      store::SqliteStore::Open(dir + "/vouch.db");
  VOUCH_CHECK(sqlite.ok());
  store::SqliteStore* raw = sqlite->get();
  instance.deleted_versions = [raw](std::string_view name) {
    return raw->ListDeletedKeyVersions(name);
  };
  instance.store = *std::move(sqlite);
  return instance;
}

void OpenKeyStore(Instance& instance) {
  absl::StatusOr<std::unique_ptr<keystore::SoftwareKeyStore>> keystore =
      keystore::SoftwareKeyStore::OpenOrCreate(instance.dir + "/root.key");
  VOUCH_CHECK(keystore.ok());
  instance.keystore = *std::move(keystore);
  absl::StatusOr<Bytes> root = ReadFile(instance.dir + "/root.key");
  VOUCH_CHECK(root.ok());
  instance.root_key = SecretBytes(*root);
}

store::KeyRecord AesRecord(Instance& instance, const std::string& name, int version,
                           absl::Time created) {
  store::KeyRecord record;
  record.name = name;
  record.version = Version(version);
  record.created = created;
  record.updated = created;
  record.kty = "oct-HSM";
  record.key_size_bits = 256;
  record.keystore = "software";
  record.release_policy = R"({"version":"1.0.0","anyOf":[]})";
  record.tags_json = R"({"volume":"c0ffee"})";
  absl::StatusOr<Bytes> sealed =
      instance.keystore->GenerateSymmetric(256, keystore::KeyLabel(name, record.version));
  VOUCH_CHECK(sealed.ok());
  record.sealed_key = *sealed;
  return record;
}

// Populate fills an instance with live keys (one with two versions, one
// disabled), a soft-deleted key, blobs and audit events.
void Populate(Instance& instance) {
  store::Store& store = *instance.store;
  ASSERT_OK(store.PutKeyVersion(AesRecord(instance, "disk", 1, kT0)));
  ASSERT_OK(store.PutKeyVersion(AesRecord(instance, "disk", 2, kT0 + absl::Seconds(1))));
  store::KeyRecord disabled = AesRecord(instance, "off", 3, kT0 + absl::Seconds(2));
  disabled.enabled = false;
  disabled.policy_immutable = true;
  ASSERT_OK(store.PutKeyVersion(disabled));

  ASSERT_OK_AND_ASSIGN(const keystore::GeneratedKey rsa,
                       instance.keystore->GenerateKey(keystore::KeySpec::Rsa(2048),
                                                      keystore::KeyLabel("signer", Version(4))));
  store::KeyRecord signer = AesRecord(instance, "signer", 4, kT0 + absl::Seconds(3));
  signer.kty = "RSA-HSM";
  signer.key_size_bits = 2048;
  signer.sealed_key = rsa.sealed;
  signer.public_key = ToBytes(rsa.public_key_pem);
  ASSERT_OK(store.PutKeyVersion(signer));

  ASSERT_OK(store.PutKeyVersion(AesRecord(instance, "gone", 5, kT0 + absl::Seconds(4))));
  ASSERT_OK(
      store.SoftDeleteKey("gone", kT0 + absl::Seconds(5), kT0 + absl::Hours(24 * 90), nullptr));

  ASSERT_OK_AND_ASSIGN(
      const Bytes signing_key,
      instance.keystore->Seal(SecretBytes(ToBytes("signing key pem")), "token-signing-key"));
  ASSERT_OK(store.PutBlob("token-signing-key", signing_key));
  ASSERT_OK(store.PutBlob("attestation-policy.sevsnpvm", ToBytes("version=1.0; authorizationrules"
                                                                 "{ => permit(); };")));
  ASSERT_OK(store.PutBlob("settings.purge-protection", Bytes{1}));

  for (int i = 0; i < 5; ++i) {
    store::AuditEvent event;
    event.time = kT0 + absl::Milliseconds(1234567 * i + 1);
    event.actor = "admin";
    event.operation = i % 2 == 0 ? "key.create" : "key.release";
    event.target = fmt::format("keys/disk/{}", Version(1));
    event.outcome = "ok";
    event.detail = std::string("bytes \xff\x00 kept", 14);
    ASSERT_OK(store.AppendAudit(event));
  }
}

BackupSource SourceOf(Instance& instance) {
  BackupSource source;
  source.store = instance.store.get();
  source.deleted_key_versions = instance.deleted_versions;
  source.keystore = KeyStoreKind::kSoftware;
  source.root_key = &instance.root_key;
  source.now = kT0 + absl::Hours(1);
  return source;
}

std::vector<BackupShare> Pick(const CreatedBackup& backup, std::vector<size_t> which) {
  std::vector<BackupShare> picked;
  for (const size_t i : which) {
    const BackupShare& share = backup.shares[i];
    picked.push_back(BackupShare{share.backup_id, share.threshold, share.num_shares,
                                 SecretShare{share.share.index, share.share.value.Clone()}});
  }
  return picked;
}

void ExpectSameRecord(const store::KeyRecord& a, const store::KeyRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.updated, b.updated);
  EXPECT_EQ(a.enabled, b.enabled);
  EXPECT_EQ(a.exportable, b.exportable);
  EXPECT_EQ(a.kty, b.kty);
  EXPECT_EQ(a.key_size_bits, b.key_size_bits);
  EXPECT_EQ(a.curve, b.curve);
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_EQ(a.sealed_key, b.sealed_key);
  EXPECT_EQ(a.keystore, b.keystore);
  EXPECT_EQ(a.release_policy, b.release_policy);
  EXPECT_EQ(a.policy_immutable, b.policy_immutable);
  EXPECT_EQ(a.tags_json, b.tags_json);
}

// ExpectSameInstance compares every key, deleted key, blob and audit event.
void ExpectSameInstance(Instance& original, Instance& restored) {
  ASSERT_OK_AND_ASSIGN(const BackupContents a, ReadSource(SourceOf(original)));
  ASSERT_OK_AND_ASSIGN(const BackupContents b, ReadSource(SourceOf(restored)));
  ASSERT_EQ(a.keys.size(), b.keys.size());
  for (size_t i = 0; i < a.keys.size(); ++i) {
    ExpectSameRecord(a.keys[i], b.keys[i]);
  }
  ASSERT_EQ(a.deleted_keys.size(), b.deleted_keys.size());
  for (size_t i = 0; i < a.deleted_keys.size(); ++i) {
    EXPECT_EQ(a.deleted_keys[i].key.name, b.deleted_keys[i].key.name);
    EXPECT_EQ(a.deleted_keys[i].key.deleted, b.deleted_keys[i].key.deleted);
    EXPECT_EQ(a.deleted_keys[i].key.scheduled_purge, b.deleted_keys[i].key.scheduled_purge);
    ASSERT_EQ(a.deleted_keys[i].versions.size(), b.deleted_keys[i].versions.size());
    for (size_t j = 0; j < a.deleted_keys[i].versions.size(); ++j) {
      ExpectSameRecord(a.deleted_keys[i].versions[j], b.deleted_keys[i].versions[j]);
    }
  }
  ASSERT_EQ(a.blobs.size(), b.blobs.size());
  for (size_t i = 0; i < a.blobs.size(); ++i) {
    EXPECT_EQ(a.blobs[i].name, b.blobs[i].name);
    EXPECT_EQ(a.blobs[i].value, b.blobs[i].value);
  }
  ASSERT_EQ(a.audit.size(), b.audit.size());
  for (size_t i = 0; i < a.audit.size(); ++i) {
    EXPECT_EQ(a.audit[i].hash, b.audit[i].hash) << "audit event " << i + 1;
    EXPECT_EQ(a.audit[i].detail, b.audit[i].detail);
  }
  EXPECT_OK(store::VerifyAuditChain(*restored.store));
}

// ExpectSameRelease unwraps a release of `name` from both instances and
// compares the key bytes.
void ExpectSameRelease(Instance& original, Instance& restored, const std::string& name) {
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> requester, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(const store::KeyRecord a, original.store->GetKey(name, ""));
  ASSERT_OK_AND_ASSIGN(const store::KeyRecord b, restored.store->GetKey(name, ""));
  const std::string label = keystore::KeyLabel(name, a.version);
  ASSERT_OK_AND_ASSIGN(const Bytes wrapped_a,
                       original.keystore->WrapForRelease(a.sealed_key, label, requester.get(),
                                                         crypto::HashAlg::kSha256));
  ASSERT_OK_AND_ASSIGN(const Bytes wrapped_b,
                       restored.keystore->WrapForRelease(b.sealed_key, label, requester.get(),
                                                         crypto::HashAlg::kSha256));
  ASSERT_OK_AND_ASSIGN(
      const SecretBytes key_a,
      crypto::RsaAesKeyUnwrap(requester.get(), crypto::HashAlg::kSha256, wrapped_a));
  ASSERT_OK_AND_ASSIGN(
      const SecretBytes key_b,
      crypto::RsaAesKeyUnwrap(requester.get(), crypto::HashAlg::kSha256, wrapped_b));
  EXPECT_FALSE(key_a.empty());
  EXPECT_TRUE(key_a == key_b) << name;
}

// RestoreInto writes the root key of `contents` into the instance folder
// and the rest into its store, as `vouch backup restore` does.
void RestoreInto(const BackupContents& contents, Instance& instance) {
  ASSERT_OK(WriteFileAtomic(instance.dir + "/root.key", contents.root_key.Expose(), 0600));
  ASSERT_OK(RestoreToStore(contents, *instance.store));
  OpenKeyStore(instance);
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    original_ = OpenSqlite(MakeTempDir());
    OpenKeyStore(original_);
    Populate(original_);
    ASSERT_OK_AND_ASSIGN(backup_, CreateBackup(SourceOf(original_), 2, 3));
  }

  Instance original_;
  CreatedBackup backup_;
};

TEST_F(BackupTest, HeaderCountsContent) {
  ASSERT_OK_AND_ASSIGN(const BackupHeader header, ParseBackupHeader(backup_.file));
  EXPECT_EQ(header.backup_id, backup_.header.backup_id);
  EXPECT_EQ(header.created, kT0 + absl::Hours(1));
  EXPECT_EQ(header.threshold, 2);
  EXPECT_EQ(header.num_shares, 3);
  EXPECT_EQ(header.keystore, KeyStoreKind::kSoftware);
  EXPECT_EQ(header.num_key_versions, 5u);
  EXPECT_EQ(header.num_deleted_keys, 1u);
  EXPECT_EQ(header.num_blobs, 3u);
  EXPECT_EQ(header.num_audit_events, 5u);
  EXPECT_EQ(header.content_sha256.size(), 32u);
}

TEST_F(BackupTest, RoundTripRestoresEverything) {
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup_.file, Pick(backup_, {0, 2})));
  EXPECT_TRUE(contents.root_key == original_.root_key);
  Instance restored = OpenSqlite(MakeTempDir());
  RestoreInto(contents, restored);
  ExpectSameInstance(original_, restored);
  ExpectSameRelease(original_, restored, "disk");
  ExpectSameRelease(original_, restored, "signer");
  ASSERT_OK_AND_ASSIGN(const store::DeletedKey gone, restored.store->GetDeletedKey("gone"));
  EXPECT_EQ(gone.deleted, kT0 + absl::Seconds(5));

  // The token signing key blob opens under the restored root key.
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> blob,
                       restored.store->GetBlob("token-signing-key"));
  ASSERT_TRUE(blob.has_value());
  ASSERT_OK_AND_ASSIGN(const SecretBytes pem,
                       restored.keystore->Unseal(*blob, "token-signing-key"));
  EXPECT_EQ(ToString(pem.Expose()), "signing key pem");
}

TEST_F(BackupTest, EveryPairOfSharesOpens) {
  for (size_t a = 0; a < 3; ++a) {
    for (size_t b = 0; b < 3; ++b) {
      if (a != b) {
        EXPECT_OK(OpenBackup(backup_.file, Pick(backup_, {a, b})).status()) << a << b;
      }
    }
  }
  EXPECT_OK(OpenBackup(backup_.file, Pick(backup_, {0, 1, 2})).status());
}

TEST_F(BackupTest, RejectsFewerSharesThanThreshold) {
  EXPECT_THAT(OpenBackup(backup_.file, Pick(backup_, {1})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("needs 2 of its 3")));
  EXPECT_THAT(OpenBackup(backup_.file, {}), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(BackupTest, RejectsDuplicatedShare) {
  EXPECT_THAT(OpenBackup(backup_.file, Pick(backup_, {1, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("given twice")));
}

TEST_F(BackupTest, RejectsWrongShareValue) {
  std::vector<BackupShare> shares = Pick(backup_, {0, 1});
  shares[1].share.value.MutableExpose()[7] ^= 0x01;
  EXPECT_THAT(OpenBackup(backup_.file, shares),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("share is wrong")));
}

TEST_F(BackupTest, RejectsShareOfAnotherBackup) {
  ASSERT_OK_AND_ASSIGN(const CreatedBackup other, CreateBackup(SourceOf(original_), 2, 3));
  std::vector<BackupShare> shares = Pick(backup_, {0});
  std::vector<BackupShare> other_shares = Pick(other, {1});
  shares.push_back(std::move(other_shares[0]));
  EXPECT_THAT(OpenBackup(backup_.file, shares),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("belongs to backup")));
}

TEST_F(BackupTest, RejectsShareWithOtherThreshold) {
  std::vector<BackupShare> shares = Pick(backup_, {0, 1});
  shares[0].threshold = 3;
  EXPECT_THAT(OpenBackup(backup_.file, shares), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BackupTest, RejectsEveryTruncation) {
  const std::vector<BackupShare> shares = Pick(backup_, {0, 1});
  for (size_t n = 0; n < backup_.file.size(); ++n) {
    EXPECT_FALSE(OpenBackup(ByteSpan(backup_.file).first(n), shares).ok()) << "length " << n;
  }
}

TEST_F(BackupTest, RejectsTrailingBytes) {
  Bytes longer = backup_.file;
  longer.push_back(0);
  EXPECT_THAT(OpenBackup(longer, Pick(backup_, {0, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated or extended")));
}

TEST_F(BackupTest, RejectsEveryByteFlip) {
  const std::vector<BackupShare> shares = Pick(backup_, {0, 1});
  for (size_t i = 0; i < backup_.file.size(); ++i) {
    Bytes flipped = backup_.file;
    flipped[i] ^= 0x01;
    EXPECT_FALSE(OpenBackup(flipped, shares).ok()) << "byte " << i;
  }
}

TEST_F(BackupTest, HeaderCountIsAuthenticated) {
  Bytes edited = backup_.file;
  edited[42] ^= 0x01;  // the low byte of the key version count
  EXPECT_THAT(OpenBackup(edited, Pick(backup_, {0, 1})),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(BackupTest, RejectsUnknownFormatVersion) {
  Bytes edited = backup_.file;
  edited[11] = 3;
  EXPECT_THAT(ParseBackupHeader(edited),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format version 3")));
  edited[11] = 0;
  EXPECT_THAT(ParseBackupHeader(edited),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format version 0")));
}

TEST_F(BackupTest, RejectsBrokenAuditChainInside) {
  ASSERT_OK_AND_ASSIGN(BackupContents contents, ReadSource(SourceOf(original_)));
  contents.audit[2].detail = "edited";
  ASSERT_OK_AND_ASSIGN(const CreatedBackup forged, SealContents(std::move(contents), 2, 2, kT0));
  EXPECT_THAT(OpenBackup(forged.file, Pick(forged, {0, 1})), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(BackupTest, CreateRejectsBadThreshold) {
  EXPECT_THAT(CreateBackup(SourceOf(original_), 1, 3),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CreateBackup(SourceOf(original_), 4, 3),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CreateBackup(SourceOf(original_), 2, 17),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BackupTest, CreateNeedsRootKey) {
  BackupSource source = SourceOf(original_);
  source.root_key = nullptr;
  EXPECT_THAT(CreateBackup(source, 2, 3), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BackupTest, RestoreRejectsNonEmptyStore) {
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup_.file, Pick(backup_, {0, 1})));
  Instance target = OpenSqlite(MakeTempDir());
  ASSERT_OK(target.store->PutBlob("settings.purge-protection", Bytes{1}));
  EXPECT_THAT(RestoreToStore(contents, *target.store),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not empty")));
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, target.store->ListKeyNames());
  EXPECT_TRUE(names.empty());
}

TEST_F(BackupTest, EmptyStoreRoundTrip) {
  Instance empty = OpenSqlite(MakeTempDir());
  OpenKeyStore(empty);
  ASSERT_OK_AND_ASSIGN(const CreatedBackup backup, CreateBackup(SourceOf(empty), 2, 2));
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup.file, Pick(backup, {1, 0})));
  Instance restored = OpenSqlite(MakeTempDir());
  RestoreInto(contents, restored);
  ExpectSameInstance(empty, restored);
}

// A PKCS#11 instance has no root key: its key blobs are token references,
// copied as they are.
TEST_F(BackupTest, Pkcs11BackupCarriesNoRootKey) {
  BackupSource source = SourceOf(original_);
  source.keystore = KeyStoreKind::kPkcs11;
  source.root_key = nullptr;
  ASSERT_OK_AND_ASSIGN(const CreatedBackup backup, CreateBackup(source, 2, 2));
  EXPECT_EQ(backup.header.keystore, KeyStoreKind::kPkcs11);
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup.file, Pick(backup, {0, 1})));
  EXPECT_TRUE(contents.root_key.empty());
  ASSERT_OK_AND_ASSIGN(const store::KeyRecord disk, original_.store->GetKey("disk", ""));
  EXPECT_EQ(contents.keys[1].sealed_key, disk.sealed_key);
}

// PostgreSQL: back up a PostgreSQL store, restore into another schema and
// into SQLite, and compare.
TEST(BackupPostgresTest, RoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<vouch::testing::PostgresCluster> cluster,
                       vouch::testing::PostgresCluster::Start());
  const auto open = [&](const std::string& schema, const std::string& dir) {
    store::PostgresStoreOptions options;
    options.conninfo = cluster->ConnectionString();
    options.schema = schema;
    absl::StatusOr<std::unique_ptr<store::PostgresStore>> pg = store::PostgresStore::Open(options);
    VOUCH_CHECK(pg.ok());
    Instance instance;
    instance.dir = dir;
    store::PostgresStore* raw = pg->get();
    instance.deleted_versions = [raw](std::string_view name) {
      return raw->ListDeletedKeyVersions(name);
    };
    instance.store = *std::move(pg);
    return instance;
  };

  Instance original = open("source", MakeTempDir());
  OpenKeyStore(original);
  Populate(original);
  ASSERT_OK_AND_ASSIGN(const CreatedBackup backup, CreateBackup(SourceOf(original), 2, 3));
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup.file, Pick(backup, {2, 1})));

  Instance on_postgres = open("restored", MakeTempDir());
  RestoreInto(contents, on_postgres);
  ExpectSameInstance(original, on_postgres);
  ExpectSameRelease(original, on_postgres, "disk");

  Instance on_sqlite = OpenSqlite(MakeTempDir());
  RestoreInto(contents, on_sqlite);
  ExpectSameInstance(original, on_sqlite);
  ExpectSameRelease(original, on_sqlite, "signer");
}

// Measures create, open and restore of a store with 1,000 key versions and
// 2,000 audit events on PostgreSQL, and checks the round trip. The times are
// printed, not asserted, because they depend on the machine.
TEST(BackupPostgresTest, ThousandKeysRoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<vouch::testing::PostgresCluster> cluster,
                       vouch::testing::PostgresCluster::Start());
  const auto open = [&](const std::string& schema) {
    store::PostgresStoreOptions options;
    options.conninfo = cluster->ConnectionString();
    options.schema = schema;
    absl::StatusOr<std::unique_ptr<store::PostgresStore>> pg = store::PostgresStore::Open(options);
    VOUCH_CHECK(pg.ok());
    Instance instance;
    instance.dir = MakeTempDir();
    store::PostgresStore* raw = pg->get();
    instance.deleted_versions = [raw](std::string_view name) {
      return raw->ListDeletedKeyVersions(name);
    };
    instance.store = *std::move(pg);
    return instance;
  };

  constexpr int kKeys = 1000;
  constexpr int kAuditEvents = 2000;
  Instance original = open("big_source");
  OpenKeyStore(original);
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_OK(original.store->PutKeyVersion(
        AesRecord(original, fmt::format("key-{}", i), i, kT0 + absl::Seconds(i))));
  }
  for (int i = 0; i < kAuditEvents; ++i) {
    store::AuditEvent event;
    event.time = kT0 + absl::Milliseconds(i);
    event.actor = "admin";
    event.operation = "key.release";
    event.target = fmt::format("keys/key-{}", i % kKeys);
    event.outcome = "granted";
    ASSERT_OK(original.store->AppendAudit(event));
  }

  const absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(const CreatedBackup backup, CreateBackup(SourceOf(original), 3, 5));
  const absl::Time created = absl::Now();
  ASSERT_OK_AND_ASSIGN(const BackupContents contents,
                       OpenBackup(backup.file, Pick(backup, {0, 2, 4})));
  const absl::Time opened = absl::Now();
  Instance restored = open("big_restored");
  RestoreInto(contents, restored);
  const absl::Time done = absl::Now();

  EXPECT_EQ(contents.keys.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(contents.audit.size(), static_cast<size_t>(kAuditEvents));
  ExpectSameInstance(original, restored);
  std::printf(
      "backup of %d keys and %d audit events: %zu bytes; create %.0f ms, open %.0f ms, "
      "restore %.0f ms\n",
      kKeys, kAuditEvents, backup.file.size(), absl::ToDoubleMilliseconds(created - start),
      absl::ToDoubleMilliseconds(opened - created), absl::ToDoubleMilliseconds(done - opened));
}

}  // namespace
}  // namespace vouch::backup
