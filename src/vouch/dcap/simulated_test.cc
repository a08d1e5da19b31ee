#include "vouch/dcap/simulated.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/time/clock.h"
#include "vouch/dcap/appraisal.h"
#include "vouch/dcap/claims.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::dcap {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

class SimulatedTdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/vouch_simulated_tdx_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
};

TEST_F(SimulatedTdxTest, QuoteVerifiesUpToDate) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx tdx, SimulatedTdx::LoadOrCreate(dir_));
  const Bytes report_data(64, 0xab);
  ASSERT_OK_AND_ASSIGN(const Bytes quote, tdx.GetQuote(report_data));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral collateral, tdx.Collateral(now));
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                       VerifyQuote(quote, collateral, tdx.VerifyOptionsAt(now)));
  EXPECT_EQ(verified.tcb.status, TcbStatus::kUpToDate);
  EXPECT_TRUE(verified.tcb.advisory_ids.empty());
  EXPECT_OK(Appraise(verified, AppraisalPolicy{}));

  const nlohmann::json claims = TdxClaims(verified);
  EXPECT_EQ(claims["tdx_mrtd"], HexEncode(SimulatedTdx::SimulatedMrTd()));
  EXPECT_EQ(claims["tdx_report_data"], HexEncode(report_data));
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
  EXPECT_EQ(claims["tdx_td_attributes_debug"], false);
}

TEST_F(SimulatedTdxTest, IntelPinRejectsSimulatedQuote) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx tdx, SimulatedTdx::LoadOrCreate(dir_));
  ASSERT_OK_AND_ASSIGN(const Bytes quote, tdx.GetQuote(Bytes(64, 0)));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral collateral, tdx.Collateral(now));
  VerifyOptions production;
  production.now = now;
  EXPECT_THAT(VerifyQuote(quote, collateral, production),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // The PCK chain's own pin rejects it, before and apart from the pin of the
  // collateral's signing chain.
  EXPECT_THAT(VerifyQuoteSignatures(quote, collateral, production),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not the pinned Intel SGX Root CA")));
}

TEST_F(SimulatedTdxTest, ExpiredCollateralIsRejected) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx tdx, SimulatedTdx::LoadOrCreate(dir_));
  ASSERT_OK_AND_ASSIGN(const Bytes quote, tdx.GetQuote(Bytes(64, 0)));
  const absl::Time issued = absl::Now();
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral collateral, tdx.Collateral(issued));
  const absl::Time later = issued + kSimulatedCollateralLifetime + absl::Hours(1);
  EXPECT_THAT(VerifyQuote(quote, collateral, tdx.VerifyOptionsAt(later)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// A replayed TCB info or QE identity is rejected by its own validity window
// even when the CRLs beside it are fresh.
TEST_F(SimulatedTdxTest, StaleTcbInfoWithFreshCrlsIsRejected) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx tdx, SimulatedTdx::LoadOrCreate(dir_));
  ASSERT_OK_AND_ASSIGN(const Bytes quote, tdx.GetQuote(Bytes(64, 0)));
  const absl::Time issued = absl::Now();
  const absl::Time later = issued + kSimulatedCollateralLifetime + absl::Hours(1);
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral stale, tdx.Collateral(issued));
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral fresh, tdx.Collateral(later));
  ASSERT_OK(VerifyQuote(quote, fresh, tdx.VerifyOptionsAt(later)).status());

  QuoteCollateral stale_tcb_info = fresh;
  stale_tcb_info.tcb_info_json = stale.tcb_info_json;
  EXPECT_THAT(VerifyQuote(quote, stale_tcb_info, tdx.VerifyOptionsAt(later)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("tcb info")));

  QuoteCollateral stale_qe_identity = fresh;
  stale_qe_identity.qe_identity_json = stale.qe_identity_json;
  EXPECT_THAT(VerifyQuote(quote, stale_qe_identity, tdx.VerifyOptionsAt(later)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("identity")));
}

