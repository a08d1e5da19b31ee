#include "vouch/crypto/wycheproof_json.h"

#include <gtest/gtest.h>

#include "vouch/testing/vectors.h"

namespace vouch::crypto::wycheproof {

using ::nlohmann::json;

Bytes HexMember(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    ADD_FAILURE() << "missing string member " << name;
    return {};
  }
  auto bytes = HexDecode(it->get_ref<const std::string&>());
  EXPECT_TRUE(bytes.ok()) << name << ": " << bytes.status();
  return bytes.ok() ? *bytes : Bytes{};
}

std::string StringMember(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int IntMember(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_number_integer() ? it->get<int>() : -1;
}

json ReadDocument(const std::string& path) {
  json document = json::parse(ToString(testing::ReadVector(path)), nullptr, false);
  EXPECT_TRUE(document.is_object()) << path;
  const bool has_groups =
      document.is_object() && document.contains("testGroups") && document["testGroups"].is_array();
  EXPECT_TRUE(has_groups) << path << ": no testGroups array";
  return has_groups ? document : json{{"testGroups", json::array()}};
}

}  // namespace vouch::crypto::wycheproof
