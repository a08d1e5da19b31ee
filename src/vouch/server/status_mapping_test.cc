#include "vouch/server/status_mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vouch::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatusMappingTest, MapsCodes) {
  const struct {
    absl::StatusCode code;
    int http_status;
    std::string_view error_code;
  } kCases[] = {
      {absl::StatusCode::kInvalidArgument, 400, "InvalidRequest"},
      {absl::StatusCode::kFailedPrecondition, 400, "InvalidRequest"},
      {absl::StatusCode::kUnauthenticated, 401, "Unauthorized"},
      {absl::StatusCode::kPermissionDenied, 403, "AccessDenied"},
      {absl::StatusCode::kNotFound, 404, "NotFound"},
      {absl::StatusCode::kAlreadyExists, 409, "Conflict"},
      {absl::StatusCode::kResourceExhausted, 429, "TooManyRequests"},
      {absl::StatusCode::kUnavailable, 503, "ServiceUnavailable"},
      {absl::StatusCode::kInternal, 500, "InternalError"},
      {absl::StatusCode::kUnknown, 500, "InternalError"},
      {absl::StatusCode::kDataLoss, 500, "InternalError"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(HttpStatusFor(c.code), c.http_status) << absl::StatusCodeToString(c.code);
    EXPECT_EQ(ErrorCodeFor(c.http_status), c.error_code) << c.http_status;
  }
  EXPECT_EQ(ErrorCodeFor(413), "RequestTooLarge");
  EXPECT_EQ(ErrorCodeFor(415), "UnsupportedMediaType");
  EXPECT_EQ(ErrorCodeFor(405), "MethodNotAllowed");
}

TEST(StatusMappingTest, BuildsErrorBody) {
  const HttpResponse response = StatusResponse(absl::PermissionDeniedError("policy: no match"));
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.content_type, "application/json");
  const nlohmann::json body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body, nlohmann::json(
                      {{"error", {{"code", "AccessDenied"}, {"message", "policy: no match"}}}}));
}

TEST(StatusMappingTest, WithholdsInternalMessages) {
  const HttpResponse response = StatusResponse(absl::InternalError("sqlite: /secret/path"));
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, Not(HasSubstr("secret")));
}

TEST(StatusMappingTest, ReplacesInvalidUtf8InMessages) {
  const HttpResponse response = ErrorResponseFor(400, "bad \xff byte");
  EXPECT_FALSE(nlohmann::json::parse(response.body, nullptr, false).is_discarded());
}

}  // namespace
}  // namespace vouch::server
