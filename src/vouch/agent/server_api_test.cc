#include "vouch/agent/server_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

TEST(ServerErrorMessageTest, ReadsJsonError) {
  const HttpResponse response{
      403, "application/json",
      R"({"error":{"code":"AccessDenied","message":"release policy: claim x-ms-sevsnpvm-is-debuggable equals false, found true"}})"};
  EXPECT_EQ(ServerErrorMessage(response),
            "HTTP 403 AccessDenied: release policy: claim x-ms-sevsnpvm-is-debuggable equals "
            "false, found true");
}

TEST(ServerErrorMessageTest, QuotesStartOfNonJsonBody) {
  const HttpResponse response{502, "text/html", std::string(500, 'x')};
  const std::string message = ServerErrorMessage(response);
  EXPECT_THAT(message, HasSubstr("HTTP 502: xxx"));
  EXPECT_THAT(message, HasSubstr("..."));
  EXPECT_LT(message.size(), 260u);
}

TEST(ServerErrorMessageTest, EmptyBody) {
  EXPECT_EQ(ServerErrorMessage(HttpResponse{404, "", ""}), "HTTP 404 with an empty body");
}

TEST(ErrorFromResponseTest, MapsHttpStatusToCode) {
  const struct {
    long http_status;
    absl::StatusCode code;
  } cases[] = {
      {400, absl::StatusCode::kInvalidArgument},  {401, absl::StatusCode::kUnauthenticated},
      {403, absl::StatusCode::kPermissionDenied}, {404, absl::StatusCode::kNotFound},
      {409, absl::StatusCode::kAlreadyExists},    {413, absl::StatusCode::kInvalidArgument},
      {500, absl::StatusCode::kUnavailable},      {503, absl::StatusCode::kUnavailable},
      {302, absl::StatusCode::kUnknown},
  };
  for (const auto& c : cases) {
    const HttpResponse response{c.http_status, "application/json",
                                R"({"error":{"code":"C","message":"m"}})"};
    EXPECT_THAT(ErrorFromResponse("POST", "http://127.0.0.1:1/x", response),
                StatusIs(c.code, HasSubstr("POST http://127.0.0.1:1/x: HTTP")))
        << "HTTP " << c.http_status;
  }
}

TEST(IsValidKeyNameTest, AcceptsAndRejects) {
  EXPECT_TRUE(IsValidKeyName("disk-key"));
  EXPECT_TRUE(IsValidKeyName("Disk_Key.2"));
  EXPECT_TRUE(IsValidKeyName(std::string(127, 'a')));
  EXPECT_FALSE(IsValidKeyName(""));
  EXPECT_FALSE(IsValidKeyName(std::string(128, 'a')));
  EXPECT_FALSE(IsValidKeyName("."));
  EXPECT_FALSE(IsValidKeyName(".."));
  EXPECT_FALSE(IsValidKeyName("a/b"));
  EXPECT_FALSE(IsValidKeyName("a?b"));
  EXPECT_FALSE(IsValidKeyName("a b"));
  EXPECT_FALSE(IsValidKeyName("a%2Fb"));
}

}  // namespace
}  // namespace vouch::agent
