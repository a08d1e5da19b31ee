#include "vouch/server/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/test_client.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestConnection;

constexpr size_t kTestBodyLimit = 4096;
constexpr size_t kTestHeaderLimit = 2048;
// Long enough that a loaded machine serves a request well within it, so the
// slow-client test can tell "served at once" from "served after a timeout".
constexpr absl::Duration kTestIoTimeout = absl::Seconds(2);

Router TestRouter() {
  Router router;
  VOUCH_CHECK(router
                  .Add("GET", "/hello/{name}",
                       [](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
                         return JsonResponse(
                             200, {{"hello", request.Param("name")}, {"id", request.request_id}});
                       })
                  .ok());
  VOUCH_CHECK(router
                  .Add("POST", "/echo",
                       [](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
                         HttpResponse response;
                         response.content_type = "text/plain";
                         response.body = request.body;
                         return response;
                       })
                  .ok());
  VOUCH_CHECK(router
                  .Add("GET", "/throw",
                       [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
                         throw std::runtime_error("secret detail");
                       })
                  .ok());
  VOUCH_CHECK(router
                  .Add("GET", "/internal",
                       [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
                         return absl::InternalError("secret detail");
                       })
                  .ok());
  VOUCH_CHECK(router
                  .Add("GET", "/denied",
                       [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
                         return absl::PermissionDeniedError("policy: claim x is 1, want 2");
                       })
                  .ok());
  return router;
}

HttpServerOptions TestOptions() {
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.num_threads = 2;
  options.max_body_bytes = kTestBodyLimit;
  options.max_header_bytes = kTestHeaderLimit;
  options.io_timeout = kTestIoTimeout;
  return options;
}

std::unique_ptr<HttpServer> StartServer(const HttpServerOptions& options) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(options);
  VOUCH_CHECK(server.ok());
  VOUCH_CHECK((*server)->Start(TestRouter()).ok());
  return *std::move(server);
}

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = StartServer(TestOptions()).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // ExpectServing checks that the server still serves a new connection.
  static void ExpectServing() {
    absl::StatusOr<ClientResponse> response = Call(port(), "GET", "/hello/again");
    ASSERT_OK(response.status());
    EXPECT_EQ(response->status, 200);
  }

  static uint16_t port() { return server_->port(); }

  static HttpServer* server_;
};

HttpServer* HttpServerTest::server_ = nullptr;

TEST_F(HttpServerTest, RoutesWithParams) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "GET", "/hello/world"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.at("content-type"), "application/json");
  EXPECT_EQ(response.Json()["hello"], "world");
  EXPECT_EQ(response.headers.at("x-request-id"), response.Json()["id"]);
  EXPECT_EQ(response.headers.at("cache-control"), "no-store");
}

TEST_F(HttpServerTest, RequestIdsDiffer) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse first, Call(port(), "GET", "/hello/a"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse second, Call(port(), "GET", "/hello/a"));
  EXPECT_FALSE(first.headers.at("x-request-id").empty());
  EXPECT_NE(first.headers.at("x-request-id"), second.headers.at("x-request-id"));
}

TEST_F(HttpServerTest, UnknownPathGets404) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "GET", "/nothing/here"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.ErrorCode(), "NotFound");
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("/nothing/here"));
}

TEST_F(HttpServerTest, WrongMethodGets405WithAllow) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "DELETE", "/echo"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.ErrorCode(), "MethodNotAllowed");
  EXPECT_EQ(response.headers.at("allow"), "POST");
}

TEST_F(HttpServerTest, QueryStringIsIgnoredForRouting) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(port(), "GET", "/hello/q?api-version=7.3"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Json()["hello"], "q");
}

TEST_F(HttpServerTest, HandlerExceptionGets500WithoutDetails) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "GET", "/throw"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.ErrorCode(), "InternalError");
  EXPECT_THAT(response.body, Not(HasSubstr("secret")));
  ExpectServing();
}

TEST_F(HttpServerTest, InternalStatusGets500WithoutDetails) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "GET", "/internal"));
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, Not(HasSubstr("secret")));
}

