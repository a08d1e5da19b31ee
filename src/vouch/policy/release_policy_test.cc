#include "vouch/policy/release_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::policy {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://vouch.test";

// PolicyWith wraps conditions in one authority statement for kIssuer.
Json PolicyWith(const Json& all_of) {
  return Json{{"version", "1.0.0"},
              {"anyOf", Json::array({Json{{"authority", kIssuer}, {"allOf", all_of}}})}};
}

ReleasePolicy MustParse(const Json& document) {
  absl::StatusOr<ReleasePolicy> policy = ReleasePolicy::Parse(document.dump());
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

struct OperatorCase {
  std::string name;
  std::string op;
  Json expected;
  Json claims;  // the claim under test is "c"
  bool released;
};

class OperatorTest : public ::testing::TestWithParam<OperatorCase> {};

TEST_P(OperatorTest, Evaluates) {
  const OperatorCase& test_case = GetParam();
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "c"}, {test_case.op, test_case.expected}}})));
  const absl::Status status = policy.Evaluate(test_case.claims, kIssuer);
  if (test_case.released) {
    EXPECT_OK(status);
  } else {
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                                 HasSubstr("claim c " + test_case.op)));
  }
}

const Json kUint64Max = Json(uint64_t{18446744073709551615u});

INSTANTIATE_TEST_SUITE_P(
    Operators, OperatorTest,
    ::testing::Values(
        OperatorCase{"EqualsStringSame", "equals", "sevsnpvm", {{"c", "sevsnpvm"}}, true},
        OperatorCase{"EqualsStringDifferent", "equals", "sevsnpvm", {{"c", "tdxvm"}}, false},
        OperatorCase{"EqualsStringIsCaseSensitive", "equals", "sevsnpvm", {{"c", "SEVSNPVM"}},
                     false},
        OperatorCase{"EqualsNumberSame", "equals", 0, {{"c", 0}}, true},
        OperatorCase{"EqualsNumberDifferent", "equals", 0, {{"c", 1}}, false},
        OperatorCase{"EqualsIntegerAndFloat", "equals", 1, {{"c", 1.0}}, true},
        OperatorCase{"EqualsNegative", "equals", -3, {{"c", -3}}, true},
        OperatorCase{"EqualsBoolSame", "equals", true, {{"c", true}}, true},
        OperatorCase{"EqualsBoolDifferent", "equals", false, {{"c", true}}, false},
        OperatorCase{"EqualsBoolVsStringClaim", "equals", true, {{"c", "true"}}, false},
        OperatorCase{"EqualsStringVsBoolClaim", "equals", "true", {{"c", true}}, false},
        OperatorCase{"EqualsNumberVsStringClaim", "equals", 1, {{"c", "1"}}, false},
        OperatorCase{"EqualsMissingClaim", "equals", "x", {{"other", "x"}}, false},
        OperatorCase{"EqualsObjectClaim", "equals", "x", {{"c", {{"x", 1}}}}, false},
        OperatorCase{"EqualsNullClaim", "equals", "x", {{"c", nullptr}}, false},
        OperatorCase{"NotEqualsDifferent", "notEquals", "a", {{"c", "b"}}, true},
        OperatorCase{"NotEqualsSame", "notEquals", "a", {{"c", "a"}}, false},
        OperatorCase{"NotEqualsNumbers", "notEquals", 1, {{"c", 2}}, true},
        OperatorCase{"NotEqualsBoolSame", "notEquals", true, {{"c", true}}, false},
        OperatorCase{"NotEqualsMissingClaim", "notEquals", "a", {{"other", "b"}}, false},
        OperatorCase{"NotEqualsTypeMismatch", "notEquals", 1, {{"c", "1"}}, false},
        OperatorCase{"LessBelow", "less", 2, {{"c", 1}}, true},
        OperatorCase{"LessEqual", "less", 2, {{"c", 2}}, false},
        OperatorCase{"LessNegative", "less", 0, {{"c", -1}}, true},
        OperatorCase{"LessStringClaim", "less", 2, {{"c", "1"}}, false},
        OperatorCase{"LessMissingClaim", "less", 2, {{"other", 1}}, false},
        OperatorCase{"LessOrEqualsEqual", "lessOrEquals", 2, {{"c", 2}}, true},
        OperatorCase{"LessOrEqualsAbove", "lessOrEquals", 2, {{"c", 3}}, false},
        OperatorCase{"LessOrEqualsFloat", "lessOrEquals", 2, {{"c", 1.5}}, true},
        OperatorCase{"LessOrEqualsBoolClaim", "lessOrEquals", 1, {{"c", true}}, false},
        OperatorCase{"GreaterAbove", "greater", 2, {{"c", 3}}, true},
        OperatorCase{"GreaterEqual", "greater", 2, {{"c", 2}}, false},
        OperatorCase{"GreaterUint64Max", "greater", 0, {{"c", kUint64Max}}, true},
        OperatorCase{"GreaterNegativeVsUnsigned", "greater", kUint64Max, {{"c", -1}}, false},
        OperatorCase{"GreaterOrEqualsEqual", "greaterOrEquals", 2, {{"c", 2}}, true},
        OperatorCase{"GreaterOrEqualsBelow", "greaterOrEquals", 2, {{"c", 1}}, false},
        OperatorCase{"GreaterOrEqualsNegatives", "greaterOrEquals", -10, {{"c", -5}}, true},
        OperatorCase{"GreaterOrEqualsFloatBelow", "greaterOrEquals", 2.5, {{"c", 2}}, false},
        OperatorCase{"ExistsTruePresent", "exists", true, {{"c", "anything"}}, true},
        OperatorCase{"ExistsTruePresentObject", "exists", true, {{"c", {{"k", 1}}}}, true},
        OperatorCase{"ExistsTrueMissing", "exists", true, {{"other", 1}}, false},
        OperatorCase{"ExistsFalseMissing", "exists", false, {{"other", 1}}, true},
        OperatorCase{"ExistsFalsePresent", "exists", false, {{"c", false}}, false}),
    [](const ::testing::TestParamInfo<OperatorCase>& param_info) { return param_info.param.name; });

