#include "vouch/server/status_mapping.h"

#include "vouch/base/status.h"

namespace vouch::server {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string_view ErrorCodeFor(int http_status) {
  switch (http_status) {
    case 400:
      return "InvalidRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "AccessDenied";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 408:
      return "RequestTimeout";
    case 409:
      return "Conflict";
    case 413:
      return "RequestTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 429:
      return "TooManyRequests";
    case 431:
      return "RequestHeaderFieldsTooLarge";
    case 501:
      return "NotImplemented";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "GatewayTimeout";
    default:
      return http_status >= 500 ? "InternalError" : "InvalidRequest";
  }
}

HttpResponse StatusResponse(const absl::Status& status) {
  const int http_status = HttpStatusFor(status.code());
  HttpResponse response =
      http_status == 500
          ? ErrorResponseFor(500, "internal server error; the server log has the details")
          : ErrorResponseFor(http_status, StdView(status.message()));
  response.log_detail = status.ToString();
  return response;
}

HttpResponse ErrorResponseFor(int http_status, std::string_view message) {
  return ErrorResponse(http_status, ErrorCodeFor(http_status), message);
}

}  // namespace vouch::server
