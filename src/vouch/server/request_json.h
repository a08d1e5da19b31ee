// Checks shared by the JSON request bodies of the attestation routes.
#ifndef VOUCH_SERVER_REQUEST_JSON_H_
#define VOUCH_SERVER_REQUEST_JSON_H_

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"

namespace vouch::server {

// CheckMembers rejects a member of `object` that is not in `allowed`. The
// error starts with `context` and names the member and `what` contains it.
absl::Status CheckMembers(std::string_view context, const nlohmann::json& object,
                          std::string_view what, std::initializer_list<std::string_view> allowed);

// DecodeMember returns the base64url-decoded string member `key` of
// `object`. A missing member, another JSON type or invalid base64url is
// InvalidArgument naming `what`.`key`.
absl::StatusOr<Bytes> DecodeMember(std::string_view context, const nlohmann::json& object,
                                   std::string_view what, const std::string& key);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_REQUEST_JSON_H_