TEST(ReleasePolicyTest, DeniedMessageNamesConditionAndValues) {
  const ReleasePolicy policy = MustParse(
      PolicyWith(Json::array({Json{{"claim", "x-ms-sevsnpvm-vmpl"}, {"lessOrEquals", 0}}})));
  EXPECT_THAT(policy.Evaluate(Json{{"x-ms-sevsnpvm-vmpl", 1}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "release policy: claim x-ms-sevsnpvm-vmpl lessOrEquals 0 failed: found 1"));
}

TEST(ReleasePolicyTest, DeniedMessageForMissingClaim) {
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "a.b"}, {"equals", "x"}}})));
  EXPECT_THAT(policy.Evaluate(Json{{"a", {{"c", "x"}}}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "release policy: claim a.b equals \"x\" failed: found no such claim"));
}

TEST(ReleasePolicyTest, DeniedMessageForTypeMismatch) {
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "debug"}, {"equals", false}}})));
  EXPECT_THAT(policy.Evaluate(Json{{"debug", "false"}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("found \"false\", a string, want a boolean")));
}

TEST(ReleasePolicyTest, DottedPathReachesNestedClaim) {
  const ReleasePolicy policy = MustParse(PolicyWith(Json::array(
      {Json{{"claim", "x-ms-isolation-tee.x-ms-attestation-type"}, {"equals", "sevsnpvm"}}})));
  EXPECT_OK(policy.Evaluate(
      Json{{"x-ms-isolation-tee", {{"x-ms-attestation-type", "sevsnpvm"}}}}, kIssuer));
  EXPECT_THAT(policy.Evaluate(Json{{"x-ms-attestation-type", "sevsnpvm"}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(policy.Evaluate(Json{{"x-ms-isolation-tee", "sevsnpvm"}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReleasePolicyTest, DottedPathDoesNotIndexArrays) {
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "keys.0"}, {"exists", true}}})));
  EXPECT_THAT(policy.Evaluate(Json{{"keys", Json::array({1})}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReleasePolicyTest, NestedAnyOfInsideAllOf) {
  const ReleasePolicy policy = MustParse(PolicyWith(Json::array(
      {Json{{"claim", "status"}, {"equals", "ok"}},
       Json{{"anyOf", Json::array({Json{{"claim", "type"}, {"equals", "sevsnpvm"}},
                                   Json{{"claim", "type"}, {"equals", "tdxvm"}}})}}})));
  EXPECT_OK(policy.Evaluate(Json{{"status", "ok"}, {"type", "tdxvm"}}, kIssuer));
  EXPECT_OK(policy.Evaluate(Json{{"status", "ok"}, {"type", "sevsnpvm"}}, kIssuer));
  EXPECT_THAT(policy.Evaluate(Json{{"status", "ok"}, {"type", "sgx"}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "release policy: no anyOf condition matched (2 tried), first: claim type "
                       "equals \"sevsnpvm\" failed: found \"sgx\""));
  EXPECT_THAT(policy.Evaluate(Json{{"status", "bad"}, {"type", "tdxvm"}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("claim status equals")));
}

TEST(ReleasePolicyTest, ThreeLevelNesting) {
  const Json inner_all_of = Json{{"allOf", Json::array({Json{{"claim", "a"}, {"equals", 1}},
                                                        Json{{"claim", "b"}, {"equals", 2}}})}};
  const ReleasePolicy policy = MustParse(PolicyWith(Json::array(
      {Json{{"anyOf", Json::array({Json{{"claim", "c"}, {"equals", 3}}, inner_all_of})}}})));
  EXPECT_OK(policy.Evaluate(Json{{"c", 3}}, kIssuer));
  EXPECT_OK(policy.Evaluate(Json{{"a", 1}, {"b", 2}}, kIssuer));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 1}, {"b", 3}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReleasePolicyTest, AuthorityStatementWithAnyOf) {
  const Json document = {
      {"version", "1.0.0"},
      {"anyOf", Json::array({Json{{"authority", kIssuer},
                                  {"anyOf", Json::array({Json{{"claim", "a"}, {"equals", 1}},
                                                         Json{{"claim", "b"}, {"equals", 1}}})}}})}};
  const ReleasePolicy policy = MustParse(document);
  EXPECT_OK(policy.Evaluate(Json{{"b", 1}}, kIssuer));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 2}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReleasePolicyTest, AuthorityMismatchIsDenied) {
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}})));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 1}}, "https://attacker.test"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "release policy: token issuer \"https://attacker.test\" matches no "
                       "authority of the policy (https://vouch.test)"));
}

