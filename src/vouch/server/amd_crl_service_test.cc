// End-to-end tests of AMD CRL checks on POST /attest/SevSnpVm: a loopback
// KDS stand-in serves CRLs signed by the simulated ARK. Nothing here
// contacts AMD.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/collateral/kds_test_server.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/server.h"
#include "vouch/server/service.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/revocation.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::HasSubstr;
using testing::Call;
using testing::ClientResponse;

constexpr char kRuntimeData[] = R"({"keys":[],"vm-configuration":{"tpm":false}})";
constexpr char kCrlTarget[] = "/vcek/v1/Milan/crl";

// CopySimulatedChain puts a simulated SEV-SNP chain, made once per build
// folder (its RSA-4096 keys take seconds), into `dir`.
void CopySimulatedChain(const std::string& dir) {
  const std::string cache = std::string(VOUCH_BINARY_DIR) + "/amd_crl_service_test_simulated_snp";
  VOUCH_CHECK(snp::CopySimulatedSnp(cache, dir).ok());
}

class AmdCrlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/vouch_amd_crl_service_test_" + std::to_string(getpid()) +
                "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(data_dir_);
    const std::string simulated_dir = data_dir_ + "/" + kSimulatedSnpDir;
    CopySimulatedChain(simulated_dir);
    ASSERT_OK_AND_ASSIGN(platform_, snp::SimulatedSnp::LoadOrCreate(simulated_dir));
    Bytes report_data = crypto::Sha256(AsBytes(kRuntimeData));
    report_data.resize(64, 0);
    ASSERT_OK_AND_ASSIGN(report_, platform_->GetReport(report_data));
    for (const crypto::Certificate& certificate : platform_->Certificates()) {
      chain_pem_ += certificate.Pem();
    }
    ASSERT_OK_AND_ASSIGN(const Bytes key_pem,
                         ReadFile(simulated_dir + "/" + snp::kSimulatedArkKeyFile));
    ASSERT_OK_AND_ASSIGN(ark_key_, crypto::PrivateKeyFromPem(key_pem));
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  // CrlDer returns a current CRL of the simulated ARK, DER.
  std::string CrlDer(std::vector<Bytes> revoked = {}) const {
    const std::vector<crypto::Certificate> chain = platform_->Certificates();
    snp::AmdCrlSpec spec;
    spec.ark = &chain[2];
    spec.ark_key = ark_key_.get();
    spec.this_update = absl::Now() - absl::Hours(1);
    spec.next_update = absl::Now() + absl::Hours(24);
    spec.revoked_serials = std::move(revoked);
    absl::StatusOr<crypto::Crl> crl = snp::IssueAmdCrl(spec);
    EXPECT_TRUE(crl.ok()) << crl.status();
    return crl.ok() ? ToString(crl->Der()) : "";
  }

  Bytes AskSerial() const { return crypto::SerialOf(platform_->Certificates()[1]); }

  void StartServer(bool require_crl, bool with_kds = true, std::string amd_crl = "") {
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_;
    config.admin_token_sha256 = HashAdminToken("amd-crl-service-test-admin-token");
    config.allow_simulated_snp = true;
    config.collateral_cache_dir = data_dir_ + "/collateral-cache";
    if (with_kds) {
      config.kds_url = kds_.Url();
    }
    config.amd_crl = std::move(amd_crl);
    config.snp_require_crl = require_crl;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
    ASSERT_OK(server.status());
    server_ = *std::move(server);
  }

  // Attest sends the report with its certificate chain, so that only the
  // CRL may come from KDS.
  absl::StatusOr<ClientResponse> Attest() {
    const std::string body =
        AttestRequestJson(report_, chain_pem_, AsBytes(kRuntimeData), "n-1").dump();
    return Call(server_->port(), "POST", "/attest/SevSnpVm", body);
  }

  std::string data_dir_;
  std::optional<snp::SimulatedSnp> platform_;
  Bytes report_;
  std::string chain_pem_;
  crypto::SslPtr<EVP_PKEY> ark_key_;
  collateral::KdsTestServer kds_;
  std::unique_ptr<Server> server_;
};

TEST_F(AmdCrlServiceTest, RevokedAskRejected) {
  kds_.AddDocument(kCrlTarget, CrlDer({AskSerial()}));
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/false));

  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest());

  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("(serial " + HexEncode(AskSerial()) + ") is revoked"));
}

