#include "vouch/snp/appraisal.h"

#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "vouch/snp/snp_vectors.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::snp::testing::At;
using ::vouch::snp::testing::LoadPool;
using ::vouch::snp::testing::RealReport;
using ::vouch::snp::testing::RealReports;
using ::vouch::testing::StatusIs;

absl::StatusOr<VerifiedReport> VerifyReal(const char* report_file) {
  for (const RealReport& c : RealReports()) {
    if (std::string_view(c.report) == report_file) {
      VerifyOptions options;
      options.now = At(c.time);
      return VerifyReport(vouch::testing::ReadVector(c.report), LoadPool({c.leaf, c.chain}),
                          options);
    }
  }
  return absl::NotFoundError(report_file);
}

TEST(AppraiseTest, DefaultPolicyAcceptsRealReports) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const RealReport& c : RealReports()) {
    SCOPED_TRACE(c.report);
    ASSERT_OK_AND_ASSIGN(const VerifiedReport verified, VerifyReal(c.report));
    if (c.debug || c.vmpl > 0) {
      EXPECT_THAT(Appraise(verified, {}), StatusIs(absl::StatusCode::kPermissionDenied));
    } else {
      EXPECT_OK(Appraise(verified, {}));
    }
  }
}

// The debug-enabled report verifies (genuine), then the appraisal rejects it.
TEST(AppraiseTest, RejectsDebugUnlessAllowed) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified,
                       VerifyReal("sev-snp/gosevguest-milan-v2.bin"));
  EXPECT_THAT(Appraise(verified, {}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("policy 0xb0000 has DEBUG (bit 19) set")));
  EXPECT_OK(Appraise(verified, {.allow_debug = true}));
}

TEST(AppraiseTest, RejectsVmplAboveMaximum) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified,
                       VerifyReal("sev-snp/trustee-aws-milan-vlek-v3.bin"));
  EXPECT_THAT(Appraise(verified, {}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("vmpl 1, want at most 0 (allow with --max-vmpl 1)")));
  EXPECT_OK(Appraise(verified, {.max_vmpl = 1}));
  EXPECT_OK(Appraise(verified, {.max_vmpl = 3}));
}

// A TCB rolled back below the configured minimum is rejected with a message
// naming the component and both versions. The report's own TCB is accepted.
TEST(AppraiseTest, RejectsReportedTcbBelowMinimum) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const RealReport& c : RealReports()) {
    if (c.debug || c.vmpl > 0) {
      continue;
    }
    SCOPED_TRACE(c.report);
    ASSERT_OK_AND_ASSIGN(const VerifiedReport verified, VerifyReal(c.report));
    const TcbVersion& reported = verified.report.reported_tcb;
    MinimumTcb exact{reported.boot_loader, reported.tee, reported.snp, reported.microcode,
                     reported.fmc};
    EXPECT_OK(Appraise(verified, {.min_reported_tcb = exact}));

    struct Case {
      const char* name;
      uint8_t MinimumTcb::*field;
      uint8_t found;
    };
    const Case cases[] = {{"bootloader", &MinimumTcb::boot_loader, reported.boot_loader},
                          {"tee", &MinimumTcb::tee, reported.tee},
                          {"snp", &MinimumTcb::snp, reported.snp},
                          {"microcode", &MinimumTcb::microcode, reported.microcode}};
    for (const Case& one : cases) {
      if (one.found == 255) {
        continue;
      }
      MinimumTcb above = exact;
      above.*one.field = static_cast<uint8_t>(one.found + 1);
      EXPECT_THAT(Appraise(verified, {.min_reported_tcb = above}),
                  StatusIs(absl::StatusCode::kPermissionDenied,
                           HasSubstr(fmt::format("reported TCB {} is {}, want at least {}",
                                                 one.name, one.found, one.found + 1))));
    }
  }
}

TEST(ParseMinimumTcbTest, ReadsComponents) {
  ASSERT_OK_AND_ASSIGN(const MinimumTcb tcb,
                       ParseMinimumTcb("bootloader=3,tee=0,snp=0x16,microcode=213"));
  EXPECT_EQ(tcb.boot_loader, 3);
  EXPECT_EQ(tcb.snp, 22);
  EXPECT_EQ(tcb.microcode, 213);
  EXPECT_EQ(tcb.fmc, 0);
  EXPECT_EQ(FormatMinimumTcb(tcb), "bootloader=3,tee=0,snp=22,microcode=213,fmc=0");
  EXPECT_THAT(ParseMinimumTcb("microcode=256"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseMinimumTcb("snp=1,snp=2"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseMinimumTcb("psp=1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseMinimumTcb("tee"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseMinimumTcb("tee=-1"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::snp