TEST(ReleasePolicyTest, EmptyIssuerIsDenied) {
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}})));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 1}}, ""), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 1}}, "/"), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReleasePolicyTest, AuthorityPrefixIsNotAMatch) {
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}})));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 1}}, "https://vouch.test.attacker.test"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 1}}, "https://vouch.tes"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReleasePolicyTest, AuthorityIgnoresTrailingSlash) {
  const Json document = {
      {"version", "1.0.0"},
      {"anyOf", Json::array({Json{{"authority", "https://vouch.test/"},
                                  {"allOf", Json::array({Json{{"claim", "a"}, {"exists", true}}})}}})}};
  const ReleasePolicy policy = MustParse(document);
  EXPECT_OK(policy.Evaluate(Json{{"a", 1}}, "https://vouch.test"));
  EXPECT_OK(policy.Evaluate(Json{{"a", 1}}, "https://vouch.test/"));
}

TEST(ReleasePolicyTest, LaterStatementForSameIssuerCanRelease) {
  const Json document = {
      {"version", "1.0.0"},
      {"anyOf",
       Json::array({Json{{"authority", kIssuer},
                         {"allOf", Json::array({Json{{"claim", "a"}, {"equals", 1}}})}},
                    Json{{"authority", "https://other.test"},
                         {"allOf", Json::array({Json{{"claim", "b"}, {"equals", 1}}})}},
                    Json{{"authority", kIssuer},
                         {"allOf", Json::array({Json{{"claim", "b"}, {"equals", 1}}})}}})}};
  const ReleasePolicy policy = MustParse(document);
  EXPECT_OK(policy.Evaluate(Json{{"b", 1}}, kIssuer));
  EXPECT_THAT(policy.Evaluate(Json{{"a", 2}}, kIssuer),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("claim a equals 1")));
}

