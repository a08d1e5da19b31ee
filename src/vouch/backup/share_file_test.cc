#include "vouch/backup/share_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/crypto/hash.h"
#include "vouch/crypto/random.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::backup {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

BackupShare TestShare() {
  BackupShare share;
  share.backup_id = Bytes(kBackupIdBytes, 0xab);
  share.threshold = 2;
  share.num_shares = 3;
  share.share.index = 3;
  share.share.value = crypto::RandomSecret(32);
  return share;
}

std::string Text(const SecretBytes& bytes) { return ToString(bytes.Expose()); }

// Recheck replaces the checksum line so that an edit passes the checksum
// and reaches the field checks.
std::string Recheck(std::string text) {
  const size_t checksum = text.find("checksum: ");
  text.resize(checksum);
  return text + "checksum: " + HexEncode(crypto::Sha256(AsBytes(text))) + "\n";
}

TEST(ShareFileTest, RoundTrip) {
  const BackupShare share = TestShare();
  ASSERT_OK_AND_ASSIGN(const SecretBytes text, EncodeShareFile(share));
  EXPECT_THAT(Text(text), HasSubstr("index: 3\nthreshold: 2\nshares: 3\n"));
  ASSERT_OK_AND_ASSIGN(const BackupShare parsed, ParseShareFile(text.Expose()));
  EXPECT_EQ(parsed.backup_id, share.backup_id);
  EXPECT_EQ(parsed.threshold, 2);
  EXPECT_EQ(parsed.num_shares, 3);
  EXPECT_EQ(parsed.share.index, 3);
  EXPECT_TRUE(parsed.share.value == share.share.value);
}

TEST(ShareFileTest, RejectsEditedValue) {
  ASSERT_OK_AND_ASSIGN(const SecretBytes text, EncodeShareFile(TestShare()));
  std::string edited = Text(text);
  const size_t value = edited.find("value: ") + 7;
  edited[value] = edited[value] == '0' ? '1' : '0';
  EXPECT_THAT(ParseShareFile(AsBytes(edited)), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ShareFileTest, RejectsEveryTruncation) {
  ASSERT_OK_AND_ASSIGN(const SecretBytes text, EncodeShareFile(TestShare()));
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(ParseShareFile(text.Expose().first(n)).ok()) << "length " << n;
  }
}

TEST(ShareFileTest, RejectsTrailingLine) {
  ASSERT_OK_AND_ASSIGN(const SecretBytes text, EncodeShareFile(TestShare()));
  EXPECT_THAT(ParseShareFile(AsBytes(Text(text) + "extra\n")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ShareFileTest, RejectsOutOfRangeFields) {
  ASSERT_OK_AND_ASSIGN(const SecretBytes text, EncodeShareFile(TestShare()));
  const std::string good = Text(text);
  const struct {
    const char* from;
    const char* to;
  } kCases[] = {
      {"index: 3", "index: 4"},           {"index: 3", "index: 0"},
      {"index: 3", "index: 03"},          {"threshold: 2", "threshold: 1"},
      {"threshold: 2", "threshold: 4"},   {"shares: 3", "shares: 17"},
      {"backup-id: ab", "backup-id: AB"}, {"vouch-backup-share 1", "vouch-backup-share 2"},
  };
  for (const auto& edit : kCases) {
    std::string edited = good;
    edited.replace(edited.find(edit.from), std::string(edit.from).size(), edit.to);
    EXPECT_THAT(ParseShareFile(AsBytes(Recheck(edited))),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << edit.to;
  }
}

TEST(ShareFileTest, EncodeRejectsWrongSizes) {
  BackupShare share = TestShare();
  share.backup_id.pop_back();
  EXPECT_THAT(EncodeShareFile(share), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::backup
