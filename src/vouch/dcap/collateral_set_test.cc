#include "vouch/dcap/collateral_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"
#include "vouch/base/time.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;
using ::vouch::testing::VectorsDir;

std::string CollateralDir(const std::string& name) {
  return VectorsDir() + "/intel-collateral/" + name;
}

TEST(IdentifyCollateralTest, RecognisesEachKindByContent) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::pair<const char*, std::optional<CollateralKind>> cases[] = {
      {"intel-collateral/2025-06-19_dcap-qvl/tcbinfo_tdx.json", CollateralKind::kTcbInfo},
      {"intel-collateral/2025-06-19_dcap-qvl/qeidentity_tdx.json", CollateralKind::kQeIdentity},
      {"intel-collateral/2025-06-19_dcap-qvl/pck_platform_crl.der", CollateralKind::kCrl},
      {"intel-certs/intel_sgx_root_ca_crl_2025-03-20.der", CollateralKind::kCrl},
      {"intel-certs/intel_sgx_root_ca.pem", CollateralKind::kCertificates},
      {"intel-collateral/2023-06_go-tdx-guest/tcb_info_issuer_chain.pem",
       CollateralKind::kCertificates},
      {"intel-collateral/2025-06-19_dcap-qvl/sgx_quote_collateral.json",
       CollateralKind::kQuoteCollateralJson},
      {"intel-collateral/2025-06_automata/tcb_eval_numbers_tdx.json",
       CollateralKind::kTcbEvaluationNumbers},
      {"tdx/trustee-v4-50806f.dat", std::nullopt},
      {"sev-snp/trustee-milan-v2.bin", std::nullopt},
  };
  for (const auto& [path, kind] : cases) {
    EXPECT_EQ(IdentifyCollateral(ReadVector(path)), kind) << path;
  }
}

TEST(CollateralSetTest, LoadsEveryVectorFolder) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const char* name :
       {"2023-02-17_go-tdx-qpl", "2023-06_go-tdx-guest", "2025-01-21_zkdcap", "2025-06-19_dcap-qvl",
        "2025-06_automata", "2025-08-15_automata", "2025-09-02_dcap-qvl-near", "2025-10_automata",
        "2025-10-27_trustee", "2026-02_go-tdx-guest+dcap-qvl"}) {
    CollateralSet set;
    EXPECT_OK(set.AddDirectory(CollateralDir(name))) << name;
    EXPECT_FALSE(set.tcb_infos().empty()) << name;
    EXPECT_FALSE(set.qe_identities().empty()) << name;
  }
}

TEST(CollateralSetTest, SelectsByFmspcAndTeeType) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  CollateralSet set;
  ASSERT_OK(set.AddDirectory(CollateralDir("2025-06-19_dcap-qvl")));
  ASSERT_OK(set.AddDirectory(VectorsDir() + "/intel-certs"));
  const absl::Time now = *ParseRfc3339("2025-06-20T12:00:00Z");

  ASSERT_OK_AND_ASSIGN(const QuoteSelector tdx_selector,
                       SelectorForQuote(ReadVector("tdx/dcapqvl-v4-b0c06f.dat")));
  EXPECT_EQ(tdx_selector.tee_type, TeeType::kTdx);
  EXPECT_EQ(HexEncode(tdx_selector.fmspc), "b0c06f000000");
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral tdx, set.Select(tdx_selector, now));
  EXPECT_THAT(tdx.tcb_info_json, HasSubstr("\"id\":\"TDX\""));
  EXPECT_THAT(tdx.qe_identity_json, HasSubstr("\"id\":\"TD_QE\""));
  ASSERT_OK_AND_ASSIGN(const crypto::Crl tdx_pck_crl, crypto::Crl::Parse(tdx.pck_crl));
  EXPECT_EQ(tdx_pck_crl.IssuerCommonName(), "Intel SGX PCK Platform CA");
  ASSERT_OK_AND_ASSIGN(const crypto::Crl root_crl, crypto::Crl::Parse(tdx.root_ca_crl));
  EXPECT_EQ(root_crl.IssuerCommonName(), "Intel SGX Root CA");

  ASSERT_OK_AND_ASSIGN(const QuoteSelector sgx_selector,
                       SelectorForQuote(ReadVector("sgx/dcapqvl-v3-00a067110000.dat")));
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral sgx, set.Select(sgx_selector, now));
  EXPECT_THAT(sgx.tcb_info_json, HasSubstr("\"id\":\"SGX\""));
  EXPECT_THAT(sgx.qe_identity_json, HasSubstr("\"id\":\"QE\""));
  ASSERT_OK_AND_ASSIGN(const crypto::Crl sgx_pck_crl, crypto::Crl::Parse(sgx.pck_crl));
  EXPECT_EQ(sgx_pck_crl.IssuerCommonName(), "Intel SGX PCK Processor CA");

  QuoteSelector unknown = tdx_selector;
  unknown.fmspc = {1, 2, 3, 4, 5, 6};
  EXPECT_THAT(set.Select(unknown, now), StatusIs(absl::StatusCode::kNotFound));
}