TEST_F(AmdCrlServiceTest, GoodCrlAcceptedAndCached) {
  kds_.AddDocument(kCrlTarget, CrlDer({Bytes{0x7f}}));
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/true));

  ASSERT_OK_AND_ASSIGN(const ClientResponse first, Attest());
  ASSERT_OK_AND_ASSIGN(const ClientResponse second, Attest());

  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(kds_.targets(), std::vector<std::string>{kCrlTarget});
  EXPECT_TRUE(std::filesystem::exists(data_dir_ + "/collateral-cache/amd/crl-vcek-Milan.der"));
}

TEST_F(AmdCrlServiceTest, RequiredCrlAbsentRejected) {
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/true));  // the stand-in returns 404

  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest());

  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("404"));
}

TEST_F(AmdCrlServiceTest, CrlOfAnotherKeyRejected) {
  const std::vector<crypto::Certificate> chain = platform_->Certificates();
  ASSERT_OK_AND_ASSIGN(const Bytes ask_key_pem,
                       ReadFile(data_dir_ + "/" + kSimulatedSnpDir + "/" +
                                snp::kSimulatedAskKeyFile));
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> ask_key,
                       crypto::PrivateKeyFromPem(ask_key_pem));
  snp::AmdCrlSpec spec;
  spec.ark = &chain[2];
  spec.ark_key = ask_key.get();
  spec.this_update = absl::Now() - absl::Hours(1);
  spec.next_update = absl::Now() + absl::Hours(24);
  ASSERT_OK_AND_ASSIGN(const crypto::Crl forged, snp::IssueAmdCrl(spec));
  kds_.AddDocument(kCrlTarget, ToString(forged.Der()));
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/false));

  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest());

  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("signature"));
  EXPECT_FALSE(std::filesystem::exists(data_dir_ + "/collateral-cache/amd/crl-vcek-Milan.der"));
}

TEST_F(AmdCrlServiceTest, GarbageCrlRejected) {
  kds_.AddDocument(kCrlTarget, "garbage, not a CRL");
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/false));

  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest());

  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("is not a CRL"));
}

TEST_F(AmdCrlServiceTest, KdsDownIs503AndServerKeepsServing) {
  kds_.SetOverride([](const std::string&) -> std::optional<collateral::PcsTestReply> {
    return collateral::PcsTestReply{503, {}, ""};
  });
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/true));

  ASSERT_OK_AND_ASSIGN(const ClientResponse first, Attest());
  ASSERT_OK_AND_ASSIGN(const ClientResponse second, Attest());
  ASSERT_OK_AND_ASSIGN(const ClientResponse health, Call(server_->port(), "GET", "/healthz", ""));

  EXPECT_EQ(first.status, 503) << first.body;
  EXPECT_THAT(first.body, HasSubstr("a CRL is required, retry later"));
  EXPECT_EQ(second.status, 503) << second.body;
  EXPECT_EQ(kds_.targets().size(), 1u) << "the failed request is not repeated at once";
  EXPECT_EQ(health.status, 200);
}

TEST_F(AmdCrlServiceTest, KdsDownWithoutRequirementSkipsCheck) {
  kds_.SetOverride([](const std::string&) -> std::optional<collateral::PcsTestReply> {
    return collateral::PcsTestReply{503, {}, ""};
  });
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/false));

  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest());

  EXPECT_EQ(response.status, 200) << response.body;
}

TEST_F(AmdCrlServiceTest, AmdCrlFileRevokesWithoutKds) {
  const std::string file = data_dir_ + "/ark-crl.der";
  ASSERT_OK(WriteFileAtomic(file, AsBytes(CrlDer({AskSerial()}))));
  ASSERT_NO_FATAL_FAILURE(StartServer(/*require_crl=*/true, /*with_kds=*/false, file));

  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest());

  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("is revoked"));
  EXPECT_TRUE(kds_.targets().empty());
}

TEST_F(AmdCrlServiceTest, BadAmdCrlFileStopsStart) {
  const std::string file = data_dir_ + "/not-a-crl.der";
  ASSERT_OK(WriteFileAtomic(file, AsBytes(std::string("not a CRL"))));
  Config config;
  config.listen = "127.0.0.1:0";
  config.data_dir = data_dir_;
  config.admin_token_sha256 = HashAdminToken("amd-crl-service-test-admin-token");
  config.amd_crl = file;

  EXPECT_THAT(Server::Start(config).status(),
              ::vouch::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("amd_crl")));
}

}  // namespace
}  // namespace vouch::server
