// `vouch backup create` and `vouch backup restore` end to end. Keys made on
// a running node are backed up from PostgreSQL and restored into a new
// database and into SQLite. A node started on the restored database releases
// the same key versions with the same token signing key, and its audit chain
// verifies. Every rejection leaves the target untouched.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/cli/node_harness.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/softhsm_testing.h"
#include "vouch/server/service.h"
#include "vouch/store/audit.h"
#include "vouch/store/postgres_store.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/postgres_cluster.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::PostgresCluster;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// RunVouch runs the vouch binary with `args` and returns its exit status and
// its stdout and stderr together. Arguments are paths under the test's
// temporary folder and fixed words, so single quotes are safe.
CommandResult RunVouch(const std::string& folder, const std::vector<std::string>& args) {
  const std::string output_file = folder + "/command.out";
  std::string command = "'" + VouchBinary() + "'";
  for (const std::string& arg : args) {
    command += " '" + arg + "'";
  }
  command += " >'" + output_file + "' 2>&1";
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(output_file);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

std::vector<std::string> ShareFiles(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> RestoreArgs(const std::string& backup_file,
                                     const std::vector<std::string>& shares) {
  std::vector<std::string> args = {"backup", "restore", "--in", backup_file};
  for (const std::string& share : shares) {
    args.push_back("--share");
    args.push_back(share);
  }
  return args;
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class BackupRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(cluster_, PostgresCluster::Start());
    ASSERT_OK(cluster_->CreateDatabase("restored"));
    ASSERT_OK_AND_ASSIGN(original_, Deployment::Make());
    ASSERT_OK_AND_ASSIGN(restored_, Deployment::Make());
    ASSERT_OK_AND_ASSIGN(original_url_, original_.WriteUrlFile("primary", cluster_->Url()));
    ASSERT_OK_AND_ASSIGN(restored_url_,
                         restored_.WriteUrlFile("restored", cluster_->Url("restored")));
  }

  std::unique_ptr<store::PostgresStore> OpenStore(const std::string& database) {
    store::PostgresStoreOptions options;
    options.conninfo = cluster_->ConnectionString(database);
    absl::StatusOr<std::unique_ptr<store::PostgresStore>> store =
        store::PostgresStore::Open(options);
    EXPECT_OK(store.status());
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::unique_ptr<PostgresCluster> cluster_;
  Deployment original_;
  Deployment restored_;
  std::string original_url_;
  std::string restored_url_;
};

TEST_F(BackupRestoreTest, RestoredNodeReleasesSameKeys) {
  // Keys on the original node: one rotated, one soft-deleted.
  std::string disk_kid;
  std::string other_kid;
  std::string original_jwks;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<VouchNode> node,
                         VouchNode::Start(original_, "original", original_url_));
    ASSERT_OK(node->CreateKey("disk").status());
    ASSERT_OK_AND_ASSIGN(const agent::HttpResponse rotated, node->CreateKey("disk"));
    disk_kid = KidOf(rotated);
    ASSERT_OK_AND_ASSIGN(const agent::HttpResponse other, node->CreateKey("other"));
    other_kid = KidOf(other);
    ASSERT_OK(node->CreateKey("retired").status());
    ASSERT_OK_AND_ASSIGN(const std::string token, node->Attest(original_));
    ASSERT_OK_AND_ASSIGN(const agent::HttpResponse released, node->Release("disk", token));
    ASSERT_EQ(released.status, 200) << released.body;
    EXPECT_EQ(ReleasedKid(released), disk_kid);
    ASSERT_OK_AND_ASSIGN(const agent::HttpResponse certs, node->Get("/certs"));
    original_jwks = certs.body;
  }

  {
    // The harness has no DELETE request, so the soft delete goes to the store.
    std::unique_ptr<store::PostgresStore> store = OpenStore("postgres");
    ASSERT_NE(store, nullptr);
    ASSERT_OK(
        store->SoftDeleteKey("retired", absl::Now(), absl::Now() + absl::Hours(24 * 90), nullptr));
  }

  // Back up while no node runs.
  const std::string backup_file = original_.folder + "/vouch.backup";
  const std::string share_dir = original_.folder + "/shares";
  const CommandResult created = RunVouch(
      original_.folder, {"backup", "create", "--data", original_.data_dir, "--store", "postgres",
                         "--postgres-url-file", original_url_, "--out", backup_file, "--shares",
                         "3", "--threshold", "2", "--share-out", share_dir});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("2 of 3 shares restore it"));
  const std::vector<std::string> shares = ShareFiles(share_dir);
  ASSERT_EQ(shares.size(), 3u);
  for (const std::string& share : shares) {
    struct stat info {};
    ASSERT_EQ(stat(share.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u) << share;
    ASSERT_OK_AND_ASSIGN(const Bytes text, ReadFile(share));
    const std::string value = ToString(text).substr(ToString(text).find("value: ") + 7, 64);
    EXPECT_THAT(created.output, Not(HasSubstr(value))) << "a share value was printed";
  }

  const std::vector<std::string> target = {"--data",   restored_.data_dir,    "--store",
                                           "postgres", "--postgres-url-file", restored_url_};
  // Rejections first: none of them writes anything.
  const CommandResult one_share =
      RunVouch(restored_.folder, Concat(RestoreArgs(backup_file, {shares[0]}), target));
  EXPECT_EQ(one_share.exit_code, 1);
  EXPECT_THAT(one_share.output, HasSubstr("needs 2 of its 3"));
  const CommandResult duplicated =
      RunVouch(restored_.folder, Concat(RestoreArgs(backup_file, {shares[1], shares[1]}), target));
  EXPECT_EQ(duplicated.exit_code, 1);
  EXPECT_THAT(duplicated.output, HasSubstr("given twice"));

  ASSERT_OK_AND_ASSIGN(Bytes tampered, ReadFile(backup_file));
  tampered[tampered.size() / 2] ^= 0x40;
  const std::string tampered_file = original_.folder + "/tampered.backup";
  ASSERT_OK(WriteFileAtomic(tampered_file, tampered, 0600));
  const CommandResult bad_file = RunVouch(
      restored_.folder, Concat(RestoreArgs(tampered_file, {shares[0], shares[2]}), target));
  EXPECT_EQ(bad_file.exit_code, 1);
  EXPECT_THAT(bad_file.output, HasSubstr("decryption failed"));

  tampered = *ReadFile(backup_file);
  tampered.resize(tampered.size() - 1);
  ASSERT_OK(WriteFileAtomic(tampered_file, tampered, 0600));
  const CommandResult truncated = RunVouch(
      restored_.folder, Concat(RestoreArgs(tampered_file, {shares[0], shares[2]}), target));
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_THAT(truncated.output, HasSubstr("truncated"));

  EXPECT_FALSE(std::filesystem::exists(restored_.data_dir + "/root.key"));
  {
    std::unique_ptr<store::PostgresStore> untouched = OpenStore("restored");
    ASSERT_NE(untouched, nullptr);
    ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, untouched->ListKeyNames());
    EXPECT_TRUE(names.empty());
  }

  // The restore with two shares.
  const CommandResult restored =
      RunVouch(restored_.folder, Concat(RestoreArgs(backup_file, {shares[2], shares[0]}), target));
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_THAT(restored.output, HasSubstr("the audit chain verifies"));

  // A second restore into the same, now filled, instance is rejected.
  const CommandResult again =
      RunVouch(restored_.folder, Concat(RestoreArgs(backup_file, {shares[0], shares[1]}), target));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("exists"));

  // The simulated SEV-SNP chain is the guest's hardware, not backed up: the
  // restored node trusts the same simulated root.
  std::filesystem::copy(original_.data_dir + "/" + server::kSimulatedSnpDir,
                        restored_.data_dir + "/" + server::kSimulatedSnpDir,
                        std::filesystem::copy_options::recursive);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VouchNode> node,
                       VouchNode::Start(restored_, "restored", restored_url_));
  ASSERT_OK_AND_ASSIGN(const std::string token, node->Attest(restored_));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse disk, node->Release("disk", token));
  ASSERT_EQ(disk.status, 200) << disk.body;
  EXPECT_EQ(ReleasedKid(disk), disk_kid);
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse other, node->Release("other", token));
  ASSERT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(ReleasedKid(other), other_kid);
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse certs, node->Get("/certs"));
  EXPECT_EQ(certs.body, original_jwks);
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse retired, node->GetKey("retired"));
  EXPECT_EQ(retired.status, 404) << retired.body;

  std::unique_ptr<store::PostgresStore> store = OpenStore("restored");
  ASSERT_NE(store, nullptr);
  EXPECT_OK(store::VerifyAuditChain(*store));
  EXPECT_OK(store->GetDeletedKey("retired").status());

  // The same backup restores into SQLite; a second backup of that copy
  // restores again, and a non-empty folder is rejected.
  const std::string sqlite_dir = restored_.folder + "/sqlite";
  const CommandResult to_sqlite =
      RunVouch(restored_.folder,
               Concat(RestoreArgs(backup_file, {shares[1], shares[2]}), {"--data", sqlite_dir}));
  ASSERT_EQ(to_sqlite.exit_code, 0) << to_sqlite.output;
  const CommandResult into_full =
      RunVouch(restored_.folder,
               Concat(RestoreArgs(backup_file, {shares[1], shares[2]}), {"--data", sqlite_dir}));
  EXPECT_EQ(into_full.exit_code, 1);
  EXPECT_THAT(into_full.output, HasSubstr("is not empty"));

  const std::string second_backup = restored_.folder + "/second.backup";
  const CommandResult second =
      RunVouch(restored_.folder,
               {"backup", "create", "--data", sqlite_dir, "--out", second_backup, "--shares", "2",
                "--threshold", "2", "--share-out", restored_.folder + "/second-shares"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const std::string sqlite_copy = restored_.folder + "/sqlite-copy";
  const CommandResult copy =
      RunVouch(restored_.folder,
               Concat(RestoreArgs(second_backup, ShareFiles(restored_.folder + "/second-shares")),
                      {"--data", sqlite_copy}));
  ASSERT_EQ(copy.exit_code, 0) << copy.output;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> sqlite,
                       store::SqliteStore::Open(sqlite_copy + "/vouch.db"));
  EXPECT_OK(store::VerifyAuditChain(*sqlite));
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, sqlite->ListKeyNames());
  EXPECT_EQ(names, (std::vector<std::string>{"disk", "other"}));
  ASSERT_OK_AND_ASSIGN(const std::vector<store::KeyRecord> disk_versions,
                       sqlite->ListKeyVersions("disk"));
  EXPECT_EQ(disk_versions.size(), 2u);
  EXPECT_OK(sqlite->GetDeletedKey("retired").status());
}


