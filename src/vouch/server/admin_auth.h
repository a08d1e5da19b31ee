// Admin authentication: a bearer token whose SHA-256 is in the configuration.
#ifndef VOUCH_SERVER_ADMIN_AUTH_H_
#define VOUCH_SERVER_ADMIN_AUTH_H_

#include <string_view>

#include "absl/status/status.h"
#include "vouch/server/http_message.h"

namespace vouch::server {

// CheckAdminBearer checks "Authorization: Bearer <token>" on `request`
// against `admin_token_sha256` (64 lower-case hex digits). The SHA-256 of
// the presented token is compared in constant time, so the configuration
// never contains the token itself. Returns Unauthenticated when the header is
// missing or malformed, the token does not match, or no admin token is
// configured (empty hash).
absl::Status CheckAdminBearer(const HttpRequest& request, std::string_view admin_token_sha256);

// WithBearerChallenge adds "WWW-Authenticate: Bearer" to a 401 response, as
// RFC 6750 section 3 requires, and leaves other responses unchanged.
HttpResponse WithBearerChallenge(HttpResponse response);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_ADMIN_AUTH_H_
