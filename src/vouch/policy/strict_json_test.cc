#include "vouch/policy/strict_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/testing/status_matchers.h"

namespace vouch::policy {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

TEST(ParseStrictJsonTest, AcceptsObject) {
  ASSERT_OK_AND_ASSIGN(const nlohmann::json value,
                       ParseStrictJson(R"({"a": [1, {"b": "c"}], "d": true})", "test"));
  EXPECT_EQ(value["a"][1]["b"], "c");
  EXPECT_EQ(value["d"], true);
}

TEST(ParseStrictJsonTest, RejectsDuplicateMember) {
  EXPECT_THAT(ParseStrictJson(R"({"claim": "a", "equals": 1, "equals": 2})", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate member \"equals\"")));
}

TEST(ParseStrictJsonTest, RejectsDuplicateMemberInNestedObject) {
  EXPECT_THAT(ParseStrictJson(R"({"a": {"x": 1}, "b": [{"y": 1, "y": 2}]})", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate member \"y\"")));
}

TEST(ParseStrictJsonTest, AllowsSameNameInSiblingObjects) {
  EXPECT_OK(ParseStrictJson(R"([{"a": 1}, {"a": 2}])", "test").status());
}

TEST(ParseStrictJsonTest, RejectsSyntaxErrorWithOffset) {
  EXPECT_THAT(ParseStrictJson(R"({"a": })", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid JSON at byte")));
}

TEST(ParseStrictJsonTest, RejectsTrailingData) {
  EXPECT_THAT(ParseStrictJson(R"({"a": 1} x)", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseStrictJsonTest, RejectsInvalidUtf8) {
  EXPECT_THAT(ParseStrictJson("{\"a\": \"\xff\"}", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseStrictJsonTest, RejectsOversizedInput) {
  const std::string text = "\"" + std::string(100, 'a') + "\"";
  EXPECT_THAT(ParseStrictJson(text, "test", {.max_bytes = 50, .max_depth = 4}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit 50")));
}

TEST(ParseStrictJsonTest, RejectsDeepNesting) {
  const std::string text = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(ParseStrictJson(text, "test", {.max_bytes = 1 << 20, .max_depth = 32}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nesting depth 100000")));
}

TEST(ParseStrictJsonTest, IgnoresBracketsInsideStrings) {
  const std::string text = R"({"a": "[[[[[[[[[[\"{{{{{{{{"})";
  EXPECT_OK(ParseStrictJson(text, "test", {.max_bytes = 1024, .max_depth = 1}).status());
}

TEST(DescribeJsonTest, CutsLongValues) {
  EXPECT_EQ(DescribeJson(nlohmann::json(std::string(200, 'x')), 10), "\"xxxxxxxxx...");
  EXPECT_EQ(DescribeJson(nlohmann::json(1)), "1");
}

}  // namespace
}  // namespace vouch::policy