TEST_F(HttpServerTest, PermissionDeniedGets403WithMessage) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "GET", "/denied"));
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.ErrorCode(), "AccessDenied");
  EXPECT_EQ(response.ErrorMessage(), "policy: claim x is 1, want 2");
}

TEST_F(HttpServerTest, EchoesBodyUpToLimit) {
  const std::string body(kTestBodyLimit, 'a');
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "POST", "/echo", body));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, body);
}

TEST_F(HttpServerTest, OversizedBodyGets413) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port()));
  // Announce a body over the limit and send only part of it, because the
  // server rejects the request from the Content-Length alone.
  ASSERT_OK(connection->WriteRaw(
      fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
                  kTestBodyLimit + 1, std::string(100, 'a'))));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.ErrorCode(), "RequestTooLarge");
  EXPECT_EQ(response.headers.at("connection"), "close");
  ExpectServing();
}

TEST_F(HttpServerTest, OversizedChunkedBodyGets413) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port()));
  const std::string chunk(kTestBodyLimit + 10, 'b');
  ASSERT_OK(connection->WriteRaw(
      fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}"
                  "\r\n0\r\n\r\n",
                  chunk.size(), chunk)));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 413);
  ExpectServing();
}

TEST_F(HttpServerTest, OversizedHeaderGets431) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port()));
  ASSERT_OK(
      connection->WriteRaw(fmt::format("GET /hello/x HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                                       std::string(kTestHeaderLimit, 'h'))));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 431);
  ExpectServing();
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port()));
  ASSERT_OK(connection->WriteRaw("THIS IS NOT HTTP\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.ErrorCode(), "InvalidRequest");
  EXPECT_TRUE(connection->ReadUntilClosed());
  ExpectServing();
}

TEST_F(HttpServerTest, NonChunkedTransferEncodingGets400AndClose) {
  // Each body contains a whole second request. A server that reads the
  // body as empty would respond to that request too.
  const std::string smuggled = "GET /hello/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string codings[] = {"gzip", "identity", "chunked, gzip", "gzip, chunked",
                                 "xchunked", "chunked;q=1"};
  for (const std::string& coding : codings) {
    SCOPED_TRACE(coding);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                         TestConnection::Connect(port(), std::chrono::seconds(5)));
    ASSERT_OK(connection->WriteRaw(
        fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {}\r\n\r\n{}", coding,
                    smuggled)));
    ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.ErrorCode(), "InvalidRequest");
    EXPECT_EQ(response.ErrorMessage(),
              fmt::format("Transfer-Encoding \"{}\" is not supported, want \"chunked\"", coding));
    EXPECT_EQ(response.headers.at("connection"), "close");
    // The server closes the connection instead of responding to the smuggled request.
    EXPECT_THAT(connection->ReadResponse(),
                vouch::testing::StatusIs(absl::StatusCode::kUnavailable,
                                         HasSubstr("end of stream")));
  }
  ExpectServing();
}

TEST_F(HttpServerTest, TransferEncodingWithContentLengthGets400) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(port(), std::chrono::seconds(5)));
  const std::string smuggled = "GET /hello/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_OK(connection->WriteRaw(fmt::format(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"
      "hello{}",
      smuggled)));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("Transfer-Encoding \"gzip\""));
  EXPECT_THAT(connection->ReadResponse(),
              vouch::testing::StatusIs(absl::StatusCode::kUnavailable, HasSubstr("end of stream")));
}

TEST_F(HttpServerTest, RepeatedTransferEncodingGets400) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(port(), std::chrono::seconds(5)));
  ASSERT_OK(connection->WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.ErrorMessage(), "Transfer-Encoding header appears 2 times, want at most 1");
  EXPECT_TRUE(connection->ReadUntilClosed());
}

TEST_F(HttpServerTest, TransferEncodingInHttp10Gets400) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(port(), std::chrono::seconds(5)));
  ASSERT_OK(connection->WriteRaw(
      "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("HTTP/1.0"));
  EXPECT_TRUE(connection->ReadUntilClosed());
}

TEST_F(HttpServerTest, ChunkedInAnyCaseIsServed) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(port(), std::chrono::seconds(5)));
  ASSERT_OK(connection->WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello");
}

