#include "vouch/base/time.h"

#include <gtest/gtest.h>

#include "vouch/testing/status_matchers.h"

namespace vouch {
namespace {

using ::vouch::testing::StatusIs;

TEST(TimeTest, ParsesUtcAndOffset) {
  ASSERT_OK_AND_ASSIGN(const absl::Time utc, ParseRfc3339("2025-06-20T12:00:00Z"));
  ASSERT_OK_AND_ASSIGN(const absl::Time offset, ParseRfc3339("2025-06-20T14:00:00+02:00"));
  EXPECT_EQ(utc, offset);
  EXPECT_EQ(FormatRfc3339(utc), "2025-06-20T12:00:00Z");
}

TEST(TimeTest, BareDateIsMidnightUtc) {
  ASSERT_OK_AND_ASSIGN(const absl::Time t, ParseRfc3339("2024-01-02"));
  EXPECT_EQ(FormatRfc3339(t), "2024-01-02T00:00:00Z");
}

TEST(TimeTest, RejectsGarbage) {
  EXPECT_THAT(ParseRfc3339("yesterday"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch
