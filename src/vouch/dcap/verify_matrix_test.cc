// VerifyQuote end to end on every real quote with the Intel collateral and
// verification time it was catalogued with: genuineness, collateral, TCB
// level and status.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "vouch/base/time.h"
#include "vouch/dcap/appraisal.h"
#include "vouch/dcap/claims.h"
#include "vouch/dcap/verify.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kRootCrl2025[] = "intel-certs/intel_sgx_root_ca_crl_2025-03-20.der";

struct MatrixRow {
  std::string quote;
  std::string tcb_info;     // below intel-collateral/
  std::string qe_identity;  // below intel-collateral/
  std::string pck_crl;      // below intel-collateral/, or empty
  std::string root_crl;     // below the vectors folder, or empty
  bool processor_ca = false;
  std::string time;
  // Expected: a status and advisories, or an error message part.
  std::optional<TcbStatus> status;
  std::vector<std::string> advisory_ids;
  std::string error;
};

std::vector<MatrixRow> Matrix() {
  const std::string g23 = "2023-06_go-tdx-guest/";
  const std::string z25 = "2025-01-21_zkdcap/";
  const std::string a25 = "2025-06_automata/";
  const std::string q25 = "2025-06-19_dcap-qvl/";
  const std::string a2508 = "2025-08-15_automata/";
  const std::string n25 = "2025-09-02_dcap-qvl-near/";
  const std::string a2510 = "2025-10_automata/";
  const std::string g26 = "2026-02_go-tdx-guest+dcap-qvl/";
  const std::string not_supported = "tcb level not supported";
  const std::vector<std::string> sa_960 = {"INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"};
  return {
      {"tdx/trustee-v4-50806f.dat", g23 + "tcbinfo_tdx_50806f000000.json",
       g23 + "qeidentity_td_qe.json", g23 + "pck_platform_crl.der",
       "intel-collateral/" + g23 + "root_ca_crl.der", false, "2023-07-01T01:00:00Z",
       TcbStatus::kUpToDate, {}, ""},
      {"tdx/gotdxguest-spr-e4-v4-50806f.dat", g23 + "tcbinfo_tdx_50806f000000.json",
       g23 + "qeidentity_td_qe.json", g23 + "pck_platform_crl.der",
       "intel-collateral/" + g23 + "root_ca_crl.der", false, "2023-07-01T01:00:00Z",
       std::nullopt, {}, not_supported},
      {"tdx/zkdcap-v4-00806f05.dat", z25 + "tcbinfo_tdx_00806f050000.json",
       z25 + "qeidentity_td_qe.json", z25 + "pck_platform_crl.der",
       "intel-collateral/" + z25 + "root_ca_crl.der", false, "2025-02-01T00:00:00Z",
       TcbStatus::kUpToDate, {}, ""},
      {"tdx/zkdcap-gcp-v4-00806f05-padded.dat", z25 + "tcbinfo_tdx_00806f050000.json",
       z25 + "qeidentity_td_qe.json", z25 + "pck_platform_crl.der",
       "intel-collateral/" + z25 + "root_ca_crl.der", false, "2025-02-01T00:00:00Z",
       TcbStatus::kOutOfDate, sa_960, ""},
      {"tdx/gotdxguest-gcp-cos113-v4-00806f05.dat", a25 + "tcbinfo_tdx_00806f050000.json",
       a25 + "qeidentity_td_qe.json", q25 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-06-20T00:00:00Z", TcbStatus::kUpToDate, {}, ""},
      {"tdx/gotdxguest-gcp-cos113-v4-00806f05.dat", a2510 + "tcbinfo_tdx_00806f050000.json",
       a2510 + "qeidentity_td_qe.json", a2510 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-10-20T00:00:00Z", TcbStatus::kUpToDate, {}, ""},
      {"azure/trustee-az-tdx-td-quote.dat", a2510 + "tcbinfo_tdx_00806f050000.json",
       a2510 + "qeidentity_td_qe.json", a2510 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-10-20T00:00:00Z", TcbStatus::kOutOfDate, sa_960, ""},
      {"tdx/trustee-v5-90c06f.dat", a25 + "tcbinfo_tdx_90c06f000000.json",
       a25 + "qeidentity_td_qe.json", q25 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-06-20T00:00:00Z", std::nullopt, {}, not_supported},
      {"tdx/automata-godcap-v4-90c06f.dat", a25 + "tcbinfo_tdx_90c06f000000.json",
       a25 + "qeidentity_td_qe.json", q25 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-06-20T00:00:00Z", std::nullopt, {}, not_supported},
      {"tdx/gotdxguest-v5-90c06f.dat", g26 + "tcbinfo_tdx_90c06f000000.json",
       g26 + "qeidentity_td_qe.json", g26 + "pck_platform_crl.der", kRootCrl2025, false,
       "2026-02-20T00:00:00Z", TcbStatus::kUpToDate, {}, ""},
      {"tdx/dcapqvl-v5-90c06f-outdated.dat", g26 + "tcbinfo_tdx_90c06f000000.json",
       g26 + "qeidentity_td_qe.json", g26 + "pck_platform_crl.der", kRootCrl2025, false,
       "2026-02-20T00:00:00Z", std::nullopt, {}, not_supported},
      {"tdx/dcapqvl-v4-b0c06f.dat", q25 + "tcbinfo_tdx.json", q25 + "qeidentity_tdx.json",
       q25 + "pck_platform_crl.der", kRootCrl2025, false, "2025-06-20T12:00:00Z",
       TcbStatus::kUpToDate, {}, ""},
      {"tdx/dcapqvl-v4-b0c06f-tdxhex.dat", q25 + "tcbinfo_tdx.json", q25 + "qeidentity_tdx.json",
       q25 + "pck_platform_crl.der", kRootCrl2025, false, "2025-06-20T12:00:00Z", std::nullopt,
       {}, not_supported},
      {"tdx/dcapqvl-near-v4-20a06f.dat", n25 + "tcbinfo_tdx_20a06f000000.json",
       n25 + "qeidentity_td_qe.json", n25 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-09-10T00:00:00Z", TcbStatus::kUpToDate, {}, ""},
      {"sgx/trustee-occlum-v3-00606a.dat", a2508 + "tcbinfo_sgx_00606a000000.json",
       a2508 + "qeidentity_qe.json", a2508 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-08-20T00:00:00Z", TcbStatus::kOutOfDate,
       {"INTEL-SA-00586", "INTEL-SA-00614", "INTEL-SA-00615", "INTEL-SA-00657", "INTEL-SA-00730",
        "INTEL-SA-00738", "INTEL-SA-00767", "INTEL-SA-00828", "INTEL-SA-00837", "INTEL-SA-00960"},
       ""},
      {"sgx/trustee-occlum-v3-00606a.dat", a25 + "tcbinfo_sgx_00606a000000_v2.json",
       a25 + "qeidentity_qe.json", q25 + "pck_platform_crl.der", kRootCrl2025, false,
       "2025-06-20T00:00:00Z", TcbStatus::kOutOfDate, {}, ""},
      {"sgx/dcapqvl-v3-00a067110000.dat", q25 + "tcbinfo_sgx.json", q25 + "qeidentity_sgx.json",
       q25 + "pck_processor_crl.der", kRootCrl2025, true, "2025-06-20T12:00:00Z",
       TcbStatus::kConfigurationAndSwHardeningNeeded, {"INTEL-SA-00289", "INTEL-SA-00615"}, ""},
  };
}

std::vector<crypto::Certificate> Certificates(const std::string& path) {
  absl::StatusOr<std::vector<crypto::Certificate>> certificates =
      crypto::ParseCertificates(ReadVector(path));
  EXPECT_TRUE(certificates.ok()) << path << ": " << certificates.status();
  return certificates.ok() ? *certificates : std::vector<crypto::Certificate>{};
}

// CollateralFor assembles the collateral of `row` by hand, as Intel PCS
// serves it: each document with its issuer chain.
QuoteCollateral CollateralFor(const MatrixRow& row, absl::Time now) {
  const crypto::Certificate root = Certificates("intel-certs/intel_sgx_root_ca.pem")[0];
  // Intel re-issued the TCB signing certificate (same key) on 2025-05-06;
  // the original expired on 2025-05-21.
  const crypto::Certificate signing =
      Certificates(now < *ParseRfc3339("2025-05-21T00:00:00Z")
                       ? "intel-certs/intel_sgx_tcb_signing_2018-2025.pem"
                       : "intel-certs/intel_sgx_tcb_signing_2025-2032.pem")[0];
  const crypto::Certificate pck_ca =
      Certificates(row.processor_ca ? "intel-certs/intel_sgx_pck_processor_ca.pem"
                                    : "intel-certs/intel_sgx_pck_platform_ca.pem")[0];
  QuoteCollateral collateral;
  collateral.tcb_info_json = ToString(ReadVector("intel-collateral/" + row.tcb_info));
  collateral.tcb_info_issuer_chain = {signing, root};
  collateral.qe_identity_json = ToString(ReadVector("intel-collateral/" + row.qe_identity));
  collateral.qe_identity_issuer_chain = {signing, root};
  if (!row.pck_crl.empty()) {
    collateral.pck_crl = ReadVector("intel-collateral/" + row.pck_crl);
  }
  if (!row.root_crl.empty()) {
    collateral.root_ca_crl = ReadVector(row.root_crl);
  }
  collateral.pck_crl_issuer_chain = {pck_ca, root};
  return collateral;
}

TEST(VerifyQuoteMatrixTest, EveryRealQuoteGetsItsCataloguedVerdict) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const MatrixRow& row : Matrix()) {
    SCOPED_TRACE(row.quote + " with " + row.tcb_info + " at " + row.time);
    VerifyOptions options;
    options.now = *ParseRfc3339(row.time);
    const absl::StatusOr<VerifiedQuote> verified =
        VerifyQuote(ReadVector(row.quote), CollateralFor(row, options.now), options);
    if (!row.status.has_value()) {
      EXPECT_THAT(verified, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(row.error)));
      continue;
    }
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(TcbStatusName(verified->tcb.status), TcbStatusName(*row.status));
    if (!row.advisory_ids.empty()) {
      EXPECT_THAT(verified->tcb.advisory_ids, ElementsAreArray(row.advisory_ids));
    }
    EXPECT_TRUE(verified->tcb.revocation_checked);
    const nlohmann::json claims = DcapClaims(*verified);
    EXPECT_EQ(claims["attester_tcb_status"], std::string(TcbStatusName(*row.status)));
  }
}

// go-tdx-qpl's quote comes with TCB info and QE identity of 2023-02 but no
// CRL valid then: it verifies only when missing CRLs are allowed, and the
// verdict records that revocation was not checked.
TEST(VerifyQuoteMatrixTest, QuoteWithoutCrlsOfItsTime) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  MatrixRow row{"tdx/gotdxqpl-spr-v4-00806f05.dat",
                "2023-02-17_go-tdx-qpl/tcbinfo_tdx_00806f050000.json",
                "2023-02-17_go-tdx-qpl/qeidentity_td_qe.json",
                "",
                "",
                false,
                "2023-03-01T00:00:00Z",
                TcbStatus::kUpToDate,
                {},
                ""};
  VerifyOptions options;
  options.now = *ParseRfc3339(row.time);
  const Bytes quote = ReadVector(row.quote);
  EXPECT_FALSE(VerifyQuote(quote, CollateralFor(row, options.now), options).ok());
  options.tcb.require_crls = false;
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                       VerifyQuote(quote, CollateralFor(row, options.now), options));
  EXPECT_EQ(verified.tcb.status, TcbStatus::kUpToDate);
  EXPECT_FALSE(verified.tcb.revocation_checked);
}

TEST(VerifyQuoteMatrixTest, ExpiredCollateralIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const MatrixRow row = Matrix()[0];
  VerifyOptions options;
  options.now = *ParseRfc3339("2023-09-01T00:00:00Z");  // after the TCB info's nextUpdate
  EXPECT_THAT(VerifyQuote(ReadVector(row.quote), CollateralFor(row, options.now), options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("dcap verify: tcb")));
}

TEST(VerifyQuoteMatrixTest, CollateralOfOtherFmspcIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  MatrixRow row = Matrix()[4];  // FMSPC 00806F050000
  row.tcb_info = "2025-06_automata/tcbinfo_tdx_90c06f000000.json";
  VerifyOptions options;
  options.now = *ParseRfc3339(row.time);
  EXPECT_THAT(VerifyQuote(ReadVector(row.quote), CollateralFor(row, options.now), options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fmspc")));
}

TEST(AppraiseTest, DefaultAcceptsOnlyUpToDate) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<MatrixRow> matrix = Matrix();
  for (const size_t index : {size_t{5}, size_t{3}, size_t{16}}) {
    const MatrixRow& row = matrix[index];
    SCOPED_TRACE(row.quote);
    VerifyOptions options;
    options.now = *ParseRfc3339(row.time);
    ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                         VerifyQuote(ReadVector(row.quote), CollateralFor(row, options.now),
                                     options));
    const absl::Status appraised = Appraise(verified, AppraisalPolicy{});
    if (*row.status == TcbStatus::kUpToDate) {
      EXPECT_OK(appraised);
      continue;
    }
    EXPECT_THAT(appraised, StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr(std::string(TcbStatusName(*row.status)))));
    EXPECT_THAT(appraised, StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr(row.advisory_ids.front())));
    AppraisalPolicy accepting;
    accepting.tcb.statuses.push_back(*row.status);
    EXPECT_OK(Appraise(verified, accepting));
    accepting.tcb.advisory_ids = std::vector<std::string>{row.advisory_ids.front()};
    EXPECT_THAT(Appraise(verified, accepting),
                StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("advisory")));
  }
}

// trustee's SPR quote comes from a TD with DEBUG set (td_attributes bit 0).
TEST(AppraiseTest, RealDebugTdIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const MatrixRow row = Matrix()[0];
  VerifyOptions options;
  options.now = *ParseRfc3339(row.time);
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                       VerifyQuote(ReadVector(row.quote), CollateralFor(row, options.now),
                                   options));
  EXPECT_THAT(Appraise(verified, AppraisalPolicy{}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("td_attributes 0100001000000000 has DEBUG (bit 0) set")));
  EXPECT_EQ(TdxClaims(verified)["tdx_td_attributes_debug"], true);
}

TEST(AppraiseTest, RevokedIsNeverAccepted) {
  VerifiedQuote verified;
  verified.quote.td_body.emplace();
  verified.tcb.status = TcbStatus::kRevoked;
  AppraisalPolicy policy;
  policy.tcb.statuses.push_back(TcbStatus::kRevoked);
  EXPECT_THAT(Appraise(verified, policy),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("Revoked")));
}

TEST(AppraiseTest, RejectsDebugTdAndEnclave) {
  VerifiedQuote td;
  td.quote.td_body.emplace().td_attributes[0] = 0x01;
  EXPECT_THAT(Appraise(td, AppraisalPolicy{}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("DEBUG (bit 0)")));
  AppraisalPolicy allow;
  allow.allow_debug = true;
  EXPECT_OK(Appraise(td, allow));

  VerifiedQuote enclave;
  enclave.quote.sgx_body.emplace().attributes[0] = 0x02;
  EXPECT_THAT(Appraise(enclave, AppraisalPolicy{}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("DEBUG (bit 1)")));
  EXPECT_OK(Appraise(enclave, allow));
}

