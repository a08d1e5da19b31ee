#include "vouch/policy/release_policy.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "absl/strings/match.h"
#include "vouch/base/status.h"
#include "vouch/policy/strict_json.h"

namespace vouch::policy {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kPolicyVersion = "1.0.0";

constexpr std::array<std::pair<std::string_view, Operator>, 7> kOperators = {{
    {"equals", Operator::kEquals},
    {"notEquals", Operator::kNotEquals},
    {"less", Operator::kLess},
    {"lessOrEquals", Operator::kLessOrEquals},
    {"greater", Operator::kGreater},
    {"greaterOrEquals", Operator::kGreaterOrEquals},
    {"exists", Operator::kExists},
}};

std::string OperatorList() {
  std::string names;
  for (const auto& [name, op] : kOperators) {
    if (!names.empty()) {
      names += ", ";
    }
    names += name;
  }
  return names;
}

// IsPlainToken is true for non-empty printable ASCII without spaces, which
// covers issuer URLs and Azure claim names and keeps messages unambiguous.
bool IsPlainToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    if (c < 0x21 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AbslView(a), AbslView(b));
}

// CheckMembers rejects members of `object` outside `allowed`. A member that
// differs from an allowed one only in letter case gets a hint, because the
// published grammar writes "anyof" while its examples write "anyOf".
absl::Status CheckMembers(const Json& object, std::initializer_list<std::string_view> allowed,
                          std::string_view location) {
  for (const auto& [name, value] : object.items()) {
    bool known = false;
    std::string_view hint;
    for (const std::string_view candidate : allowed) {
      if (name == candidate) {
        known = true;
      } else if (EqualsIgnoringCase(name, candidate)) {
        hint = candidate;
      }
    }
    if (known) {
      continue;
    }
    if (!hint.empty()) {
      return InvalidArgumentf(
          "release policy: {}: unknown member \"{}\" (member names are case-sensitive, "
          "use \"{}\")",
          location, name, hint);
    }
    return InvalidArgumentf("release policy: {}: unknown member {}", location,
                            DescribeJson(Json(name), 64));
  }
  return absl::OkStatus();
}

// CompareNumbers returns -1, 0 or 1, or nullopt when either value is not a
// number or is NaN. Integers compare exactly, and a float on either side
// makes the comparison use doubles.
std::optional<int> CompareNumbers(const Json& a, const Json& b) {
  if (!a.is_number() || !b.is_number()) {
    return std::nullopt;
  }
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool a_negative = a.is_number_unsigned() ? false : a.get<int64_t>() < 0;
    const bool b_negative = b.is_number_unsigned() ? false : b.get<int64_t>() < 0;
    if (a_negative != b_negative) {
      return a_negative ? -1 : 1;
    }
    if (a_negative) {
      const int64_t x = a.get<int64_t>();
      const int64_t y = b.get<int64_t>();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const uint64_t x = a.get<uint64_t>();
    const uint64_t y = b.get<uint64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const double x = a.get<double>();
  const double y = b.get<double>();
  if (std::isnan(x) || std::isnan(y)) {
    return std::nullopt;
  }
  return x < y ? -1 : (x > y ? 1 : 0);
}

// SameKind is true when both values are strings, both booleans or both numbers.
bool SameKind(const Json& a, const Json& b) {
  return (a.is_string() && b.is_string()) || (a.is_boolean() && b.is_boolean()) ||
         (a.is_number() && b.is_number());
}

bool TypedEquals(const Json& found, const Json& expected) {
  if (found.is_string() && expected.is_string()) {
    return found.get_ref<const std::string&>() == expected.get_ref<const std::string&>();
  }
  if (found.is_boolean() && expected.is_boolean()) {
    return found.get<bool>() == expected.get<bool>();
  }
  const std::optional<int> order = CompareNumbers(found, expected);
  return order.has_value() && *order == 0;
}

std::string WithArticle(std::string_view type_name) {
  const bool vowel = !type_name.empty() && std::string_view("aeiou").find(type_name[0]) !=
                                                 std::string_view::npos;
  return std::string(vowel ? "an " : "a ") + std::string(type_name);
}

}  // namespace

std::string_view OperatorName(Operator op) {
  for (const auto& [name, candidate] : kOperators) {
    if (candidate == op) {
      return name;
    }
  }
  return "unknown";
}

