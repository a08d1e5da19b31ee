// The single mapping from absl::Status codes to HTTP statuses and to the
// "code" member of the JSON error body.
//
//   absl code                      HTTP  error code
//   kInvalidArgument, kOutOfRange,
//   kFailedPrecondition            400   InvalidRequest
//   kUnauthenticated               401   Unauthorized
//   kPermissionDenied              403   AccessDenied
//   kNotFound                      404   NotFound
//   kAlreadyExists, kAborted       409   Conflict
//   kResourceExhausted             429   TooManyRequests
//   kUnimplemented                 501   NotImplemented
//   kUnavailable                   503   ServiceUnavailable
//   kDeadlineExceeded              504   GatewayTimeout
//   everything else                500   InternalError (message withheld)
#ifndef VOUCH_SERVER_STATUS_MAPPING_H_
#define VOUCH_SERVER_STATUS_MAPPING_H_

#include <string_view>

#include "absl/status/status.h"
#include "vouch/server/http_message.h"

namespace vouch::server {

// HttpStatusFor returns the HTTP status for an absl::Status code.
int HttpStatusFor(absl::StatusCode code);

// ErrorCodeFor returns the "code" member of the error body for an HTTP
// status, such as "InvalidRequest" for 400 or "RequestTooLarge" for 413.
std::string_view ErrorCodeFor(int http_status);

// StatusResponse builds the JSON error response for a non-OK status. The
// message is sent as is, except for 5xx statuses mapped from internal codes,
// whose details stay in the server log: the whole status goes to log_detail.
HttpResponse StatusResponse(const absl::Status& status);

// ErrorResponseFor builds the JSON error response for a transport-level
// failure (404, 405, 413...), with the standard code for that status.
HttpResponse ErrorResponseFor(int http_status, std::string_view message);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_STATUS_MAPPING_H_
