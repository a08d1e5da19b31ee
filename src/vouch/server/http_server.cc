#include "vouch/server/http_server.h"

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/logging.h"
#include "vouch/server/status_mapping.h"

namespace vouch::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using beast::error_code;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// A client that keeps sending after an error response is read for at most
// this long before the socket closes, so it can still read the response
// instead of a connection reset.
constexpr auto kLingerTimeout = std::chrono::seconds(1);
constexpr size_t kMaxLingerBytes = 4 * 1024 * 1024;

std::string_view ToStd(beast::string_view s) { return std::string_view(s.data(), s.size()); }

std::string NewRequestId() {
  uint8_t bytes[8];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // The id only correlates log lines; a counter is enough without entropy.
    static std::atomic<uint64_t> counter{0};
    return fmt::format("seq-{}", counter.fetch_add(1));
  }
  return HexEncode(bytes);
}

// Shared by the acceptor and every connection; outlives all of them.
struct ServerState {
  HttpServerOptions options;
  Router router;
  std::shared_ptr<spdlog::logger> logger = ServerLogger();
  std::atomic<int> num_connections{0};
};

// CheckRequestHeader rejects headers that make the request ambiguous.
//
// RFC 9112 section 6.3: when Transfer-Encoding is present and chunked is not
// its final coding, the body length cannot be determined, and the server
// must respond with 400 and close the connection. Beast reads such a request as
// having an empty body (or the Content-Length body), so a body could be read
// as a second, smuggled request. The server decodes no other coding, so
// anything but exactly "chunked" is rejected. RFC 9112 section 6.1 also states
// a Transfer-Encoding in an HTTP/1.0 message means faulty framing.
//
// Authorization is not a list field (RFC 9110 section 11.6.2), so more than
// one of it is ambiguous; HttpRequest would keep only the last one.
absl::Status CheckRequestHeader(const http::request_header<>& header) {
  const size_t num_transfer_encodings = header.count(http::field::transfer_encoding);
  if (num_transfer_encodings > 1) {
    return InvalidArgumentf("Transfer-Encoding header appears {} times, want at most 1",
                            num_transfer_encodings);
  }
  if (num_transfer_encodings == 1) {
    const std::string_view coding = ToStd(header[http::field::transfer_encoding]);
    if (!absl::EqualsIgnoreCase(AbslView(coding), "chunked")) {
      return InvalidArgumentf("Transfer-Encoding {:?} is not supported, want \"chunked\"",
                              coding.substr(0, 64));
    }
    if (header.version() < 11) {
      return InvalidArgumentf(
          "Transfer-Encoding in an HTTP/1.0 request; use HTTP/1.1 or Content-Length");
    }
  }

  const size_t num_authorizations = header.count(http::field::authorization);
  if (num_authorizations > 1) {
    return InvalidArgumentf("Authorization header appears {} times, want 1", num_authorizations);
  }
  return absl::OkStatus();
}

// PeerCertificate reads the client certificate of a finished TLS handshake.
// OpenSSL has verified it against the client CA when one is returned
// (SSL_VERIFY_PEER without a verify callback fails the handshake otherwise).
std::optional<ClientCertificate> PeerCertificate(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int der_size = i2d_X509(peer, &der);
  if (der_size <= 0) {
    return std::nullopt;
  }
  absl::StatusOr<crypto::Certificate> certificate =
      crypto::Certificate::FromDer(ByteSpan(der, static_cast<size_t>(der_size)));
  OPENSSL_free(der);
  if (!certificate.ok()) {
    return std::nullopt;
  }
  return ClientCertificate{certificate->Subject(), HexEncode(certificate->Sha256())};
}

// RunHandler converts the Beast request, dispatches it and converts any
// failure into a JSON error. No exception leaves this function.
HttpResponse RunHandler(const ServerState& state, const http::request<http::string_body>& in,
                        HttpRequest& request) {
  request.method = std::string(ToStd(in.method_string()));
  request.target = std::string(ToStd(in.target()));
  request.path = request.target.substr(0, request.target.find('?'));
  for (const auto& field : in) {
    request.headers[absl::AsciiStrToLower(AbslView(ToStd(field.name_string())))] =
        std::string(ToStd(field.value()));
  }
  request.body = in.body();

  std::string detail;
  try {
    absl::StatusOr<HttpResponse> response = state.router.Dispatch(request);
    return response.ok() ? *std::move(response) : StatusResponse(response.status());
  } catch (const std::exception& e) {
    detail = fmt::format("handler threw: {}", e.what());
  } catch (...) {
    detail = "handler threw a non-standard exception";
  }
  HttpResponse response =
      ErrorResponseFor(500, "internal server error; the server log has the details");
  response.log_detail = std::move(detail);
  return response;
}

