// Attestation policies in Microsoft Azure Attestation's policy language:
//
//   version=1.0;
//   authorizationrules {
//     [type=="x-ms-sevsnpvm-is-debuggable", value==true] => deny();
//     c:[type=="x-ms-sevsnpvm-vmpl", value<=0] => permit();
//   };
//   issuancerules {
//     c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="measurement", value=c.value);
//   };
//
// Parse runs a lexer and a recursive-descent parser (no regular
// expressions) and reports every error as `line:column`. Evaluate runs the
// rules on a set of claims. docs/attestation-policy.md describes the
// grammar, the evaluation and where vouch differs from Azure.
#ifndef VOUCH_POLICY_ATTESTATION_POLICY_H_
#define VOUCH_POLICY_ATTESTATION_POLICY_H_

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vouch::policy {

// Limits applied by Parse and Evaluate. A policy over a limit is rejected,
// never cut.
struct AttestationPolicyLimits {
  size_t max_bytes = 256 * 1024;
  size_t max_rules = 2048;             // in all sections together
  size_t max_conditions_per_rule = 64;
  size_t max_property_tests = 16;      // per condition
  size_t max_string_bytes = 8192;      // one string literal, decoded
  int max_expression_depth = 8;        // nested function calls
  // Claim combinations one rule may bind (c1 and c2 each matching several
  // claims multiply), and claims an evaluation may add or issue.
  size_t max_bindings_per_rule = 1024;
  size_t max_added_claims = 4096;
};

// SourcePosition counts lines and columns from 1; a column is one character
// (one UTF-8 sequence).
struct SourcePosition {
  int line = 0;
  int column = 0;
};

enum class PolicySection { kConfiguration, kAuthorization, kIssuance };

// SectionName returns "configurationrules", "authorizationrules" or "issuancerules".
std::string_view SectionName(PolicySection section);

enum class CompareOp { kEqual, kNotEqual, kLess, kLessOrEqual, kGreater, kGreaterOrEqual };

// CompareOpText returns the operator as written: "==", "!=", "<", ...
std::string_view CompareOpText(CompareOp op);

// Expression is a literal, a claim property of a bound variable (c.value),
// or a function call (version 1.2).
struct Expression {
  enum class Kind { kLiteral, kClaimProperty, kFunctionCall };
  Kind kind = Kind::kLiteral;
  nlohmann::json literal;  // kLiteral: string, integer, floating point or boolean
  std::string variable;    // kClaimProperty: the variable ("c")
  std::string property;    // kClaimProperty: "type", "value" or "issuer"
  std::string function;    // kFunctionCall
  std::vector<Expression> arguments;
  SourcePosition position;
};

// PropertyTest is one `property op expression` inside a condition's brackets.
struct PropertyTest {
  std::string property;  // "type", "value" or "issuer"
  CompareOp op = CompareOp::kEqual;
  Expression operand;
  SourcePosition position;
};

// Condition is `[...]`, `c:[...]` or (version 1.2) `![...]`. It holds when
// at least one claim passes all its tests, or, negated, when none does.
struct Condition {
  std::string variable;  // empty when the condition binds no variable
  bool negated = false;
  std::vector<PropertyTest> tests;
  std::string claim_type;  // the literal of its `type ==` test
  SourcePosition position;
};

struct Action {
  enum class Kind { kPermit, kDeny, kAdd, kIssue, kIssueProperty };
  Kind kind = Kind::kPermit;
  // add/issue/issueproperty take either claim=<variable> or type= and value=.
  std::string claim_variable;
  std::string type;  // a string literal
  std::optional<Expression> value;
  SourcePosition position;
};

// ActionName returns "permit", "deny", "add", "issue" or "issueproperty".
std::string_view ActionName(Action::Kind kind);

struct Rule {
  PolicySection section = PolicySection::kAuthorization;
  size_t index = 0;  // 1-based within its section
  std::vector<Condition> conditions;
  Action action;
  SourcePosition position;
  std::string text;  // the rule's source, whitespace collapsed, for messages
};

// RuleTrace records what one rule did during an evaluation. It copies what
// it needs from the rule, so it stays valid after the policy is gone.
struct RuleTrace {
  PolicySection section = PolicySection::kAuthorization;
  size_t index = 0;
  SourcePosition position;
  std::string text;
  bool fired = false;
  size_t bindings = 0;  // times the action ran
  std::string detail;   // why it did not fire, or what it added or issued
};

// Evaluation is the outcome of an evaluation run that raised no error.
struct Evaluation {
  bool permitted = false;
  // A sentence for logs and 403 messages: the rule that denied or permitted,
  // or that no rule permitted and why the first permit rule did not fire.
  std::string reason;
  // Issued claims: type -> value, or an array of values when a type was
  // issued more than once. Empty when denied.
  nlohmann::json issued = nlohmann::json::object();
  std::vector<RuleTrace> trace;
};

class AttestationPolicy {
 public:
  // Parse checks the whole grammar of `text`. Errors are InvalidArgument
  // with the message `attestation policy <line>:<column>: <problem>`.
  static absl::StatusOr<AttestationPolicy> Parse(std::string_view text,
                                                 const AttestationPolicyLimits& limits = {});

  // CheckSupported returns Unimplemented (with line:column) for constructs
  // that parse but that vouch does not evaluate: configurationrules entries,
  // issueproperty and functions other than AppendString and NegateBool.
  absl::Status CheckSupported() const;

  // CheckClaimTypes returns InvalidArgument (with line:column) for the first
  // condition whose claim type is neither in `known` nor created by an add or
  // issue rule of this policy.
  absl::Status CheckClaimTypes(const std::set<std::string, std::less<>>& known) const;

  // Evaluate runs the authorization rules in order, then, when permitted,
  // the issuance rules. `incoming` is a JSON object mapping claim type to
  // value; its claims have issuer "AttestationService". A comparison of
  // mismatched types (a string claim with `<`, a number with a string
  // literal) is InvalidArgument naming the rule, never a silent false. Going
  // over max_bindings_per_rule or max_added_claims is FailedPrecondition. A
  // denial is not an error: check Evaluation::permitted.
  absl::StatusOr<Evaluation> Evaluate(const nlohmann::json& incoming) const;

  const std::string& version() const { return version_; }
  const std::vector<Rule>& rules() const { return rules_; }
  const AttestationPolicyLimits& limits() const { return limits_; }

  // CreatedClaimTypes lists the literal types of every add and issue action.
  std::set<std::string, std::less<>> CreatedClaimTypes() const;

 private:
  friend class AttestationPolicyParser;
  AttestationPolicy() = default;

  std::string version_;
  std::vector<Rule> rules_;  // configuration, then authorization, then issuance
  AttestationPolicyLimits limits_;
};

// PolicyHash returns base64url(SHA-256(text)) without padding, the value of
// the "x-ms-policy-hash" claim.
std::string PolicyHash(std::string_view text);

// RegisterKnownClaims adds `claim_types` to the claim types that evidence of
// `kind` ("SevSnpVm", "TdxVm", ...) produces. Thread-safe.
void RegisterKnownClaims(std::string_view kind, const std::vector<std::string>& claim_types);

// KnownClaims returns the registered claim types of `kind`, or nullopt when
// nothing was registered for it.
std::optional<std::set<std::string, std::less<>>> KnownClaims(std::string_view kind);

}  // namespace vouch::policy

#endif  // VOUCH_POLICY_ATTESTATION_POLICY_H_