TEST_F(HttpServerTest, RepeatedAuthorizationGets400) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(port(), std::chrono::seconds(5)));
  ASSERT_OK(connection->WriteRaw(
      "GET /hello/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
      "authorization: Bearer right\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.ErrorCode(), "InvalidRequest");
  EXPECT_EQ(response.ErrorMessage(), "Authorization header appears 2 times, want 1");
  EXPECT_TRUE(connection->ReadUntilClosed());

  ASSERT_OK_AND_ASSIGN(const ClientResponse single,
                       Call(port(), "GET", "/hello/x", "", {{"Authorization", "Bearer right"}}));
  EXPECT_EQ(single.status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                         connection->Request("GET", fmt::format("/hello/{}", i)));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.Json()["hello"], std::to_string(i));
  }
  // An error response from the router keeps the connection open too.
  ASSERT_OK_AND_ASSIGN(const ClientResponse missing, connection->Request("GET", "/missing"));
  EXPECT_EQ(missing.status, 404);
  ASSERT_OK_AND_ASSIGN(const ClientResponse after, connection->Request("GET", "/hello/z"));
  EXPECT_EQ(after.status, 200);
}

TEST_F(HttpServerTest, Expect100ContinueGetsInterimResponse) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port()));
  ASSERT_OK(connection->WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse interim, connection->ReadResponse());
  EXPECT_EQ(interim.status, 100);
  ASSERT_OK(connection->WriteRaw("hello"));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello");
}

TEST_F(HttpServerTest, SlowClientsDoNotBlockOthers) {
  // More stalled clients than worker threads, each stopped mid-header.
  std::vector<std::unique_ptr<TestConnection>> slow;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                         TestConnection::Connect(port()));
    ASSERT_OK(connection->WriteRaw("GET /hello/slow HTTP/1.1\r\nHo"));
    slow.push_back(std::move(connection));
  }

  const absl::Time start = absl::Now();
  ExpectServing();
  EXPECT_LT(absl::Now() - start, kTestIoTimeout / 2);

  // The stalled connections are closed once the read deadline passes.
  for (const auto& connection : slow) {
    EXPECT_TRUE(connection->ReadUntilClosed());
  }
  EXPECT_LT(absl::Now() - start, 3 * kTestIoTimeout);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port()));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->Request("GET", "/hello/x"));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(connection->ReadUntilClosed());
}

TEST(HttpServerLimitsTest, ConnectionsOverLimitAreClosed) {
  HttpServerOptions options = TestOptions();
  options.max_connections = 2;
  options.io_timeout = absl::Seconds(10);
  std::unique_ptr<HttpServer> server = StartServer(options);

  std::vector<std::unique_ptr<TestConnection>> open;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                         TestConnection::Connect(server->port()));
    ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->Request("GET", "/hello/x"));
    EXPECT_EQ(response.status, 200);
    open.push_back(std::move(connection));
  }

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> extra,
                       TestConnection::Connect(server->port(), std::chrono::seconds(2)));
  EXPECT_TRUE(extra->ReadUntilClosed());

  // Once a connection closes, a new client gets in again.
  open.clear();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    absl::StatusOr<ClientResponse> response = Call(server->port(), "GET", "/hello/x");
    served = response.ok() && response->status == 200;
    if (!served) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(served);
}

TEST(HttpServerCreateTest, RejectsPlainHttpOnNonLoopback) {
  HttpServerOptions options = TestOptions();
  options.host = "0.0.0.0";
  EXPECT_THAT(HttpServer::Create(options),
              vouch::testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("loopback")));
}

