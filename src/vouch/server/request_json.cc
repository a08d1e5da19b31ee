#include "vouch/server/request_json.h"

#include <algorithm>

#include "vouch/base/status.h"
#include "vouch/policy/strict_json.h"

namespace vouch::server {

absl::Status CheckMembers(std::string_view context, const nlohmann::json& object,
                          std::string_view what, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return InvalidArgumentf("{}: unknown member {:?} in {}", context, key, what);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> DecodeMember(std::string_view context, const nlohmann::json& object,
                                   std::string_view what, const std::string& key) {
  if (!object.contains(key)) {
    return InvalidArgumentf("{}: missing {}.{}", context, what, key);
  }
  if (!object[key].is_string()) {
    return InvalidArgumentf("{}: {}.{} must be a base64url string, found {}", context, what, key,
                            policy::JsonTypeName(object[key]));
  }
  absl::StatusOr<Bytes> decoded = Base64UrlDecode(object[key].get<std::string>());
  if (!decoded.ok()) {
    return InvalidArgumentf("{}: {}.{} is not valid base64url", context, what, key);
  }
  return decoded;
}

}  // namespace vouch::server
