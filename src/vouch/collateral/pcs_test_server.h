// Test-only HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel) that
// replaces a PCS v4 service in tests. It serves one request per connection,
// answered by a handler that sets the status, headers, body and a delay.
#ifndef VOUCH_COLLATERAL_PCS_TEST_SERVER_H_
#define VOUCH_COLLATERAL_PCS_TEST_SERVER_H_

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace vouch::collateral {

struct PcsTestReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  absl::Duration delay = absl::ZeroDuration();  // before the reply is sent
};

// UrlEncode escapes every byte but letters, digits, '-', '_' and '.', as
// PCS does for the PEM issuer chains in its response headers.
std::string UrlEncode(std::string_view text);

class PcsTestServer {
 public:
  // Handler receives the request target ("/sgx/certification/v4/...").
  using Handler = std::function<PcsTestReply(const std::string& target)>;

  explicit PcsTestServer(Handler handler);
  ~PcsTestServer();
  PcsTestServer(const PcsTestServer&) = delete;
  PcsTestServer& operator=(const PcsTestServer&) = delete;

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // targets lists every request target received, in order.
  std::vector<std::string> targets() const;

 private:
  void Serve();

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<std::string> targets_;
  std::thread thread_;
};

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_PCS_TEST_SERVER_H_
