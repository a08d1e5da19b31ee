#include "vouch/agent/platform.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "vouch/agent/test_support.h"
#include "vouch/snp/report.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

Bytes TestReportData() {
  Bytes data(kReportDataBytes);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<uint8_t>(i * 3 + 1);
  }
  return data;
}

PlatformOptions OptionsIn(const ScopedTempDir& dir) {
  PlatformOptions options;
  options.data_dir = dir.File("data");
  options.root = dir.File("root");
  std::filesystem::create_directories(options.root);
  return options;
}

// SimulatedPlatformTest shares one simulated chain across its tests,
// because making its two RSA-4096 keys takes seconds.
class SimulatedPlatformTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_dir_ = new ScopedTempDir(); }
  static void TearDownTestSuite() {
    delete shared_dir_;
    shared_dir_ = nullptr;
  }
  static PlatformOptions SharedOptions() { return OptionsIn(*shared_dir_); }

  static ScopedTempDir* shared_dir_;
};
ScopedTempDir* SimulatedPlatformTest::shared_dir_ = nullptr;

TEST(OpenPlatformTest, UnknownNameListsKnownNames) {
  ScopedTempDir dir;
  EXPECT_THAT(OpenPlatform("sgx", OptionsIn(dir)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown platform, want one of: auto, configfs-tsm, sev-guest, "
                                 "tdx-guest, azure-cvm, simulated-snp")));
}

TEST(OpenPlatformTest, AutoWithoutGuestInterfaceNamesMissingPaths) {
  ScopedTempDir dir;
  const PlatformOptions options = OptionsIn(dir);
  const absl::StatusOr<std::unique_ptr<Platform>> platform = OpenPlatform("auto", options);
  EXPECT_THAT(platform, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("no SEV-SNP or TDX guest interface found")));
  EXPECT_THAT(platform, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr(options.root + "/dev/sev-guest")));
  EXPECT_THAT(platform, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr(options.root + "/sys/kernel/config/tsm/report")));
  EXPECT_THAT(platform, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("use --platform simulated-snp for a test run")));
}

TEST_F(SimulatedPlatformTest, AutoNeverPicksSimulated) {
  const PlatformOptions options = SharedOptions();
  // A simulated chain in the data folder must not make "auto" use it.
  ASSERT_OK(OpenPlatform("simulated-snp", options).status());
  EXPECT_THAT(OpenPlatform("auto", options), StatusIs(absl::StatusCode::kFailedPrecondition));
}

void Touch(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
}

TEST(OpenPlatformTest, AutoPicksSevGuestDevice) {
  ScopedTempDir dir;
  const PlatformOptions options = OptionsIn(dir);
  Touch(options.root + "/dev/sev-guest");
  Touch(options.root + "/dev/tdx_guest");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> platform, OpenPlatform("auto", options));
  EXPECT_EQ(platform->Name(), "sev-guest");
  // A regular file takes no ioctls: the error names the request and errno.
  EXPECT_THAT(platform->GetEvidence(TestReportData()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("SNP_GET_EXT_REPORT")));
}

TEST(OpenPlatformTest, AutoPrefersConfigfsTsm) {
  ScopedTempDir dir;
  const PlatformOptions options = OptionsIn(dir);
  Touch(options.root + "/dev/sev-guest");
  std::filesystem::create_directories(options.root + "/sys/kernel/config/tsm/report");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> platform, OpenPlatform("auto", options));
  EXPECT_EQ(platform->Name(), "configfs-tsm");
}

TEST(OpenPlatformTest, AutoFallsBackToTdxGuest) {
  ScopedTempDir dir;
  const PlatformOptions options = OptionsIn(dir);
  Touch(options.root + "/dev/tdx_guest");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> platform, OpenPlatform("auto", options));
  EXPECT_EQ(platform->Name(), "tdx-guest");
  EXPECT_THAT(platform->GetEvidence(TestReportData()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("needs configfs-tsm")));
}

TEST(OpenPlatformTest, NamedProviderWithoutInterfaceIsNotFound) {
  ScopedTempDir dir;
  const PlatformOptions options = OptionsIn(dir);
  EXPECT_THAT(OpenPlatform("sev-guest", options), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(OpenPlatform("tdx-guest", options), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(OpenPlatform("configfs-tsm", options), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SimulatedPlatformTest, EvidenceVerifiesWithSimulatedRoot) {
  const PlatformOptions options = SharedOptions();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> platform, OpenPlatform("simulated-snp", options));
  EXPECT_EQ(platform->Name(), "simulated-snp");

  const Bytes report_data = TestReportData();
  ASSERT_OK_AND_ASSIGN(const Evidence evidence, platform->GetEvidence(report_data));
  EXPECT_EQ(evidence.kind, "snp");
  EXPECT_TRUE(evidence.simulated);
  EXPECT_EQ(evidence.report.size(), 1184u);
  ASSERT_EQ(evidence.certificates.size(), 3u);

  ASSERT_OK_AND_ASSIGN(const snp::SimulatedSnp simulated,
                       snp::SimulatedSnp::LoadOrCreate(options.data_dir + "/simulated-snp"));
  snp::VerifyOptions verify_options;
  verify_options.roots.push_back(simulated.Root());
  ASSERT_OK_AND_ASSIGN(const snp::VerifiedReport verified,
                       snp::VerifyReport(evidence.report, evidence.certificates, verify_options));
  EXPECT_TRUE(verified.simulated());
  EXPECT_EQ(Bytes(verified.report.report_data.begin(), verified.report.report_data.end()),
            report_data);
  EXPECT_EQ(verified.report.vmpl, 0u);
}

TEST_F(SimulatedPlatformTest, EvidenceRejectedWithPinnedAmdRootsOnly) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> platform,
                       OpenPlatform("simulated-snp", SharedOptions()));
  ASSERT_OK_AND_ASSIGN(const Evidence evidence, platform->GetEvidence(TestReportData()));
  EXPECT_THAT(snp::VerifyReport(evidence.report, evidence.certificates, snp::VerifyOptions{}),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(SimulatedPlatformTest, ChainPersistsInDataDir) {
  const PlatformOptions options = SharedOptions();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> first, OpenPlatform("simulated-snp", options));
  ASSERT_OK_AND_ASSIGN(const Evidence a, first->GetEvidence(TestReportData()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> second, OpenPlatform("simulated-snp", options));
  ASSERT_OK_AND_ASSIGN(const Evidence b, second->GetEvidence(TestReportData()));
  EXPECT_EQ(a.certificates[0].Der(), b.certificates[0].Der());

  struct stat st {};
  ASSERT_EQ(::stat((options.data_dir + "/simulated-snp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(SimulatedPlatformTest, RejectsWrongReportDataSize) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> platform,
                       OpenPlatform("simulated-snp", SharedOptions()));
  const Bytes short_data(32);
  EXPECT_THAT(platform->GetEvidence(short_data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32 bytes, want 64")));
}

TEST_F(SimulatedPlatformTest, VmplOptionReachesReport) {
  PlatformOptions options = SharedOptions();
  options.vmpl = 2;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Platform> platform, OpenPlatform("simulated-snp", options));
  ASSERT_OK_AND_ASSIGN(const Evidence evidence, platform->GetEvidence(TestReportData()));
  ASSERT_OK_AND_ASSIGN(const snp::AttestationReport report, snp::ParseReport(evidence.report));
  EXPECT_EQ(report.vmpl, 2u);
}

}  // namespace
}  // namespace vouch::agent
