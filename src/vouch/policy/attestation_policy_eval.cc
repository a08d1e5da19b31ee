// Evaluation of a parsed attestation policy (attestation_policy.h).
//
// Authorization rules run in order. A rule fires when each of its
// conditions holds; add() rules put their claim into the claim set for the
// rules after them. The first deny() that fires ends the evaluation with a
// denial, even after a permit() fired, so a deny rule cannot be skipped by an
// earlier broad permit. Without a deny, the evidence is permitted when at
// least one permit() fired. Issuance rules then run in order; issue() puts
// its claim into the claim set and into the output.
#include <limits>
#include <map>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/policy/attestation_policy.h"
#include "vouch/policy/attestation_policy_lexer.h"
#include "vouch/policy/strict_json.h"

namespace vouch::policy {
namespace {

using internal::PolicyError;

constexpr char kServiceIssuer[] = "AttestationService";
constexpr char kPolicyIssuer[] = "AttestationPolicy";
constexpr size_t kUnbound = std::numeric_limits<size_t>::max();

struct Claim {
  std::string type;
  nlohmann::json value;
  std::string issuer;
};

// Binding holds, per condition of a rule, the index of the claim its
// variable refers to (kUnbound for conditions without a variable).
using Binding = std::vector<size_t>;

std::string RuleLabel(const Rule& rule) {
  return fmt::format("{} rule {} at {}:{}", SectionName(rule.section), rule.index,
                     rule.position.line, rule.position.column);
}

std::string DescribeCondition(const Condition& condition) {
  std::string out = condition.negated ? "![" : "[";
  for (size_t i = 0; i < condition.tests.size(); ++i) {
    const PropertyTest& test = condition.tests[i];
    const Expression& operand = test.operand;
    std::string text;
    if (operand.kind == Expression::Kind::kLiteral) {
      text = operand.literal.dump();
    } else if (operand.kind == Expression::Kind::kClaimProperty) {
      text = operand.variable + "." + operand.property;
    } else {
      text = operand.function + "(...)";
    }
    out += fmt::format("{}{}{}{}", i == 0 ? "" : ", ", test.property, CompareOpText(test.op), text);
  }
  return out + "]";
}

// CompareNumbers orders two JSON numbers: exactly when both are integers
// (signed or unsigned), as doubles otherwise. Returns -1, 0 or 1.
int CompareNumbers(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    const auto less = [](const nlohmann::json& x, const nlohmann::json& y) {
      if (x.is_number_unsigned() && y.is_number_unsigned()) {
        return x.get<uint64_t>() < y.get<uint64_t>();
      }
      if (x.is_number_unsigned()) {
        return std::cmp_less(x.get<uint64_t>(), y.get<int64_t>());
      }
      if (y.is_number_unsigned()) {
        return std::cmp_less(x.get<int64_t>(), y.get<uint64_t>());
      }
      return x.get<int64_t>() < y.get<int64_t>();
    };
    if (less(a, b)) {
      return -1;
    }
    return less(b, a) ? 1 : 0;
  }
  const double x = a.get<double>();
  const double y = b.get<double>();
  if (x < y) {
    return -1;
  }
  return y < x ? 1 : 0;
}

bool Holds(CompareOp op, int order) {
  switch (op) {
    case CompareOp::kEqual: return order == 0;
    case CompareOp::kNotEqual: return order != 0;
    case CompareOp::kLess: return order < 0;
    case CompareOp::kLessOrEqual: return order <= 0;
    case CompareOp::kGreater: return order > 0;
    case CompareOp::kGreaterOrEqual: return order >= 0;
  }
  return false;
}

// Compare applies `op` to a claim property and an operand. Strings and
// booleans take == and !=; numbers take every operator. Any other pairing
// is an error, so a policy that compares the wrong types fails loudly.
absl::StatusOr<bool> Compare(const nlohmann::json& claim_value, CompareOp op,
                             const nlohmann::json& operand) {
  const bool equality = op == CompareOp::kEqual || op == CompareOp::kNotEqual;
  if (claim_value.is_number() && operand.is_number()) {
    return Holds(op, CompareNumbers(claim_value, operand));
  }
  const bool same_scalar = (claim_value.is_string() && operand.is_string()) ||
                           (claim_value.is_boolean() && operand.is_boolean());
  if (same_scalar && equality) {
    return (claim_value == operand) == (op == CompareOp::kEqual);
  }
  if (same_scalar) {
    return absl::InvalidArgumentError(fmt::format("operator {} is not defined for {} values",
                                                  CompareOpText(op), JsonTypeName(operand)));
  }
  return absl::InvalidArgumentError(fmt::format(
      "cannot compare the {} claim value {} with the {} {}", JsonTypeName(claim_value),
      DescribeJson(claim_value, 48), JsonTypeName(operand), DescribeJson(operand, 48)));
}

class Evaluator {
 public:
  Evaluator(const AttestationPolicy& policy, const nlohmann::json& incoming)
      : policy_(policy), limits_(policy.limits()) {
    for (const auto& [type, value] : incoming.items()) {
      claims_.push_back({type, value, kServiceIssuer});
    }
  }

