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

}  // namespace
}  // namespace vouch::dcap
