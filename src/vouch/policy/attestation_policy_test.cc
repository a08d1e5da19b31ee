#include "vouch/policy/attestation_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vouch/policy/attestation_policy_lexer.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

AttestationPolicy MustParse(std::string_view text) {
  absl::StatusOr<AttestationPolicy> policy = AttestationPolicy::Parse(text);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *std::move(policy) : *AttestationPolicy::Parse("version=1.0; authorizationrules{};");
}

Evaluation MustEvaluate(std::string_view text, const Json& claims) {
  const AttestationPolicy policy = MustParse(text);
  absl::StatusOr<Evaluation> evaluation = policy.Evaluate(claims);
  EXPECT_TRUE(evaluation.ok()) << evaluation.status();
  return evaluation.ok() ? *std::move(evaluation) : Evaluation();
}

const Json& SnpClaims() {
  static const Json* claims = new Json{
      {"x-ms-attestation-type", "sevsnpvm"},
      {"x-ms-sevsnpvm-vmpl", 0},
      {"x-ms-sevsnpvm-is-debuggable", false},
      {"x-ms-sevsnpvm-guestsvn", 3},
      {"x-ms-sevsnpvm-launchmeasurement", "aabbcc"},
      {"x-ms-runtime", {{"keys", Json::array()}}},
  };
  return *claims;
}

// ---------------------------------------------------------------- parser

TEST(AttestationPolicyParseTest, ParsesEveryConstruct) {
  const AttestationPolicy policy = MustParse(R"(
    // line comment
    version= 1.0;
    /* block
       comment */
    authorizationrules
    {
      [type=="x-ms-sevsnpvm-is-debuggable", value==true] => deny();
      c1:[type=="x-ms-sevsnpvm-vmpl", issuer=="AttestationService", value<=0] &&
      c2:[type=="x-ms-sevsnpvm-guestsvn", value>=1, value<10, value>0.5, value!=7] &&
      [type=="x-ms-attestation-type", value=="sevsnpvm", issuer!="CustomClaim"]
        => permit();
      => add(type="marker", value=-12);
    };
    issuancerules {
      c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="measurement", value=c.value);
      c:[type=="x-ms-sevsnpvm-vmpl"] => issue(claim=c);
      c1:[type=="x-ms-sevsnpvm-vmpl"] && [type=="marker", value==c1.value] => add(value=false, type="both");
      => issue(type = "token-ver", value = "1.0");
    };
  )");
  EXPECT_EQ(policy.version(), "1.0");
  ASSERT_EQ(policy.rules().size(), 7u);
  const Rule& permit = policy.rules()[1];
  EXPECT_EQ(permit.section, PolicySection::kAuthorization);
  EXPECT_EQ(permit.index, 2u);
  EXPECT_EQ(permit.position.line, 9);
  EXPECT_EQ(permit.position.column, 7);
  ASSERT_EQ(permit.conditions.size(), 3u);
  EXPECT_EQ(permit.conditions[0].variable, "c1");
  EXPECT_EQ(permit.conditions[1].tests.size(), 5u);
  EXPECT_EQ(permit.conditions[1].tests[3].operand.literal, Json(0.5));
  EXPECT_EQ(permit.action.kind, Action::Kind::kPermit);
  EXPECT_THAT(permit.text, StartsWith("c1:[type==\"x-ms-sevsnpvm-vmpl\", issuer=="));
  EXPECT_EQ(policy.rules()[2].action.value->literal, Json(-12));
  EXPECT_EQ(policy.rules()[4].action.claim_variable, "c");
  EXPECT_EQ(policy.rules()[5].conditions[1].tests[1].operand.kind,
            Expression::Kind::kClaimProperty);
  EXPECT_OK(policy.CheckSupported());
}

TEST(AttestationPolicyParseTest, ParsesVersion11ConfigurationRules) {
  const AttestationPolicy policy = MustParse(R"(version=1.1;
configurationrules{
=> issueproperty(type = "required_pcr_mask", value = 15);
};
authorizationrules { => permit(); };
issuancerules { };)");
  EXPECT_EQ(policy.version(), "1.1");
  EXPECT_EQ(policy.rules()[0].action.kind, Action::Kind::kIssueProperty);
  EXPECT_THAT(policy.CheckSupported(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("3:1: configurationrules are not")));
}