TEST(CollateralSetTest, PrefersDocumentValidAtTime) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  CollateralSet set;
  ASSERT_OK(set.AddDirectory(CollateralDir("2025-06_automata")));
  ASSERT_OK(set.AddDirectory(CollateralDir("2025-10_automata")));
  const QuoteSelector selector{TeeType::kTdx, *HexDecode("00806f050000"), ""};
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral june,
                       set.Select(selector, *ParseRfc3339("2025-06-20T00:00:00Z")));
  EXPECT_THAT(june.tcb_info_json, HasSubstr("2025-06-04"));
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral october,
                       set.Select(selector, *ParseRfc3339("2025-10-20T00:00:00Z")));
  EXPECT_THAT(october.tcb_info_json, HasSubstr("2025-10-19"));
}

TEST(CollateralSetTest, MalformedCollateralFileIsAnError) {
  CollateralSet set;
  EXPECT_THAT(set.AddFile("broken.json", AsBytes("{\"tcbInfo\":{\"version\":3},\"signature\":\"00\"}")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("broken.json")));
  EXPECT_THAT(set.AddFile("broken.crl", AsBytes("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(const auto kind, set.AddFile("notes.txt", AsBytes("hello")));
  EXPECT_FALSE(kind.has_value());
  EXPECT_EQ(set.ignored().size(), 1u);
  EXPECT_THAT(set.AddDirectory("/nonexistent/collateral"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(CollateralSetTest, QuoteCollateralJsonMatchesPcsFiles) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  CollateralSet combined;
  ASSERT_OK(combined
                .AddFile("c", ReadVector("intel-collateral/2025-06-19_dcap-qvl/tdx_quote_collateral.json"))
                .status());
  ASSERT_EQ(combined.tcb_infos().size(), 1u);
  ASSERT_OK_AND_ASSIGN(
      const TcbInfo wrapped,
      ParseTcbInfo(ToString(ReadVector("intel-collateral/2025-06-19_dcap-qvl/tcbinfo_tdx.json"))));
  EXPECT_EQ(combined.tcb_infos()[0].parsed.signed_json.body, wrapped.signed_json.body);
  EXPECT_EQ(combined.tcb_infos()[0].parsed.signed_json.signature, wrapped.signed_json.signature);
  EXPECT_EQ(combined.crls().size(), 2u);
  EXPECT_OK(VerifySignedCollateral(combined, {IntelRootSpkiSha256()}));
}

TEST(VerifySignedCollateralTest, AcceptsRealFoldersAndRejectsTampering) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  CollateralSet set;
  ASSERT_OK(set.AddDirectory(CollateralDir("2025-01-21_zkdcap")));
  ASSERT_OK(set.AddDirectory(VectorsDir() + "/intel-certs"));
  ASSERT_OK(set.AddFile("platform-ca", ReadVector("intel-certs/intel_sgx_pck_platform_ca.pem")).status());
  EXPECT_OK(VerifySignedCollateral(set, {IntelRootSpkiSha256()}));

  std::string tampered =
      ToString(ReadVector("intel-collateral/2025-01-21_zkdcap/qeidentity_td_qe.json"));
  tampered.replace(tampered.find("\"isvprodid\":2"), 13, "\"isvprodid\":3");
  ASSERT_OK(set.AddFile("tampered.json", AsBytes(tampered)).status());
  EXPECT_THAT(VerifySignedCollateral(set, {IntelRootSpkiSha256()}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("tampered.json")));
}

}  // namespace
}  // namespace vouch::dcap
