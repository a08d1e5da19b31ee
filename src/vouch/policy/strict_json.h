// Strict JSON parsing for security decisions (release policies, token claims).
//
// nlohmann::json keeps the last of two members with the same name, so
// {"claim": "a", "equals": 1, "equals": 2} would silently mean "equals 2".
// A reader of such a document cannot tell which value wins, so these
// helpers reject duplicate member names, invalid UTF-8, trailing data,
// documents larger than a size limit and nesting deeper than a depth limit.
#ifndef VOUCH_POLICY_STRICT_JSON_H_
#define VOUCH_POLICY_STRICT_JSON_H_

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vouch::policy {

struct JsonLimits {
  size_t max_bytes = 256 * 1024;
  // Depth counts every open object or array: {"a": [1]} has depth 2.
  int max_depth = 32;
};

// ParseStrictJson parses `text` as one JSON value, with nothing but
// whitespace after it (a NUL byte included). On failure it returns
// InvalidArgument with a message starting with `what` ("release policy",
// "token payload") that names the problem: size, depth, syntax (with the
// byte offset, counted from 1 as nlohmann counts it) or the duplicated
// member name.
absl::StatusOr<nlohmann::json> ParseStrictJson(std::string_view text, std::string_view what,
                                               const JsonLimits& limits = {});

// DescribeJson renders `value` compactly for an error message, cut to
// `max_chars` with "..." appended. Use it only for values that are not secret.
std::string DescribeJson(const nlohmann::json& value, size_t max_chars = 96);

// StringOr returns the string member `name` of `object`, or `fallback` when
// `object` is not an object, lacks the member, or the member is not a
// string. Where nlohmann's value() throws on a type mismatch, it returns
// `fallback`.
std::string StringOr(const nlohmann::json& object, const std::string& name,
                     std::string_view fallback = "");

// JsonTypeName returns "string", "number", "boolean", "object", "array" or "null".
std::string_view JsonTypeName(const nlohmann::json& value);

}  // namespace vouch::policy

#endif  // VOUCH_POLICY_STRICT_JSON_H_
