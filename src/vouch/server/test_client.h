// A blocking HTTP/1.1 client for the server tests, on Beast, with a receive
// timeout on every socket so a server bug fails a test instead of hanging it.
// Test-only: linked into vouch_server_test.
#ifndef VOUCH_SERVER_TEST_CLIENT_H_
#define VOUCH_SERVER_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vouch::server::testing {

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // Names in lower case.
  std::string body;

  // Json parses the body; a body that is not JSON gives a discarded value.
  nlohmann::json Json() const;
  // ErrorCode returns error.code of a JSON error body, or "".
  std::string ErrorCode() const;
  std::string ErrorMessage() const;
};

using Headers = std::map<std::string, std::string>;

// TestConnection is one TCP connection (plain or TLS) to the server on
// 127.0.0.1, kept open across requests for keep-alive tests.
class TestConnection {
 public:
  // Connect opens a plain connection. ConnectTls also performs a TLS
  // handshake that verifies the server against the PEM certificate in
  // `ca_file`.
  static absl::StatusOr<std::unique_ptr<TestConnection>> Connect(
      uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  static absl::StatusOr<std::unique_ptr<TestConnection>> ConnectTls(
      uint16_t port, const std::string& ca_file,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // ConnectMutualTls is ConnectTls that also presents the PEM client
  // certificate chain and private key in the given files.
  static absl::StatusOr<std::unique_ptr<TestConnection>> ConnectMutualTls(
      uint16_t port, const std::string& ca_file, const std::string& client_cert_file,
      const std::string& client_key_file,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~TestConnection();

  // Request sends one request and reads the response.
  absl::StatusOr<ClientResponse> Request(std::string_view method, std::string_view target,
                                         std::string_view body = "", const Headers& headers = {});
  // WriteRaw sends bytes as they are, for malformed and partial requests.
  absl::Status WriteRaw(std::string_view bytes);
  // ReadResponse reads one response.
  absl::StatusOr<ClientResponse> ReadResponse();
  // ReadUntilClosed reads and drops input until the server closes the
  // connection (true) or the timeout passes (false).
  bool ReadUntilClosed();

 private:
  class Impl;
  explicit TestConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Call opens a connection, sends one request and returns the response.
absl::StatusOr<ClientResponse> Call(uint16_t port, std::string_view method, std::string_view target,
                                    std::string_view body = "", const Headers& headers = {});

}  // namespace vouch::server::testing

#endif  // VOUCH_SERVER_TEST_CLIENT_H_
