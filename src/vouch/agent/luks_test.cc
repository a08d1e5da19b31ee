#include "vouch/agent/luks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "vouch/agent/test_support.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

constexpr uint64_t kImageBytes = 20 << 20;

SecretBytes TestKey(uint8_t fill) {
  SecretBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) {
    key.MutableExpose()[i] = static_cast<uint8_t>(fill + i);
  }
  return key;
}

TEST(CreateImageFileTest, CreatesSparseFileOfGivenSize) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));

  struct stat st {};
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kImageBytes);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, kImageBytes);
}

TEST(CreateImageFileTest, RejectsExistingFile) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  EXPECT_THAT(CreateImageFile(image, kImageBytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("File exists")));
}

TEST(Luks2Test, FormatThenOpenWithRightKey) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  ASSERT_OK_AND_ASSIGN(const OpenResult result, OpenLuks2(image, TestKey(1), ""));
  EXPECT_FALSE(result.mapped);
  EXPECT_EQ(result.keyslot, 0);
  EXPECT_THAT(result.message, HasSubstr("keyslot 0 opened"));
}

TEST(Luks2Test, FormatWritesLuks2Magic) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  ASSERT_OK_AND_ASSIGN(const Bytes contents, ReadFile(image, kImageBytes));
  // LUKS2 on-disk format: magic "LUKS\xba\xbe" then version 2 (big-endian u16).
  const Bytes magic = {'L', 'U', 'K', 'S', 0xba, 0xbe, 0x00, 0x02};
  ASSERT_GE(contents.size(), magic.size());
  EXPECT_EQ(Bytes(contents.begin(), contents.begin() + 8), magic);
}

// Activation needs device-mapper; where it is missing (as on build
// machines), OpenLuks2 checks the key and reports that it did not map.
TEST(Luks2Test, OpenWithoutDeviceMapperChecksKey) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  ASSERT_OK_AND_ASSIGN(const OpenResult result, OpenLuks2(image, TestKey(1), "vouch-agent-test"));
  if (result.mapped) {
    GTEST_SKIP() << "device-mapper is available here and the volume was mapped; "
                    "run `cryptsetup close vouch-agent-test`";
  }
  EXPECT_EQ(result.keyslot, 0);
  EXPECT_EQ(result.message, "keyslot 0 opened; volume not mapped: device-mapper unavailable");
}

TEST(Luks2Test, WrongKeyRejected) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  EXPECT_THAT(
      OpenLuks2(image, TestKey(2), ""),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("the key did not open any keyslot")));
  EXPECT_THAT(
      OpenLuks2(image, TestKey(2), "vouch-agent-test"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("the key did not open any keyslot")));
}

TEST(Luks2Test, NonLuksFileRejected) {
  ScopedTempDir dir;
  const std::string image = dir.File("plain.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));

  EXPECT_THAT(OpenLuks2(image, TestKey(1), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no valid LUKS2 header")));
}

TEST(Luks2Test, MissingFileIsNotFound) {
  ScopedTempDir dir;
  EXPECT_THAT(OpenLuks2(dir.File("absent.img"), TestKey(1), ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.img")));
  EXPECT_THAT(FormatLuks2(dir.File("absent.img"), TestKey(1)),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(Luks2Test, ShortKeyRejectedAtFormat) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  EXPECT_THAT(FormatLuks2(image, SecretBytes(8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too short")));
}

}  // namespace
}  // namespace vouch::agent