TEST(AttestationPolicyParseTest, ParsesVersion12NegationAndFunctions) {
  const AttestationPolicy policy = MustParse(R"(version=1.2;
authorizationrules { => permit(); };
issuancerules {
  c:[type == "events", issuer=="AttestationService"] => add(type = "efi", value = JmesPath(c.value, "Events[0]"));
  ![type=="secureBootEnabled", issuer=="AttestationPolicy"] => issue(type="secureBootEnabled", value=false);
};)");
  EXPECT_TRUE(policy.rules()[2].conditions[0].negated);
  EXPECT_EQ(policy.rules()[1].action.value->function, "JmesPath");
  EXPECT_THAT(policy.CheckSupported(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4:83: function JmesPath() is not supported")));
}

struct ParseErrorCase {
  std::string name;
  std::string text;
  std::string want;  // substring of the message, including line:column
};

class AttestationPolicyParseErrorTest : public ::testing::TestWithParam<ParseErrorCase> {};

TEST_P(AttestationPolicyParseErrorTest, ReportsLineAndColumn) {
  const ParseErrorCase& test = GetParam();
  absl::StatusOr<AttestationPolicy> policy = AttestationPolicy::Parse(test.text);
  ASSERT_FALSE(policy.ok()) << test.text;
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr(test.want));
  EXPECT_THAT(std::string(policy.status().message()), StartsWith("attestation policy "));
}

constexpr char kHead[] = "version=1.0;\nauthorizationrules {\n";

std::vector<ParseErrorCase> ParseErrorCases() {
  const std::string head = kHead;
  return {
      {"NoVersion", "authorizationrules { => permit(); };", "1:1: a policy starts with"},
      {"BadVersion", "version=2.0;", "1:9: unsupported version 2.0"},
      {"IntegerVersion", "version=1;", "1:9: unsupported version 1,"},
      {"VersionWithoutSemicolon", "version=1.0 authorizationrules", "1:13: expected ';'"},
      {"UnknownSection", "version=1.0;\nrules { };", "2:1: unknown section 'rules'"},
      {"NoAuthorization", "version=1.0;\nissuancerules { };", "2:19: the policy has no "
                                                                 "authorizationrules"},
      {"DuplicateSection", head + "};\nauthorizationrules { };", "4:1: section "
                                                                  "authorizationrules appears twice"},
      {"SectionsOutOfOrder", "version=1.0;\nissuancerules { };\nauthorizationrules { };",
       "3:1: section authorizationrules is out of order"},
      {"ConfigurationIn10", "version=1.0;\nconfigurationrules { };", "2:1: configurationrules "
                                                                     "needs version=1.1"},
      {"SectionNotClosed", head + "=> permit();\n", "4:1: section authorizationrules is not "
                                                    "closed"},
      {"SectionWithoutSemicolon", head + "}\nissuancerules {};", "4:1: expected ';' after '}'"},
      {"RuleWithoutSemicolon", head + "=> permit()\n};", "4:1: expected ';' after the rule"},
      {"MissingArrow", head + "[type==\"a\"] permit();", "3:13: expected '&&' or '=>'"},
      {"SingleEquals", head + "[type=\"a\"] => permit();", "3:6: '=' in a condition"},
      {"UnknownProperty", head + "[kind==\"a\"] => permit();", "3:2: unknown claim property "
                                                               "'kind'"},
      {"EmptyCondition", head + "[] => permit();", "3:2: empty condition"},
      {"NoTypeTest", head + "[value==1] => permit();", "3:1: condition has no type=="},
      {"TypeTwice", head + "[type==\"a\", type==\"b\"] => permit();", "3:13: condition tests "
                                                                      "type== twice"},
      {"OrderingOnString", head + "[type==\"a\", value<\"b\"] => permit();",
       "3:19: operator < compares numbers, found a string"},
      {"OrderingOnBoolean", head + "[type==\"a\", value>=true] => permit();",
       "3:20: operator >= compares numbers, found a boolean"},
      {"OrderingOnType", head + "[type<\"a\"] => permit();", "3:6: operator < is not defined "
                                                             "for type"},
      {"TypeWithNumber", head + "[type==1] => permit();", "3:8: type is compared with a string"},
      {"UnboundVariable", head + "[type==\"a\", value==c.value] => permit();",
       "3:20: variable 'c' is not bound"},
      {"SelfReference", head + "c:[type==\"a\", value==c.value] => permit();",
       "3:22: variable 'c' is not bound"},
      {"DuplicateVariable", head + "c:[type==\"a\"] && c:[type==\"b\"] => permit();",
       "3:18: variable 'c' is bound twice"},
      {"BareWord", head + "[type==\"a\", value==yes] => permit();", "3:20: 'yes' is not a value"},
      {"IntegerOverflow", head + "[type==\"a\", value==99999999999999999999] => permit();",
       "3:20: integer 99999999999999999999 is out of the 64-bit range"},
      {"ExponentWithoutDigits", head + "[type==\"a\", value==1e] => permit();",
       "3:22: number 1e has an exponent without digits"},
      {"UnknownAction", head + "=> allow();", "3:4: unknown action 'allow'"},
      {"PermitWithArgument", head + "=> permit(claim=c);", "3:11: permit() takes no arguments"},
      {"IssueInAuthorization", head + "=> issue(type=\"a\", value=1);",
       "3:4: issue() is not allowed in authorizationrules"},
      {"PermitInIssuance", "version=1.0;\nauthorizationrules {};\nissuancerules { => permit(); };",
       "3:20: permit() is not allowed in issuancerules"},
      {"IssueWithoutValue", "version=1.0;\nauthorizationrules {};\nissuancerules { => "
                            "issue(type=\"a\"); };",
       "3:20: issue() needs claim=<variable>, or both type= and value="},
      {"IssueUnboundClaim", "version=1.0;\nauthorizationrules {};\nissuancerules { => "
                            "issue(claim=c); };",
       "3:32: claim= takes a variable bound"},
      {"IssueTypeNotLiteral", "version=1.0;\nauthorizationrules {};\nissuancerules { "
                              "c:[type==\"a\"] => issue(type=c.value, value=1); };",
       "3:45: type= takes a string literal"},
      {"UnknownArgument", head + "=> add(kind=\"a\", value=1);", "3:8: unknown argument 'kind'"},
      {"NegationIn10", head + "![type==\"a\"] => permit();", "3:1: '!' before a condition "
                                                              "needs version=1.2"},
      {"FunctionIn10", head + "=> add(type=\"a\", value=AppendString(\"x\", \"y\"));",
       "3:24: function call AppendString() needs version=1.2"},
      {"NegatedBinding", "version=1.2;\nauthorizationrules { !c:[type==\"a\"] => permit(); };",
       "2:23: a negated condition matches no claim, so it cannot bind 'c'"},
      {"SingleAmpersand", head + "[type==\"a\"] & [type==\"b\"] => permit();",
       "3:13: unexpected '&'"},
      {"UnexpectedCharacter", head + "@", "3:1: unexpected character '@'"},
      {"UnterminatedString", head + "[type==\"abc] => permit();\n};",
       "3:8: unterminated string literal: line break"},
      {"UnterminatedStringAtEnd", head + "[type==\"abc", "3:8: unterminated string literal"},
      {"UnterminatedComment", head + "/* never closed\n\n", "3:1: unterminated block comment"},
      {"InvalidEscape", head + "[type==\"a\\q\"] => permit();", "3:10: invalid escape '\\q'"},
      {"ShortUnicodeEscape", head + "[type==\"\\u12\"] => permit();", "3:9: \\u escape needs 4"},
      {"LoneSurrogate", head + "[type==\"\\udc00\"] => permit();", "3:9: \\u escape of a lone "
                                                                   "low surrogate"},
      {"ControlInString", head + "[type==\"a\tb\"] => permit();", "3:10: control character "
                                                                  "0x09"},
      {"InvalidUtf8InString", head + "[type==\"a\xff\"] => permit();", "3:10: invalid UTF-8 "
                                                                       "byte 0xff"},
      {"InvalidUtf8InComment", head + "// \xc0\xaf\n", "3:4: invalid UTF-8 byte 0xc0"},
      {"NulByte", head + std::string("\0", 1), "3:1: unexpected byte 0x00"},
  };
}

INSTANTIATE_TEST_SUITE_P(Grammar, AttestationPolicyParseErrorTest,
                         ::testing::ValuesIn(ParseErrorCases()),
                         [](const ::testing::TestParamInfo<ParseErrorCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(AttestationPolicyParseTest, DecodesEscapes) {
  const AttestationPolicy policy = MustParse(
      "version=1.0; authorizationrules { [type==\"a\\\"b\\\\c\\/\\u00e9\\ud83d\\ude00\\n\"] => "
      "permit(); };");
  EXPECT_EQ(policy.rules()[0].conditions[0].claim_type, "a\"b\\c/\xc3\xa9\xf0\x9f\x98\x80\n");
}

TEST(AttestationPolicyParseTest, CountsColumnsInCharacters) {
  absl::StatusOr<AttestationPolicy> policy =
      AttestationPolicy::Parse("version=1.0; /* \xc3\xa9\xc3\xa9 */ @");
  EXPECT_THAT(policy, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1:23:")));
}

TEST(AttestationPolicyParseTest, RejectsHugeLiteral) {
  const std::string text = std::string(kHead) + "[type==\"" + std::string(9000, 'a') +
                           "\"] => permit(); };";
  EXPECT_THAT(AttestationPolicy::Parse(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("3:8: string literal longer than 8192 bytes")));
}

TEST(AttestationPolicyParseTest, RejectsOversizedPolicy) {
  const std::string text = "version=1.0;" + std::string(300 * 1024, ' ');
  EXPECT_THAT(AttestationPolicy::Parse(text),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1:1: policy of 307212 "
                                                                     "bytes, max 262144")));
  // A valid policy padded past the limit, so only the size check rejects it.
  const std::string padded =
      "version=1.0; authorizationrules { => permit(); };" + std::string(300 * 1024, ' ');
  EXPECT_THAT(AttestationPolicy::Parse(padded),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bytes, max 262144")));
}

TEST(AttestationPolicyParseTest, RejectsDeepFunctionNesting) {
  std::string value = "\"x\"";
  for (int i = 0; i < 5000; ++i) {
    value = "NegateBool(" + value + ")";
  }
  const std::string text =
      "version=1.2; authorizationrules { => add(type=\"a\", value=" + value + "); };";
  EXPECT_THAT(AttestationPolicy::Parse(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("function calls nested deeper than 8")));
}

TEST(AttestationPolicyParseTest, RejectsTooManyConditions) {
  std::string conditions = "[type==\"a\"]";
  for (int i = 0; i < 100; ++i) {
    conditions += " && [type==\"a\"]";
  }
  EXPECT_THAT(AttestationPolicy::Parse(std::string(kHead) + conditions + " => permit(); };"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more than 64 conditions in one rule")));
}

TEST(AttestationPolicyParseTest, RejectsTooManyRules) {
  AttestationPolicyLimits limits;
  limits.max_rules = 3;
  std::string text = kHead;
  for (int i = 0; i < 4; ++i) {
    text += "=> permit();\n";
  }
  EXPECT_THAT(AttestationPolicy::Parse(text + "};", limits),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("6:1: more than 3 rules")));
}

TEST(AttestationPolicyParseTest, EveryTruncationFailsCleanly) {
  const std::string good =
      "version=1.0; authorizationrules { c:[type==\"a\", value>=1] => permit(); }; "
      "issuancerules { c:[type==\"a\"] => issue(type=\"b\", value=c.value); };";
  ASSERT_TRUE(AttestationPolicy::Parse(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    absl::StatusOr<AttestationPolicy> policy = AttestationPolicy::Parse(good.substr(0, n));
    if (!policy.ok()) {
      EXPECT_THAT(std::string(policy.status().message()), StartsWith("attestation policy "))
          << "length " << n;
    }
  }
}

TEST(AttestationPolicyParseTest, CheckClaimTypesNamesUnknownClaim) {
  const AttestationPolicy policy = MustParse(R"(version=1.0;
authorizationrules {
  => add(type="derived", value=true);
  [type=="derived"] && [type=="x-ms-sevsnpvm-vmpl"] => permit();
  [type=="x-ms-sevsnpvm-vmpI"] => deny();
};)");
  const std::set<std::string, std::less<>> known = {"x-ms-sevsnpvm-vmpl"};
  EXPECT_THAT(policy.CheckClaimTypes(known),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("5:3: unknown claim type \"x-ms-sevsnpvm-vmpI\"")));
  EXPECT_OK(MustParse("version=1.0; authorizationrules { [type==\"x-ms-sevsnpvm-vmpl\"] => "
                      "permit(); };")
                .CheckClaimTypes(known));
}

// ------------------------------------------------------------- evaluator

TEST(AttestationPolicyEvaluateTest, PermitRuleFires) {
  const Evaluation result = MustEvaluate(
      "version=1.0; authorizationrules { [type==\"x-ms-sevsnpvm-vmpl\", value==0] => permit(); "
      "};",
      SnpClaims());
  EXPECT_TRUE(result.permitted);
  EXPECT_EQ(result.reason, "permitted by authorizationrules rule 1 at 1:35");
  EXPECT_EQ(result.issued, Json::object());
}

TEST(AttestationPolicyEvaluateTest, DenyBeforePermitDenies) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-is-debuggable", value==false] => deny();
  => permit();
};)",
                                         SnpClaims());
  EXPECT_FALSE(result.permitted);
  EXPECT_THAT(result.reason,
              HasSubstr("denied by authorizationrules rule 1 at 3:3: "
                        "[type==\"x-ms-sevsnpvm-is-debuggable\", value==false] => deny();"));
  ASSERT_EQ(result.trace.size(), 1u);  // evaluation stops at the deny
}