std::string_view NormalizeAuthority(std::string_view authority) {
  while (!authority.empty() && authority.back() == '/') {
    authority.remove_suffix(1);
  }
  return authority;
}

const nlohmann::json* LookupClaim(const nlohmann::json& claims,
                                  const std::vector<std::string>& path) {
  const Json* current = &claims;
  for (const std::string& segment : path) {
    if (!current->is_object()) {
      return nullptr;
    }
    const auto it = current->find(segment);
    if (it == current->end()) {
      return nullptr;
    }
    current = &*it;
  }
  return current;
}

// Parser walks the policy document once, checking the grammar and the limits
// and building the condition tree. Locations in messages use the JSON shape:
// "anyOf[1].allOf[0]".
class ReleasePolicy::Parser {
 public:
  explicit Parser(const PolicyLimits& limits) : limits_(limits) {}

  absl::StatusOr<std::vector<AuthorityStatement>> ParsePolicy(const Json& document) {
    if (!document.is_object()) {
      return InvalidArgumentf("release policy: the document is {}, want an object",
                              WithArticle(JsonTypeName(document)));
    }
    VOUCH_RETURN_IF_ERROR(CheckMembers(document, {"version", "anyOf"}, "top level"));
    VOUCH_RETURN_IF_ERROR(CheckVersion(document));

    const auto any_of = document.find("anyOf");
    if (any_of == document.end()) {
      return InvalidArgumentf("release policy: missing \"anyOf\" (the list of authorities)");
    }
    if (!any_of->is_array() || any_of->empty()) {
      return InvalidArgumentf("release policy: \"anyOf\" must be a non-empty array of "
                              "authority statements");
    }
    if (any_of->size() > limits_.max_authorities) {
      return InvalidArgumentf("release policy: {} authority statements, limit {}",
                              any_of->size(), limits_.max_authorities);
    }

    std::vector<AuthorityStatement> statements;
    for (size_t i = 0; i < any_of->size(); ++i) {
      VOUCH_ASSIGN_OR_RETURN(AuthorityStatement statement,
                             ParseAuthority((*any_of)[i], fmt::format("anyOf[{}]", i)));
      statements.push_back(std::move(statement));
    }
    if (num_claim_conditions_ == 0) {
      return InvalidArgumentf("release policy: the policy names no claim");
    }
    return statements;
  }

