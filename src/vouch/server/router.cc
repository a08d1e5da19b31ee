#include "vouch/server/router.h"

#include <set>
#include <utility>

#include "absl/strings/str_join.h"
#include "vouch/base/status.h"
#include "vouch/server/status_mapping.h"

namespace vouch::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path == "/") {
    return segments;
  }
  if (path.front() == '/') {
    path.remove_prefix(1);
  }
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      return segments;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

absl::StatusOr<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return InvalidArgumentf("path: truncated percent-escape at offset {}", i);
    }
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) {
      return InvalidArgumentf("path: invalid percent-escape at offset {}", i);
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

absl::Status Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    return InvalidArgumentf("router: pattern {:?} does not start with '/'", pattern);
  }
  Route route;
  route.method = std::string(method);
  route.pattern = std::string(pattern);
  route.handler = std::move(handler);
  for (const std::string_view segment : SplitPath(pattern)) {
    if (segment.empty()) {
      return InvalidArgumentf("router: pattern {:?} has an empty segment", pattern);
    }
    const bool is_param = segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
    if (is_param) {
      route.segments.push_back({std::string(segment.substr(1, segment.size() - 2)), true});
      continue;
    }
    route.segments.push_back({std::string(segment), false});
    ++route.num_literals;
  }
  for (const Route& existing : routes_) {
    if (existing.method == route.method && existing.pattern == route.pattern) {
      return InvalidArgumentf("router: {} {} registered twice", method, pattern);
    }
  }
  routes_.push_back(std::move(route));
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> Router::Dispatch(HttpRequest& request) const {
  const std::vector<std::string_view> segments = SplitPath(request.path);
  const Route* best = nullptr;
  std::set<std::string> allowed_methods;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) {
      continue;
    }
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      const Segment& segment = route.segments[i];
      matches = segment.is_param ? !segments[i].empty() : segment.text == segments[i];
    }
    if (!matches) {
      continue;
    }
    allowed_methods.insert(route.method);
    if (route.method == request.method &&
        (best == nullptr || route.num_literals > best->num_literals)) {
      best = &route;
    }
  }

  if (allowed_methods.empty()) {
    return ErrorResponseFor(404, fmt::format("no route for path {:?}", request.path));
  }
  if (best == nullptr) {
    HttpResponse response = ErrorResponseFor(
        405, fmt::format("method {} not allowed on {:?}", request.method, request.path));
    response.headers.emplace_back("Allow", absl::StrJoin(allowed_methods, ", "));
    return response;
  }

  request.params.clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    if (best->segments[i].is_param) {
      VOUCH_ASSIGN_OR_RETURN(request.params[best->segments[i].text], PercentDecode(segments[i]));
    }
  }
  if (access_check_) {
    if (std::optional<HttpResponse> denied = access_check_(request, best->method, best->pattern)) {
      return *std::move(denied);
    }
  }
  return best->handler(request);
}

std::vector<RouteKey> Router::Routes() const {
  std::vector<RouteKey> keys;
  keys.reserve(routes_.size());
  for (const Route& route : routes_) {
    keys.push_back({route.method, route.pattern});
  }
  return keys;
}

}  // namespace vouch::server