TEST(AttestationPolicyEvaluateTest, DenyAfterPermitStillDenies) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  => permit();
  [type=="x-ms-sevsnpvm-guestsvn", value<5] => deny();
};
issuancerules { => issue(type="never", value=1); };)",
                                         SnpClaims());
  EXPECT_FALSE(result.permitted);
  EXPECT_THAT(result.reason, HasSubstr("rule 2 at 4:3"));
  EXPECT_EQ(result.issued, Json::object());
}

TEST(AttestationPolicyEvaluateTest, DenyThatDoesNotFireLetsPermitDecide) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-is-debuggable", value==true] => deny();
  => permit();
};)",
                                         SnpClaims());
  EXPECT_TRUE(result.permitted);
  ASSERT_EQ(result.trace.size(), 2u);
  EXPECT_FALSE(result.trace[0].fired);
  EXPECT_THAT(result.trace[0].detail, HasSubstr("x-ms-sevsnpvm-is-debuggable is false"));
  EXPECT_TRUE(result.trace[1].fired);
}

TEST(AttestationPolicyEvaluateTest, NoPermitNamesFirstPermitRule) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-guestsvn", value>=4] => permit();
  [type=="missing-claim"] => permit();
};)",
                                         SnpClaims());
  EXPECT_FALSE(result.permitted);
  EXPECT_EQ(result.reason,
            "no authorization rule permitted the evidence; authorizationrules rule 1 at 3:3 did "
            "not fire: condition 1 [type==\"x-ms-sevsnpvm-guestsvn\", value>=4]: not met, "
            "x-ms-sevsnpvm-guestsvn is 3");
  EXPECT_EQ(result.trace[1].detail, "condition 1 [type==\"missing-claim\"]: no claim missing-claim");
}

