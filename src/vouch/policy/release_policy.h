// Secure key release policies in the grammar of Azure Key Vault / Managed HSM.
//
//   {"version": "1.0.0",
//    "anyOf": [{"authority": "https://issuer.example",
//               "allOf": [{"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
//                         {"anyOf": [{"claim": "a.b", "greaterOrEquals": 3}, ...]}]}]}
//
// Grammar (Azure Key Vault "secure key release policy grammar"): a policy is
// an anyOf of authority statements. Each authority statement has "authority"
// and exactly one of "allOf" or "anyOf". A condition is a claim condition or
// a nested allOf/anyOf, and every condition array contains at least one. A claim
// condition has "claim" (a dotted path through nested objects, without array
// indexes) and exactly one operator among equals, notEquals, less,
// lessOrEquals, greater, greaterOrEquals and exists. Its value is a string,
// number or boolean, never an object, array or null.
//
// vouch is stricter than the published grammar in these documented ways:
// - "version" is required and must be "1.0.0", the only version the grammar names.
// - Member names are case-sensitive ("allOf", not "allof"), and unknown or
//   duplicated members are rejected.
// - less, lessOrEquals, greater and greaterOrEquals take numbers only, and
//   exists takes true or false only.
// - Comparisons are typed: a string never equals a number or a boolean
//   ("true" does not match true), strings compare case-sensitively, and a
//   claim of the wrong type fails the condition, notEquals included.
// A missing claim fails the condition, as the Azure grammar specifies, for
// every operator except {"exists": false}, which requires exactly that.
#ifndef VOUCH_POLICY_RELEASE_POLICY_H_
#define VOUCH_POLICY_RELEASE_POLICY_H_

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vouch::policy {

enum class Operator {
  kEquals,
  kNotEquals,
  kLess,
  kLessOrEquals,
  kGreater,
  kGreaterOrEquals,
  kExists,
};

// OperatorName returns the grammar's member name, e.g. "lessOrEquals".
std::string_view OperatorName(Operator op);

// Limits applied at Parse time. The defaults admit Azure's published
// confidential VM policy (about 40 authorities, 23 KB).
struct PolicyLimits {
  size_t max_bytes = 256 * 1024;
  int max_condition_depth = 8;  // nested allOf/anyOf levels below an authority
  size_t max_authorities = 256;
  size_t max_conditions = 4096;  // claim conditions in the whole policy
  size_t max_string_bytes = 2048;  // authority, claim path and string values
};

class ReleasePolicy {
 public:
  // Parse validates the whole grammar and returns the policy, or
  // InvalidArgument naming the first problem with its location, for example
  // `release policy: anyOf[0].allOf[1]: missing operator`.
  static absl::StatusOr<ReleasePolicy> Parse(std::string_view json_text,
                                             const PolicyLimits& limits = {});
  // FromJson validates an already parsed document (for example a policy
  // given inline as a JSON object in a request).
  static absl::StatusOr<ReleasePolicy> FromJson(const nlohmann::json& document,
                                                const PolicyLimits& limits = {});

  // Evaluate returns OK when at least one authority statement whose authority
  // equals `token_issuer` (ignoring trailing slashes) is satisfied by
  // `claims`. Otherwise it returns PermissionDenied naming the reason: no
  // authority for the issuer, or the first failed condition with its claim,
  // operator, expected and found values, e.g.
  // `release policy: claim x-ms-sevsnpvm-vmpl lessOrEquals 0 failed: found 1`.
  // `claims` that is not a JSON object gives InvalidArgument.
  absl::Status Evaluate(const nlohmann::json& claims, std::string_view token_issuer) const;

  // NamesClaim is true when any condition of the policy tests `claim_path`.
  bool NamesClaim(std::string_view claim_path) const;

  // json returns the policy document as parsed.
  const nlohmann::json& json() const { return document_; }

  // Authorities lists the authority of each statement, in policy order.
  std::vector<std::string> Authorities() const;

 private:
  struct Condition {
    enum class Kind { kClaim, kAllOf, kAnyOf };
    Kind kind = Kind::kClaim;
    // Claim conditions only.
    std::string claim;
    std::vector<std::string> path;
    Operator op = Operator::kEquals;
    nlohmann::json value;
    // allOf / anyOf only.
    std::vector<Condition> children;
  };
  struct AuthorityStatement {
    std::string authority;
    Condition condition;  // kAllOf or kAnyOf
  };
  class Parser;

  ReleasePolicy() = default;

  static absl::Status EvaluateCondition(const Condition& condition, const nlohmann::json& claims);
  static absl::Status EvaluateClaim(const Condition& condition, const nlohmann::json& claims);
  static bool ConditionNamesClaim(const Condition& condition, std::string_view claim_path);
  // AuthoritySummary lists the first few authorities for an error message.
  std::string AuthoritySummary() const;

  nlohmann::json document_;
  std::vector<AuthorityStatement> statements_;
};

// NormalizeAuthority removes trailing slashes, so that
// "https://sharedeus.eus.attest.azure.net/" and the token issuer
// "https://sharedeus.eus.attest.azure.net" compare equal.
std::string_view NormalizeAuthority(std::string_view authority);

// LookupClaim follows a dotted path ("x-ms-isolation-tee.x-ms-attestation-type")
// through nested objects and returns the value, or nullptr when a segment is
// missing or an intermediate value is not an object.
const nlohmann::json* LookupClaim(const nlohmann::json& claims,
                                  const std::vector<std::string>& path);

}  // namespace vouch::policy

#endif  // VOUCH_POLICY_RELEASE_POLICY_H_
