#include "vouch/server/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using vouch::testing::StatusIs;

Handler Named(std::string name) {
  return [name](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
    nlohmann::json body = {{"route", name}};
    for (const auto& [key, value] : request.params) {
      body["params"][key] = value;
    }
    return JsonResponse(200, body);
  };
}

Router KeyRouter() {
  Router router;
  EXPECT_OK(router.Add("PUT", "/keys/{name}", Named("create")));
  EXPECT_OK(router.Add("GET", "/keys/{name}", Named("get")));
  EXPECT_OK(router.Add("GET", "/keys/{name}/{version}", Named("get_version")));
  EXPECT_OK(router.Add("POST", "/keys/{name}/release", Named("release")));
  EXPECT_OK(router.Add("POST", "/keys/{name}/{version}/release", Named("release_version")));
  EXPECT_OK(router.Add("GET", "/healthz", Named("health")));
  return router;
}

nlohmann::json DispatchJson(const Router& router, std::string method, std::string path) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  absl::StatusOr<HttpResponse> response = router.Dispatch(request);
  if (!response.ok()) {
    return {{"status", response.status().ToString()}};
  }
  nlohmann::json body = nlohmann::json::parse(response->body);
  body["http_status"] = response->status;
  for (const auto& [name, value] : response->headers) {
    body["headers"][name] = value;
  }
  return body;
}

TEST(SplitPathTest, Splits) {
  EXPECT_THAT(SplitPath("/"), ElementsAre());
  EXPECT_THAT(SplitPath(""), ElementsAre());
  EXPECT_THAT(SplitPath("/a/b"), ElementsAre("a", "b"));
  EXPECT_THAT(SplitPath("/a//b/"), ElementsAre("a", "", "b", ""));
}

TEST(PercentDecodeTest, DecodesAndRejectsBadEscapes) {
  EXPECT_EQ(*PercentDecode("a%20b%2F"), "a b/");
  EXPECT_THAT(PercentDecode("a%2"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PercentDecode("%zz"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PercentDecode("%"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RouterTest, MatchesParams) {
  const nlohmann::json body = DispatchJson(KeyRouter(), "GET", "/keys/disk/3");
  EXPECT_EQ(body["route"], "get_version");
  EXPECT_EQ(body["params"]["name"], "disk");
  EXPECT_EQ(body["params"]["version"], "3");
}

TEST(RouterTest, PrefersLiteralSegment) {
  EXPECT_EQ(DispatchJson(KeyRouter(), "POST", "/keys/disk/release")["route"], "release");
  EXPECT_EQ(DispatchJson(KeyRouter(), "POST", "/keys/disk/2/release")["route"], "release_version");
}

TEST(RouterTest, UnknownPathGets404) {
  const nlohmann::json body = DispatchJson(KeyRouter(), "GET", "/keys");
  EXPECT_EQ(body["http_status"], 404);
  EXPECT_EQ(body["error"]["code"], "NotFound");
  EXPECT_EQ(DispatchJson(KeyRouter(), "GET", "/keys/")["http_status"], 404);
  EXPECT_EQ(DispatchJson(KeyRouter(), "GET", "/healthz/x")["http_status"], 404);
}

TEST(RouterTest, WrongMethodGets405WithAllow) {
  const nlohmann::json body = DispatchJson(KeyRouter(), "DELETE", "/keys/disk");
  EXPECT_EQ(body["http_status"], 405);
  EXPECT_EQ(body["error"]["code"], "MethodNotAllowed");
  EXPECT_EQ(body["headers"]["Allow"], "GET, PUT");
  // POST /keys/disk/3 matches only GET /keys/{name}/{version}; release is
  // a literal that "3" does not match.
  EXPECT_EQ(DispatchJson(KeyRouter(), "POST", "/keys/disk/3")["headers"]["Allow"], "GET");
}

TEST(RouterTest, DecodesParams) {
  EXPECT_EQ(DispatchJson(KeyRouter(), "GET", "/keys/a%2Db")["params"]["name"], "a-b");
  EXPECT_THAT(DispatchJson(KeyRouter(), "GET", "/keys/a%zz")["status"].get<std::string>(),
              HasSubstr("INVALID_ARGUMENT"));
}

TEST(RouterTest, RejectsBadPatterns) {
  Router router;
  EXPECT_THAT(router.Add("GET", "keys", Named("x")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add("GET", "/a//b", Named("x")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(router.Add("GET", "/a", Named("x")));
  EXPECT_THAT(router.Add("GET", "/a", Named("y")), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::server