TEST(AttestationPolicyEvaluateTest, EmptyAuthorizationDenies) {
  const Evaluation result = MustEvaluate("version=1.0; authorizationrules { };", SnpClaims());
  EXPECT_FALSE(result.permitted);
  EXPECT_EQ(result.reason, "no authorization rule permitted the evidence");
}

TEST(AttestationPolicyEvaluateTest, AddIsVisibleToLaterRules) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  [type=="derived", issuer=="AttestationPolicy"] => permit();
  [type=="x-ms-sevsnpvm-vmpl", value==0] => add(type="derived", value=true);
  c:[type=="derived", value==true, issuer=="AttestationPolicy"] => permit();
};
issuancerules {
  c:[type=="derived"] => issue(claim=c);
};)",
                                         SnpClaims());
  EXPECT_TRUE(result.permitted);
  EXPECT_FALSE(result.trace[0].fired);  // the added claim did not exist yet
  EXPECT_THAT(result.reason, HasSubstr("rule 3"));
  EXPECT_EQ(result.issued, (Json{{"derived", true}}));
}

TEST(AttestationPolicyEvaluateTest, AddedClaimIsNotIssued) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules { => permit(); };
issuancerules {
  => add(type="helper", value="h");
  c:[type=="helper"] => issue(type="from-helper", value=c.value);
};)",
                                         SnpClaims());
  EXPECT_EQ(result.issued, (Json{{"from-helper", "h"}}));
}