// PKCS#11: keys on a SoftHSM2 token are backed up wrapped by `vouch backup
// create --keystore pkcs11` and unwrapped into a second, empty token by
// `vouch backup restore`, which then releases the same key bytes.
class Pkcs11BackupCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = ::testing::TempDir() + "/vouch-pkcs11-cli-XXXXXX";
    ASSERT_NE(mkdtemp(folder_.data()), nullptr);
    ASSERT_OK_AND_ASSIGN(source_token_, keystore::CreateSoftHsmToken(folder_, "source"));
    ASSERT_OK_AND_ASSIGN(target_token_, keystore::CreateSoftHsmToken(folder_, "target"));
    pin_file_ = folder_ + "/pin";
    ASSERT_OK(WriteFileAtomic(pin_file_, AsBytes(source_token_.pin), 0600));
    data_dir_ = folder_ + "/data";
    ASSERT_EQ(mkdir(data_dir_.c_str(), 0700), 0);

    // The instance: two AES keys and a sealed signing key blob, written
    // with the library while no vouch process has the token open.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<keystore::Pkcs11KeyStore> token,
                         keystore::Pkcs11KeyStore::Open(source_token_.Options()));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                         store::SqliteStore::Open(data_dir_ + "/" + server::kDatabaseFile));
    for (const std::string name : {"disk", "locked"}) {
      store::KeyRecord record;
      record.name = name;
      record.version = std::string(32, name == "disk" ? 'a' : 'b');
      record.created = absl::Now();
      record.updated = record.created;
      record.kty = "oct-HSM";
      record.key_size_bits = 256;
      record.keystore = "pkcs11";
      ASSERT_OK_AND_ASSIGN(record.sealed_key,
                           token->GenerateSymmetric(256, keystore::KeyLabel(name, record.version)));
      ASSERT_OK(store->PutKeyVersion(record));
      records_.push_back(record);
    }
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, token->Seal(SecretBytes(ToBytes("signing key pem")),
                                                         server::kSigningKeyBlob));
    ASSERT_OK(store->PutBlob(server::kSigningKeyBlob, sealed));
  }

  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }

  std::vector<std::string> TokenFlags(const std::string& label) const {
    return {"--keystore", "pkcs11", "--pkcs11-module", keystore::kSoftHsmModulePath,
            "--pkcs11-token-label", label, "--pkcs11-pin-file", pin_file_};
  }

  // ReleasedAes releases `record` from the token of `token_info` and unwraps it.
  absl::StatusOr<SecretBytes> ReleasedAes(const keystore::SoftHsmToken& token_info,
                                          const store::KeyRecord& record) {
    VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<keystore::Pkcs11KeyStore> token,
                           keystore::Pkcs11KeyStore::Open(token_info.Options()));
    VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> requester,
                           crypto::GenerateRsaKey(2048));
    VOUCH_ASSIGN_OR_RETURN(
        const Bytes wrapped,
        token->WrapForRelease(record.sealed_key, keystore::KeyLabel(record.name, record.version),
                              requester.get(), crypto::HashAlg::kSha1));
    return crypto::RsaAesKeyUnwrap(requester.get(), crypto::HashAlg::kSha1, wrapped);
  }

  std::string folder_;
  keystore::SoftHsmToken source_token_;
  keystore::SoftHsmToken target_token_;
  std::string pin_file_;
  std::string data_dir_;
  std::vector<store::KeyRecord> records_;
};

