// End-to-end tests of POST /attest/SevSnpVm for reports sent without a VCEK:
// the server finds it in its cache folder or fetches it from a loopback KDS
// stand-in. Nothing here contacts AMD.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/collateral/kds_test_server.h"
#include "vouch/crypto/hash.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/server.h"
#include "vouch/server/service.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/report.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using testing::Call;
using testing::ClientResponse;

constexpr char kRuntimeData[] = R"({"keys":[],"vm-configuration":{"tpm":false}})";

// PrepareSimulatedChain puts a simulated SEV-SNP chain, made once per build
// folder (its RSA-4096 keys take seconds), into `dir`.
void PrepareSimulatedChain(const std::string& dir) {
  const std::string cache = std::string(VOUCH_BINARY_DIR) + "/kds_service_test_simulated_snp";
  VOUCH_CHECK(snp::CopySimulatedSnp(cache, dir).ok());
}

class KdsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/vouch_kds_service_test_" + std::to_string(getpid()) +
                "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(data_dir_);
    PrepareSimulatedChain(data_dir_ + "/" + kSimulatedSnpDir);
    ASSERT_OK_AND_ASSIGN(platform_, snp::SimulatedSnp::LoadOrCreate(data_dir_ + "/" +
                                                                    kSimulatedSnpDir));
    const std::vector<crypto::Certificate> chain = platform_->Certificates();
    Bytes report_data = crypto::Sha256(AsBytes(kRuntimeData));
    report_data.resize(64, 0);
    ASSERT_OK_AND_ASSIGN(report_, platform_->GetReport(report_data));
    ASSERT_OK_AND_ASSIGN(const snp::AttestationReport parsed, snp::ParseReport(report_));
    vcek_target_ = fmt::format("/vcek/v1/Milan/{}?blSPL=04&teeSPL=00&snpSPL=22&ucodeSPL=213",
                               HexEncode(parsed.chip_id));
    kds_.AddDocument(vcek_target_, ToString(chain[0].Der()));
    kds_.AddDocument("/vcek/v1/Milan/cert_chain", chain[1].Pem() + chain[2].Pem());
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  void StartServer() {
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_;
    config.admin_token_sha256 = HashAdminToken("kds-service-test-admin-token");
    config.allow_simulated_snp = true;
    config.collateral_cache_dir = data_dir_ + "/collateral-cache";
    config.kds_url = kds_.Url();
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
    ASSERT_OK(server.status());
    server_ = *std::move(server);
  }

  absl::StatusOr<ClientResponse> Attest(ByteSpan report) {
    const std::string body = AttestRequestJson(report, "", AsBytes(kRuntimeData), "n-1").dump();
    return Call(server_->port(), "POST", "/attest/SevSnpVm", body);
  }

  std::string data_dir_;
  std::optional<snp::SimulatedSnp> platform_;
  Bytes report_;
  std::string vcek_target_;
  collateral::KdsTestServer kds_;
  std::unique_ptr<Server> server_;
};

TEST_F(KdsServiceTest, AttestWithoutVcekFetchesOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServer());

  ASSERT_OK_AND_ASSIGN(const ClientResponse first, Attest(report_));
  ASSERT_OK_AND_ASSIGN(const ClientResponse second, Attest(report_));

  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_FALSE(first.Json().value("token", "").empty());
  // The VCEK, the chain and AMD's CRL (404 here, so revocation is not
  // checked) once; the second report used the cache and the remembered 404.
  EXPECT_THAT(kds_.targets(),
              ElementsAre(vcek_target_, "/vcek/v1/Milan/cert_chain", "/vcek/v1/Milan/crl"));
}

TEST_F(KdsServiceTest, KdsFailureKeepsServerServing) {
  kds_.SetOverride([](const std::string&) -> std::optional<collateral::PcsTestReply> {
    return collateral::PcsTestReply{200, {}, "not a certificate"};
  });
  ASSERT_NO_FATAL_FAILURE(StartServer());

  ASSERT_OK_AND_ASSIGN(const ClientResponse garbage, Attest(report_));
  EXPECT_EQ(garbage.status, 401) << garbage.body;
  EXPECT_THAT(garbage.body, HasSubstr("not a DER certificate"));

  kds_.SetOverride([](const std::string&) -> std::optional<collateral::PcsTestReply> {
    return collateral::PcsTestReply{429, {{"Retry-After", "300"}}, ""};
  });
  ASSERT_OK_AND_ASSIGN(const ClientResponse limited, Attest(report_));
  EXPECT_EQ(limited.status, 503) << limited.body;
  EXPECT_THAT(limited.body, HasSubstr("429"));

  // The server keeps serving, and a report sent with its chain needs no KDS.
  const size_t calls = kds_.targets().size();
  std::string chain;
  for (const crypto::Certificate& certificate : platform_->Certificates()) {
    chain += certificate.Pem();
  }
  const std::string body = AttestRequestJson(report_, chain, AsBytes(kRuntimeData), "n-2").dump();
  ASSERT_OK_AND_ASSIGN(const ClientResponse with_chain,
                       Call(server_->port(), "POST", "/attest/SevSnpVm", body));
  EXPECT_EQ(with_chain.status, 200) << with_chain.body;
  // Only the CRL request: its 429 leaves the report without a revocation
  // check, because no CRL is required.
  EXPECT_EQ(kds_.targets().size(), calls + 1);
  EXPECT_EQ(kds_.targets().back(), "/vcek/v1/Milan/crl");
}

TEST_F(KdsServiceTest, MaskedChipIdNeverAsksKds) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_OK_AND_ASSIGN(snp::AttestationReport masked, snp::ParseReport(report_));
  masked.mask_chip_key = true;

  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest(snp::SerializeReport(masked)));

  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("send the VCEK with the evidence"));
  EXPECT_THAT(kds_.targets(), SizeIs(0));
}

}  // namespace
}  // namespace vouch::server
