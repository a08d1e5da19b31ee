#include "vouch/agent/server_api.h"

#include <string>

#include "nlohmann/json.hpp"
#include "vouch/agent/json_fields.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

using nlohmann::json;

// Maximum number of characters of a non-JSON error body quoted in a message.
constexpr size_t kMaxQuotedBodyChars = 200;

}  // namespace

std::string ServerErrorMessage(const HttpResponse& response) {
  const json body = ParseJson(response.body);
  const json* error = ObjectMember(body, "error");
  if (error != nullptr) {
    const std::string* code = StringMember(*error, "code");
    const std::string* message = StringMember(*error, "message");
    return fmt::format("HTTP {} {}: {}", response.status, code ? *code : "(no code)",
                       message ? *message : "(no message)");
  }
  if (response.body.empty()) {
    return fmt::format("HTTP {} with an empty body", response.status);
  }
  std::string quoted = response.body.substr(0, kMaxQuotedBodyChars);
  return fmt::format("HTTP {}: {}{}", response.status, quoted,
                     response.body.size() > kMaxQuotedBodyChars ? "..." : "");
}

absl::Status ErrorFromResponse(std::string_view method, const std::string& url,
                               const HttpResponse& response) {
  const std::string message = fmt::format("{} {}: {}", method, url, ServerErrorMessage(response));
  switch (response.status) {
    case 400:
    case 413:
    case 415:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::AlreadyExistsError(message);
    default:
      return response.status >= 500 ? absl::UnavailableError(message) : absl::UnknownError(message);
  }
}

bool IsValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > 127 || name == "." || name == "..") {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace vouch::agent