TEST(HttpServerCreateTest, RejectsHostName) {
  HttpServerOptions options = TestOptions();
  options.host = "example.com";
  EXPECT_THAT(HttpServer::Create(options),
              vouch::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpServerCreateTest, AcceptsIpv6LoopbackWhenAvailable) {
  HttpServerOptions options = TestOptions();
  options.host = "::1";
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(options);
  if (!server.ok()) {
    GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  }
  EXPECT_THAT((*server)->BaseUrl(), HasSubstr("http://[::1]:"));
}

TEST(HttpServerCreateTest, ReportsBoundPortAndUrl) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpServer> server, HttpServer::Create(TestOptions()));
  EXPECT_NE(server->port(), 0);
  EXPECT_FALSE(server->tls());
  EXPECT_EQ(server->BaseUrl(), fmt::format("http://127.0.0.1:{}", server->port()));
  server->Stop();
  server->Stop();
}

TEST(HttpServerCreateTest, RejectsPortInUse) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpServer> first, HttpServer::Create(TestOptions()));
  HttpServerOptions options = TestOptions();
  options.port = first->port();
  EXPECT_THAT(HttpServer::Create(options),
              vouch::testing::StatusIs(absl::StatusCode::kUnavailable));
}

// TlsFiles is a self-signed P-256 certificate and its key in a fresh folder.
struct TlsFiles {
  std::string dir;
  std::string cert_file;
  std::string key_file;
};

TlsFiles MakeTlsFiles(const std::string& name) {
  TlsFiles files;
  files.dir = ::testing::TempDir() + "/vouch_server_tls_" + name + "_" + std::to_string(getpid());
  std::filesystem::create_directories(files.dir);
  files.cert_file = files.dir + "/cert.pem";
  files.key_file = files.dir + "/key.pem";

  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateEcKey("P-256");
  VOUCH_CHECK(key.ok());
  crypto::CertificateSpec spec;
  spec.common_name = "127.0.0.1";
  spec.subject_key = key->get();
  spec.issuer_key = key->get();
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(1);
  spec.signature = crypto::SignatureScheme::kEcdsaSha256;
  absl::StatusOr<crypto::Certificate> cert = crypto::IssueCertificate(spec);
  VOUCH_CHECK(cert.ok());
  absl::StatusOr<SecretBytes> key_pem = crypto::PrivateKeyToPem(key->get());
  VOUCH_CHECK(key_pem.ok());
  VOUCH_CHECK(WriteFileAtomic(files.cert_file, AsBytes(cert->Pem()), 0644).ok());
  VOUCH_CHECK(WriteFileAtomic(files.key_file, key_pem->Expose(), 0600).ok());
  return files;
}

TEST(HttpServerTlsTest, RoundTrip) {
  const TlsFiles files = MakeTlsFiles("roundtrip");
  HttpServerOptions options = TestOptions();
  options.tls_cert_file = files.cert_file;
  options.tls_key_file = files.key_file;
  std::unique_ptr<HttpServer> server = StartServer(options);
  EXPECT_TRUE(server->tls());
  EXPECT_EQ(server->BaseUrl(), fmt::format("https://127.0.0.1:{}", server->port()));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::ConnectTls(server->port(), files.cert_file));
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->Request("GET", "/hello/tls"));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.Json()["hello"], "tls");
  }

  // Plain HTTP on the TLS port gets no HTTP response.
  absl::StatusOr<ClientResponse> plain = Call(server->port(), "GET", "/hello/plain");
  EXPECT_FALSE(plain.ok() && plain->status == 200);
  std::filesystem::remove_all(files.dir);
}

TEST(HttpServerTlsTest, RejectsMismatchedKey) {
  const TlsFiles first = MakeTlsFiles("first");
  const TlsFiles second = MakeTlsFiles("second");
  HttpServerOptions options = TestOptions();
  options.tls_cert_file = first.cert_file;
  options.tls_key_file = second.key_file;
  EXPECT_THAT(
      HttpServer::Create(options),
      vouch::testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("private key")));
  std::filesystem::remove_all(first.dir);
  std::filesystem::remove_all(second.dir);
}

TEST(HttpServerTlsTest, RejectsMissingKeyFile) {
  HttpServerOptions options = TestOptions();
  options.tls_cert_file = "/nonexistent/cert.pem";
  EXPECT_THAT(HttpServer::Create(options),
              vouch::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::server
