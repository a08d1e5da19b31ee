// Runs the built `vouch verify` against a loopback AMD KDS stand-in: a real
// Milan report verifies with the VCEK fetched by chip id and TCB, and a
// second run reads it from the cache. Nothing here contacts AMD.
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/collateral/kds_client.h"
#include "vouch/collateral/kds_test_server.h"
#include "vouch/snp/report.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::vouch::testing::ReadVector;
using ::vouch::testing::VectorsDir;

constexpr char kReport[] = "sev-snp/virtee-milan-v2.bin";

struct RunResult {
  int exit_status = -1;
  std::string output;  // stdout and stderr
};

RunResult RunVouch(const std::string& arguments) {
  RunResult result;
  const std::string command = std::string(VOUCH_CLI_BINARY) + " " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class KdsVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VOUCH_REQUIRE_VECTORS_OR_SKIP();
    char pattern[] = "/tmp/vouch-kds-verify-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::filesystem::create_directories(dir_ + "/empty");
    ASSERT_OK_AND_ASSIGN(const snp::AttestationReport report,
                         snp::ParseReport(ReadVector(kReport)));
    vcek_target_ = collateral::VcekRequestTarget("Milan", report);
    kds_.AddDocument(vcek_target_, ToString(ReadVector("sev-snp/virtee-milan-vcek.der")));
    kds_.AddDocument("/vcek/v1/Milan/cert_chain", ToString(ReadVector("amd-certs/milan_chain.pem")));
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  // VerifyArguments verifies the report with an empty collateral folder, so
  // that the VCEK can come only from the cache or KDS.
  std::string VerifyArguments(const std::string& extra) const {
    return "verify --collateral " + dir_ + "/empty --collateral-cache " + dir_ +
           "/cache --at 2025-06-01T00:00:00Z " + extra + " " + VectorsDir() + "/" + kReport;
  }

  std::string dir_;
  std::string vcek_target_;
  collateral::KdsTestServer kds_;
};

TEST_F(KdsVerifyTest, FetchesThenUsesCache) {
  const RunResult first = RunVouch(VerifyArguments("--kds-product Milan --kds-url " + kds_.Url()));
  EXPECT_EQ(first.exit_status, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("verified: SEV-SNP attestation report version 2, Milan"));
  // The VCEK, the chain, and AMD's CRL, which the stand-in does not serve
  // (404): the report verifies without a revocation check.
  EXPECT_THAT(kds_.targets(),
              ElementsAre(vcek_target_, "/vcek/v1/Milan/cert_chain", "/vcek/v1/Milan/crl"));

  // Without --kds-url the cache alone verifies the report.
  const RunResult second = RunVouch(VerifyArguments("--kds-product Milan"));
  EXPECT_EQ(second.exit_status, 0) << second.output;
  EXPECT_THAT(kds_.targets(), SizeIs(3));
}

TEST_F(KdsVerifyTest, WithoutKdsUrlNamesOption) {
  const RunResult result = RunVouch(VerifyArguments("--kds-product Milan"));
  EXPECT_EQ(result.exit_status, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--kds-url"));
  EXPECT_THAT(kds_.targets(), SizeIs(0));
}

TEST_F(KdsVerifyTest, VersionTwoReportNeedsProduct) {
  const RunResult result = RunVouch(VerifyArguments("--kds-url " + kds_.Url()));
  EXPECT_EQ(result.exit_status, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--kds-product"));
  EXPECT_THAT(kds_.targets(), SizeIs(0));
}

// A real Milan chain: KDS has no CRL (404), so --snp-require-crl rejects the
// report, and --amd-crl with a file that is not a CRL is a usage error.
TEST_F(KdsVerifyTest, RequiredCrlMissingRejects) {
  const RunResult result =
      RunVouch(VerifyArguments("--kds-product Milan --snp-require-crl --kds-url " + kds_.Url()));
  EXPECT_EQ(result.exit_status, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("find the AMD CRL"));
  EXPECT_THAT(result.output, HasSubstr("404"));
}

// With --amd-crl given, only snp::VerifyReport checks that some CRL covers
// the chain. Intel's root CA CRL is a valid CRL but not issued by AMD's ARK.
TEST_F(KdsVerifyTest, RequiredCrlOfOtherIssuerRejects) {
  const RunResult result = RunVouch(VerifyArguments(
      "--kds-product Milan --snp-require-crl --amd-crl " + VectorsDir() +
      "/intel-certs/intel_sgx_root_ca_crl_2025-03-20.der --kds-url " + kds_.Url()));
  EXPECT_EQ(result.exit_status, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("a CRL is required"));
  EXPECT_THAT(result.output, HasSubstr("ARK-Milan"));
}

TEST_F(KdsVerifyTest, NonCrlAmdCrlFileIsUsageError) {
  const std::string file = dir_ + "/not-a-crl.der";
  ASSERT_OK(WriteFileAtomic(file, AsBytes(std::string("not a CRL"))));
  const RunResult result =
      RunVouch(VerifyArguments("--kds-product Milan --amd-crl " + file + " --kds-url " +
                               kds_.Url()));
  EXPECT_EQ(result.exit_status, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("load --amd-crl"));
}

}  // namespace
}  // namespace vouch::cli
