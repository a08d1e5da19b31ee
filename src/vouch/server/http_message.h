// Transport-independent HTTP request and response values.
//
// The router and the service handlers see only these types; http_server.cc
// converts to and from Beast messages, so handlers can be tested without a
// socket.
#ifndef VOUCH_SERVER_HTTP_MESSAGE_H_
#define VOUCH_SERVER_HTTP_MESSAGE_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vouch::server {

// ClientCertificate identifies the certificate a client presented in a
// mutual TLS handshake that verified against the configured client CA.
struct ClientCertificate {
  std::string subject;  // RFC 2253 form, "CN=ops,O=Example"
  std::string sha256;   // Lower-case hex SHA-256 of the DER certificate.
};

struct HttpRequest {
  std::string method;  // Upper case, as sent: "GET", "POST".
  std::string target;  // Path and query as sent.
  std::string path;    // Target without the query string.
  // Header names are stored in lower case; a repeated header keeps the last value.
  std::map<std::string, std::string> headers;
  std::string body;
  // Path parameters filled by the router from patterns such as /keys/{name}.
  std::map<std::string, std::string> params;
  // Unique id of this request, also sent back in the X-Request-Id header.
  std::string request_id;
  // The verified client certificate of the TLS connection, if any.
  std::optional<ClientCertificate> client_certificate;

  // Header returns the value of `name` (any case), or nullopt when it is absent.
  std::optional<std::string> Header(std::string_view name) const;
  // Param returns the path parameter `name`, or "" when the route has none.
  const std::string& Param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers such as Allow or WWW-Authenticate.
  std::vector<std::pair<std::string, std::string>> headers;
  // Error detail for the server's request log line; never sent to the client.
  std::string log_detail;
};

// JsonResponse serializes `body` as compact JSON with the given status.
HttpResponse JsonResponse(int status, const nlohmann::json& body);

// ErrorResponse builds the shared error shape
// {"error": {"code": code, "message": message}} with the given status.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_HTTP_MESSAGE_H_