TEST(ReleasePolicyTest, NamesClaim) {
  const ReleasePolicy policy = MustParse(PolicyWith(Json::array(
      {Json{{"anyOf", Json::array({Json{{"claim", "a.b"}, {"equals", 1}},
                                   Json{{"claim", "c"}, {"equals", 1}}})}}})));
  EXPECT_TRUE(policy.NamesClaim("a.b"));
  EXPECT_TRUE(policy.NamesClaim("c"));
  EXPECT_FALSE(policy.NamesClaim("a"));
  EXPECT_FALSE(policy.NamesClaim("x-vouch-simulated"));
}

TEST(ReleasePolicyTest, ClaimsMustBeObject) {
  const ReleasePolicy policy =
      MustParse(PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}})));
  EXPECT_THAT(policy.Evaluate(Json::array(), kIssuer),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReleasePolicyTest, KeepsDocument) {
  const Json document = PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}}));
  const ReleasePolicy policy = MustParse(document);
  EXPECT_EQ(policy.json(), document);
  EXPECT_EQ(policy.Authorities(), std::vector<std::string>{kIssuer});
}

TEST(ReleasePolicyTest, OperatorNames) {
  EXPECT_EQ(OperatorName(Operator::kLessOrEquals), "lessOrEquals");
  EXPECT_EQ(OperatorName(Operator::kExists), "exists");
}

TEST(ReleasePolicyTest, NormalizeAuthorityStripsTrailingSlashes) {
  EXPECT_EQ(NormalizeAuthority("https://a.test//"), "https://a.test");
  EXPECT_EQ(NormalizeAuthority("https://a.test"), "https://a.test");
  EXPECT_EQ(NormalizeAuthority("/"), "");
}

// Azure's published data-disk policy: 26 regional MAA authorities, each with
// a nested anyOf inside allOf over x-ms-isolation-tee claims.
TEST(ReleasePolicyTest, AzureSamplePolicyParsesAndEvaluates) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes text = ::vouch::testing::ReadVector("azure/skr-policy-datadisk-example.json");
  ASSERT_OK_AND_ASSIGN(const ReleasePolicy policy, ReleasePolicy::Parse(ToString(text)));
  EXPECT_EQ(policy.Authorities().size(), 26u);
  EXPECT_TRUE(policy.NamesClaim("x-ms-isolation-tee.x-ms-compliance-status"));

  const Bytes claims_text = ::vouch::testing::ReadVector("tokens/maa-azurecvm-claims-sample.json");
  Json claims = Json::parse(ToString(claims_text), nullptr, false);
  ASSERT_FALSE(claims.is_discarded());
  // The sample claims come from a test instance whose issuer is in no policy.
  EXPECT_THAT(policy.Evaluate(claims, claims["iss"].get<std::string>()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("matches no authority")));
  EXPECT_OK(policy.Evaluate(claims, "https://sharedeus.eus.attest.azure.net"));
  EXPECT_OK(policy.Evaluate(claims, "https://sharedscus.scus.attest.azure.net/"));

  claims["x-ms-isolation-tee"]["x-ms-compliance-status"] = "not-compliant";
  EXPECT_THAT(policy.Evaluate(claims, "https://sharedeus.eus.attest.azure.net"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "release policy: claim x-ms-isolation-tee.x-ms-compliance-status equals "
                       "\"azure-compliant-cvm\" failed: found \"not-compliant\""));
}

