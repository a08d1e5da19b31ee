// Parser of the attestation policy language. The grammar, in the order the
// functions below read it:
//
//   policy      = "version" "=" NUMBER ";" section*          (1.0, 1.1 or 1.2)
//   section     = NAME "{" rule* "}" ";"                      configurationrules
//                                                             (1.1+), authorizationrules
//                                                             (required), issuancerules
//   rule        = [condition ("&&" condition)*] "=>" action ";"
//   condition   = ["!"] [IDENT ":"] "[" test ("," test)* "]"  ("!" needs 1.2)
//   test        = ("type" | "value" | "issuer") OP expression
//   expression  = STRING | NUMBER | "true" | "false" | IDENT "." PROPERTY
//               | IDENT "(" [expression ("," expression)*] ")"   (calls need 1.2)
//   action      = ("permit" | "deny") "(" ")"
//               | ("add" | "issue" | "issueproperty") "(" arguments ")"
//   arguments   = "claim" "=" IDENT | "type" "=" STRING "," "value" "=" expression
#include "vouch/policy/attestation_policy.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/policy/attestation_policy_lexer.h"

namespace vouch::policy {

using internal::PolicyError;
using internal::Token;
using internal::TokenKind;
using internal::TokenKindName;

namespace {

constexpr size_t kMaxRuleTextChars = 240;

bool IsComparison(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEqual:
    case TokenKind::kNotEqual:
    case TokenKind::kLess:
    case TokenKind::kLessOrEqual:
    case TokenKind::kGreater:
    case TokenKind::kGreaterOrEqual:
      return true;
    default:
      return false;
  }
}

CompareOp ToCompareOp(TokenKind kind) {
  switch (kind) {
    case TokenKind::kNotEqual: return CompareOp::kNotEqual;
    case TokenKind::kLess: return CompareOp::kLess;
    case TokenKind::kLessOrEqual: return CompareOp::kLessOrEqual;
    case TokenKind::kGreater: return CompareOp::kGreater;
    case TokenKind::kGreaterOrEqual: return CompareOp::kGreaterOrEqual;
    default: return CompareOp::kEqual;
  }
}

bool IsClaimProperty(std::string_view name) {
  return name == "type" || name == "value" || name == "issuer";
}

// CollapseWhitespace turns a rule's source into one line for messages.
std::string CollapseWhitespace(std::string_view text) {
  std::string out;
  bool space = false;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out.push_back(' ');
      space = false;
    }
    out.push_back(c);
  }
  if (out.size() > kMaxRuleTextChars) {
    out.resize(kMaxRuleTextChars);
    out += "...";
  }
  return out;
}

// VersionAtLeast compares "1.2" style versions that Parse already checked.
bool VersionAtLeast(const std::string& version, std::string_view minimum) {
  return version >= minimum;
}

}  // namespace

// AttestationPolicyParser reads tokens into an AttestationPolicy. Each
// method consumes exactly the construct it is named after.
class AttestationPolicyParser {
 public:
  AttestationPolicyParser(std::string_view text, std::vector<Token> tokens,
                          const AttestationPolicyLimits& limits)
      : text_(text), tokens_(std::move(tokens)) {
    policy_.limits_ = limits;
  }

  absl::StatusOr<AttestationPolicy> Run() {
    VOUCH_RETURN_IF_ERROR(ParseVersion());
    VOUCH_RETURN_IF_ERROR(ParseSections());
    return std::move(policy_);
  }