TEST(ClaimsTest, TdxAttributeFlags) {
  VerifiedQuote verified;
  TdReportBody& td = verified.quote.td_body.emplace();
  td.td_attributes = {0x01, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x80};  // bits 0, 28, 30, 31, 63
  const nlohmann::json claims = TdxClaims(verified);
  EXPECT_EQ(claims["tdx_td_attributes"], "010000d000000080");
  EXPECT_EQ(claims["tdx_td_attributes_debug"], true);
  EXPECT_EQ(claims["tdx_td_attributes_septve_disable"], true);
  EXPECT_EQ(claims["tdx_td_attributes_protection_keys"], true);
  EXPECT_EQ(claims["tdx_td_attributes_key_locker"], true);
  EXPECT_EQ(claims["tdx_td_attributes_perfmon"], true);
  EXPECT_FALSE(claims.contains("x-vouch-tdx-mrservicetd"));
}

TEST(ClaimsTest, ClaimTypesListEveryClaim) {
  const std::vector<std::string> tdx = TdxClaimTypes();
  for (const char* type : {"tdx_mrtd", "tdx_rtmr3", "tdx_report_data", "attester_tcb_status",
                           "attester_advisory_ids", "x-vouch-tdx-mrservicetd"}) {
    EXPECT_THAT(tdx, ::testing::Contains(type));
  }
  const std::vector<std::string> sgx = SgxClaimTypes();
  for (const char* type : {"x-ms-sgx-mrenclave", "x-ms-sgx-mrsigner", "x-ms-sgx-product-id",
                           "x-ms-sgx-svn", "x-ms-sgx-is-debuggable", "attester_tcb_status"}) {
    EXPECT_THAT(sgx, ::testing::Contains(type));
  }
}

TEST(ClaimsTest, SgxClaimsOfRealQuote) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const MatrixRow row = Matrix()[16];
  VerifyOptions options;
  options.now = *ParseRfc3339(row.time);
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                       VerifyQuote(ReadVector(row.quote), CollateralFor(row, options.now),
                                   options));
  const nlohmann::json claims = SgxClaims(verified);
  EXPECT_EQ(claims["x-ms-attestation-type"], "sgx");
  EXPECT_EQ(claims["x-ms-sgx-is-debuggable"], false);
  EXPECT_EQ(claims["x-ms-sgx-mrenclave"].get<std::string>().size(), 64u);
  // report data "Hello, world!" followed by zeros.
  EXPECT_EQ(claims["x-vouch-sgx-report-data"].get<std::string>().substr(0, 26),
            "48656c6c6f2c20776f726c6421");
  EXPECT_EQ(claims["x-vouch-dcap-pck-ca"], "Processor");
  EXPECT_THAT(claims["attester_advisory_ids"].get<std::vector<std::string>>(),
              ::testing::ElementsAre("INTEL-SA-00289", "INTEL-SA-00615"));
}

}  // namespace
}  // namespace vouch::dcap
