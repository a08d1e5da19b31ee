// Test-only HTTP/1.1 server on 127.0.0.1 with a port chosen by the kernel.
// It serves one request per connection on a background thread, which is
// enough for tests of the agent's HTTP client and of the unlock flow against
// canned server responses.
#ifndef VOUCH_AGENT_TEST_HTTP_SERVER_H_
#define VOUCH_AGENT_TEST_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace vouch::agent {

struct TestHttpRequest {
  std::string method;
  std::string target;                          // Path and query, e.g. "/keys/disk/release".
  std::map<std::string, std::string> headers;  // Names in lower case.
  std::string body;
};

struct TestHttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When false, the reply has no Content-Length header and the body ends
  // when the server closes the connection.
  bool send_content_length = true;
};

class TestHttpServer {
 public:
  using Handler = std::function<TestHttpReply(const TestHttpRequest&)>;

  // The constructor binds 127.0.0.1:0 and starts serving with `handler`.
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  // Url returns "http://127.0.0.1:<port>".
  std::string Url() const;

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_TEST_HTTP_SERVER_H_
