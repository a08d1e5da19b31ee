// Router: maps a method and a path pattern such as /keys/{name}/{version}
// to a handler.
//
// A pattern is a list of '/'-separated segments; a segment "{param}" matches
// any one non-empty segment and stores its percent-decoded value in
// HttpRequest::params. When several patterns match, the one with the most
// literal segments wins, so /keys/{name}/release is preferred over
// /keys/{name}/{version} for the same method. Dispatch returns 404 when no
// pattern matches the path, and 405 with an Allow header when patterns match
// the path but none for the request's method.
#ifndef VOUCH_SERVER_ROUTER_H_
#define VOUCH_SERVER_ROUTER_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/server/http_message.h"

namespace vouch::server {

// A handler returns a response or an error status, which the caller turns
// into a JSON error through status_mapping.h.
using Handler = std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)>;

// An AccessCheck runs before the handler of the matched route, with the
// route's method and pattern. It returns nullopt to let the request through,
// or the response to send instead (401 or 403).
using AccessCheck = std::function<std::optional<HttpResponse>(
    const HttpRequest& request, std::string_view method, std::string_view pattern)>;

// RouteKey names one registered route.
struct RouteKey {
  std::string method;
  std::string pattern;
};

class Router {
 public:
  // Add registers `handler` for `method` and `pattern`. Patterns start with
  // '/'; a parameter takes a whole segment ("{name}"). Registering the same
  // method and pattern twice, or a malformed pattern, is an error.
  absl::Status Add(std::string_view method, std::string_view pattern, Handler handler);

  // Dispatch finds the handler for `request`, fills request.params and runs it.
  // Unknown paths get 404, known paths with another method 405, and a path
  // with a malformed percent-escape 400. Handler errors are returned as
  // statuses; exceptions are not caught here.
  absl::StatusOr<HttpResponse> Dispatch(HttpRequest& request) const;

  // SetAccessCheck makes Dispatch run `check` before every handler,
  // including handlers registered later.
  void SetAccessCheck(AccessCheck check) { access_check_ = std::move(check); }

  // Routes lists the registered routes in registration order.
  std::vector<RouteKey> Routes() const;

 private:
  struct Segment {
    std::string text;  // Literal text, or the parameter name.
    bool is_param = false;
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    int num_literals = 0;
    Handler handler;
  };

  std::vector<Route> routes_;
  AccessCheck access_check_;
};

// SplitPath splits "/a/b" into {"a", "b"}; "/" gives {}. Empty segments
// ("/a//b", trailing "/") are kept so they match no pattern.
std::vector<std::string_view> SplitPath(std::string_view path);

// PercentDecode decodes %XX escapes; a '%' without two hex digits is an error.
absl::StatusOr<std::string> PercentDecode(std::string_view text);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_ROUTER_H_