  absl::StatusOr<Evaluation> Run() {
    VOUCH_RETURN_IF_ERROR(RunAuthorization());
    if (!evaluation_.permitted) {
      return std::move(evaluation_);
    }
    for (const Rule& rule : policy_.rules()) {
      if (rule.section == PolicySection::kIssuance) {
        VOUCH_RETURN_IF_ERROR(RunRule(rule).status());
      }
    }
    for (auto& [type, values] : issued_) {
      evaluation_.issued[type] =
          values.size() == 1 ? std::move(values[0]) : nlohmann::json(std::move(values));
    }
    return std::move(evaluation_);
  }

 private:
  absl::Status RunAuthorization() {
    std::string first_permit;
    std::string no_permit_reason;
    for (const Rule& rule : policy_.rules()) {
      if (rule.section != PolicySection::kAuthorization) {
        continue;
      }
      VOUCH_ASSIGN_OR_RETURN(const bool fired, RunRule(rule));
      const Action::Kind kind = rule.action.kind;
      if (fired && kind == Action::Kind::kDeny) {
        evaluation_.permitted = false;
        evaluation_.reason = fmt::format("denied by {}: {}", RuleLabel(rule), rule.text);
        return absl::OkStatus();
      }
      if (fired && kind == Action::Kind::kPermit && first_permit.empty()) {
        first_permit = fmt::format("permitted by {}", RuleLabel(rule));
      }
      if (!fired && kind == Action::Kind::kPermit && no_permit_reason.empty()) {
        no_permit_reason = fmt::format("; {} did not fire: {}", RuleLabel(rule),
                                       evaluation_.trace.back().detail);
      }
    }
    evaluation_.permitted = !first_permit.empty();
    evaluation_.reason = evaluation_.permitted
                             ? first_permit
                             : "no authorization rule permitted the evidence" + no_permit_reason;
    return absl::OkStatus();
  }

  // RunRule finds every binding of the rule's conditions, runs the action
  // once per binding, records a trace entry and returns whether it fired.
  absl::StatusOr<bool> RunRule(const Rule& rule) {
    RuleTrace trace;
    trace.section = rule.section;
    trace.index = rule.index;
    trace.position = rule.position;
    trace.text = rule.text;
    failure_.clear();
    std::vector<Binding> bindings;
    Binding current(rule.conditions.size(), kUnbound);
    absl::Status matched = Match(rule, 0, current, bindings);
    if (!matched.ok()) {
      return Prefix(RuleLabel(rule), matched);
    }
    trace.fired = !bindings.empty();
    trace.bindings = bindings.size();
    trace.detail = trace.fired ? "fired" : failure_;
    if (trace.fired) {
      absl::Status done = RunAction(rule, bindings, trace.detail);
      if (!done.ok()) {
        return Prefix(RuleLabel(rule), done);
      }
    }
    evaluation_.trace.push_back(std::move(trace));
    return !bindings.empty();
  }

  absl::Status Match(const Rule& rule, size_t index, Binding& current,
                     std::vector<Binding>& bindings) {
    if (index == rule.conditions.size()) {
      if (bindings.size() >= limits_.max_bindings_per_rule) {
        return absl::FailedPreconditionError(fmt::format(
            "more than {} claim combinations match the conditions", limits_.max_bindings_per_rule));
      }
      bindings.push_back(current);
      return absl::OkStatus();
    }
    const Condition& condition = rule.conditions[index];
    // The claim set does not change while one rule matches, because actions
    // run only after all bindings are known.
    bool any = false;
    for (size_t i = 0; i < claims_.size(); ++i) {
      VOUCH_ASSIGN_OR_RETURN(const bool passes, Passes(rule, condition, claims_[i], current));
      if (!passes) {
        continue;
      }
      any = true;
      if (condition.negated) {
        break;
      }
      current[index] = condition.variable.empty() ? kUnbound : i;
      VOUCH_RETURN_IF_ERROR(Match(rule, index + 1, current, bindings));
      current[index] = kUnbound;
      if (condition.variable.empty()) {
        break;  // one witness is enough when nothing refers to it
      }
    }
    if (condition.negated && !any) {
      return Match(rule, index + 1, current, bindings);
    }
    if (failure_.empty() && (condition.negated == any)) {
      failure_ = DescribeFailure(condition, index);
    }
    return absl::OkStatus();
  }

  std::string DescribeFailure(const Condition& condition, size_t index) const {
    const std::string label = fmt::format("condition {} {}", index + 1, DescribeCondition(condition));
    if (condition.negated) {
      return fmt::format("{}: a claim {} is present", label, condition.claim_type);
    }
    std::vector<std::string> found;
    for (const Claim& claim : claims_) {
      if (claim.type == condition.claim_type && found.size() < 3) {
        found.push_back(DescribeJson(claim.value, 80));
      }
    }
    if (found.empty()) {
      return fmt::format("{}: no claim {}", label, condition.claim_type);
    }
    return fmt::format("{}: not met, {} is {}", label, condition.claim_type,
                       fmt::join(found, " / "));
  }