 private:
  const Token& Current() const { return tokens_[next_]; }
  const Token& Take() {
    const Token& token = tokens_[next_];
    if (token.kind != TokenKind::kEnd) {
      ++next_;
    }
    return token;
  }
  bool At(TokenKind kind) const { return Current().kind == kind; }
  bool AtIdentifier(std::string_view name) const {
    return At(TokenKind::kIdentifier) && Current().text == name;
  }
  const Token& Peek(size_t ahead) const {
    return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];
  }

  std::string Describe(const Token& token) const {
    switch (token.kind) {
      case TokenKind::kIdentifier: return fmt::format("'{}'", token.text);
      case TokenKind::kNumber: return fmt::format("number {}", token.text);
      case TokenKind::kString: return "a string literal";
      default: return std::string(TokenKindName(token.kind));
    }
  }

  absl::Status Unexpected(std::string_view want) const {
    return PolicyError(Current().position, "expected {}, found {}", want, Describe(Current()));
  }

  absl::Status Expect(TokenKind kind, std::string_view context) {
    if (!At(kind)) {
      return PolicyError(Current().position, "expected {} {}, found {}", TokenKindName(kind),
                         context, Describe(Current()));
    }
    Take();
    return absl::OkStatus();
  }

  absl::Status ParseVersion() {
    if (!AtIdentifier("version")) {
      return PolicyError(Current().position,
                         "a policy starts with 'version=1.0;' (or 1.1, 1.2), found {}",
                         Describe(Current()));
    }
    Take();
    VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kAssign, "after 'version'"));
    if (!At(TokenKind::kNumber)) {
      return Unexpected("a version number such as 1.0");
    }
    const Token& number = Take();
    if (number.text != "1.0" && number.text != "1.1" && number.text != "1.2") {
      return PolicyError(number.position, "unsupported version {}, want 1.0, 1.1 or 1.2",
                         number.text);
    }
    policy_.version_ = number.text;
    return Expect(TokenKind::kSemicolon, "after the version");
  }

  absl::Status ParseSections() {
    int last_order = -1;
    bool has_authorization = false;
    while (!At(TokenKind::kEnd)) {
      if (!At(TokenKind::kIdentifier)) {
        return Unexpected("a section name (authorizationrules, issuancerules)");
      }
      const Token& name = Take();
      PolicySection section;
      int order;
      if (name.text == "configurationrules") {
        section = PolicySection::kConfiguration;
        order = 0;
        if (!VersionAtLeast(policy_.version_, "1.1")) {
          return PolicyError(name.position, "configurationrules needs version=1.1 or later");
        }
      } else if (name.text == "authorizationrules") {
        section = PolicySection::kAuthorization;
        order = 1;
        has_authorization = true;
      } else if (name.text == "issuancerules") {
        section = PolicySection::kIssuance;
        order = 2;
      } else {
        return PolicyError(name.position,
                           "unknown section '{}', want configurationrules, authorizationrules or "
                           "issuancerules",
                           name.text);
      }
      if (order == last_order) {
        return PolicyError(name.position, "section {} appears twice", name.text);
      }
      if (order < last_order) {
        return PolicyError(name.position,
                           "section {} is out of order: configurationrules, authorizationrules, "
                           "issuancerules",
                           name.text);
      }
      last_order = order;
      VOUCH_RETURN_IF_ERROR(ParseSection(section));
    }
    if (!has_authorization) {
      return PolicyError(Current().position, "the policy has no authorizationrules section");
    }
    return absl::OkStatus();
  }

  absl::Status ParseSection(PolicySection section) {
    VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kLeftBrace, "after the section name"));
    size_t index = 0;
    while (!At(TokenKind::kRightBrace)) {
      if (At(TokenKind::kEnd)) {
        return PolicyError(Current().position, "section {} is not closed with '}}'",
                           SectionName(section));
      }
      if (policy_.rules_.size() >= policy_.limits_.max_rules) {
        return PolicyError(Current().position, "more than {} rules", policy_.limits_.max_rules);
      }
      VOUCH_ASSIGN_OR_RETURN(Rule rule, ParseRule(section, ++index));
      policy_.rules_.push_back(std::move(rule));
    }
    Take();
    return Expect(TokenKind::kSemicolon, "after '}' of a section");
  }

  absl::StatusOr<Rule> ParseRule(PolicySection section, size_t index) {
    Rule rule;
    rule.section = section;
    rule.index = index;
    rule.position = Current().position;
    const size_t begin = Current().begin;
    bound_.clear();
    if (!At(TokenKind::kArrow)) {
      while (true) {
        if (rule.conditions.size() >= policy_.limits_.max_conditions_per_rule) {
          return PolicyError(Current().position, "more than {} conditions in one rule",
                             policy_.limits_.max_conditions_per_rule);
        }
        VOUCH_ASSIGN_OR_RETURN(Condition condition, ParseCondition());
        rule.conditions.push_back(std::move(condition));
        if (!At(TokenKind::kAnd)) {
          break;
        }
        Take();
      }
    }
    if (!At(TokenKind::kArrow)) {
      return Unexpected("'&&' or '=>' after a condition");
    }
    Take();
    VOUCH_ASSIGN_OR_RETURN(rule.action, ParseAction(section));
    if (!At(TokenKind::kSemicolon)) {
      return Unexpected("';' after the rule's action");
    }
    const size_t end = Current().end;
    Take();
    rule.text = CollapseWhitespace(text_.substr(begin, end - begin));
    return rule;
  }

  absl::StatusOr<Condition> ParseCondition() {
    Condition condition;
    condition.position = Current().position;
    if (At(TokenKind::kNot)) {
      if (!VersionAtLeast(policy_.version_, "1.2")) {
        return PolicyError(Current().position, "'!' before a condition needs version=1.2");
      }
      Take();
      condition.negated = true;
    }
    if (At(TokenKind::kIdentifier) && Peek(1).kind == TokenKind::kColon) {
      const Token& name = Take();
      if (condition.negated) {
        return PolicyError(name.position,
                           "a negated condition matches no claim, so it cannot bind '{}'",
                           name.text);
      }
      if (bound_.contains(name.text)) {
        return PolicyError(name.position, "variable '{}' is bound twice in one rule", name.text);
      }
      condition.variable = name.text;
      Take();  // ':'
    }
    VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kLeftBracket, "to open a condition"));
    if (At(TokenKind::kRightBracket)) {
      return PolicyError(Current().position, "empty condition: write at least type==\"...\"");
    }
    while (true) {
      if (condition.tests.size() >= policy_.limits_.max_property_tests) {
        return PolicyError(Current().position, "more than {} tests in one condition",
                           policy_.limits_.max_property_tests);
      }
      VOUCH_ASSIGN_OR_RETURN(PropertyTest test, ParseTest());
      if (test.property == "type" && test.op == CompareOp::kEqual) {
        if (!condition.claim_type.empty()) {
          return PolicyError(test.position, "condition tests type== twice");
        }
        condition.claim_type = test.operand.literal.get<std::string>();
      }
      condition.tests.push_back(std::move(test));
      if (!At(TokenKind::kComma)) {
        break;
      }
      Take();
    }
    VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kRightBracket, "to close the condition"));
    if (condition.claim_type.empty()) {
      return PolicyError(condition.position,
                         "condition has no type==\"...\" test; vouch requires one in every "
                         "condition");
    }
    if (!condition.variable.empty()) {
      bound_.insert(condition.variable);
    }
    return condition;
  }

  absl::StatusOr<PropertyTest> ParseTest() {
    PropertyTest test;
    test.position = Current().position;
    if (!At(TokenKind::kIdentifier)) {
      return Unexpected("a claim property (type, value or issuer)");
    }
    const Token& property = Take();
    if (!IsClaimProperty(property.text)) {
      return PolicyError(property.position,
                         "unknown claim property '{}', want type, value or issuer", property.text);
    }
    test.property = property.text;
    if (At(TokenKind::kAssign)) {
      return PolicyError(Current().position, "'=' in a condition; compare with '=='");
    }
    if (!IsComparison(Current().kind)) {
      return Unexpected(fmt::format("a comparison operator after '{}'", test.property));
    }
    const Token& op = Take();
    test.op = ToCompareOp(op.kind);
    VOUCH_ASSIGN_OR_RETURN(test.operand, ParseExpression(0));
    VOUCH_RETURN_IF_ERROR(CheckTest(test, op));
    return test;
  }

  // CheckTest applies the operator rules of Azure's grammar: type and issuer
  // are strings compared with == or !=, and <, <=, >, >= take numbers.
  static absl::Status CheckTest(const PropertyTest& test, const Token& op) {
    const bool ordering = test.op != CompareOp::kEqual && test.op != CompareOp::kNotEqual;
    const Expression& operand = test.operand;
    if (test.property != "value") {
      if (ordering) {
        return PolicyError(op.position, "operator {} is not defined for {}; use == or !=",
                           CompareOpText(test.op), test.property);
      }
      if (operand.kind != Expression::Kind::kLiteral || !operand.literal.is_string()) {
        return PolicyError(operand.position, "{} is compared with a string literal",
                           test.property);
      }
      return absl::OkStatus();
    }
    if (ordering && operand.kind == Expression::Kind::kLiteral && !operand.literal.is_number()) {
      return PolicyError(operand.position,
                         "operator {} compares numbers, found a {} literal; strings and "
                         "booleans take == or !=",
                         CompareOpText(test.op), operand.literal.is_string() ? "string" : "boolean");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Expression> ParseExpression(int depth) {
    Expression expression;
    expression.position = Current().position;
    const Token& token = Current();
    if (token.kind == TokenKind::kString) {
      expression.literal = Take().text;
      return expression;
    }
    if (token.kind == TokenKind::kNumber) {
      VOUCH_ASSIGN_OR_RETURN(expression.literal, ParseNumber(Take()));
      return expression;
    }
    if (token.kind != TokenKind::kIdentifier) {
      return Unexpected("a string, number, true, false, <variable>.value or a function call");
    }
    if (token.text == "true" || token.text == "false") {
      expression.literal = Take().text == "true";
      return expression;
    }
    if (Peek(1).kind == TokenKind::kDot) {
      return ParseClaimProperty();
    }
    if (Peek(1).kind == TokenKind::kLeftParen) {
      return ParseFunctionCall(depth);
    }
    return PolicyError(token.position,
                       "'{}' is not a value: write a string in quotes, a number, true, false, "
                       "<variable>.value or a function call",
                       token.text);
  }

  absl::StatusOr<Expression> ParseClaimProperty() {
    Expression expression;
    expression.kind = Expression::Kind::kClaimProperty;
    expression.position = Current().position;
    const Token& variable = Take();
    Take();  // '.'
    if (!bound_.contains(variable.text)) {
      return PolicyError(variable.position, "variable '{}' is not bound by an earlier condition",
                         variable.text);
    }
    if (!At(TokenKind::kIdentifier) || !IsClaimProperty(Current().text)) {
      return Unexpected(fmt::format("type, value or issuer after '{}.'", variable.text));
    }
    expression.variable = variable.text;
    expression.property = Take().text;
    return expression;
  }

  absl::StatusOr<Expression> ParseFunctionCall(int depth) {
    Expression expression;
    expression.kind = Expression::Kind::kFunctionCall;
    expression.position = Current().position;
    if (!VersionAtLeast(policy_.version_, "1.2")) {
      return PolicyError(Current().position, "function call {}() needs version=1.2",
                         Current().text);
    }
    if (depth >= policy_.limits_.max_expression_depth) {
      return PolicyError(Current().position, "function calls nested deeper than {}",
                         policy_.limits_.max_expression_depth);
    }
    expression.function = Take().text;
    Take();  // '('
    if (!At(TokenKind::kRightParen)) {
      while (true) {
        if (expression.arguments.size() >= 8) {
          return PolicyError(Current().position, "more than 8 function arguments");
        }
        VOUCH_ASSIGN_OR_RETURN(Expression argument, ParseExpression(depth + 1));
        expression.arguments.push_back(std::move(argument));
        if (!At(TokenKind::kComma)) {
          break;
        }
        Take();
      }
    }
    VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kRightParen, "to close the argument list"));
    return expression;
  }

  static absl::StatusOr<nlohmann::json> ParseNumber(const Token& token) {
    const std::string& text = token.text;
    if (text.find_first_of(".e") == std::string::npos) {
      int64_t value = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error != std::errc() || end != text.data() + text.size()) {
        return PolicyError(token.position, "integer {} is out of the 64-bit range", text);
      }
      return nlohmann::json(value);
    }
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(value)) {
      return PolicyError(token.position, "number {} is out of range", text);
    }
    return nlohmann::json(value);
  }

  absl::StatusOr<Action> ParseAction(PolicySection section) {
    Action action;
    action.position = Current().position;
    if (!At(TokenKind::kIdentifier)) {
      return Unexpected("an action (permit, deny, add, issue or issueproperty)");
    }
    const Token& name = Take();
    VOUCH_ASSIGN_OR_RETURN(action.kind, ActionKind(name, section));
    VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kLeftParen, fmt::format("after '{}'", name.text)));
    if (action.kind == Action::Kind::kPermit || action.kind == Action::Kind::kDeny) {
      if (!At(TokenKind::kRightParen)) {
        return PolicyError(Current().position, "{}() takes no arguments", name.text);
      }
      Take();
      return action;
    }
    VOUCH_RETURN_IF_ERROR(ParseActionArguments(action));
    VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kRightParen, "to close the action"));
    return action;
  }

  static absl::StatusOr<Action::Kind> ActionKind(const Token& name, PolicySection section) {
    const std::string& verb = name.text;
    Action::Kind kind;
    if (verb == "permit") {
      kind = Action::Kind::kPermit;
    } else if (verb == "deny") {
      kind = Action::Kind::kDeny;
    } else if (verb == "add") {
      kind = Action::Kind::kAdd;
    } else if (verb == "issue") {
      kind = Action::Kind::kIssue;
    } else if (verb == "issueproperty") {
      kind = Action::Kind::kIssueProperty;
    } else {
      return PolicyError(name.position,
                         "unknown action '{}', want permit, deny, add, issue or issueproperty",
                         verb);
    }
    const bool allowed =
        (section == PolicySection::kConfiguration && kind == Action::Kind::kIssueProperty) ||
        (section == PolicySection::kAuthorization &&
         (kind == Action::Kind::kPermit || kind == Action::Kind::kDeny ||
          kind == Action::Kind::kAdd)) ||
        (section == PolicySection::kIssuance &&
         (kind == Action::Kind::kAdd || kind == Action::Kind::kIssue ||
          kind == Action::Kind::kIssueProperty));
    if (!allowed) {
      return PolicyError(name.position, "{}() is not allowed in {}", verb, SectionName(section));
    }
    return kind;
  }

  // ParseActionArguments reads claim=<variable>, or type="..." and
  // value=<expression> in either order.
  absl::Status ParseActionArguments(Action& action) {
    bool has_type = false;
    while (true) {
      if (!At(TokenKind::kIdentifier)) {
        return Unexpected("claim=, type= or value=");
      }
      const Token& name = Take();
      VOUCH_RETURN_IF_ERROR(Expect(TokenKind::kAssign, fmt::format("after '{}'", name.text)));
      if (name.text == "claim") {
        if (!action.claim_variable.empty() || has_type || action.value.has_value()) {
          return PolicyError(name.position, "claim= cannot be combined with other arguments");
        }
        if (!At(TokenKind::kIdentifier) || !bound_.contains(Current().text)) {
          return PolicyError(Current().position,
                             "claim= takes a variable bound by a condition of this rule");
        }
        action.claim_variable = Take().text;
      } else if (name.text == "type") {
        if (has_type || !action.claim_variable.empty()) {
          return PolicyError(name.position, "type= given twice or together with claim=");
        }
        if (!At(TokenKind::kString)) {
          return PolicyError(Current().position, "type= takes a string literal");
        }
        action.type = Take().text;
        if (action.type.empty()) {
          return PolicyError(name.position, "type= is an empty string");
        }
        has_type = true;
      } else if (name.text == "value") {
        if (action.value.has_value() || !action.claim_variable.empty()) {
          return PolicyError(name.position, "value= given twice or together with claim=");
        }
        VOUCH_ASSIGN_OR_RETURN(action.value, ParseExpression(0));
      } else {
        return PolicyError(name.position, "unknown argument '{}', want claim, type or value",
                           name.text);
      }
      if (!At(TokenKind::kComma)) {
        break;
      }
      Take();
    }
    if (action.claim_variable.empty() && (!has_type || !action.value.has_value())) {
      return PolicyError(action.position, "{}() needs claim=<variable>, or both type= and value=",
                         ActionName(action.kind));
    }
    return absl::OkStatus();
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  std::set<std::string, std::less<>> bound_;  // variables bound so far in the current rule
  AttestationPolicy policy_;
};

