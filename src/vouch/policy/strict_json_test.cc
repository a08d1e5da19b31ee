#include "vouch/policy/strict_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

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

TEST(ParseStrictJsonTest, RejectsDataAfterNulByte) {
  using namespace std::string_literals;
  const std::pair<std::string, const char*> cases[] = {
      {"{\"keys\":[]}\0junk"s, "invalid JSON at byte 12"},
      {"{\"keys\":[]}\0"s, "invalid JSON at byte 12"},
      {"{\"keys\":[]} \n\0junk"s, "invalid JSON at byte 14"},
      {"1\0"s, "invalid JSON at byte 2"},
      {"\0"s, "invalid JSON at byte 1"},
  };
  for (const auto& [text, message] : cases) {
    EXPECT_THAT(ParseStrictJson(text, "test"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << "input of " << text.size() << " bytes";
  }
}

TEST(ParseStrictJsonTest, RejectsCreateBodyWithNulAndSecondObject) {
  // The server parses the key creation body with ParseStrictJson, so the
  // bytes after the NUL must not be dropped silently.
  using namespace std::string_literals;
  const std::string body = "{\"attributes\":{\"exportable\":false}}\0{\"key_size\":128}"s;
  EXPECT_THAT(ParseStrictJson(body, "create key request"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "create key request: invalid JSON at byte 36: NUL byte after the value"));
}

TEST(ParseStrictJsonTest, RejectsNulInsideString) {
  using namespace std::string_literals;
  EXPECT_THAT(ParseStrictJson("{\"a\":\"x\0y\"}"s, "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid JSON at byte 8")));
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
