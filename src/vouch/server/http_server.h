// HttpServer: an HTTP/1.1 server on Boost.Beast and Asio that hands each
// request to a Router.
//
// Connections are served with asynchronous operations on a small pool of
// threads. Each connection has its own strand, so a slow client occupies a
// socket but never a thread. Every read and write has a deadline
// (`io_timeout`), the request header and body have size limits (431 and 413),
// and connections beyond `max_connections` are closed when accepted. A
// request with a Transfer-Encoding other than exactly "chunked" (or any
// Transfer-Encoding in HTTP/1.0), or with more than one Authorization header,
// gets 400 and the connection is closed, so its body is never read as
// another request.
// Handlers run on the pool threads; an exception from a handler becomes a
// 500 without details. Each request gets an id (X-Request-Id header) and one
// line in the "server" spdlog logger: method, path, status, duration and id,
// never bodies or headers.
#ifndef VOUCH_SERVER_HTTP_SERVER_H_
#define VOUCH_SERVER_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/server/router.h"

namespace vouch::server {

struct HttpServerOptions {
  // IP address to listen on ("127.0.0.1", "::1", "0.0.0.0"); "localhost"
  // means 127.0.0.1. Without TLS only loopback addresses are accepted.
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; port() returns the bound one.
  // PEM certificate chain and private key; both set enables TLS (1.2 or later).
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM CA certificates for mutual TLS: when set, the server requests a
  // certificate from each client and verifies one that is presented against these CAs.
  // A connection without a client certificate is accepted unless
  // `require_client_certificate` is set; its requests carry no certificate.
  std::string client_ca_file;
  bool require_client_certificate = false;
  // Allows plain HTTP on a non-loopback address (development setups only).
  bool allow_plain_http_on_any_address = false;
  int num_threads = 2;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  // Deadline for each read (a whole request, or the idle time between
  // keep-alive requests), each write and the TLS handshake.
  absl::Duration io_timeout = absl::Seconds(10);
  int max_connections = 256;
};

class HttpServer {
 public:
  // Create validates the options, loads the TLS certificate and key, and
  // binds the listening socket, so port() is known before Start. It fails
  // for plain HTTP on a non-loopback address, an unreadable certificate or
  // key, a client CA without TLS, or an address already in use.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options);

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Start begins accepting connections on the pool threads and dispatching
  // requests to `router`. It may be called once.
  absl::Status Start(Router router);

  // Stop closes the listening socket, lets running handlers finish, and
  // joins the threads. Open connections are dropped. Stop is idempotent and
  // also runs on destruction.
  void Stop();

  // port returns the bound port.
  uint16_t port() const;
  bool tls() const;
  // BaseUrl returns "http(s)://host:port" for the bound address, with IPv6
  // hosts in brackets.
  std::string BaseUrl() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_HTTP_SERVER_H_