  // Passes tests one claim against a condition: type and issuer first, so
  // that a value test only ever sees claims of the condition's type.
  absl::StatusOr<bool> Passes(const Rule& rule, const Condition& condition, const Claim& claim,
                              const Binding& binding) const {
    for (const bool value_pass : {false, true}) {
      for (const PropertyTest& test : condition.tests) {
        if ((test.property == "value") != value_pass) {
          continue;
        }
        VOUCH_ASSIGN_OR_RETURN(const nlohmann::json operand,
                               EvaluateExpression(rule, test.operand, binding));
        const nlohmann::json property = Property(claim, test.property);
        absl::StatusOr<bool> result = Compare(property, test.op, operand);
        if (!result.ok()) {
          return PolicyError(test.position, "{} of claim {}: {}", test.property, claim.type,
                             result.status().message());
        }
        if (!*result) {
          return false;
        }
      }
    }
    return true;
  }

  static nlohmann::json Property(const Claim& claim, std::string_view property) {
    if (property == "type") {
      return claim.type;
    }
    if (property == "issuer") {
      return claim.issuer;
    }
    return claim.value;
  }

  absl::StatusOr<nlohmann::json> EvaluateExpression(const Rule& rule, const Expression& expression,
                                                    const Binding& binding) const {
    switch (expression.kind) {
      case Expression::Kind::kLiteral:
        return expression.literal;
      case Expression::Kind::kClaimProperty:
        return Property(BoundClaim(rule, expression.variable, binding), expression.property);
      case Expression::Kind::kFunctionCall:
        break;
    }
    std::vector<nlohmann::json> arguments;
    for (const Expression& argument : expression.arguments) {
      VOUCH_ASSIGN_OR_RETURN(nlohmann::json value, EvaluateExpression(rule, argument, binding));
      arguments.push_back(std::move(value));
    }
    if (expression.function == "AppendString" && arguments.size() == 2 &&
        arguments[0].is_string() && arguments[1].is_string()) {
      return arguments[0].get<std::string>() + arguments[1].get<std::string>();
    }
    if (expression.function == "NegateBool" && arguments.size() == 1 && arguments[0].is_boolean()) {
      return !arguments[0].get<bool>();
    }
    return PolicyError(expression.position,
                       "{}() with these arguments is not supported (AppendString takes two "
                       "strings, NegateBool one boolean)",
                       expression.function);
  }

  const Claim& BoundClaim(const Rule& rule, std::string_view variable,
                          const Binding& binding) const {
    for (size_t i = 0; i < rule.conditions.size(); ++i) {
      if (rule.conditions[i].variable == variable && binding[i] != kUnbound) {
        return claims_[binding[i]];
      }
    }
    // The parser admits only variables bound by an earlier condition, and
    // Match binds each condition before matching the next.
    VOUCH_UNREACHABLE("attestation policy: variable bound by no earlier condition");
  }

  absl::Status RunAction(const Rule& rule, const std::vector<Binding>& bindings,
                         std::string& detail) {
    const Action& action = rule.action;
    if (action.kind == Action::Kind::kPermit || action.kind == Action::Kind::kDeny) {
      return absl::OkStatus();
    }
    std::vector<Claim> created;
    for (const Binding& binding : bindings) {
      Claim claim;
      if (!action.claim_variable.empty()) {
        const Claim& bound = BoundClaim(rule, action.claim_variable, binding);
        claim = {bound.type, bound.value, kPolicyIssuer};
      } else {
        VOUCH_ASSIGN_OR_RETURN(nlohmann::json value,
                               EvaluateExpression(rule, *action.value, binding));
        claim = {action.type, std::move(value), kPolicyIssuer};
      }
      created.push_back(std::move(claim));
    }
    if (added_ + created.size() > limits_.max_added_claims) {
      return absl::FailedPreconditionError(
          fmt::format("the policy created more than {} claims", limits_.max_added_claims));
    }
    added_ += created.size();
    std::vector<std::string> names;
    for (Claim& claim : created) {
      if (names.size() < 3) {
        names.push_back(fmt::format("{}={}", claim.type, DescribeJson(claim.value, 48)));
      }
      if (action.kind == Action::Kind::kIssue) {
        issued_[claim.type].push_back(claim.value);
      }
      claims_.push_back(std::move(claim));
    }
    detail = fmt::format("fired; {} {}", action.kind == Action::Kind::kIssue ? "issued" : "added",
                         fmt::join(names, ", "));
    return absl::OkStatus();
  }

  const AttestationPolicy& policy_;
  const AttestationPolicyLimits& limits_;
  std::vector<Claim> claims_;
  std::map<std::string, std::vector<nlohmann::json>> issued_;
  size_t added_ = 0;
  std::string failure_;
  Evaluation evaluation_;
};

}  // namespace

absl::StatusOr<Evaluation> AttestationPolicy::Evaluate(const nlohmann::json& incoming) const {
  if (!incoming.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("attestation policy: incoming claims must be a JSON object, found {}",
                    JsonTypeName(incoming)));
  }
  return Evaluator(*this, incoming).Run();
}

}  // namespace vouch::policy
