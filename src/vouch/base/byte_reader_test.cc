#include "vouch/base/byte_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vouch/testing/status_matchers.h"

namespace vouch {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

TEST(ByteReaderTest, ReadsLittleAndBigEndian) {
  const Bytes input = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xaa, 0xbb};
  ByteReader in(input, "test");
  ASSERT_OK_AND_ASSIGN(const uint32_t le, in.U32Le("a"));
  EXPECT_EQ(le, 0x04030201u);
  ASSERT_OK_AND_ASSIGN(const uint32_t be, in.U32Be("b"));
  EXPECT_EQ(be, 0x05060708u);
  ASSERT_OK_AND_ASSIGN(const uint16_t le16, in.U16Le("c"));
  EXPECT_EQ(le16, 0xbbaa);
  EXPECT_OK(in.ExpectEnd());
}

TEST(ByteReaderTest, ReadsU64LittleEndian) {
  const Bytes input = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88};
  ByteReader in(input, "test");
  ASSERT_OK_AND_ASSIGN(const uint64_t v, in.U64Le("v"));
  EXPECT_EQ(v, 0x8807060504030201ull);
}

TEST(ByteReaderTest, ShortReadNamesFieldAndDoesNotMove) {
  const Bytes input = {0x01, 0x02, 0x03};
  ByteReader in(input, "snp report");
  EXPECT_THAT(in.U32Le("policy"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("snp report: policy at offset 0x0 needs 4 bytes, 3 left")));
  EXPECT_EQ(in.offset(), 0u);
}

TEST(ByteReaderTest, HugeSpanSizeIsRejected) {
  const Bytes input = {0x01, 0x02};
  ByteReader in(input, "test");
  EXPECT_THAT(in.Span(SIZE_MAX, "blob"), StatusIs(absl::StatusCode::kInvalidArgument));

  // Past the first byte, offset + SIZE_MAX wraps around to 0, so a bounds
  // check written as `offset + size > input.size()` would accept this read.
  ASSERT_OK(in.Skip(1, "first"));
  EXPECT_THAT(in.Span(SIZE_MAX, "blob"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(in.offset(), 1u);
}

TEST(ByteReaderTest, ReservedRejectsNonZeroByte) {
  const Bytes input = {0x00, 0x00, 0x10};
  ByteReader in(input, "test");
  EXPECT_THAT(in.Reserved(3, "reserved1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reserved1")));
}

TEST(ByteReaderTest, ExpectEndRejectsTrailingBytes) {
  const Bytes input = {0x00, 0x01};
  ByteReader in(input, "test");
  ASSERT_OK(in.Skip(1, "x"));
  EXPECT_THAT(in.ExpectEnd(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 trailing bytes")));
}

}  // namespace
}  // namespace vouch
