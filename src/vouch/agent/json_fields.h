// Exception-free access to JSON members for the agent's parsers of server
// responses. nlohmann::json's at() and get() throw on a missing member or a
// wrong type; these return nullptr instead.
#ifndef VOUCH_AGENT_JSON_FIELDS_H_
#define VOUCH_AGENT_JSON_FIELDS_H_

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace vouch::agent {

// ParseJson returns a discarded value (is_discarded()) for invalid JSON.
inline nlohmann::json ParseJson(std::string_view text) {
  return nlohmann::json::parse(text, nullptr, false);
}

// StringMember returns obj[name] when `obj` is an object and the member is a
// string, else nullptr.
inline const std::string* StringMember(const nlohmann::json& obj, const char* name) {
  if (!obj.is_object()) {
    return nullptr;
  }
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) {
    return nullptr;
  }
  return it->get_ptr<const std::string*>();
}

// A temporary would be destroyed before the returned pointer is used.
const std::string* StringMember(nlohmann::json&& obj, const char* name) = delete;

// ObjectMember returns obj[name] when `obj` is an object and the member is
// an object, else nullptr.
inline const nlohmann::json* ObjectMember(const nlohmann::json& obj, const char* name) {
  if (!obj.is_object()) {
    return nullptr;
  }
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_object()) {
    return nullptr;
  }
  return &*it;
}

const nlohmann::json* ObjectMember(nlohmann::json&& obj, const char* name) = delete;

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_JSON_FIELDS_H_
