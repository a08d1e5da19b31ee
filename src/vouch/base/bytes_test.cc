#include "vouch/base/bytes.h"

#include <gtest/gtest.h>

#include "vouch/testing/status_matchers.h"

namespace vouch {
namespace {

using ::vouch::testing::StatusIs;

TEST(BytesTest, HexRoundTrip) {
  const Bytes input = {0x00, 0x7f, 0x80, 0xff};
  EXPECT_EQ(HexEncode(input), "007f80ff");
  ASSERT_OK_AND_ASSIGN(const Bytes decoded, HexDecode("007F80ff"));
  EXPECT_EQ(decoded, input);
}

TEST(BytesTest, HexRejectsOddLengthAndBadDigit) {
  EXPECT_THAT(HexDecode("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HexDecode("zz"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BytesTest, Base64UrlHasNoPadding) {
  const Bytes input = {0xfb, 0xff};
  EXPECT_EQ(Base64UrlEncode(input), "-_8");
  ASSERT_OK_AND_ASSIGN(const Bytes decoded, Base64UrlDecode("-_8"));
  EXPECT_EQ(decoded, input);
  EXPECT_EQ(Base64Encode(input), "+/8=");
}

TEST(BytesTest, Base64UrlRejectsInvalidCharacters) {
  EXPECT_THAT(Base64UrlDecode("ab$d"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BytesTest, IsAllZero) {
  EXPECT_TRUE(IsAllZero(Bytes{}));
  EXPECT_TRUE(IsAllZero(Bytes{0, 0}));
  EXPECT_FALSE(IsAllZero(Bytes{0, 1}));
}

}  // namespace
}  // namespace vouch
