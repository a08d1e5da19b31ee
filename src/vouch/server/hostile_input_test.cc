// Hostile HTTP clients against the real HttpServer on 127.0.0.1: a body
// announced as a gigabyte, a chunked body without end, and a client that
// sends one byte a second. Each is rejected or timed out without the server
// buffering the input, and the server keeps serving other clients meanwhile.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/server/http_server.h"
#include "vouch/server/test_client.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;
using testing::TestConnection;

constexpr size_t kBodyLimit = 64 * 1024;
constexpr absl::Duration kIoTimeout = absl::Seconds(2);
constexpr uint64_t kGigabyte = uint64_t{1} << 30;
// Bytes each oversized request really sends: far over kBodyLimit, and under
// the 4 MiB the server reads and drops after a 413 before it closes, so
// the client can still read the 413.
constexpr size_t kSentBytes = 3 * 1024 * 1024;
// Resident memory the server may gain while rejecting one oversized request.
constexpr int64_t kMaxRssGrowthKib = 16 * 1024;

// ResidentKib returns VmRSS of this process (the server runs in it).
int64_t ResidentKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoll(line.substr(6));
    }
  }
  return -1;
}

class HostileClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.num_threads = 2;
    options.max_body_bytes = kBodyLimit;
    options.io_timeout = kIoTimeout;
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(options);
    VOUCH_CHECK(server.ok());
    Router router;
    VOUCH_CHECK(router
                    .Add("GET", "/hello",
                         [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
                           return JsonResponse(200, {{"hello", "world"}});
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
    VOUCH_CHECK((*server)->Start(std::move(router)).ok());
    server_ = server->release();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // ServeTime returns how long a new client waits for GET /hello, or
  // InfiniteDuration when it is not served.
  static absl::Duration ServeTime() {
    const absl::Time start = absl::Now();
    absl::StatusOr<ClientResponse> response = Call(server_->port(), "GET", "/hello");
    if (!response.ok() || response->status != 200) {
      return absl::InfiniteDuration();
    }
    return absl::Now() - start;
  }

  static HttpServer* server_;
};

HttpServer* HostileClientTest::server_ = nullptr;

TEST_F(HostileClientTest, GigabyteContentLengthGets413Early) {
  const int64_t rss_before = ResidentKib();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(server_->port()));
  ASSERT_OK(connection->WriteRaw(fmt::format(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", kGigabyte)));
  const std::string piece(64 * 1024, 'a');
  for (size_t sent = 0; sent < kSentBytes; sent += piece.size()) {
    ASSERT_OK(connection->WriteRaw(piece));
  }
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.ErrorCode(), "RequestTooLarge");
  const int64_t rss_after = ResidentKib();
  std::cout << "gigabyte Content-Length: RSS " << rss_before << " KiB before, " << rss_after
            << " KiB after\n";
  EXPECT_LT(rss_after - rss_before, kMaxRssGrowthKib);
  EXPECT_LT(ServeTime(), kIoTimeout);
}

TEST_F(HostileClientTest, EndlessChunkedBodyGets413) {
  const int64_t rss_before = ResidentKib();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(server_->port()));
  ASSERT_OK(connection->WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(16 * 1024, 'b');
  const std::string framed = fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk);
  // No final zero-size chunk: the body never ends.
  for (size_t sent = 0; sent < kSentBytes; sent += framed.size()) {
    ASSERT_OK(connection->WriteRaw(framed));
  }
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, connection->ReadResponse());
  EXPECT_EQ(response.status, 413);
  const int64_t rss_after = ResidentKib();
  std::cout << "endless chunked body: RSS " << rss_before << " KiB before, " << rss_after
            << " KiB after\n";
  EXPECT_LT(rss_after - rss_before, kMaxRssGrowthKib);
  EXPECT_LT(ServeTime(), kIoTimeout);
}

// The read deadline covers the whole request, so a client that keeps the
// connection alive with one byte a second is still cut off after kIoTimeout.
TEST_F(HostileClientTest, OneByteASecondIsTimedOut) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestConnection> connection,
                       TestConnection::Connect(server_->port()));
  std::atomic<bool> done = false;
  absl::Duration closed_after = absl::InfiniteDuration();
  int bytes_written = 0;
  std::thread trickle([&] {
    const std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    const absl::Time start = absl::Now();
    // A write fails once the server has closed the connection (the first
    // write after the close draws a reset, the next one fails).
    for (size_t i = 0; absl::Now() - start < 4 * kIoTimeout; ++i) {
      if (!connection->WriteRaw(std::string(1, i < request.size() ? request[i] : 'p')).ok()) {
        closed_after = absl::Now() - start;
        break;
      }
      ++bytes_written;
      absl::SleepFor(absl::Seconds(1));
    }
    done = true;
  });

  // Other clients are served at once while the slow one trickles.
  int served = 0;
  absl::Duration slowest = absl::ZeroDuration();
  while (!done) {
    const absl::Duration took = ServeTime();
    EXPECT_LT(took, absl::Milliseconds(500));
    slowest = std::max(slowest, took);
    ++served;
    absl::SleepFor(absl::Milliseconds(200));
  }
  trickle.join();
  std::cout << "one byte a second: " << bytes_written << " bytes written, connection closed after "
            << absl::FormatDuration(closed_after) << "; " << served
            << " other requests served meanwhile, slowest " << absl::FormatDuration(slowest)
            << "\n";
  // Closed by the kIoTimeout deadline: the close is noticed on the first or
  // second write after it, one second apart.
  EXPECT_LE(closed_after, kIoTimeout + absl::Seconds(2.5));
  EXPECT_GT(served, 5);
}

}  // namespace
}  // namespace vouch::server
