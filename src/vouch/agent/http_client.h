// A small blocking HTTP(S) client over libcurl for the guest agent and the
// `vouch keys` command.
//
// Every response with a status line is returned as an HttpResponse, 4xx and
// 5xx included, so callers can read the server's JSON error. Errors (as
// absl::Status) mean no complete response: connection refused, timeout, TLS
// failure, or a body over the size limit. Their messages name the method,
// the URL and libcurl's message, and never contain request headers.
#ifndef VOUCH_AGENT_HTTP_CLIENT_H_
#define VOUCH_AGENT_HTTP_CLIENT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vouch::agent {

struct HttpClientOptions {
  absl::Duration connect_timeout = absl::Seconds(5);
  // Limit for the whole exchange: connect, send, wait and receive.
  absl::Duration total_timeout = absl::Seconds(30);
  // Responses with a larger body are rejected (ResourceExhausted).
  size_t max_response_bytes = 4 << 20;
  // PEM file with the CA certificates that HTTPS servers must chain to.
  // Empty means libcurl's default trust store.
  std::string ca_bundle_path;
  // PEM client certificate (chain) and private key for mutual TLS; both or neither.
  std::string client_cert_path;
  std::string client_key_path;
};

struct HttpResponse {
  long status = 0;  // HTTP status code, as libcurl reports it (a long).
  std::string content_type;
  std::string body;
};

// Request header lines as (name, value) pairs.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});

  absl::StatusOr<HttpResponse> Get(std::string_view url, const HttpHeaders& headers = {}) const;
  // PostJson and PutJson send `json_body` with Content-Type application/json.
  absl::StatusOr<HttpResponse> PostJson(std::string_view url, std::string_view json_body,
                                        const HttpHeaders& headers = {}) const;
  absl::StatusOr<HttpResponse> PutJson(std::string_view url, std::string_view json_body,
                                       const HttpHeaders& headers = {}) const;

  // Send performs one request. `method` is "GET", "POST", "PUT" or "DELETE".
  // Redirects are not followed, and only http:// and https:// URLs are
  // accepted. Errors: InvalidArgument for a bad URL or method,
  // DeadlineExceeded for a timeout, ResourceExhausted for a body over
  // max_response_bytes, Unavailable for other transport failures.
  absl::StatusOr<HttpResponse> Send(std::string_view method, std::string_view url,
                                    std::string_view body, const HttpHeaders& headers) const;

 private:
  HttpClientOptions options_;
};

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_HTTP_CLIENT_H_
