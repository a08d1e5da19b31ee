#include "vouch/policy/strict_json.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "vouch/base/status.h"

namespace vouch::policy {
namespace {

// MaxNestingDepth scans the raw text (outside of strings) for the deepest
// nesting of objects and arrays. Checking the depth before parsing keeps
// the parser and the destructor of the parsed value away from deep input.
int MaxNestingDepth(std::string_view text) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

// ErrorOffsetSax is a SAX handler that accepts every event and records where
// the syntax error is, so the message can name the byte offset without the
// parser throwing.
struct ErrorOffsetSax {
  size_t offset = 0;

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(nlohmann::json::number_integer_t) { return true; }
  bool number_unsigned(nlohmann::json::number_unsigned_t) { return true; }
  bool number_float(nlohmann::json::number_float_t, const std::string&) { return true; }
  bool string(std::string&) { return true; }
  bool binary(nlohmann::json::binary_t&) { return true; }
  bool start_object(size_t) { return true; }
  bool key(std::string&) { return true; }
  bool end_object() { return true; }
  bool start_array(size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(size_t position, const std::string&, const nlohmann::json::exception&) {
    offset = position;
    return false;
  }
};

size_t SyntaxErrorOffset(std::string_view text) {
  ErrorOffsetSax sax;
  nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  return sax.offset;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseStrictJson(std::string_view text, std::string_view what,
                                               const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return InvalidArgumentf("{}: {} bytes, limit {}", what, text.size(), limits.max_bytes);
  }
  const int depth = MaxNestingDepth(text);
  if (depth > limits.max_depth) {
    return InvalidArgumentf("{}: nesting depth {}, limit {}", what, depth, limits.max_depth);
  }

  // The parser callback receives every member name. It keeps one set of names
  // per open object.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  const nlohmann::json::parser_callback_t callback =
      [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) {
          open_objects.emplace_back();
        } else if (event == Event::object_end && !open_objects.empty()) {
          open_objects.pop_back();
        } else if (event == Event::key && !open_objects.empty() && duplicate.empty()) {
          const std::string& name = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(name).second) {
            duplicate = name;
          }
        }
        return true;
      };

  nlohmann::json value =
      nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return InvalidArgumentf("{}: invalid JSON at byte {}", what, SyntaxErrorOffset(text));
  }
  // nlohmann's lexer reads a NUL byte as the end of input, so "{}\0junk"
  // parses as "{}". A NUL inside a string fails above (it must be escaped),
  // so any NUL left here comes after the value.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return InvalidArgumentf("{}: invalid JSON at byte {}: NUL byte after the value", what,
                            nul + 1);
  }
  if (!duplicate.empty()) {
    return InvalidArgumentf("{}: duplicate member \"{}\"", what, duplicate);
  }
  return value;
}

std::string DescribeJson(const nlohmann::json& value, size_t max_chars) {
  std::string text =
      value.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/true,
                 nlohmann::json::error_handler_t::replace);
  if (text.size() > max_chars) {
    text.resize(max_chars);
    text += "...";
  }
  return text;
}

std::string StringOr(const nlohmann::json& object, const std::string& name,
                     std::string_view fallback) {
  if (!object.is_object()) {
    return std::string(fallback);
  }
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return std::string(fallback);
  }
  return it->get<std::string>();
}

std::string_view JsonTypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string:
      return "string";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "number";
    case nlohmann::json::value_t::boolean:
      return "boolean";
    case nlohmann::json::value_t::object:
      return "object";
    case nlohmann::json::value_t::array:
      return "array";
    default:
      return "null";
  }
}

}  // namespace vouch::policy
