// Conventions of the vouch server API that every client shares: JSON error
// bodies and the characters allowed in key names.
#ifndef VOUCH_AGENT_SERVER_API_H_
#define VOUCH_AGENT_SERVER_API_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "vouch/agent/http_client.h"

namespace vouch::agent {

// ServerErrorMessage describes a non-2xx response: "HTTP 403 AccessDenied:
// release policy: ...", from the JSON error body when there is one, else
// from the first part of the body.
std::string ServerErrorMessage(const HttpResponse& response);

// ErrorFromResponse turns a non-2xx response into a status whose code follows
// the HTTP status (400 InvalidArgument, 401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 409 AlreadyExists, 5xx Unavailable) and
// whose message is "<method> <url>: " then ServerErrorMessage.
absl::Status ErrorFromResponse(std::string_view method, const std::string& url,
                               const HttpResponse& response);

// IsValidKeyName accepts key names and versions that fit in a URL path
// segment unescaped: 1 to 127 characters of [A-Za-z0-9-_.].
bool IsValidKeyName(std::string_view name);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_SERVER_API_H_