std::string_view SectionName(PolicySection section) {
  switch (section) {
    case PolicySection::kConfiguration: return "configurationrules";
    case PolicySection::kAuthorization: return "authorizationrules";
    case PolicySection::kIssuance: return "issuancerules";
  }
  return "rules";
}

std::string_view CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEqual: return "==";
    case CompareOp::kNotEqual: return "!=";
    case CompareOp::kLess: return "<";
    case CompareOp::kLessOrEqual: return "<=";
    case CompareOp::kGreater: return ">";
    case CompareOp::kGreaterOrEqual: return ">=";
  }
  return "?";
}

std::string_view ActionName(Action::Kind kind) {
  switch (kind) {
    case Action::Kind::kPermit: return "permit";
    case Action::Kind::kDeny: return "deny";
    case Action::Kind::kAdd: return "add";
    case Action::Kind::kIssue: return "issue";
    case Action::Kind::kIssueProperty: return "issueproperty";
  }
  return "action";
}

absl::StatusOr<AttestationPolicy> AttestationPolicy::Parse(std::string_view text,
                                                           const AttestationPolicyLimits& limits) {
  VOUCH_ASSIGN_OR_RETURN(std::vector<Token> tokens, internal::Tokenize(text, limits));
  return AttestationPolicyParser(text, std::move(tokens), limits).Run();
}