// The claims of a real Azure Attestation token for an Azure confidential VM
// (sharedweu, 2023) satisfy Azure's published data-disk policy.
TEST(ReleasePolicyTest, RealAzureTokenClaimsSatisfySamplePolicy) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes policy_text = ::vouch::testing::ReadVector("azure/skr-policy-datadisk-example.json");
  ASSERT_OK_AND_ASSIGN(const ReleasePolicy policy, ReleasePolicy::Parse(ToString(policy_text)));

  const std::string jwt =
      ToString(::vouch::testing::ReadVector("tokens/maa-azurecvm-sevsnp-sharedweu-2023-03-30.jwt"));
  const size_t first_dot = jwt.find('.');
  const size_t second_dot = jwt.find('.', first_dot + 1);
  ASSERT_NE(second_dot, std::string::npos);
  ASSERT_OK_AND_ASSIGN(const Bytes payload,
                       Base64UrlDecode(jwt.substr(first_dot + 1, second_dot - first_dot - 1)));
  const Json claims = Json::parse(ToString(payload), nullptr, false);
  ASSERT_TRUE(claims.is_object());
  ASSERT_EQ(claims["iss"], "https://sharedweu.weu.attest.azure.net");
  EXPECT_OK(policy.Evaluate(claims, claims["iss"].get<std::string>()));
}

