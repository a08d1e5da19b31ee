#include "vouch/server/attest_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::HasSubstr;
using vouch::testing::StatusIs;

// A fake report: ParseAttestRequest does not parse the report itself.
const Bytes kReport = [] {
  Bytes report(1184, 0);
  report[0] = 3;
  return report;
}();

std::string PublicJwkText() {
  static const std::string text = [] {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateEcKey("P-256");
    VOUCH_CHECK(key.ok());
    absl::StatusOr<nlohmann::json> jwk = crypto::PublicKeyToJwk(key->get());
    VOUCH_CHECK(jwk.ok());
    return jwk->dump();
  }();
  return text;
}

std::string CertificatePem() {
  static const std::string pem = [] {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateEcKey("P-256");
    VOUCH_CHECK(key.ok());
    crypto::CertificateSpec spec;
    spec.common_name = "test";
    spec.subject_key = key->get();
    spec.issuer_key = key->get();
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(1);
    spec.signature = crypto::SignatureScheme::kEcdsaSha256;
    absl::StatusOr<crypto::Certificate> cert = crypto::IssueCertificate(spec);
    VOUCH_CHECK(cert.ok());
    return cert->Pem();
  }();
  return pem;
}

std::string Body(std::string_view runtime_data, std::string_view chain = "",
                 std::optional<std::string> nonce = std::nullopt) {
  return AttestRequestJson(kReport, chain, AsBytes(runtime_data), nonce).dump();
}

TEST(ParseAttestRequestTest, ParsesRawReport) {
  const std::string runtime = R"({"keys": [)" + PublicJwkText() + "]}";
  ASSERT_OK_AND_ASSIGN(const AttestRequest request, ParseAttestRequest(Body(runtime)));
  EXPECT_EQ(request.report, kReport);
  EXPECT_FALSE(request.has_certificate_chain);
  EXPECT_TRUE(request.certificates.empty());
  EXPECT_EQ(ToString(request.runtime_data), runtime);
  EXPECT_EQ(request.runtime_json["keys"].size(), 1u);
  EXPECT_FALSE(request.nonce.has_value());
}

TEST(ParseAttestRequestTest, ParsesEnvelopeWithChainAndNonce) {
  ASSERT_OK_AND_ASSIGN(const AttestRequest request,
                       ParseAttestRequest(Body("{}", CertificatePem(), "n-1")));
  EXPECT_EQ(request.report, kReport);
  EXPECT_TRUE(request.has_certificate_chain);
  EXPECT_EQ(request.certificates.size(), 1u);
  EXPECT_EQ(request.nonce, "n-1");
}

TEST(ParseAttestRequestTest, RejectsMalformedBodies) {
  const struct {
    std::string body;
    std::string message;
  } kCases[] = {
      {"", "attest request"},
      {"[]", "must be a JSON object"},
      {R"({"runtimeData": {"data": "e30", "dataType": "JSON"}})", "missing body.report"},
      {R"({"report": 5, "runtimeData": {"data": "e30", "dataType": "JSON"}})", "base64url string"},
      {R"({"report": "!!!", "runtimeData": {"data": "e30", "dataType": "JSON"}})",
       "not valid base64url"},
      {R"({"report": "AwAA"})", "missing runtimeData"},
      {R"({"report": "AwAA", "runtimeData": {"data": "e30", "dataType": "Binary"}})", "dataType"},
      {R"({"report": "AwAA", "runtimeData": {"data": "e30", "dataType": "JSON", "x": 1}})",
       "unknown member \"x\""},
      {R"({"report": "AwAA", "runtimeData": {"data": "e30", "dataType": "JSON"}, "extra": 1})",
       "unknown member \"extra\""},
      {R"({"report": "AwAA", "report": "AwAA", "runtimeData": {}})", "report"},
      // runtime data "[]" and "{"keys": 1}" in base64url.
      {R"({"report": "AwAA", "runtimeData": {"data": "W10", "dataType": "JSON"}})",
       "runtime data must be a JSON object"},
      {R"({"report": "AwAA", "runtimeData": {"data": "eyJrZXlzIjogMX0", "dataType": "JSON"}})",
       "keys must be a JWK array"},
      {R"({"report": "AwAA", "runtimeData": {"data": "e30", "dataType": "JSON"}, "nonce": 1})",
       "nonce must be a string"},
  };
  for (const auto& c : kCases) {
    EXPECT_THAT(ParseAttestRequest(c.body),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.body;
  }
}

TEST(ParseAttestRequestTest, RejectsPrivateJwk) {
  nlohmann::json jwk = nlohmann::json::parse(PublicJwkText());
  jwk["d"] = "AAAA";
  const std::string runtime = nlohmann::json({{"keys", {jwk}}}).dump();
  EXPECT_THAT(ParseAttestRequest(Body(runtime)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0]")));
}

TEST(ParseAttestRequestTest, RejectsDuplicateMembersInRuntimeData) {
  EXPECT_THAT(ParseAttestRequest(Body(R"({"keys": [], "keys": []})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys")));
}

TEST(ParseAttestRequestTest, RejectsLongNonce) {
  EXPECT_THAT(ParseAttestRequest(Body("{}", "", std::string(kMaxNonceBytes + 1, 'n'))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nonce")));
}

TEST(ParseAttestRequestTest, RejectsBadEnvelope) {
  const auto body_with_envelope = [](const nlohmann::json& envelope) {
    return nlohmann::json({{"report", Base64UrlEncode(AsBytes(envelope.dump()))},
                           {"runtimeData", {{"data", "e30"}, {"dataType", "JSON"}}}})
        .dump();
  };
  EXPECT_THAT(ParseAttestRequest(body_with_envelope({{"VcekCertChain", "AA"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("report.SnpReport")));
  EXPECT_THAT(ParseAttestRequest(body_with_envelope({{"SnpReport", "AwAA"}, {"Other", 1}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Other")));
  EXPECT_THAT(ParseAttestRequest(body_with_envelope(
                  {{"SnpReport", "AwAA"}, {"VcekCertChain", Base64UrlEncode(AsBytes("junk"))}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("VcekCertChain")));
}

}  // namespace
}  // namespace vouch::server