template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Stream stream, std::shared_ptr<ServerState> state)
      : stream_(std::move(stream)), state_(std::move(state)) {
    state_->num_connections.fetch_add(1);
  }
  ~Session() { state_->num_connections.fetch_sub(1); }

  void Run() {
    // Start on the connection's strand: everything after runs there.
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::OnRun, this->shared_from_this()));
  }

 private:
  auto& Socket() { return beast::get_lowest_layer(stream_); }

  void ArmTimer() {
    Socket().expires_after(absl::ToChronoMilliseconds(state_->options.io_timeout));
  }

  void OnRun() {
    if constexpr (kTls) {
      ArmTimer();
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      ReadHeader();
    }
  }

  void OnHandshake(error_code ec) {
    if (ec) {
      state_->logger->debug("tls handshake failed: {}", ec.message());
      return;  // Dropping the last reference closes the socket.
    }
    if constexpr (kTls) {
      client_certificate_ = PeerCertificate(stream_.native_handle());
    }
    ReadHeader();
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(state_->options.max_header_bytes));
    parser_->body_limit(state_->options.max_body_bytes);
    ArmTimer();
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  void OnHeader(error_code ec, size_t /*bytes*/) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    if (const absl::Status header_status = CheckRequestHeader(parser_->get());
        !header_status.ok()) {
      // The body stays unread (and may not be framed at all), so SendError
      // closes the connection after the response.
      SendError(400, StdView(header_status.message()));
      return;
    }
    const auto expect = parser_->get()[http::field::expect];
    if (!absl::EqualsIgnoreCase(AbslView(ToStd(expect)), "100-continue")) {
      ReadBody();
      return;
    }
    // The client waits for this interim response before sending the body.
    continue_ = http::response<http::empty_body>(http::status::continue_, 11);
    ArmTimer();
    http::async_write(
        stream_, *continue_,
        beast::bind_front_handler(&Session::OnContinueWritten, this->shared_from_this()));
  }

  void OnContinueWritten(error_code ec, size_t /*bytes*/) {
    if (ec) {
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    ArmTimer();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnReadError(error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      Close();
      return;
    }
    if (ec == beast::error::timeout) {
      // tcp_stream has already closed the socket, so no 408 can be sent.
      state_->logger->debug("connection closed: no complete request within {}",
                            absl::FormatDuration(state_->options.io_timeout));
      return;
    }
    if (ec == http::error::body_limit) {
      SendError(413, fmt::format("request body larger than the limit of {} bytes",
                                 state_->options.max_body_bytes));
      return;
    }
    if (ec == http::error::header_limit) {
      SendError(431, fmt::format("request header larger than the limit of {} bytes",
                                 state_->options.max_header_bytes));
      return;
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      SendError(400, fmt::format("malformed HTTP request: {}", ec.message()));
      return;
    }
    state_->logger->debug("connection read failed: {}", ec.message());
  }

  // SendError sends an error response to a request that could not be read,
  // then closes the connection because the rest of the input cannot be framed.
  void SendError(int status, std::string_view message) {
    const std::string request_id = NewRequestId();
    std::string method = "-";
    std::string path = "-";
    if (parser_.has_value() && parser_->is_header_done()) {
      method = std::string(ToStd(parser_->get().method_string()));
      const std::string_view target = ToStd(parser_->get().target());
      path = std::string(target.substr(0, target.find('?')));
    }
    state_->logger->warn("request id={} method={} path={:?} status={} error={:?}", request_id,
                         method, path, status, message);
    HttpResponse response = ErrorResponseFor(status, message);
    Write(response, request_id, /*keep_alive=*/false, /*linger=*/true);
  }

  void OnRead(error_code ec, size_t /*bytes*/) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    http::request<http::string_body> in = parser_->release();
    HttpRequest request;
    request.request_id = NewRequestId();
    request.client_certificate = client_certificate_;
    const HttpResponse response = RunHandler(*state_, in, request);
    const auto duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
    LogRequest(request, response.status, duration_us, response.log_detail);
    Write(response, request.request_id, in.keep_alive(), /*linger=*/false);
  }

  void LogRequest(const HttpRequest& request, int status, int64_t duration_us,
                  const std::string& error) {
    const double duration_ms = static_cast<double>(duration_us) / 1000.0;
    if (error.empty()) {
      state_->logger->info("request id={} method={} path={:?} status={} duration_ms={:.3f}",
                           request.request_id, request.method, request.path, status, duration_ms);
      return;
    }
    const auto level = status >= 500 ? spdlog::level::err : spdlog::level::warn;
    state_->logger->log(level,
                        "request id={} method={} path={:?} status={} duration_ms={:.3f} "
                        "error={:?}",
                        request.request_id, request.method, request.path, status, duration_ms,
                        error);
  }

  void Write(const HttpResponse& response, const std::string& request_id, bool keep_alive,
             bool linger) {
    auto& out = response_.emplace(static_cast<http::status>(response.status), 11);
    out.set(http::field::server, "vouch");
    out.set(http::field::content_type, response.content_type);
    out.set(http::field::cache_control, "no-store");
    out.set("X-Request-Id", request_id);
    for (const auto& [name, value] : response.headers) {
      out.set(name, value);
    }
    out.body() = response.body;
    out.keep_alive(keep_alive);
    out.prepare_payload();
    ArmTimer();
    http::async_write(
        stream_, out,
        beast::bind_front_handler(&Session::OnWrite, this->shared_from_this(), keep_alive, linger));
  }

  void OnWrite(bool keep_alive, bool linger, error_code ec, size_t /*bytes*/) {
    if (ec) {
      return;
    }
    response_.reset();
    if (keep_alive) {
      ReadHeader();
      return;
    }
    if (linger) {
      Linger();
      return;
    }
    Close();
  }

  // Linger stops sending and reads and drops what the client still sends,
  // until it closes or the linger time or byte budget runs out.
  void Linger() {
    error_code ignored;
    Socket().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Socket().expires_after(kLingerTimeout);
    Socket().async_read_some(
        asio::buffer(discard_),
        beast::bind_front_handler(&Session::OnLingerRead, this->shared_from_this()));
  }

  void OnLingerRead(error_code ec, size_t bytes) {
    lingered_bytes_ += bytes;
    if (ec || lingered_bytes_ > kMaxLingerBytes) {
      return;
    }
    Socket().async_read_some(
        asio::buffer(discard_),
        beast::bind_front_handler(&Session::OnLingerRead, this->shared_from_this()));
  }

  void Close() {
    if constexpr (kTls) {
      ArmTimer();
      stream_.async_shutdown(
          beast::bind_front_handler(&Session::OnTlsShutdown, this->shared_from_this()));
    } else {
      error_code ignored;
      Socket().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void OnTlsShutdown(error_code /*ec*/) {}

  Stream stream_;
  std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  std::array<char, 16 * 1024> discard_{};
  size_t lingered_bytes_ = 0;
  std::optional<ClientCertificate> client_certificate_;
};

absl::StatusOr<asio::ip::address> ParseHost(const std::string& host) {
  const std::string literal = host == "localhost" ? "127.0.0.1" : host;
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(literal, ec);
  if (ec) {
    return InvalidArgumentf("listen address: {:?} is not an IP address", host);
  }
  return address;
}

absl::Status ConfigureTls(ssl::context& context, const HttpServerOptions& options) {
  SSL_CTX* native = context.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return Internalf("tls: cannot set the minimum protocol version");
  }
  error_code ec;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_compression,
                      ec);
  if (ec) {
    return Internalf("tls: cannot set options: {}", ec.message());
  }
  context.use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) {
    return InvalidArgumentf("tls: cannot load certificate chain {:?}: {}", options.tls_cert_file,
                            ec.message());
  }
  context.use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
  if (ec) {
    return InvalidArgumentf("tls: cannot load private key {:?}: {}", options.tls_key_file,
                            ec.message());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgumentf("tls: private key {:?} does not match certificate {:?}",
                            options.tls_key_file, options.tls_cert_file);
  }
  if (options.client_ca_file.empty()) {
    return absl::OkStatus();
  }
  // Mutual TLS: the CA names go into the CertificateRequest, and a presented
  // certificate that does not chain to them fails the handshake.
  context.load_verify_file(options.client_ca_file, ec);
  if (ec) {
    return InvalidArgumentf("tls: cannot load client CA certificates {:?}: {}",
                            options.client_ca_file, ec.message());
  }
  STACK_OF(X509_NAME)* ca_names = SSL_load_client_CA_file(options.client_ca_file.c_str());
  if (ca_names == nullptr) {
    return InvalidArgumentf("tls: no CA certificate in {:?}", options.client_ca_file);
  }
  SSL_CTX_set_client_CA_list(native, ca_names);
  int mode = SSL_VERIFY_PEER;
  if (options.require_client_certificate) {
    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(native, mode, nullptr);
  return absl::OkStatus();
}

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(const HttpServerOptions& options)
      : options_(options), tls_context_(ssl::context::tls_server), acceptor_(io_context_) {}

  absl::Status Bind() {
    if (options_.num_threads < 1 || options_.max_connections < 1) {
      return InvalidArgumentf("http server: threads {} and max connections {} must be positive",
                              options_.num_threads, options_.max_connections);
    }
    if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
      return InvalidArgumentf("tls: both a certificate and a private key file are required");
    }
    tls_ = !options_.tls_cert_file.empty();
    if (!tls_ && (!options_.client_ca_file.empty() || options_.require_client_certificate)) {
      return InvalidArgumentf("tls: client certificates need a server certificate and key");
    }
    if (options_.require_client_certificate && options_.client_ca_file.empty()) {
      return InvalidArgumentf("tls: requiring client certificates needs a client CA file");
    }
    VOUCH_ASSIGN_OR_RETURN(const asio::ip::address address, ParseHost(options_.host));
    if (!tls_ && !address.is_loopback() && !options_.allow_plain_http_on_any_address) {
      return InvalidArgumentf(
          "listen address {}: plain HTTP is allowed only on loopback addresses; configure a TLS "
          "certificate and key",
          options_.host);
    }
    if (tls_) {
      VOUCH_RETURN_IF_ERROR(ConfigureTls(tls_context_, options_));
    }

    const tcp::endpoint endpoint(address, options_.port);
    error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return Unavailablef("listen on {}:{}: {}", options_.host, options_.port, ec.message());
    }
    host_ = address;
    port_ = acceptor_.local_endpoint(ec).port();
    return absl::OkStatus();
  }

  absl::Status Start(Router router) {
    if (state_ != nullptr) {
      return FailedPreconditionf("http server: already started");
    }
    state_ = std::make_shared<ServerState>();
    state_->options = options_;
    state_->router = std::move(router);
    Accept();
    threads_.reserve(static_cast<size_t>(options_.num_threads));
    for (int i = 0; i < options_.num_threads; ++i) {
      threads_.emplace_back([this] { RunLoop(); });
    }
    return absl::OkStatus();
  }

  void Stop() {
    if (stopped_.exchange(true)) {
      return;
    }
    io_context_.stop();
    for (std::thread& thread : threads_) {
      thread.join();
    }
    threads_.clear();
    // No thread runs the io_context any more, so the acceptor can be closed here.
    error_code ignored;
    acceptor_.close(ignored);
  }

  uint16_t port() const { return port_; }
  bool tls() const { return tls_; }

  std::string BaseUrl() const {
    const std::string host =
        host_.is_v6() ? fmt::format("[{}]", host_.to_string()) : host_.to_string();
    return fmt::format("{}://{}:{}", tls_ ? "https" : "http", host, port_);
  }

 private:
  void RunLoop() {
    while (true) {
      try {
        io_context_.run();
        return;
      } catch (const std::exception& e) {
        state_->logger->error("http server: io loop threw, continuing: {}", e.what());
      }
    }
  }

  void Accept() {
    acceptor_.async_accept(
        asio::make_strand(io_context_),
        [this](error_code ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
  }

  void OnAccept(error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
      return;
    }
    if (ec) {
      state_->logger->warn("accept failed: {}", ec.message());
    } else if (state_->num_connections.load() >= options_.max_connections) {
      // Closing at once keeps the cost of a connection flood to one accept.
      error_code ignored;
      socket.close(ignored);
      LogRejectedConnection();
    } else if (tls_) {
      std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), tls_context_), state_)
          ->Run();
    } else {
      std::make_shared<Session<PlainStream>>(PlainStream(std::move(socket)), state_)->Run();
    }
    Accept();
  }

  // LogRejectedConnection logs connections closed over the limit at most
  // once per second, with the count since the previous message. It runs in
  // the accept handler only, and one accept at a time is pending.
  void LogRejectedConnection() {
    ++num_rejected_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_rejection_log_ < std::chrono::seconds(1)) {
      return;
    }
    state_->logger->warn(
        "connections closed at accept: {} connections open, the limit is {}; {} closed since "
        "the last message",
        state_->num_connections.load(), options_.max_connections, num_rejected_);
    num_rejected_ = 0;
    last_rejection_log_ = now;
  }

  HttpServerOptions options_;
  bool tls_ = false;
  uint64_t num_rejected_ = 0;
  std::chrono::steady_clock::time_point last_rejection_log_;
  asio::ip::address host_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::shared_ptr<ServerState> state_;
  ssl::context tls_context_;
  // Declared after the state and TLS context so that it is destroyed first:
  // its destructor frees the sessions still queued on it.
  asio::io_context io_context_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpServerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  VOUCH_RETURN_IF_ERROR(impl->Bind());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start(Router router) { return impl_->Start(std::move(router)); }

void HttpServer::Stop() { impl_->Stop(); }

uint16_t HttpServer::port() const { return impl_->port(); }

bool HttpServer::tls() const { return impl_->tls(); }

std::string HttpServer::BaseUrl() const { return impl_->BaseUrl(); }

}  // namespace vouch::server