TEST(ReleasePolicyTest, RejectsEveryTruncation) {
  const std::string text =
      PolicyWith(Json::array({Json{{"claim", "a.b"}, {"lessOrEquals", 3}},
                              Json{{"anyOf", Json::array({Json{{"claim", "c"}, {"equals", "x"}},
                                                          Json{{"claim", "d"}, {"exists", true}}})}}}))
          .dump();
  ASSERT_OK(ReleasePolicy::Parse(text).status());
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_THAT(ReleasePolicy::Parse(text.substr(0, n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
}

struct MalformedCase {
  std::string name;
  std::string policy;
  std::string message;
};

class MalformedPolicyTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedPolicyTest, IsRejected) {
  EXPECT_THAT(ReleasePolicy::Parse(GetParam().policy),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

// Wrap builds a policy around one condition list given as JSON text.
std::string Wrap(const std::string& all_of) {
  return R"({"version": "1.0.0", "anyOf": [{"authority": "https://a.test", "allOf": )" + all_of +
         "}]}";
}

std::string Nested(int levels) {
  std::string text = R"({"claim": "a", "exists": true})";
  for (int i = 0; i < levels; ++i) {
    text = R"({"allOf": [)" + text + "]}";
  }
  return "[" + text + "]";
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, MalformedPolicyTest,
    ::testing::Values(
        MalformedCase{"NotJson", "{", "invalid JSON"},
        MalformedCase{"TopLevelArray", "[]", "want an object"},
        MalformedCase{"MissingVersion",
                      R"({"anyOf": [{"authority": "https://a.test", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "missing \"version\""},
        MalformedCase{"UnknownVersion",
                      R"({"version": "1.0.2", "anyOf": [{"authority": "https://a.test", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "version \"1.0.2\" is not supported"},
        MalformedCase{"NumericVersion",
                      R"({"version": 1, "anyOf": [{"authority": "https://a.test", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "version 1 is not supported"},
        MalformedCase{"MissingAnyOf", R"({"version": "1.0.0"})", "missing \"anyOf\""},
        MalformedCase{"EmptyAnyOf", R"({"version": "1.0.0", "anyOf": []})", "non-empty array"},
        MalformedCase{"AnyOfNotArray", R"({"version": "1.0.0", "anyOf": {}})", "non-empty array"},
        MalformedCase{"AllOfAtTopLevel",
                      R"({"version": "1.0.0", "allOf": [{"authority": "https://a.test", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "unknown member \"allOf\""},
        MalformedCase{"UnknownTopLevelMember",
                      R"({"version": "1.0.0", "comment": "x", "anyOf": [{"authority": "https://a.test", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "top level: unknown member \"comment\""},
        MalformedCase{"LowerCaseAnyOf",
                      R"({"version": "1.0.0", "anyof": [{"authority": "https://a.test", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "case-sensitive, use \"anyOf\""},
        MalformedCase{"AuthorityStatementNotObject", R"({"version": "1.0.0", "anyOf": ["x"]})",
                      "anyOf[0]: an authority statement must be an object"},
        MalformedCase{"MissingAuthority",
                      R"({"version": "1.0.0", "anyOf": [{"allOf": [{"claim": "a", "exists": true}]}]})",
                      "anyOf[0]: missing \"authority\""},
        MalformedCase{"EmptyAuthority",
                      R"({"version": "1.0.0", "anyOf": [{"authority": "", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "anyOf[0].authority"},
        MalformedCase{"NumericAuthority",
                      R"({"version": "1.0.0", "anyOf": [{"authority": 7, "allOf": [{"claim": "a", "exists": true}]}]})",
                      "anyOf[0].authority: want a string, found a number"},
        MalformedCase{"AuthorityWithSpace",
                      R"({"version": "1.0.0", "anyOf": [{"authority": "https://a.test x", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "without spaces"},
        MalformedCase{"AuthorityWithBothGroups",
                      R"({"version": "1.0.0", "anyOf": [{"authority": "https://a.test", "allOf": [{"claim": "a", "exists": true}], "anyOf": [{"claim": "b", "exists": true}]}]})",
                      "anyOf[0]: want exactly one of \"allOf\" or \"anyOf\""},
        MalformedCase{"AuthorityWithoutGroup",
                      R"({"version": "1.0.0", "anyOf": [{"authority": "https://a.test"}]})",
                      "anyOf[0]: want exactly one of \"allOf\" or \"anyOf\""},
        MalformedCase{"AuthorityWithClaimDirectly",
                      R"({"version": "1.0.0", "anyOf": [{"authority": "https://a.test", "claim": "a", "exists": true}]})",
                      "unknown member \"claim\""},
        MalformedCase{"EmptyAllOf", Wrap("[]"), "anyOf[0].allOf: must be a non-empty array"},
        MalformedCase{"AllOfNotArray", Wrap(R"({"claim": "a", "exists": true})"),
                      "anyOf[0].allOf: must be a non-empty array"},
        MalformedCase{"ConditionNotObject", Wrap(R"(["a"])"),
                      "anyOf[0].allOf[0]: a condition must be an object"},
        MalformedCase{"ConditionWithoutClaim", Wrap(R"([{"equals": 1}])"),
                      "a condition needs \"claim\", \"allOf\" or \"anyOf\""},
        MalformedCase{"EmptyCondition", Wrap(R"([{}])"),
                      "a condition needs \"claim\", \"allOf\" or \"anyOf\""},
        MalformedCase{"EmptyClaimName", Wrap(R"([{"claim": "", "equals": 1}])"),
                      "anyOf[0].allOf[0].claim"},
        MalformedCase{"ClaimWithEmptySegment", Wrap(R"([{"claim": "a..b", "equals": 1}])"),
                      "claim \"a..b\" has an empty path segment"},
        MalformedCase{"ClaimWithTrailingDot", Wrap(R"([{"claim": "a.", "equals": 1}])"),
                      "has an empty path segment"},
        MalformedCase{"ClaimWithLeadingDot", Wrap(R"([{"claim": ".a", "equals": 1}])"),
                      "has an empty path segment"},
        MalformedCase{"ClaimNotString", Wrap(R"([{"claim": ["a"], "equals": 1}])"),
                      "claim: want a string, found an array"},
        MalformedCase{"ClaimWithoutOperator", Wrap(R"([{"claim": "a"}])"),
                      "claim a has no operator, want one of equals, notEquals"},
        MalformedCase{"ClaimWithTwoOperators", Wrap(R"([{"claim": "a", "equals": 1, "less": 2}])"),
                      "claim a has 2 operators (equals, less), want one"},
        MalformedCase{"UnknownOperator", Wrap(R"([{"claim": "a", "matches": "x"}])"),
                      "unknown member \"matches\""},
        MalformedCase{"LowerCaseOperator", Wrap(R"([{"claim": "a", "lessorequals": 1}])"),
                      "use \"lessOrEquals\""},
        MalformedCase{"ClaimConditionWithNestedGroup",
                      Wrap(R"([{"claim": "a", "exists": true, "allOf": [{"claim": "b", "exists": true}]}])"),
                      "unknown member \"allOf\""},
        MalformedCase{"EqualsObject", Wrap(R"([{"claim": "a", "equals": {"x": 1}}])"),
                      "equals takes a string, number or boolean, found an object"},
        MalformedCase{"EqualsArray", Wrap(R"([{"claim": "a", "equals": [1]}])"),
                      "found an array"},
        MalformedCase{"EqualsNull", Wrap(R"([{"claim": "a", "equals": null}])"), "found a null"},
        MalformedCase{"NotEqualsObject", Wrap(R"([{"claim": "a", "notEquals": {}}])"),
                      "notEquals takes a string, number or boolean"},
        MalformedCase{"LessString", Wrap(R"([{"claim": "a", "less": "5"}])"),
                      "less takes a number, found a string"},
        MalformedCase{"GreaterBool", Wrap(R"([{"claim": "a", "greater": true}])"),
                      "greater takes a number, found a boolean"},
        MalformedCase{"GreaterOrEqualsNull", Wrap(R"([{"claim": "a", "greaterOrEquals": null}])"),
                      "greaterOrEquals takes a number"},
        MalformedCase{"ExistsString", Wrap(R"([{"claim": "a", "exists": "true"}])"),
                      "exists takes true or false, found a string"},
        MalformedCase{"GroupWithExtraMember",
                      Wrap(R"([{"anyOf": [{"claim": "a", "exists": true}], "note": 1}])"),
                      "anyOf[0].allOf[0]: unknown member \"note\""},
        MalformedCase{"GroupWithBothKinds",
                      Wrap(R"([{"anyOf": [{"claim": "a", "exists": true}], "allOf": [{"claim": "b", "exists": true}]}])"),
                      "anyOf[0].allOf[0]: want exactly one of \"allOf\" or \"anyOf\""},
        MalformedCase{"NestedEmptyAnyOf", Wrap(R"([{"anyOf": []}])"),
                      "anyOf[0].allOf[0].anyOf: must be a non-empty array"},
        MalformedCase{"NestedTooDeep", Wrap(Nested(8)), "nested 9 levels deep, limit 8"},
        MalformedCase{"DuplicateMember", Wrap(R"([{"claim": "a", "equals": 1, "equals": 2}])"),
                      "duplicate member \"equals\""},
        MalformedCase{"DuplicateAuthority",
                      R"({"version": "1.0.0", "anyOf": [{"authority": "https://a.test", "authority": "https://b.test", "allOf": [{"claim": "a", "exists": true}]}]})",
                      "duplicate member \"authority\""},
        MalformedCase{"LongString", Wrap(R"([{"claim": "a", "equals": ")" +
                                         std::string(3000, 'x') + R"("}])"),
                      "string of 3000 bytes, limit 2048"}),
    [](const ::testing::TestParamInfo<MalformedCase>& param_info) { return param_info.param.name; });

TEST(ReleasePolicyTest, DeepestAllowedNestingParses) {
  EXPECT_OK(ReleasePolicy::Parse(Wrap(Nested(7))).status());
}

TEST(ReleasePolicyTest, RejectsTooManyAuthorities) {
  Json document = PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}}));
  const Json statement = document["anyOf"][0];
  for (int i = 0; i < 3; ++i) {
    document["anyOf"].push_back(statement);
  }
  EXPECT_THAT(ReleasePolicy::Parse(document.dump(), {.max_authorities = 3}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4 authority statements, limit 3")));
}

TEST(ReleasePolicyTest, RejectsTooManyConditions) {
  Json conditions = Json::array();
  for (int i = 0; i < 5; ++i) {
    conditions.push_back(Json{{"claim", "a"}, {"exists", true}});
  }
  EXPECT_THAT(ReleasePolicy::Parse(PolicyWith(conditions).dump(), {.max_conditions = 4}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more than 4 claim conditions")));
}

TEST(ReleasePolicyTest, RejectsOversizedText) {
  const std::string text = PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}})).dump();
  EXPECT_THAT(ReleasePolicy::Parse(text, {.max_bytes = 40}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit 40")));
}

TEST(ReleasePolicyTest, FromJsonValidatesToo) {
  EXPECT_THAT(ReleasePolicy::FromJson(Json{{"version", "1.0.0"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ReleasePolicy::FromJson(PolicyWith(Json::array({Json{{"claim", "a"}, {"exists", true}}})))
                .status());
}

}  // namespace
}  // namespace vouch::policy
