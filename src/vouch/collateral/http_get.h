// The libcurl GET that PcsClient and KdsClient share. It is internal to
// collateral/, so it is not installed and is not part of the public API.
#ifndef VOUCH_COLLATERAL_HTTP_GET_H_
#define VOUCH_COLLATERAL_HTTP_GET_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vouch::collateral::internal {

struct HttpGetOptions {
  absl::Duration connect_timeout;
  absl::Duration request_timeout;
  size_t max_response_bytes = 0;
  // A CA bundle in place of the system's, when not empty.
  std::string ca_bundle_path;
  // Extra request header lines, such as "Ocp-Apim-Subscription-Key: ...".
  std::vector<std::string> headers;
};

struct HttpGetResponse {
  long status = 0;
  std::string body;
  // Response headers in the order received, names in lower case and values
  // without surrounding whitespace.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Sends one GET to `url` (http or https, no redirects) and returns the
// response of any HTTP status. Errors start with "<service> GET <url>:"
// and are:
// - Internal when curl_easy_init fails;
// - ResourceExhausted for a body over max_response_bytes;
// - DeadlineExceeded when request_timeout passes;
// - Unavailable for any other transfer error, with curl's message.
absl::StatusOr<HttpGetResponse> HttpGet(std::string_view service, const std::string& url,
                                        const HttpGetOptions& options);

}  // namespace vouch::collateral::internal

#endif  // VOUCH_COLLATERAL_HTTP_GET_H_