TEST_F(Pkcs11BackupCliTest, RestoresKeysIntoNewToken) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<keystore::Pkcs11KeyStore> token,
                         keystore::Pkcs11KeyStore::Open(source_token_.Options()));
    ASSERT_OK(token->SetNotExtractableForTest(
        records_[1].sealed_key, keystore::KeyLabel(records_[1].name, records_[1].version)));
  }
  const std::string backup_file = folder_ + "/vouch.backup";
  const std::vector<std::string> create = {"backup",    "create", "--data", data_dir_,
                                           "--out",     backup_file, "--shares", "2",
                                           "--threshold", "2",    "--share-out",
                                           folder_ + "/shares"};

  // A key that cannot leave the token stops the backup, named.
  const CommandResult refused = RunVouch(folder_, Concat(create, TokenFlags("source")));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output, HasSubstr("key:locked:"));
  EXPECT_THAT(refused.output, HasSubstr("CKA_EXTRACTABLE false"));
  EXPECT_FALSE(std::filesystem::exists(backup_file));

  const CommandResult created = RunVouch(
      folder_, Concat(Concat(create, TokenFlags("source")), {"--pkcs11-references-only"}));
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("without key material"));

  const std::string restored_dir = folder_ + "/restored";
  const CommandResult restored = RunVouch(
      folder_, Concat(Concat(RestoreArgs(backup_file, ShareFiles(folder_ + "/shares")),
                             {"--data", restored_dir}),
                      TokenFlags("target")));
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_THAT(restored.output, HasSubstr("1 PKCS#11 key versions unwrapped"));
  EXPECT_THAT(restored.output, HasSubstr("1 key versions had no key material"));

  ASSERT_OK_AND_ASSIGN(const SecretBytes from_source, ReleasedAes(source_token_, records_[0]));
  ASSERT_OK_AND_ASSIGN(const SecretBytes from_target, ReleasedAes(target_token_, records_[0]));
  EXPECT_TRUE(from_source == from_target);
  EXPECT_THAT(ReleasedAes(target_token_, records_[1]),
              vouch::testing::StatusIs(absl::StatusCode::kUnauthenticated));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                       store::SqliteStore::Open(restored_dir + "/" + server::kDatabaseFile));
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> blob, store->GetBlob(server::kSigningKeyBlob));
  ASSERT_TRUE(blob.has_value());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<keystore::Pkcs11KeyStore> target,
                       keystore::Pkcs11KeyStore::Open(target_token_.Options()));
  ASSERT_OK_AND_ASSIGN(const SecretBytes pem, target->Unseal(*blob, server::kSigningKeyBlob));
  EXPECT_EQ(ToString(pem.Expose()), "signing key pem");
}

}  // namespace
}  // namespace vouch::cli::testing
