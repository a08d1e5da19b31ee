#include "vouch/agent/http_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

// NoProxyList returns the no_proxy list of the environment with the loopback
// names added.
std::string NoProxyList() {
  std::string list = "localhost,127.0.0.1,::1";
  for (const char* name : {"no_proxy", "NO_PROXY"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && value[0] != '\0') {
      list += ",";
      list += value;
      break;
    }
  }
  return list;
}


void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Body collects the response, stopping at the size limit.
struct Body {
  std::string data;
  size_t max_bytes = 0;
  bool too_large = false;
};

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  Body* body = static_cast<Body*>(userdata);
  const size_t n = size * nmemb;
  if (body->data.size() + n > body->max_bytes) {
    body->too_large = true;
    return 0;  // libcurl then fails the transfer with CURLE_WRITE_ERROR.
  }
  body->data.append(ptr, n);
  return n;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

absl::Status TransferError(std::string_view method, const std::string& url, CURLcode code,
                           const char* error_buffer) {
  const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(fmt::format("{} {}: timed out: {}", method, url, detail));
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return InvalidArgumentf("{} {}: invalid URL: {}", method, url, detail);
    default:
      return Unavailablef("{} {}: {}", method, url, detail);
  }
}

}  // namespace

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}

absl::StatusOr<HttpResponse> HttpClient::Get(std::string_view url,
                                             const HttpHeaders& headers) const {
  return Send("GET", url, "", headers);
}

absl::StatusOr<HttpResponse> HttpClient::PostJson(std::string_view url, std::string_view json_body,
                                                  const HttpHeaders& headers) const {
  HttpHeaders all = headers;
  all.emplace_back("Content-Type", "application/json");
  return Send("POST", url, json_body, all);
}

absl::StatusOr<HttpResponse> HttpClient::PutJson(std::string_view url, std::string_view json_body,
                                                 const HttpHeaders& headers) const {
  HttpHeaders all = headers;
  all.emplace_back("Content-Type", "application/json");
  return Send("PUT", url, json_body, all);
}

absl::StatusOr<HttpResponse> HttpClient::Send(std::string_view method, std::string_view url,
                                              std::string_view body,
                                              const HttpHeaders& headers) const {
  const std::string url_string(url);
  if (method != "GET" && method != "POST" && method != "PUT" && method != "DELETE") {
    return InvalidArgumentf("{} {}: unsupported HTTP method", method, url_string);
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return InvalidArgumentf("{} {}: invalid URL: want http:// or https://", method, url_string);
  }

  GlobalInitOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    return Internalf("{} {}: curl_easy_init failed", method, url_string);
  }
  CURL* c = curl.get();

  std::unique_ptr<curl_slist, CurlSlistDeleter> header_list;
  for (const auto& [name, value] : headers) {
    if (HasLineBreak(name) || HasLineBreak(value) || name.find(':') != std::string::npos) {
      return InvalidArgumentf("{} {}: header {} contains a line break or colon", method, url_string,
                              name);
    }
    const std::string line = name + ": " + value;
    curl_slist* appended = curl_slist_append(header_list.get(), line.c_str());
    if (appended == nullptr) {
      return Internalf("{} {}: curl_slist_append failed", method, url_string);
    }
    header_list.release();
    header_list.reset(appended);
  }

  Body response_body;
  response_body.max_bytes = options_.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const std::string method_string(method);

  curl_easy_setopt(c, CURLOPT_URL, url_string.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.total_timeout)));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response_body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "vouch-agent/0.1");
  // Proxies from the environment apply, except to loopback: a vouch server
  // on this machine is never reached through a proxy.
  const std::string no_proxy = NoProxyList();
  curl_easy_setopt(c, CURLOPT_NOPROXY, no_proxy.c_str());
  if (!options_.ca_bundle_path.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_bundle_path.c_str());
  }
  if (!options_.client_cert_path.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, options_.client_cert_path.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!options_.client_key_path.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLKEY, options_.client_key_path.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }

  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_string.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }

  const CURLcode code = curl_easy_perform(c);
  if (response_body.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return absl::ResourceExhaustedError(
        fmt::format("{} {}: response body larger than the limit of {} bytes", method, url_string,
                    options_.max_response_bytes));
  }
  if (code != CURLE_OK) {
    return TransferError(method, url_string, code, error_buffer);
  }

  HttpResponse response;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  const char* content_type = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
      content_type != nullptr) {
    response.content_type = content_type;
  }
  response.body = std::move(response_body.data);
  return response;
}

}  // namespace vouch::agent