namespace {

absl::Status CheckExpressionSupported(const Expression& expression) {
  if (expression.kind != Expression::Kind::kFunctionCall) {
    return absl::OkStatus();
  }
  const std::string& name = expression.function;
  size_t want = 0;  // argument count of a supported function
  if (name == "AppendString") {
    want = 2;
  } else if (name == "NegateBool") {
    want = 1;
  }
  if (want == 0) {
    return PolicyError(expression.position,
                       "function {}() is not supported by vouch; supported: AppendString, "
                       "NegateBool",
                       name);
  }
  if (expression.arguments.size() != want) {
    return PolicyError(expression.position, "{}() takes {} argument(s), found {}", name, want,
                       expression.arguments.size());
  }
  for (const Expression& argument : expression.arguments) {
    VOUCH_RETURN_IF_ERROR(CheckExpressionSupported(argument));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AttestationPolicy::CheckSupported() const {
  for (const Rule& rule : rules_) {
    if (rule.section == PolicySection::kConfiguration) {
      return PolicyError(rule.position,
                         "configurationrules are not supported by vouch; remove the rule");
    }
    if (rule.action.kind == Action::Kind::kIssueProperty) {
      return PolicyError(rule.action.position,
                         "issueproperty() is not supported by vouch; use issue()");
    }
    for (const Condition& condition : rule.conditions) {
      for (const PropertyTest& test : condition.tests) {
        VOUCH_RETURN_IF_ERROR(CheckExpressionSupported(test.operand));
      }
    }
    if (rule.action.value.has_value()) {
      VOUCH_RETURN_IF_ERROR(CheckExpressionSupported(*rule.action.value));
    }
  }
  return absl::OkStatus();
}

std::set<std::string, std::less<>> AttestationPolicy::CreatedClaimTypes() const {
  std::set<std::string, std::less<>> types;
  for (const Rule& rule : rules_) {
    if (!rule.action.type.empty()) {
      types.insert(rule.action.type);
    }
  }
  return types;
}

absl::Status AttestationPolicy::CheckClaimTypes(
    const std::set<std::string, std::less<>>& known) const {
  const std::set<std::string, std::less<>> created = CreatedClaimTypes();
  for (const Rule& rule : rules_) {
    for (const Condition& condition : rule.conditions) {
      if (known.contains(condition.claim_type) || created.contains(condition.claim_type)) {
        continue;
      }
      return PolicyError(condition.position,
                         "unknown claim type \"{}\": this evidence kind does not produce it and "
                         "no add or issue rule of the policy creates it",
                         condition.claim_type);
    }
  }
  return absl::OkStatus();
}

std::string PolicyHash(std::string_view text) {
  return Base64UrlEncode(crypto::Sha256(AsBytes(text)));
}

namespace {

struct KnownClaimRegistry {
  std::mutex mutex;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> kinds;
};

KnownClaimRegistry& Registry() {
  static KnownClaimRegistry* registry = new KnownClaimRegistry();
  return *registry;
}

}  // namespace

void RegisterKnownClaims(std::string_view kind, const std::vector<std::string>& claim_types) {
  KnownClaimRegistry& registry = Registry();
  const std::lock_guard<std::mutex> lock(registry.mutex);
  std::set<std::string, std::less<>>& types = registry.kinds[std::string(kind)];
  types.insert(claim_types.begin(), claim_types.end());
}

std::optional<std::set<std::string, std::less<>>> KnownClaims(std::string_view kind) {
  KnownClaimRegistry& registry = Registry();
  const std::lock_guard<std::mutex> lock(registry.mutex);
  const auto it = registry.kinds.find(kind);
  if (it == registry.kinds.end()) {
    return std::nullopt;
  }
  return it->second;
}

}  // namespace vouch::policy