TEST(AttestationPolicyEvaluateTest, IssuesCValueAndLiterals) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules { => permit(); };
issuancerules {
  c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="measurement", value=c.value);
  c:[type=="x-ms-runtime"] => issue(type="runtime-copy", value=c.value);
  => issue(type="level", value=100);
  => issue(type="level", value=2.5);
  => issue(type="name", value="vouch");
};)",
                                         SnpClaims());
  EXPECT_EQ(result.issued["measurement"], "aabbcc");
  EXPECT_EQ(result.issued["runtime-copy"], (Json{{"keys", Json::array()}}));
  EXPECT_EQ(result.issued["level"], Json::array({100, 2.5}));
  EXPECT_EQ(result.issued["name"], "vouch");
  EXPECT_THAT(result.trace.back().detail, HasSubstr("issued name=\"vouch\""));
}

TEST(AttestationPolicyEvaluateTest, CrossReferenceBetweenConditions) {
  const Json claims = {{"a", 5}, {"b", 5}, {"c", 6}};
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  x:[type=="a"] && [type=="c", value==x.value] => deny();
  x:[type=="a"] && y:[type=="b", value==x.value] => permit();
};)",
                                         claims);
  EXPECT_TRUE(result.permitted);
  EXPECT_THAT(result.trace[0].detail, HasSubstr("condition 2 [type==\"c\", value==x.value]"));
}

