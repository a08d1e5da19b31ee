#include "vouch/agent/key_admin_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <string>

#include "nlohmann/json.hpp"
#include "vouch/agent/test_http_server.h"
#include "vouch/base/bytes.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

const json kPolicy = json::parse(R"({"version":"1.0.0","anyOf":[{"authority":"http://127.0.0.1:1",
    "allOf":[{"claim":"x-vouch-simulated","equals":true}]}]})");

std::string BodyText(const SecretBytes& body) { return ToString(body.Expose()); }

TEST(BuildCreateKeyRequestTest, GenerateOnServer) {
  ASSERT_OK_AND_ASSIGN(const SecretBytes body, BuildCreateKeyRequest(kPolicy, 256, nullptr));
  const json request = json::parse(BodyText(body));
  EXPECT_EQ(request["kty"], "oct-HSM");
  EXPECT_EQ(request["key_size"], 256);
  EXPECT_EQ(request["attributes"]["exportable"], true);
  EXPECT_EQ(request["release_policy"], kPolicy);
  EXPECT_FALSE(request.contains("key"));
}

TEST(BuildCreateKeyRequestTest, ImportCarriesOctJwk) {
  SecretBytes key(32);
  key.MutableExpose()[0] = 0xab;
  ASSERT_OK_AND_ASSIGN(const SecretBytes body, BuildCreateKeyRequest(kPolicy, 256, &key));
  const json request = json::parse(BodyText(body));
  EXPECT_EQ(request["key"]["kty"], "oct");
  EXPECT_EQ(request["key"]["k"], Base64UrlEncode(key.Expose()));
  EXPECT_EQ(request["key_size"], 256);
}

TEST(BuildCreateKeyRequestTest, RejectsBadSizes) {
  EXPECT_THAT(BuildCreateKeyRequest(kPolicy, 512, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("128, 192 or 256")));
  const SecretBytes key(16);
  EXPECT_THAT(BuildCreateKeyRequest(kPolicy, 256, &key),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("128 bits, want 256")));
  EXPECT_THAT(BuildCreateKeyRequest(json::array(), 256, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JSON object")));
}

TEST(KeyAdminClientTest, CreateKeySendsPutWithBearerToken) {
  std::mutex mu;
  TestHttpRequest seen;
  TestHttpServer server([&](const TestHttpRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    seen = request;
    return TestHttpReply{200, "application/json",
                         R"({"key":{"kid":"http://127.0.0.1/keys/disk/1","kty":"oct-HSM"}})"};
  });
  HttpClient http;
  KeyAdminClient client(server.Url(), http, SecretBytes(AsBytes("admin-secret")));
  ASSERT_OK_AND_ASSIGN(const SecretBytes body, BuildCreateKeyRequest(kPolicy, 256, nullptr));
  ASSERT_OK_AND_ASSIGN(const json metadata, client.CreateKey("disk", body));
  EXPECT_EQ(metadata["key"]["kid"], "http://127.0.0.1/keys/disk/1");

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/keys/disk");
  EXPECT_EQ(seen.headers["authorization"], "Bearer admin-secret");
  EXPECT_EQ(seen.body, BodyText(body));
}

TEST(KeyAdminClientTest, GetKeyWithAndWithoutVersion) {
  std::mutex mu;
  std::vector<std::string> targets;
  TestHttpServer server([&](const TestHttpRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    targets.push_back(request.target);
    return TestHttpReply{200, "application/json", R"({"key":{"kid":"k"}})"};
  });
  HttpClient http;
  KeyAdminClient client(server.Url() + "/", http, SecretBytes(AsBytes("t")));
  ASSERT_OK(client.GetKey("disk", "").status());
  ASSERT_OK(client.GetKey("disk", "7").status());

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(targets, ::testing::ElementsAre("/keys/disk", "/keys/disk/7"));
}

TEST(KeyAdminClientTest, ServerErrorCarriesMessage) {
  TestHttpServer server([](const TestHttpRequest&) {
    return TestHttpReply{401, "application/json",
                         R"({"error":{"code":"Unauthorized","message":"admin token invalid"}})"};
  });
  HttpClient http;
  KeyAdminClient client(server.Url(), http, SecretBytes(AsBytes("wrong")));
  EXPECT_THAT(client.GetKey("disk", ""),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("HTTP 401 Unauthorized: admin token invalid")));
}

TEST(KeyAdminClientTest, RejectsKeyNameWithSlash) {
  HttpClient http;
  KeyAdminClient client("http://127.0.0.1:1", http, SecretBytes(AsBytes("t")));
  EXPECT_THAT(client.GetKey("../certs", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key name")));
}

}  // namespace
}  // namespace vouch::agent
