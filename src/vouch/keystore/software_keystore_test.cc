#include "vouch/keystore/software_keystore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/keystore/keystore_conformance_test.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::keystore {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

std::string RootKeyPath(const std::string& dir) { return dir + "/root.key"; }

conformance::KeyStoreFactory SoftwareKeyStoreFactory() {
  conformance::KeyStoreFactory factory;
  factory.name = "Software";
  factory.open = [](const std::string& location) -> absl::StatusOr<std::unique_ptr<KeyStore>> {
    VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<SoftwareKeyStore> keystore,
                           SoftwareKeyStore::OpenOrCreate(RootKeyPath(location)));
    return std::unique_ptr<KeyStore>(std::move(keystore));
  };
  return factory;
}

using conformance::KeyStoreConformanceTest;
INSTANTIATE_TEST_SUITE_P(Software, KeyStoreConformanceTest,
                         ::testing::Values(SoftwareKeyStoreFactory()), conformance::FactoryName);

TEST(KeyLabelTest, JoinsNameAndVersion) {
  EXPECT_EQ(KeyLabel("data-key", "0123456789abcdef0123456789abcdef"),
            "key:data-key:0123456789abcdef0123456789abcdef");
}

class SoftwareKeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "vouch-softks-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = RootKeyPath(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void WriteRootKey(const Bytes& bytes, mode_t mode) {
    ASSERT_OK(WriteFileAtomic(path_, bytes, mode));
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SoftwareKeyStoreTest, CreatesRootKeyWithMode0600) {
  ASSERT_OK_AND_ASSIGN(auto keystore, SoftwareKeyStore::OpenOrCreate(path_));
  EXPECT_EQ(keystore->Name(), "software");
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_OK_AND_ASSIGN(const Bytes root, ReadFile(path_));
  EXPECT_FALSE(IsAllZero(root));
  // No temporary file is left beside it.
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) {
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(SoftwareKeyStoreTest, CreatesRootKeyDespitePermissiveUmask) {
  const mode_t old_umask = umask(0);
  absl::StatusOr<std::unique_ptr<SoftwareKeyStore>> keystore =
      SoftwareKeyStore::OpenOrCreate(path_);
  umask(old_umask);
  ASSERT_OK(keystore.status());
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(SoftwareKeyStoreTest, ReadableByOthersIsRejectedWithFix) {
  for (const mode_t mode : {0640, 0604, 0620, 0602, 0644, 0660, 0610}) {
    WriteRootKey(Bytes(32, 7), mode);
    EXPECT_THAT(SoftwareKeyStore::OpenOrCreate(path_),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr(fmt::format("mode {:04o}", mode)),
                               HasSubstr("chmod 600 " + path_))))
        << fmt::format("mode {:04o}", mode);
  }
  WriteRootKey(Bytes(32, 7), 0400);
  EXPECT_OK(SoftwareKeyStore::OpenOrCreate(path_).status());
}

TEST_F(SoftwareKeyStoreTest, WrongSizeRootKeyIsRejected) {
  for (const size_t size : {0, 16, 31, 33, 64}) {
    WriteRootKey(Bytes(size, 7), 0600);
    EXPECT_THAT(SoftwareKeyStore::OpenOrCreate(path_),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("want 32")))
        << size << " bytes";
  }
}

TEST_F(SoftwareKeyStoreTest, AllZeroRootKeyIsRejected) {
  WriteRootKey(Bytes(32, 0), 0600);
  EXPECT_THAT(SoftwareKeyStore::OpenOrCreate(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("zero")));
}

TEST_F(SoftwareKeyStoreTest, SymlinkAndDirectoryAreRejected) {
  const std::string target = dir_ + "/real.key";
  ASSERT_OK(WriteFileAtomic(target, Bytes(32, 7), 0600));
  ASSERT_EQ(symlink(target.c_str(), path_.c_str()), 0);
  EXPECT_THAT(SoftwareKeyStore::OpenOrCreate(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symbolic link")));

  const std::string dir_path = dir_ + "/dir.key";
  ASSERT_EQ(mkdir(dir_path.c_str(), 0700), 0);
  EXPECT_THAT(SoftwareKeyStore::OpenOrCreate(dir_path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));
}

TEST_F(SoftwareKeyStoreTest, MissingFolderIsAnError) {
  EXPECT_FALSE(SoftwareKeyStore::OpenOrCreate(dir_ + "/absent/root.key").ok());
}

TEST_F(SoftwareKeyStoreTest, AnotherRootKeyCannotOpen) {
  ASSERT_OK_AND_ASSIGN(auto first, SoftwareKeyStore::OpenOrCreate(path_));
  ASSERT_OK_AND_ASSIGN(auto second, SoftwareKeyStore::OpenOrCreate(dir_ + "/other.key"));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, first->GenerateSymmetric(256, "key:k:1"));
  EXPECT_THAT(second->Unseal(sealed, "key:k:1"), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(SoftwareKeyStoreTest, BlobHasDocumentedLayout) {
  ASSERT_OK_AND_ASSIGN(auto keystore, SoftwareKeyStore::OpenOrCreate(path_));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->GenerateSymmetric(256, "key:k:1"));
  ASSERT_EQ(sealed.size(), 1u + 12u + 32u + 16u);
  EXPECT_EQ(sealed[0], SoftwareKeyStore::kFormatVersion);

  Bytes future = sealed;
  future[0] = 3;
  EXPECT_THAT(keystore->Unseal(future, "key:k:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format version 3")));
}

TEST_F(SoftwareKeyStoreTest, LongLabelIsRejected) {
  ASSERT_OK_AND_ASSIGN(auto keystore, SoftwareKeyStore::OpenOrCreate(path_));
  const std::string label(SoftwareKeyStore::kMaxLabelBytes + 1, 'x');
  EXPECT_THAT(keystore->GenerateSymmetric(256, label),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(keystore->GenerateSymmetric(256, label.substr(1)).status());
}

// Two processes that start at once on a fresh data folder must agree on one
// root key. The loser of the race reads the winner's file.
TEST_F(SoftwareKeyStoreTest, ConcurrentCreationYieldsOneRootKey) {
  for (int round = 0; round < 20; ++round) {
    std::filesystem::remove(path_);
    std::unique_ptr<SoftwareKeyStore> a;
    std::unique_ptr<SoftwareKeyStore> b;
    std::thread ta([&] { a = SoftwareKeyStore::OpenOrCreate(path_).value_or(nullptr); });
    std::thread tb([&] { b = SoftwareKeyStore::OpenOrCreate(path_).value_or(nullptr); });
    ta.join();
    tb.join();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, a->GenerateSymmetric(256, "key:k:1"));
    EXPECT_OK(b->Unseal(sealed, "key:k:1").status()) << "round " << round;
  }
}

}  // namespace
}  // namespace vouch::keystore
