#include "vouch/snp/claims.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"
#include "vouch/snp/snp_vectors.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::vouch::snp::testing::At;
using ::vouch::snp::testing::LoadPool;

absl::StatusOr<VerifiedReport> VerifyTrusteeMilan() {
  VerifyOptions options;
  options.now = At("2025-06-01T00:00:00Z");
  return VerifyReport(vouch::testing::ReadVector("sev-snp/trustee-milan-v2.bin"),
                      LoadPool({"sev-snp/trustee-milan-v2-vcek.der", "amd-certs/milan_chain.pem"}),
                      options);
}

TEST(SnpClaimsTest, HasReportValues) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified, VerifyTrusteeMilan());
  const nlohmann::json claims = SnpClaims(verified);
  EXPECT_EQ(claims["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(claims["x-ms-sevsnpvm-launchmeasurement"], HexEncode(verified.report.measurement));
  EXPECT_EQ(claims["x-ms-sevsnpvm-reportdata"], HexEncode(verified.report.report_data));
  EXPECT_EQ(claims["x-ms-sevsnpvm-vmpl"], 0);
  EXPECT_EQ(claims["x-ms-sevsnpvm-is-debuggable"], false);
  EXPECT_EQ(claims["x-ms-sevsnpvm-smt-allowed"], true);
  EXPECT_EQ(claims["x-ms-sevsnpvm-migration-allowed"], false);
  EXPECT_EQ(claims["x-ms-sevsnpvm-bootloader-svn"], 3);
  EXPECT_EQ(claims["x-ms-sevsnpvm-tee-svn"], 0);
  EXPECT_EQ(claims["x-ms-sevsnpvm-snpfw-svn"], 8);
  EXPECT_EQ(claims["x-ms-sevsnpvm-microcode-svn"], 115);
  EXPECT_EQ(claims["x-ms-sevsnpvm-familyId"], "01000000000000000000000000000000");
  EXPECT_EQ(claims["x-ms-sevsnpvm-imageId"], "02000000000000000000000000000000");
  EXPECT_EQ(claims["x-vouch-sevsnpvm-policy"], 0x3001F);
  EXPECT_EQ(claims["x-vouch-sevsnpvm-product"], "Milan");
  EXPECT_EQ(claims["x-vouch-sevsnpvm-signing-key"], "vcek");
  EXPECT_EQ(claims["x-vouch-sevsnpvm-report-version"], 2);
  EXPECT_EQ(claims["x-vouch-sevsnpvm-chipid"].get<std::string>().size(), 128U);
  EXPECT_FALSE(claims.contains("x-vouch-sevsnpvm-fmc-svn"));
  EXPECT_FALSE(claims.contains("x-vouch-simulated"));
}

// Every x-ms-sevsnpvm-* claim of a real Azure token has the same name and
// JSON type here, so policies written for Azure read the same claims.
TEST(SnpClaimsTest, MatchesAzureClaimShapes) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes sample = vouch::testing::ReadVector("tokens/maa-azurecvm-claims-sample.json");
  const nlohmann::json azure =
      nlohmann::json::parse(sample.begin(), sample.end(), nullptr, false)["x-ms-isolation-tee"];
  ASSERT_TRUE(azure.is_object());
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified, VerifyTrusteeMilan());
  const nlohmann::json claims = SnpClaims(verified);
  size_t compared = 0;
  for (const auto& [name, value] : azure.items()) {
    if (name.rfind("x-ms-sevsnpvm-", 0) != 0 && name != "x-ms-attestation-type") {
      continue;
    }
    SCOPED_TRACE(name);
    ASSERT_TRUE(claims.contains(name));
    EXPECT_EQ(claims[name].type_name(), std::string(value.type_name()));
    if (value.is_string()) {
      EXPECT_EQ(claims[name].get<std::string>().size(), value.get<std::string>().size());
    }
    ++compared;
  }
  EXPECT_EQ(compared, 18U);
}

TEST(SnpClaimsTest, NamesVlekAndCloud) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  VerifyOptions options;
  options.now = At("2025-06-01T00:00:00Z");
  ASSERT_OK_AND_ASSIGN(
      const VerifiedReport verified,
      VerifyReport(vouch::testing::ReadVector("sev-snp/trustee-aws-milan-vlek-v3.bin"),
                   LoadPool({"sev-snp/trustee-aws-milan-vlek-v3-vlek.der",
                             "amd-certs/milan_vlek_chain.pem"}),
                   options));
  const nlohmann::json claims = SnpClaims(verified);
  EXPECT_EQ(claims["x-vouch-sevsnpvm-signing-key"], "vlek");
  EXPECT_EQ(claims["x-vouch-sevsnpvm-csp-id"], "CN=cc-us-east-2.amazonaws.com");
  EXPECT_EQ(claims["x-ms-sevsnpvm-vmpl"], 1);
  EXPECT_EQ(claims["x-vouch-sevsnpvm-report-version"], 3);
}

}  // namespace
}  // namespace vouch::snp