TEST_F(SimulatedTdxTest, ReloadKeepsPki) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx first, SimulatedTdx::LoadOrCreate(dir_));
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx second, SimulatedTdx::LoadOrCreate(dir_));
  EXPECT_EQ(first.RootSpkiSha256(), second.RootSpkiSha256());
  // A quote from one verifies with the other's collateral.
  ASSERT_OK_AND_ASSIGN(const Bytes quote, first.GetQuote(Bytes(64, 1)));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral collateral, second.Collateral(now));
  EXPECT_OK(VerifyQuote(quote, collateral, second.VerifyOptionsAt(now)).status());
}

TEST_F(SimulatedTdxTest, RejectsShortReportData) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx tdx, SimulatedTdx::LoadOrCreate(dir_));
  EXPECT_THAT(tdx.GetQuote(Bytes(32, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want 64")));
}

TEST_F(SimulatedTdxTest, SgxQuoteVerifiesUpToDate) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx platform, SimulatedTdx::LoadOrCreate(dir_));
  const Bytes report_data(64, 0xcd);
  ASSERT_OK_AND_ASSIGN(const Bytes quote, platform.GetSgxQuote(report_data));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral collateral, platform.Collateral(now, TeeType::kSgx));
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                       VerifyQuote(quote, collateral, platform.VerifyOptionsAt(now)));
  EXPECT_EQ(verified.quote.header.version, 3);
  EXPECT_EQ(verified.quote.tee_type(), TeeType::kSgx);
  EXPECT_EQ(verified.tcb.status, TcbStatus::kUpToDate);
  EXPECT_EQ(verified.tcb.qe_status, TcbStatus::kUpToDate);
  EXPECT_OK(Appraise(verified, AppraisalPolicy{}));

  const nlohmann::json claims = SgxClaims(verified);
  EXPECT_EQ(claims["x-ms-attestation-type"], "sgx");
  EXPECT_EQ(claims["x-ms-sgx-mrenclave"], HexEncode(SimulatedTdx::SimulatedMrEnclave()));
  EXPECT_EQ(claims["x-ms-sgx-mrsigner"], HexEncode(SimulatedTdx::SimulatedMrSigner()));
  EXPECT_EQ(claims["x-ms-sgx-product-id"], kSimulatedEnclaveProdId);
  EXPECT_EQ(claims["x-ms-sgx-svn"], kSimulatedEnclaveSvn);
  EXPECT_EQ(claims["x-ms-sgx-is-debuggable"], false);
  EXPECT_EQ(claims["x-vouch-sgx-report-data"], HexEncode(report_data));
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
}

TEST_F(SimulatedTdxTest, CollateralOfOtherTeeTypeIsRejected) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx platform, SimulatedTdx::LoadOrCreate(dir_));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral tdx_collateral, platform.Collateral(now));
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral sgx_collateral,
                       platform.Collateral(now, TeeType::kSgx));
  ASSERT_OK_AND_ASSIGN(const Bytes sgx_quote, platform.GetSgxQuote(Bytes(64, 0)));
  ASSERT_OK_AND_ASSIGN(const Bytes tdx_quote, platform.GetQuote(Bytes(64, 0)));
  EXPECT_THAT(VerifyQuote(sgx_quote, tdx_collateral, platform.VerifyOptionsAt(now)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("TDX")));
  EXPECT_THAT(VerifyQuote(tdx_quote, sgx_collateral, platform.VerifyOptionsAt(now)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("SGX")));
}

TEST_F(SimulatedTdxTest, IntelPinRejectsSimulatedSgxQuote) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx platform, SimulatedTdx::LoadOrCreate(dir_));
  ASSERT_OK_AND_ASSIGN(const Bytes quote, platform.GetSgxQuote(Bytes(64, 0)));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(const QuoteCollateral collateral, platform.Collateral(now, TeeType::kSgx));
  VerifyOptions production;
  production.now = now;
  EXPECT_THAT(VerifyQuote(quote, collateral, production),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(VerifyQuoteSignatures(quote, collateral, production),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not the pinned Intel SGX Root CA")));
}

TEST_F(SimulatedTdxTest, SgxQuoteRejectsShortReportData) {
  ASSERT_OK_AND_ASSIGN(const SimulatedTdx platform, SimulatedTdx::LoadOrCreate(dir_));
  EXPECT_THAT(platform.GetSgxQuote(Bytes(63, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want 64")));
}

}  // namespace
}  // namespace vouch::dcap
