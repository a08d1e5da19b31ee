#include "vouch/server/test_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "vouch/base/status.h"

namespace vouch::server::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string_view ToStd(beast::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace

nlohmann::json ClientResponse::Json() const { return nlohmann::json::parse(body, nullptr, false); }

std::string ClientResponse::ErrorCode() const {
  const nlohmann::json json = Json();
  if (!json.is_object() || !json.contains("error") || !json["error"].is_object() ||
      !json["error"].contains("code") || !json["error"]["code"].is_string()) {
    return "";
  }
  return json["error"]["code"].get<std::string>();
}

std::string ClientResponse::ErrorMessage() const {
  const nlohmann::json json = Json();
  if (!json.is_object() || !json.contains("error") || !json["error"].is_object() ||
      !json["error"].contains("message") || !json["error"]["message"].is_string()) {
    return "";
  }
  return json["error"]["message"].get<std::string>();
}

// Every operation is asynchronous and runs the private io_context until it
// finishes; beast::tcp_stream closes the socket when the deadline passes.
class TestConnection::Impl {
 public:
  explicit Impl(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  absl::Status Connect(uint16_t port, const std::string& ca_file,
                       const std::string& client_cert_file = "",
                       const std::string& client_key_file = "") {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    beast::error_code ec;
    if (ca_file.empty()) {
      plain_.emplace(io_context_);
      plain_->expires_after(timeout_);
      plain_->async_connect(endpoint, [&](beast::error_code e) { ec = e; });
      Run();
      return ec ? Unavailablef("connect: {}", ec.message()) : absl::OkStatus();
    }
    tls_context_.emplace(ssl::context::tls_client);
    tls_context_->set_verify_mode(ssl::verify_peer);
    tls_context_->load_verify_file(ca_file, ec);
    if (ec) {
      return InvalidArgumentf("load CA {}: {}", ca_file, ec.message());
    }
    if (!client_cert_file.empty()) {
      tls_context_->use_certificate_chain_file(client_cert_file, ec);
      if (!ec) {
        tls_context_->use_private_key_file(client_key_file, ssl::context::pem, ec);
      }
      if (ec) {
        return InvalidArgumentf("load client certificate {}: {}", client_cert_file, ec.message());
      }
    }
    tls_.emplace(io_context_, *tls_context_);
    beast::get_lowest_layer(*tls_).expires_after(timeout_);
    beast::get_lowest_layer(*tls_).async_connect(endpoint, [&](beast::error_code e) { ec = e; });
    Run();
    if (ec) {
      return Unavailablef("connect: {}", ec.message());
    }
    tls_->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    Run();
    return ec ? Unavailablef("tls handshake: {}", ec.message()) : absl::OkStatus();
  }

  absl::Status WriteRaw(std::string_view bytes) {
    beast::error_code ec;
    WithStream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()),
                        [&](beast::error_code e, size_t) { ec = e; });
    });
    Run();
    return ec ? Unavailablef("write: {}", ec.message()) : absl::OkStatus();
  }

  absl::Status Write(http::request<http::string_body>& request) {
    beast::error_code ec;
    WithStream([&](auto& stream) {
      http::async_write(stream, request, [&](beast::error_code e, size_t) { ec = e; });
    });
    Run();
    return ec ? Unavailablef("write: {}", ec.message()) : absl::OkStatus();
  }

  absl::StatusOr<ClientResponse> ReadResponse() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    beast::error_code ec;
    WithStream([&](auto& stream) {
      http::async_read(stream, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
    });
    Run();
    if (ec) {
      return Unavailablef("read response: {}", ec.message());
    }
    const http::response<http::string_body>& message = parser.get();
    ClientResponse response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      response.headers[absl::AsciiStrToLower(AbslView(ToStd(field.name_string())))] =
          std::string(ToStd(field.value()));
    }
    response.body = message.body();
    return response;
  }

  bool ReadUntilClosed() {
    beast::error_code ec;
    char scratch[4096];
    while (!ec) {
      WithStream([&](auto& stream) {
        stream.async_read_some(asio::buffer(scratch), [&](beast::error_code e, size_t) { ec = e; });
      });
      Run();
    }
    return ec != beast::error::timeout;
  }

 private:
  template <typename F>
  void WithStream(F f) {
    if (tls_.has_value()) {
      beast::get_lowest_layer(*tls_).expires_after(timeout_);
      f(*tls_);
      return;
    }
    plain_->expires_after(timeout_);
    f(*plain_);
  }

  void Run() {
    io_context_.restart();
    io_context_.run();
  }

  std::chrono::milliseconds timeout_;
  asio::io_context io_context_;
  std::optional<ssl::context> tls_context_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
};

TestConnection::TestConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TestConnection::~TestConnection() = default;

absl::StatusOr<std::unique_ptr<TestConnection>> TestConnection::Connect(
    uint16_t port, std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>(timeout);
  VOUCH_RETURN_IF_ERROR(impl->Connect(port, ""));
  return std::unique_ptr<TestConnection>(new TestConnection(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TestConnection>> TestConnection::ConnectTls(
    uint16_t port, const std::string& ca_file, std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>(timeout);
  VOUCH_RETURN_IF_ERROR(impl->Connect(port, ca_file));
  return std::unique_ptr<TestConnection>(new TestConnection(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TestConnection>> TestConnection::ConnectMutualTls(
    uint16_t port, const std::string& ca_file, const std::string& client_cert_file,
    const std::string& client_key_file, std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>(timeout);
  VOUCH_RETURN_IF_ERROR(impl->Connect(port, ca_file, client_cert_file, client_key_file));
  return std::unique_ptr<TestConnection>(new TestConnection(std::move(impl)));
}

absl::StatusOr<ClientResponse> TestConnection::Request(std::string_view method,
                                                       std::string_view target,
                                                       std::string_view body,
                                                       const Headers& headers) {
  http::request<http::string_body> request;
  request.method_string(beast::string_view(method.data(), method.size()));
  request.target(beast::string_view(target.data(), target.size()));
  request.version(11);
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) {
    request.set(name, value);
  }
  if (!body.empty() && headers.find("Content-Type") == headers.end()) {
    request.set(http::field::content_type, "application/json");
  }
  request.body() = std::string(body);
  request.prepare_payload();
  VOUCH_RETURN_IF_ERROR(impl_->Write(request));
  return impl_->ReadResponse();
}

absl::Status TestConnection::WriteRaw(std::string_view bytes) { return impl_->WriteRaw(bytes); }

absl::StatusOr<ClientResponse> TestConnection::ReadResponse() { return impl_->ReadResponse(); }

bool TestConnection::ReadUntilClosed() { return impl_->ReadUntilClosed(); }

absl::StatusOr<ClientResponse> Call(uint16_t port, std::string_view method, std::string_view target,
                                    std::string_view body, const Headers& headers) {
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<TestConnection> connection, TestConnection::Connect(port));
  return connection->Request(method, target, body, headers);
}

}  // namespace vouch::server::testing
