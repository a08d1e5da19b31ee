#include "vouch/server/http_message.h"

#include "absl/strings/ascii.h"
#include "vouch/base/status.h"

namespace vouch::server {

std::optional<std::string> HttpRequest::Header(std::string_view name) const {
  const auto it = headers.find(absl::AsciiStrToLower(AbslView(name)));
  if (it == headers.end()) {
    return std::nullopt;
  }
  return it->second;
}

const std::string& HttpRequest::Param(const std::string& name) const {
  static const std::string kEmpty;
  const auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  // Replace invalid UTF-8 instead of throwing: messages may quote client input.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  nlohmann::json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  return JsonResponse(status, body);
}

}  // namespace vouch::server
