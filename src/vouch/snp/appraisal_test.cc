#include "vouch/snp/appraisal.h"

#include <gmock/gmock.h>
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

}  // namespace
}  // namespace vouch::snp
