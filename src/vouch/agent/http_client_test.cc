#include "vouch/agent/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "vouch/agent/test_http_server.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

TEST(HttpClientTest, GetReturnsStatusAndBody) {
  TestHttpServer server([](const TestHttpRequest& request) {
    EXPECT_EQ(request.method, "GET");
    EXPECT_EQ(request.target, "/certs");
    return TestHttpReply{200, "application/json", R"({"keys":[]})"};
  });
  HttpClient client;
  ASSERT_OK_AND_ASSIGN(const HttpResponse response, client.Get(server.Url() + "/certs"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"keys":[]})");
  EXPECT_EQ(response.content_type, "application/json");
}

TEST(HttpClientTest, PostJsonSendsBodyAndHeaders) {
  std::mutex mu;
  TestHttpRequest seen;
  TestHttpServer server([&](const TestHttpRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    seen = request;
    return TestHttpReply{200, "application/json", R"({"token":"t"})"};
  });
  HttpClient client;
  ASSERT_OK_AND_ASSIGN(
      const HttpResponse response,
      client.PostJson(server.Url() + "/attest/SevSnpVm", R"({"a":1})", {{"X-Request-Id", "42"}}));
  EXPECT_EQ(response.status, 200);

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/attest/SevSnpVm");
  EXPECT_EQ(seen.body, R"({"a":1})");
  EXPECT_EQ(seen.headers["content-type"], "application/json");
  EXPECT_EQ(seen.headers["x-request-id"], "42");
}

TEST(HttpClientTest, PutJsonUsesPutMethod) {
  std::mutex mu;
  TestHttpRequest seen;
  TestHttpServer server([&](const TestHttpRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    seen = request;
    return TestHttpReply{200, "application/json", "{}"};
  });
  HttpClient client;
  ASSERT_OK(client.PutJson(server.Url() + "/keys/disk", R"({"key_size":256})",
                           {{"Authorization", "Bearer secret"}}));

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.body, R"({"key_size":256})");
  EXPECT_EQ(seen.headers["authorization"], "Bearer secret");
}

TEST(HttpClientTest, ErrorStatusIsAResponse) {
  TestHttpServer server([](const TestHttpRequest&) {
    return TestHttpReply{403, "application/json",
                         R"({"error":{"code":"AccessDenied","message":"no"}})"};
  });
  HttpClient client;
  ASSERT_OK_AND_ASSIGN(const HttpResponse response, client.Get(server.Url() + "/x"));
  EXPECT_EQ(response.status, 403);
  EXPECT_THAT(response.body, HasSubstr("AccessDenied"));
}

TEST(HttpClientTest, ConnectionRefusedNamesUrl) {
  int port = 0;
  {
    TestHttpServer server([](const TestHttpRequest&) { return TestHttpReply{}; });
    port = server.port();
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/certs";
  HttpClient client;
  EXPECT_THAT(client.Get(url), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("GET " + url)));
}

TEST(HttpClientTest, TotalTimeout) {
  TestHttpServer server([](const TestHttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return TestHttpReply{};
  });
  HttpClientOptions options;
  options.total_timeout = absl::Milliseconds(300);
  HttpClient client(options);
  EXPECT_THAT(client.Get(server.Url() + "/slow"),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("timed out")));
}

TEST(HttpClientTest, ResponseOverLimitRejected) {
  TestHttpServer server([](const TestHttpRequest&) {
    return TestHttpReply{200, "text/plain", std::string(5000, 'x')};
  });
  HttpClientOptions options;
  options.max_response_bytes = 1000;
  HttpClient client(options);
  EXPECT_THAT(client.Get(server.Url() + "/big"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit of 1000 bytes")));
}

// Without Content-Length, libcurl cannot reject the body before it arrives,
// so the client must count the bytes it receives.
TEST(HttpClientTest, ResponseWithoutLengthOverLimitRejected) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpReply reply{200, "text/plain", std::string(5000, 'x')};
    reply.send_content_length = false;
    return reply;
  });
  HttpClientOptions options;
  options.max_response_bytes = 1000;
  HttpClient client(options);
  EXPECT_THAT(client.Get(server.Url() + "/big"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit of 1000 bytes")));
}

TEST(HttpClientTest, ResponseAtLimitAccepted) {
  TestHttpServer server([](const TestHttpRequest&) {
    return TestHttpReply{200, "text/plain", std::string(1000, 'x')};
  });
  HttpClientOptions options;
  options.max_response_bytes = 1000;
  HttpClient client(options);
  ASSERT_OK_AND_ASSIGN(const HttpResponse response, client.Get(server.Url() + "/big"));
  EXPECT_EQ(response.body.size(), 1000u);
}

TEST(HttpClientTest, RejectsNonHttpUrl) {
  HttpClient client;
  EXPECT_THAT(client.Get("file:///etc/passwd"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid URL")));
  EXPECT_THAT(client.Get("127.0.0.1:8080/certs"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid URL")));
}

TEST(HttpClientTest, RejectsHeaderWithLineBreak) {
  HttpClient client;
  EXPECT_THAT(client.Get("http://127.0.0.1:1/x", {{"Authorization", "Bearer a\r\nX-Evil: 1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line break")));
}

TEST(HttpClientTest, MissingCaBundleFailsTls) {
  HttpClientOptions options;
  options.ca_bundle_path = "/nonexistent/ca.pem";
  options.connect_timeout = absl::Seconds(1);
  TestHttpServer server([](const TestHttpRequest&) { return TestHttpReply{}; });
  HttpClient client(options);
  // The test server speaks plain HTTP, so the TLS handshake fails either way;
  // the point is that the error names the URL instead of crashing.
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/certs";
  EXPECT_THAT(client.Get(url), StatusIs(absl::StatusCode::kUnavailable, HasSubstr(url)));
}

}  // namespace
}  // namespace vouch::agent
