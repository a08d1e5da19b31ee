#include "vouch/collateral/http_get.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "vouch/base/status.h"

namespace vouch::collateral::internal {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Exchange {
  std::string body;
  size_t max_bytes = 0;
  bool too_large = false;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  if (exchange->body.size() + bytes > exchange->max_bytes) {
    exchange->too_large = true;
    return 0;
  }
  exchange->body.append(data, bytes);
  return bytes;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::string_view line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    exchange->headers.emplace_back(std::move(name), std::string(value));
  }
  return size * count;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

absl::StatusOr<HttpGetResponse> HttpGet(std::string_view service, const std::string& url,
                                        const HttpGetOptions& options) {
  GlobalInit();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    return Internalf("{} GET {}: curl_easy_init failed", service, url);
  }
  CURL* c = curl.get();
  Exchange exchange;
  exchange.max_bytes = options.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const std::string& line : options.headers) {
    curl_slist* const appended = curl_slist_append(headers.get(), line.c_str());
    if (appended == nullptr) {
      return Internalf("{} GET {}: curl_slist_append failed", service, url);
    }
    headers.release();
    headers.reset(appended);
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.request_timeout)));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "vouch-collateral/0.1");
  if (!options.ca_bundle_path.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_bundle_path.c_str());
  }

  const CURLcode code = curl_easy_perform(c);
  if (exchange.too_large) {
    return absl::ResourceExhaustedError(fmt::format("{} GET {}: response body over {} bytes",
                                                    service, url, options.max_response_bytes));
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(fmt::format("{} GET {}: timed out after {}", service, url,
                                                   absl::FormatDuration(options.request_timeout)));
  }
  if (code != CURLE_OK) {
    return Unavailablef("{} GET {}: {}", service, url,
                        error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code));
  }
  HttpGetResponse response;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(exchange.body);
  response.headers = std::move(exchange.headers);
  return response;
}

}  // namespace vouch::collateral::internal
