#include "vouch/broker/key_request.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/policy/release_policy.h"
#include "vouch/policy/strict_json.h"

namespace vouch::broker {
namespace {

using Json = nlohmann::json;

const Json kEmptyObject = Json::object();

absl::Status CheckMembers(const Json& object, std::initializer_list<std::string_view> allowed,
                          std::string_view context, std::string_view where) {
  for (const auto& [name, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return InvalidArgumentf("{}: unknown member {} in {}, want one of {}", context,
                              policy::DescribeJson(Json(name), 64), where,
                              fmt::join(allowed, ", "));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<bool>> OptionalBool(const Json& object, const char* name,
                                                 std::string_view context,
                                                 std::string_view where) {
  const auto it = object.find(name);
  if (it == object.end()) {
    return std::optional<bool>();
  }
  if (!it->is_boolean()) {
    return InvalidArgumentf("{}: {}{} must be true or false", context, where, name);
  }
  return std::optional<bool>(it->get<bool>());
}

// MergeBool reads a flag that may be given at the top level and inside an
// object ("exportable" and "attributes.exportable"); both must agree.
absl::StatusOr<std::optional<bool>> MergeBool(const Json& body, const Json& inner,
                                              const char* name, std::string_view inner_name,
                                              std::string_view context) {
  VOUCH_ASSIGN_OR_RETURN(const std::optional<bool> top, OptionalBool(body, name, context, ""));
  VOUCH_ASSIGN_OR_RETURN(const std::optional<bool> nested,
                         OptionalBool(inner, name, context, fmt::format("{}.", inner_name)));
  if (top.has_value() && nested.has_value() && *top != *nested) {
    return InvalidArgumentf("{}: {} and {}.{} differ", context, name, inner_name, name);
  }
  return top.has_value() ? top : nested;
}

// IntegerIn reads an integer member and checks it against `accepted` before
// narrowing, because get<int>() turns 4294967552 (2^32 + 256) into 256.
std::optional<int> IntegerIn(const Json& value, std::initializer_list<int> accepted) {
  if (!value.is_number_integer()) {
    return std::nullopt;
  }
  for (const int candidate : accepted) {
    if (value.is_number_unsigned() ? value.get<uint64_t>() == static_cast<uint64_t>(candidate)
                                   : value.get<int64_t>() == candidate) {
      return candidate;
    }
  }
  return std::nullopt;
}

// ParseImportedKey decodes {"kty": "oct", "k": base64url} into a SecretBytes,
// wiping the intermediate buffer.
absl::StatusOr<SecretBytes> ParseImportedKey(const Json& jwk) {
  constexpr std::string_view kContext = "create key";
  if (!jwk.is_object()) {
    return InvalidArgumentf("create key: key must be a JWK object {{\"kty\": \"oct\", \"k\": ...}}");
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(jwk, {"kty", "k"}, kContext, "key"));
  if (policy::StringOr(jwk, "kty") != "oct") {
    return InvalidArgumentf("create key: key.kty must be \"oct\"");
  }
  const auto k = jwk.find("k");
  if (k == jwk.end() || !k->is_string()) {
    return InvalidArgumentf("create key: key.k must be a base64url string");
  }
  absl::StatusOr<Bytes> decoded = Base64UrlDecode(k->get_ref<const std::string&>());
  if (!decoded.ok()) {
    return InvalidArgumentf("create key: key.k is not valid base64url");
  }
  SecretBytes key(*decoded);
  SecureWipe(*decoded);
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return InvalidArgumentf("create key: key.k holds {} bytes, want 16, 24 or 32", key.size());
  }
  return key;
}

// ParsePolicy accepts Key Vault's envelope {"contentType", "data",
// "immutable"} or the policy object itself, and validates the policy.
absl::StatusOr<ReleasePolicyUpdate> ParsePolicy(const Json& value, std::string_view context) {
  if (!value.is_object()) {
    return InvalidArgumentf("{}: release_policy must be an object", context);
  }
  ReleasePolicyUpdate update;
  absl::StatusOr<policy::ReleasePolicy> parsed = InvalidArgumentf("{}: no policy", context);
  if (value.contains("data")) {
    VOUCH_RETURN_IF_ERROR(
        CheckMembers(value, {"contentType", "data", "immutable"}, context, "release_policy"));
    if (value.contains("contentType") && !value["contentType"].is_string()) {
      return InvalidArgumentf("{}: release_policy.contentType must be a string", context);
    }
    const std::string content_type = policy::StringOr(value, "contentType", "application/json");
    if (!content_type.starts_with("application/json")) {
      return InvalidArgumentf("{}: release_policy.contentType {}, want "
                              "\"application/json; charset=utf-8\"",
                              context, policy::DescribeJson(Json(content_type), 64));
    }
    if (!value["data"].is_string()) {
      return InvalidArgumentf("{}: release_policy.data must be a base64url string", context);
    }
    absl::StatusOr<Bytes> text = Base64UrlDecode(value["data"].get<std::string>());
    if (!text.ok()) {
      return InvalidArgumentf("{}: release_policy.data is not valid base64url", context);
    }
    parsed = policy::ReleasePolicy::Parse(ToString(*text));
    VOUCH_ASSIGN_OR_RETURN(const std::optional<bool> immutable,
                           OptionalBool(value, "immutable", context, "release_policy."));
    update.immutable = immutable.value_or(false);
  } else {
    parsed = policy::ReleasePolicy::FromJson(value);
  }
  if (!parsed.ok()) {
    return parsed.status();
  }
  update.policy_text = parsed->json().dump();
  return update;
}

// ParseTags checks Key Vault's tag limits and returns the tags as JSON text.
absl::StatusOr<std::string> ParseTags(const Json& tags, std::string_view context) {
  if (!tags.is_object()) {
    return InvalidArgumentf("{}: tags must be an object of strings", context);
  }
  if (tags.size() > kMaxTags) {
    return InvalidArgumentf("{}: {} tags, want at most {}", context, tags.size(), kMaxTags);
  }
  for (const auto& [name, value] : tags.items()) {
    if (name.empty() || name.size() > kMaxTagNameBytes) {
      return InvalidArgumentf("{}: tag name has {} bytes, want 1 to {}", context, name.size(),
                              kMaxTagNameBytes);
    }
    if (!value.is_string() || value.get_ref<const std::string&>().size() > kMaxTagValueBytes) {
      return InvalidArgumentf("{}: tag {} must be a string of at most {} bytes", context,
                              policy::DescribeJson(Json(name), 64), kMaxTagValueBytes);
    }
  }
  return tags.empty() ? std::string() : tags.dump();
}

// ParsePolicyMembers reads release_policy and the top-level immutable flag.
absl::StatusOr<std::optional<ReleasePolicyUpdate>> ParsePolicyMembers(const Json& body,
                                                                      std::string_view context) {
  VOUCH_ASSIGN_OR_RETURN(const std::optional<bool> immutable,
                         OptionalBool(body, "immutable", context, ""));
  if (!body.contains("release_policy")) {
    if (immutable.value_or(false)) {
      return InvalidArgumentf("{}: immutable is set but there is no release_policy", context);
    }
    return std::optional<ReleasePolicyUpdate>();
  }
  VOUCH_ASSIGN_OR_RETURN(ReleasePolicyUpdate update, ParsePolicy(body["release_policy"], context));
  if (immutable.has_value()) {
    update.immutable = update.immutable || *immutable;
  }
  return std::optional<ReleasePolicyUpdate>(std::move(update));
}

absl::StatusOr<keystore::KeySpec> ParseSpec(const Json& body, CreateKeyRequest& request) {
  constexpr std::string_view kContext = "create key";
  if (body.contains("kty") && !body["kty"].is_string()) {
    return InvalidArgumentf("create key: kty must be a string");
  }
  const std::string kty = policy::StringOr(body, "kty", "oct-HSM");
  const std::optional<std::string> stored = StoredKty(kty);
  if (!stored.has_value()) {
    return InvalidArgumentf("create key: kty {}, want \"oct-HSM\", \"RSA-HSM\" or \"EC-HSM\"",
                            policy::DescribeJson(Json(kty), 32));
  }
  request.kty = *stored;
  const auto key_size = body.find("key_size");
  const auto crv = body.find("crv");

  if (request.kty == "EC-HSM") {
    if (key_size != body.end()) {
      return InvalidArgumentf("create key: EC keys take crv, not key_size");
    }
    const std::string curve = crv == body.end() ? "P-256" : policy::StringOr(body, "crv");
    if (curve != "P-256" && curve != "P-384") {
      return InvalidArgumentf("{}: crv {}, want \"P-256\" or \"P-384\"", kContext,
                              policy::DescribeJson(*crv, 32));
    }
    request.curve = curve;
    return keystore::KeySpec::Ec(curve == "P-256" ? 256 : 384);
  }
  if (crv != body.end()) {
    return InvalidArgumentf("create key: crv applies to EC keys only");
  }
  if (request.kty == "RSA-HSM") {
    const std::optional<int> bits =
        key_size == body.end() ? 2048 : IntegerIn(*key_size, {2048, 3072, 4096});
    if (!bits.has_value()) {
      return InvalidArgumentf("create key: key_size {} for RSA, want 2048, 3072 or 4096",
                              policy::DescribeJson(*key_size, 32));
    }
    return keystore::KeySpec::Rsa(*bits);
  }
  const std::optional<int> bits =
      key_size == body.end() ? 256 : IntegerIn(*key_size, {128, 192, 256});
  if (!bits.has_value()) {
    return InvalidArgumentf("create key: key_size {}, want 128, 192 or 256",
                            policy::DescribeJson(*key_size, 32));
  }
  return keystore::KeySpec::Aes(*bits);
}

}  // namespace

std::optional<std::string> StoredKty(std::string_view kty) {
  if (kty == "oct-HSM" || kty == "oct") {
    return "oct-HSM";
  }
  if (kty == "RSA-HSM" || kty == "RSA") {
    return "RSA-HSM";
  }
  if (kty == "EC-HSM" || kty == "EC") {
    return "EC-HSM";
  }
  return std::nullopt;
}

absl::StatusOr<keystore::KeySpec> SpecForRecord(std::string_view kty, int key_size_bits) {
  keystore::KeySpec spec;
  if (kty == "oct-HSM") {
    spec = keystore::KeySpec::Aes(key_size_bits);
  } else if (kty == "RSA-HSM") {
    spec = keystore::KeySpec::Rsa(key_size_bits);
  } else if (kty == "EC-HSM") {
    spec = keystore::KeySpec::Ec(key_size_bits);
  } else {
    return InvalidArgumentf("stored key type {} is unknown", kty);
  }
  VOUCH_RETURN_IF_ERROR(keystore::ValidateKeySpec(spec));
  return spec;
}

absl::StatusOr<CreateKeyRequest> ParseCreateKeyRequest(const Json& request_body) {
  constexpr std::string_view kContext = "create key";
  // A null body selects the defaults, a 256-bit AES key.
  const Json& body = request_body.is_null() ? kEmptyObject : request_body;
  if (!body.is_object()) {
    return InvalidArgumentf("create key: want a JSON object");
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(body,
                                     {"kty", "key_size", "crv", "key", "attributes", "exportable",
                                      "release_policy", "immutable", "tags"},
                                     kContext, "request"));
  CreateKeyRequest request;
  VOUCH_ASSIGN_OR_RETURN(request.spec, ParseSpec(body, request));

  if (body.contains("key")) {
    if (request.kty != "oct-HSM") {
      return InvalidArgumentf("create key: only oct keys can be imported");
    }
    VOUCH_ASSIGN_OR_RETURN(request.imported_key, ParseImportedKey(body["key"]));
    const int imported_bits = static_cast<int>(request.imported_key->size() * 8);
    if (body.contains("key_size") && imported_bits != request.spec.size_bits) {
      return InvalidArgumentf("create key: key_size {} but the imported key has {} bits",
                              request.spec.size_bits, imported_bits);
    }
    request.spec.size_bits = imported_bits;
  }

  const Json attributes = body.value("attributes", Json::object());
  if (!attributes.is_object()) {
    return InvalidArgumentf("create key: attributes must be an object");
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(attributes, {"exportable", "enabled"}, kContext, "attributes"));
  VOUCH_ASSIGN_OR_RETURN(const std::optional<bool> exportable,
                         MergeBool(body, attributes, "exportable", "attributes", kContext));
  request.exportable = exportable.value_or(false);
  VOUCH_ASSIGN_OR_RETURN(const std::optional<bool> enabled,
                         OptionalBool(attributes, "enabled", kContext, "attributes."));
  request.enabled = enabled.value_or(true);

  VOUCH_ASSIGN_OR_RETURN(request.policy, ParsePolicyMembers(body, kContext));
  if (body.contains("tags")) {
    VOUCH_ASSIGN_OR_RETURN(request.tags_json, ParseTags(body["tags"], kContext));
  }
  if (request.exportable && !request.policy.has_value()) {
    return InvalidArgumentf("create key: an exportable key needs a release_policy");
  }
  return request;
}

absl::StatusOr<RotateKeyRequest> ParseRotateKeyRequest(const Json& body) {
  constexpr std::string_view kContext = "rotate key";
  RotateKeyRequest request;
  if (body.is_null()) {
    return request;
  }
  if (!body.is_object()) {
    return InvalidArgumentf("rotate key: want a JSON object");
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(
      body, {"attributes", "exportable", "release_policy", "immutable", "tags"}, kContext,
      "request"));
  const Json attributes = body.value("attributes", Json::object());
  if (!attributes.is_object()) {
    return InvalidArgumentf("rotate key: attributes must be an object");
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(attributes, {"exportable", "enabled"}, kContext, "attributes"));
  VOUCH_ASSIGN_OR_RETURN(request.exportable,
                         MergeBool(body, attributes, "exportable", "attributes", kContext));
  VOUCH_ASSIGN_OR_RETURN(request.enabled,
                         OptionalBool(attributes, "enabled", kContext, "attributes."));
  VOUCH_ASSIGN_OR_RETURN(request.policy, ParsePolicyMembers(body, kContext));
  if (body.contains("tags")) {
    VOUCH_ASSIGN_OR_RETURN(request.tags_json, ParseTags(body["tags"], kContext));
  }
  return request;
}

absl::StatusOr<ReleasePolicyUpdate> ParseReleasePolicyBody(const Json& body) {
  return ParsePolicy(body, "set release policy");
}

}  // namespace vouch::broker