TEST(AttestationPolicyEvaluateTest, BindsEveryMatchingClaim) {
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  => add(type="item", value=1);
  => add(type="item", value=2);
  => add(type="item", value=3);
  => permit();
};
issuancerules {
  c:[type=="item", value>=2] => issue(type="big", value=c.value);
};)",
                                         Json::object());
  EXPECT_EQ(result.issued["big"], Json::array({2, 3}));
  EXPECT_EQ(result.trace.back().bindings, 2u);
}

TEST(AttestationPolicyEvaluateTest, BindingLimitIsAnError) {
  AttestationPolicyLimits limits;
  limits.max_bindings_per_rule = 3;
  std::string text = "version=1.0; authorizationrules {";
  for (int i = 0; i < 2; ++i) {
    text += fmt::format(" => add(type=\"item\", value={});", i);
  }
  text += " a:[type==\"item\"] && b:[type==\"item\"] => permit(); };";
  absl::StatusOr<AttestationPolicy> policy = AttestationPolicy::Parse(text, limits);
  ASSERT_OK(policy.status());
  EXPECT_THAT(policy->Evaluate(Json::object()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("more than 3 claim combinations")));
}

struct MismatchCase {
  std::string name;
  std::string condition;
  std::string want;
};

class AttestationPolicyTypeMismatchTest : public ::testing::TestWithParam<MismatchCase> {};

TEST_P(AttestationPolicyTypeMismatchTest, IsAnErrorNotFalse) {
  const std::string text =
      "version=1.0;\nauthorizationrules {\n  " + GetParam().condition + " => permit();\n};";
  const AttestationPolicy policy = MustParse(text);
  EXPECT_THAT(policy.Evaluate(SnpClaims()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().want)));
}