 private:
  absl::Status CheckVersion(const Json& document) const {
    const auto version = document.find("version");
    if (version == document.end()) {
      return InvalidArgumentf("release policy: missing \"version\", want \"{}\"", kPolicyVersion);
    }
    if (!version->is_string() || version->get_ref<const std::string&>() != kPolicyVersion) {
      return InvalidArgumentf("release policy: version {} is not supported, want \"{}\"",
                              DescribeJson(*version, 32), kPolicyVersion);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<AuthorityStatement> ParseAuthority(const Json& value,
                                                    const std::string& location) {
    if (!value.is_object()) {
      return InvalidArgumentf("release policy: {}: an authority statement must be an object",
                              location);
    }
    VOUCH_RETURN_IF_ERROR(CheckMembers(value, {"authority", "allOf", "anyOf"}, location));

    AuthorityStatement statement;
    const auto authority = value.find("authority");
    if (authority == value.end()) {
      return InvalidArgumentf("release policy: {}: missing \"authority\"", location);
    }
    VOUCH_RETURN_IF_ERROR(CheckPlainString(*authority, location + ".authority"));
    statement.authority = authority->get<std::string>();

    const bool has_all_of = value.contains("allOf");
    const bool has_any_of = value.contains("anyOf");
    if (has_all_of == has_any_of) {
      return InvalidArgumentf("release policy: {}: want exactly one of \"allOf\" or \"anyOf\"",
                              location);
    }
    const Condition::Kind kind = has_all_of ? Condition::Kind::kAllOf : Condition::Kind::kAnyOf;
    const char* member = has_all_of ? "allOf" : "anyOf";
    VOUCH_ASSIGN_OR_RETURN(statement.condition,
                           ParseGroup(kind, value.at(member), location + "." + member, 1));
    return statement;
  }

  absl::StatusOr<Condition> ParseGroup(Condition::Kind kind, const Json& value,
                                       const std::string& location, int depth) {
    if (depth > limits_.max_condition_depth) {
      return InvalidArgumentf("release policy: {}: conditions nested {} levels deep, limit {}",
                              location, depth, limits_.max_condition_depth);
    }
    if (!value.is_array() || value.empty()) {
      return InvalidArgumentf("release policy: {}: must be a non-empty array of conditions",
                              location);
    }
    Condition group;
    group.kind = kind;
    for (size_t i = 0; i < value.size(); ++i) {
      VOUCH_ASSIGN_OR_RETURN(
          Condition child, ParseCondition(value[i], fmt::format("{}[{}]", location, i), depth));
      group.children.push_back(std::move(child));
    }
    return group;
  }

  absl::StatusOr<Condition> ParseCondition(const Json& value, const std::string& location,
                                           int depth) {
    if (!value.is_object()) {
      return InvalidArgumentf("release policy: {}: a condition must be an object", location);
    }
    if (value.contains("claim")) {
      return ParseClaimCondition(value, location);
    }
    const bool has_all_of = value.contains("allOf");
    const bool has_any_of = value.contains("anyOf");
    if (!has_all_of && !has_any_of) {
      return InvalidArgumentf("release policy: {}: a condition needs \"claim\", \"allOf\" or "
                              "\"anyOf\"",
                              location);
    }
    if (has_all_of && has_any_of) {
      return InvalidArgumentf("release policy: {}: want exactly one of \"allOf\" or \"anyOf\"",
                              location);
    }
    const char* member = has_all_of ? "allOf" : "anyOf";
    VOUCH_RETURN_IF_ERROR(CheckMembers(value, {member}, location));
    const Condition::Kind kind = has_all_of ? Condition::Kind::kAllOf : Condition::Kind::kAnyOf;
    return ParseGroup(kind, value.at(member), location + "." + member, depth + 1);
  }

  absl::StatusOr<Condition> ParseClaimCondition(const Json& value, const std::string& location) {
    VOUCH_RETURN_IF_ERROR(CheckMembers(value,
                                       {"claim", "equals", "notEquals", "less", "lessOrEquals",
                                        "greater", "greaterOrEquals", "exists"},
                                       location));
    Condition condition;
    condition.kind = Condition::Kind::kClaim;
    VOUCH_ASSIGN_OR_RETURN(condition.path, ParseClaimPath(value.at("claim"), location));
    condition.claim = value.at("claim").get<std::string>();

    std::vector<std::string_view> operators;
    for (const auto& [name, op] : kOperators) {
      if (value.contains(name)) {
        operators.push_back(name);
        condition.op = op;
      }
    }
    if (operators.empty()) {
      return InvalidArgumentf("release policy: {}: claim {} has no operator, want one of {}",
                              location, condition.claim, OperatorList());
    }
    if (operators.size() > 1) {
      return InvalidArgumentf("release policy: {}: claim {} has {} operators ({}), want one",
                              location, condition.claim, operators.size(),
                              fmt::join(operators, ", "));
    }
    condition.value = value.at(std::string(operators[0]));
    VOUCH_RETURN_IF_ERROR(CheckOperand(condition, location));

    if (++num_claim_conditions_ > limits_.max_conditions) {
      return InvalidArgumentf("release policy: more than {} claim conditions",
                              limits_.max_conditions);
    }
    return condition;
  }

  absl::StatusOr<std::vector<std::string>> ParseClaimPath(const Json& claim,
                                                          const std::string& location) const {
    VOUCH_RETURN_IF_ERROR(CheckPlainString(claim, location + ".claim"));
    const std::string& text = claim.get_ref<const std::string&>();
    std::vector<std::string> path;
    size_t start = 0;
    while (true) {
      const size_t dot = text.find('.', start);
      const std::string_view segment =
          std::string_view(text).substr(start, dot == std::string::npos ? dot : dot - start);
      if (segment.empty()) {
        return InvalidArgumentf("release policy: {}: claim \"{}\" has an empty path segment",
                                location, text);
      }
      path.emplace_back(segment);
      if (dot == std::string::npos) {
        return path;
      }
      start = dot + 1;
    }
  }

  absl::Status CheckOperand(const Condition& condition, const std::string& location) const {
    const Json& value = condition.value;
    const std::string_view op = OperatorName(condition.op);
    switch (condition.op) {
      case Operator::kEquals:
      case Operator::kNotEquals:
        if (value.is_string()) {
          return CheckStringSize(value, location + "." + std::string(op));
        }
        if (value.is_boolean() || value.is_number()) {
          return absl::OkStatus();
        }
        return InvalidArgumentf("release policy: {}: {} takes a string, number or boolean, "
                                "found {}",
                                location, op, WithArticle(JsonTypeName(value)));
      case Operator::kLess:
      case Operator::kLessOrEquals:
      case Operator::kGreater:
      case Operator::kGreaterOrEquals:
        if (value.is_number()) {
          return absl::OkStatus();
        }
        return InvalidArgumentf("release policy: {}: {} takes a number, found {}", location, op,
                                WithArticle(JsonTypeName(value)));
      case Operator::kExists:
        if (value.is_boolean()) {
          return absl::OkStatus();
        }
        return InvalidArgumentf("release policy: {}: exists takes true or false, found {}",
                                location, WithArticle(JsonTypeName(value)));
    }
    return Internalf("release policy: {}: unhandled operator", location);
  }

  absl::Status CheckPlainString(const Json& value, const std::string& location) const {
    if (!value.is_string()) {
      return InvalidArgumentf("release policy: {}: want a string, found {}", location,
                              WithArticle(JsonTypeName(value)));
    }
    VOUCH_RETURN_IF_ERROR(CheckStringSize(value, location));
    if (!IsPlainToken(value.get_ref<const std::string&>())) {
      return InvalidArgumentf("release policy: {}: {} must be non-empty printable ASCII "
                              "without spaces",
                              location, DescribeJson(value, 64));
    }
    return absl::OkStatus();
  }

  absl::Status CheckStringSize(const Json& value, const std::string& location) const {
    const size_t size = value.get_ref<const std::string&>().size();
    if (size > limits_.max_string_bytes) {
      return InvalidArgumentf("release policy: {}: string of {} bytes, limit {}", location, size,
                              limits_.max_string_bytes);
    }
    return absl::OkStatus();
  }

  const PolicyLimits& limits_;
  size_t num_claim_conditions_ = 0;
};

absl::StatusOr<ReleasePolicy> ReleasePolicy::Parse(std::string_view json_text,
                                                   const PolicyLimits& limits) {
  // A policy at the condition depth limit nests 2 * limit + 3 JSON levels (two
  // per condition level, plus the policy, its anyOf and the authority
  // statement). Two more levels let the grammar check name the deeper level.
  const JsonLimits json_limits{.max_bytes = limits.max_bytes,
                               .max_depth = 2 * limits.max_condition_depth + 5};
  VOUCH_ASSIGN_OR_RETURN(const Json document,
                         ParseStrictJson(json_text, "release policy", json_limits));
  return FromJson(document, limits);
}

absl::StatusOr<ReleasePolicy> ReleasePolicy::FromJson(const nlohmann::json& document,
                                                      const PolicyLimits& limits) {
  Parser parser(limits);
  VOUCH_ASSIGN_OR_RETURN(std::vector<AuthorityStatement> statements,
                         parser.ParsePolicy(document));
  ReleasePolicy policy;
  policy.document_ = document;
  policy.statements_ = std::move(statements);
  return policy;
}

absl::Status ReleasePolicy::Evaluate(const nlohmann::json& claims,
                                     std::string_view token_issuer) const {
  if (!claims.is_object()) {
    return InvalidArgumentf("release policy: claims are {}, want an object",
                            WithArticle(JsonTypeName(claims)));
  }
  const std::string_view issuer = NormalizeAuthority(token_issuer);
  std::optional<absl::Status> first_failure;
  for (const AuthorityStatement& statement : statements_) {
    if (issuer.empty() || NormalizeAuthority(statement.authority) != issuer) {
      continue;
    }
    absl::Status status = EvaluateCondition(statement.condition, claims);
    if (status.ok()) {
      return status;
    }
    if (!first_failure.has_value()) {
      first_failure = std::move(status);
    }
  }

  if (first_failure.has_value()) {
    return PermissionDeniedf("release policy: {}", first_failure->message());
  }
  return PermissionDeniedf("release policy: token issuer {} matches no authority of the "
                           "policy ({})",
                           DescribeJson(Json(std::string(issuer)), 128), AuthoritySummary());
}

absl::Status ReleasePolicy::EvaluateCondition(const Condition& condition,
                                              const nlohmann::json& claims) {
  if (condition.kind == Condition::Kind::kClaim) {
    return EvaluateClaim(condition, claims);
  }
  if (condition.kind == Condition::Kind::kAllOf) {
    for (const Condition& child : condition.children) {
      VOUCH_RETURN_IF_ERROR(EvaluateCondition(child, claims));
    }
    return absl::OkStatus();
  }

  std::optional<absl::Status> first_failure;
  for (const Condition& child : condition.children) {
    absl::Status status = EvaluateCondition(child, claims);
    if (status.ok()) {
      return status;
    }
    if (!first_failure.has_value()) {
      first_failure = std::move(status);
    }
  }
  return absl::PermissionDeniedError(fmt::format("no anyOf condition matched ({} tried), first: {}",
                                                 condition.children.size(),
                                                 first_failure->message()));
}

absl::Status ReleasePolicy::EvaluateClaim(const Condition& condition,
                                          const nlohmann::json& claims) {
  const Json* found = LookupClaim(claims, condition.path);
  const Json& expected = condition.value;
  const auto fail = [&](std::string_view found_text) {
    return absl::PermissionDeniedError(fmt::format("claim {} {} {} failed: found {}",
                                                   condition.claim, OperatorName(condition.op),
                                                   DescribeJson(expected), found_text));
  };

  if (condition.op == Operator::kExists) {
    if ((found != nullptr) == expected.get<bool>()) {
      return absl::OkStatus();
    }
    return fail(found == nullptr ? "no such claim" : DescribeJson(*found));
  }
  if (found == nullptr) {
    return fail("no such claim");
  }
  if (!SameKind(*found, expected)) {
    return fail(fmt::format("{}, {}, want {}", DescribeJson(*found),
                            WithArticle(JsonTypeName(*found)),
                            WithArticle(JsonTypeName(expected))));
  }

  bool satisfied = false;
  switch (condition.op) {
    case Operator::kEquals:
      satisfied = TypedEquals(*found, expected);
      break;
    case Operator::kNotEquals:
      satisfied = !TypedEquals(*found, expected);
      break;
    case Operator::kLess:
    case Operator::kLessOrEquals:
    case Operator::kGreater:
    case Operator::kGreaterOrEquals: {
      const std::optional<int> order = CompareNumbers(*found, expected);
      satisfied = order.has_value() &&
                  ((condition.op == Operator::kLess && *order < 0) ||
                   (condition.op == Operator::kLessOrEquals && *order <= 0) ||
                   (condition.op == Operator::kGreater && *order > 0) ||
                   (condition.op == Operator::kGreaterOrEquals && *order >= 0));
      break;
    }
    case Operator::kExists:
      break;
  }
  if (satisfied) {
    return absl::OkStatus();
  }
  return fail(DescribeJson(*found));
}

bool ReleasePolicy::ConditionNamesClaim(const Condition& condition, std::string_view claim_path) {
  if (condition.kind == Condition::Kind::kClaim) {
    return condition.claim == claim_path;
  }
  for (const Condition& child : condition.children) {
    if (ConditionNamesClaim(child, claim_path)) {
      return true;
    }
  }
  return false;
}

bool ReleasePolicy::NamesClaim(std::string_view claim_path) const {
  for (const AuthorityStatement& statement : statements_) {
    if (ConditionNamesClaim(statement.condition, claim_path)) {
      return true;
    }
  }
  return false;
}

std::string ReleasePolicy::AuthoritySummary() const {
  constexpr size_t kMaxListed = 4;
  std::vector<std::string> listed = Authorities();
  const size_t total = listed.size();
  if (total > kMaxListed) {
    listed.resize(kMaxListed);
    listed.push_back(fmt::format("and {} more", total - kMaxListed));
  }
  return fmt::format("{}", fmt::join(listed, ", "));
}

std::vector<std::string> ReleasePolicy::Authorities() const {
  std::vector<std::string> authorities;
  authorities.reserve(statements_.size());
  for (const AuthorityStatement& statement : statements_) {
    authorities.push_back(statement.authority);
  }
  return authorities;
}

}  // namespace vouch::policy