INSTANTIATE_TEST_SUITE_P(
    Comparisons, AttestationPolicyTypeMismatchTest,
    ::testing::Values(
        MismatchCase{"NumberClaimWithString", "[type==\"x-ms-sevsnpvm-vmpl\", value==\"0\"]",
                     "authorizationrules rule 1 at 3:3: attestation policy 3:32: value of claim "
                     "x-ms-sevsnpvm-vmpl: cannot compare the number claim value 0 with the string "
                     "\"0\""},
        MismatchCase{"StringClaimWithNumber",
                     "[type==\"x-ms-attestation-type\", value!=1]",
                     "cannot compare the string claim value \"sevsnpvm\" with the number 1"},
        MismatchCase{"BooleanClaimWithOrdering", "[type==\"x-ms-sevsnpvm-is-debuggable\", value<1]",
                     "cannot compare the boolean claim value false with the number 1"},
        MismatchCase{"StringClaimWithOrdering",
                     "[type==\"x-ms-attestation-type\", value>=0]",
                     "cannot compare the string claim value"},
        MismatchCase{"ObjectClaim", "[type==\"x-ms-runtime\", value==true]",
                     "cannot compare the object claim value {\"keys\":[]} with the boolean true"}),
    [](const ::testing::TestParamInfo<MismatchCase>& param_info) { return param_info.param.name; });

TEST(AttestationPolicyEvaluateTest, ComparesIntegersAndFloats) {
  const Json claims = {{"big", 18446744073709551615ULL}, {"neg", -3}, {"half", 0.5}};
  const Evaluation result = MustEvaluate(R"(version=1.0;
authorizationrules {
  [type=="big", value>9223372036854775807] && [type=="neg", value<0] && [type=="neg", value>-3.5]
    && [type=="half", value==0.5] && [type=="half", value<1] && [type=="neg", value!=3] => permit();
};)",
                                         claims);
  EXPECT_TRUE(result.permitted) << result.reason;
}

TEST(AttestationPolicyEvaluateTest, NegatedConditionAndFunctions) {
  const Evaluation result = MustEvaluate(R"(version=1.2;
authorizationrules { ![type=="x-ms-sevsnpvm-is-debuggable"] => deny(); => permit(); };
issuancerules {
  ![type=="absent"] => issue(type="absent", value=NegateBool(true));
  c:[type=="x-ms-attestation-type"] => issue(type="tee", value=AppendString("amd-", c.value));
};)",
                                         SnpClaims());
  EXPECT_TRUE(result.permitted);
  EXPECT_THAT(result.trace[0].detail, HasSubstr("a claim x-ms-sevsnpvm-is-debuggable is present"));
  EXPECT_EQ(result.issued, (Json{{"absent", false}, {"tee", "amd-sevsnpvm"}}));
}

TEST(AttestationPolicyEvaluateTest, RejectsNonObjectClaims) {
  const AttestationPolicy policy = MustParse("version=1.0; authorizationrules { => permit(); };");
  EXPECT_THAT(policy.Evaluate(Json::array()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AttestationPolicyEvaluateTest, AddedClaimLimitIsAnError) {
  AttestationPolicyLimits limits;
  limits.max_added_claims = 2;
  absl::StatusOr<AttestationPolicy> policy = AttestationPolicy::Parse(
      "version=1.0; authorizationrules { => add(type=\"a\", value=1); => add(type=\"a\", "
      "value=2); c:[type==\"a\"] => add(type=\"b\", value=c.value); };",
      limits);
  ASSERT_OK(policy.status());
  EXPECT_THAT(policy->Evaluate(Json::object()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("more than 2 claims")));
}

// ------------------------------------------------------------- utilities

TEST(PolicyHashTest, IsBase64UrlSha256) {
  // SHA-256("abc") = ba7816bf...15ad.
  EXPECT_EQ(PolicyHash("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  EXPECT_NE(PolicyHash("abc "), PolicyHash("abc"));
}

TEST(KnownClaimsTest, RegistersAndMerges) {
  EXPECT_FALSE(KnownClaims("TestKindNeverRegistered").has_value());
  RegisterKnownClaims("TestKind", {"a", "b"});
  RegisterKnownClaims("TestKind", {"c"});
  const auto known = KnownClaims("TestKind");
  ASSERT_TRUE(known.has_value());
  EXPECT_EQ(*known, (std::set<std::string, std::less<>>{"a", "b", "c"}));
}

}  // namespace
}  // namespace vouch::policy
