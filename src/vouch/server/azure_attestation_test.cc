// POST /challenge and /attest/AzureGuest through the real server over
// loopback, with Trustee's real Azure vTPM evidence. Its quotes carry the
// nonce "challenge", which the tests put into the store as an issued nonce.
#include "vouch/server/azure_attestation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/jws.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;
using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;

constexpr char kAdminToken[] = "azure-test-admin-token";

std::string CollateralDir() {
  const std::string dir =
      ::testing::TempDir() + "/vouch_azure_collateral_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* file : {"intel-collateral/2025-10_automata/tcbinfo_tdx_00806f050000.json",
                           "intel-collateral/2025-10_automata/qeidentity_td_qe.json",
                           "intel-collateral/2025-10_automata/pck_platform_crl.der",
                           "intel-certs/intel_sgx_root_ca.pem",
                           "intel-certs/intel_sgx_root_ca_crl_2025-03-20.der",
                           "intel-certs/intel_sgx_tcb_signing_2025-2032.pem",
                           "intel-certs/intel_sgx_pck_platform_ca.pem",
                           "amd-certs/milan_chain.pem"}) {
    const std::string target = dir + "/" + std::filesystem::path(file).filename().string();
    std::filesystem::copy_file(vouch::testing::VectorsDir() + "/" + file, target);
  }
  return dir;
}

class AzureServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!vouch::testing::HaveVectors()) {
      return;
    }
    config_ = new Config();
    config_->listen = "127.0.0.1:0";
    config_->data_dir =
        ::testing::TempDir() + "/vouch_azure_server_" + std::to_string(getpid());
    std::filesystem::remove_all(config_->data_dir);
    config_->collateral_dir = CollateralDir();
    config_->accept_tcb = "UpToDate,OutOfDate";
    config_->admin_token_sha256 = HashAdminToken(kAdminToken);
    config_->dcap_verification_time_for_test = *ParseRfc3339("2025-10-20T00:00:00Z");
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(*config_);
    if (!server.ok()) {
      std::fprintf(stderr, "server start failed: %s\n", server.status().ToString().c_str());
    }
    VOUCH_CHECK(server.ok());
    server_ = server->release();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    if (config_ != nullptr) {
      std::filesystem::remove_all(config_->data_dir);
      std::filesystem::remove_all(config_->collateral_dir);
    }
    delete config_;
    config_ = nullptr;
  }

  void SetUp() override { VOUCH_REQUIRE_VECTORS_OR_SKIP(); }

  static ClientResponse Post(const std::string& route, const std::string& body,
                             const testing::Headers& headers = {}) {
    absl::StatusOr<ClientResponse> response = Call(server_->port(), "POST", route, body, headers);
    VOUCH_CHECK(response.ok());
    return *response;
  }

  // IssueTrusteeNonce stores "challenge", the nonce of Trustee's quotes.
  static void IssueTrusteeNonce() {
    ASSERT_OK(server_->service().store().PutNonce(AsBytes("challenge"),
                                                  absl::Now() + absl::Seconds(60)));
  }

  static nlohmann::json EvidenceBody(const char* file) {
    const Bytes raw = ReadVector(file);
    nlohmann::json body = nlohmann::json::parse(raw.begin(), raw.end());
    body["nonce"] = Base64UrlEncode(AsBytes("challenge"));
    return body;
  }

  static nlohmann::json TokenClaims(const ClientResponse& response) {
    absl::StatusOr<crypto::JwsParts> parts = crypto::JwsDecode(response.Json().value("token", ""));
    EXPECT_OK(parts.status());
    return parts.ok() ? nlohmann::json::parse(parts->payload) : nlohmann::json();
  }

  static Config* config_;
  static Server* server_;
};

Config* AzureServerTest::config_ = nullptr;
Server* AzureServerTest::server_ = nullptr;

TEST_F(AzureServerTest, ChallengeIssuesFreshNonces) {
  const ClientResponse first = Post("/challenge", "");
  ASSERT_EQ(first.status, 200) << first.body;
  const ClientResponse second = Post("/challenge", "");
  ASSERT_EQ(second.status, 200) << second.body;
  const nlohmann::json body = first.Json();
  ASSERT_OK_AND_ASSIGN(const Bytes nonce, Base64UrlDecode(body["nonce"].get<std::string>()));
  EXPECT_EQ(nonce.size(), kChallengeNonceBytes);
  EXPECT_NE(body["nonce"], second.Json()["nonce"]);
  ASSERT_OK_AND_ASSIGN(const absl::Time expires, ParseRfc3339(body["expires"].get<std::string>()));
  EXPECT_LE(expires - absl::Now(), kChallengeLifetime);
  EXPECT_GT(expires - absl::Now(), kChallengeLifetime - absl::Seconds(10));
  // The nonce is in the store, consumable once.
  EXPECT_OK(server_->service().store().ConsumeNonce(nonce, absl::Now()));
  EXPECT_FALSE(server_->service().store().ConsumeNonce(nonce, absl::Now()).ok());
}

TEST_F(AzureServerTest, SnpEvidenceGetsTokenOnce) {
  IssueTrusteeNonce();
  const std::string body = EvidenceBody("azure/trustee-az-snp-vtpm-evidence-v1.json").dump();
  const ClientResponse response = Post("/attest/AzureGuest", body);
  ASSERT_EQ(response.status, 200) << response.body;
  const nlohmann::json claims = TokenClaims(response);
  EXPECT_EQ(claims["iss"], server_->issuer());
  EXPECT_EQ(claims["x-ms-attestation-type"], "azurevm");
  EXPECT_EQ(claims["x-ms-isolation-tee"]["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(claims["x-ms-isolation-tee"]["x-ms-compliance-status"], "azure-compliant-cvm");
  EXPECT_TRUE(claims.contains("x-ms-policy-hash"));

  const ClientResponse replay = Post("/attest/AzureGuest", body);
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_THAT(replay.ErrorMessage(), HasSubstr("already used"));
}

TEST_F(AzureServerTest, TdxEvidenceGetsToken) {
  IssueTrusteeNonce();
  const ClientResponse response =
      Post("/attest/AzureGuest", EvidenceBody("azure/trustee-az-tdx-vtpm-evidence-v0.json").dump());
  ASSERT_EQ(response.status, 200) << response.body;
  const nlohmann::json claims = TokenClaims(response);
  EXPECT_EQ(claims["x-ms-isolation-tee"]["x-ms-attestation-type"], "tdxvm");
  EXPECT_EQ(claims["x-ms-isolation-tee"]["attester_tcb_status"], "OutOfDate");
}

TEST_F(AzureServerTest, RejectsNonceNotIssued) {
  const ClientResponse response =
      Post("/attest/AzureGuest", EvidenceBody("azure/trustee-az-snp-vtpm-evidence-v0.json").dump());
  EXPECT_EQ(response.status, 401) << response.body;
}

TEST_F(AzureServerTest, RejectsQuoteOfOtherNonce) {
  ASSERT_OK(server_->service().store().PutNonce(AsBytes("other"), absl::Now() + absl::Seconds(60)));
  nlohmann::json body = EvidenceBody("azure/trustee-az-snp-vtpm-evidence-v1.json");
  body["nonce"] = Base64UrlEncode(AsBytes("other"));
  const ClientResponse response = Post("/attest/AzureGuest", body.dump());
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("nonce"));
}

TEST_F(AzureServerTest, RejectsUnboundRuntimeData) {
  IssueTrusteeNonce();
  nlohmann::json body = EvidenceBody("azure/trustee-az-snp-vtpm-evidence-v1.json");
  body["runtime_data"] = Base64UrlEncode(AsBytes("{\"keys\":[]}"));
  const ClientResponse response = Post("/attest/AzureGuest", body.dump());
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("user-data"));
}

TEST_F(AzureServerTest, RejectsMissingNonceAndBadBody) {
  nlohmann::json body = EvidenceBody("azure/trustee-az-snp-vtpm-evidence-v1.json");
  body.erase("nonce");
  EXPECT_EQ(Post("/attest/AzureGuest", body.dump()).status, 400);
  EXPECT_EQ(Post("/attest/AzureGuest", "{").status, 400);
}

// Azure's data-disk SKR policy, with its authorities replaced by vouch's
// issuer, releases a key against vouch's token.
TEST_F(AzureServerTest, AzureSkrPolicyReleasesKey) {
  const Bytes raw = ReadVector("azure/skr-policy-datadisk-example.json");
  nlohmann::json policy = nlohmann::json::parse(raw.begin(), raw.end());
  for (nlohmann::json& branch : policy["anyOf"]) {
    branch["authority"] = server_->issuer();
  }
  const nlohmann::json create = {
      {"attributes", {{"exportable", true}}},
      {"release_policy",
       {{"contentType", "application/json; charset=utf-8"},
        {"data", Base64UrlEncode(AsBytes(policy.dump()))}}}};
  const testing::Headers admin = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  absl::StatusOr<ClientResponse> created =
      Call(server_->port(), "PUT", "/keys/datadisk", create.dump(), admin);
  ASSERT_OK(created.status());
  ASSERT_EQ(created->status, 200) << created->body;

  IssueTrusteeNonce();
  const ClientResponse attested =
      Post("/attest/AzureGuest", EvidenceBody("azure/trustee-az-snp-vtpm-evidence-v2.json")
                                     .dump()
                                     .replace(0, 0, ""));
  // v2's quote carries a 48-byte nonce, not "challenge".
  EXPECT_EQ(attested.status, 401);

  IssueTrusteeNonce();
  const ClientResponse token =
      Post("/attest/AzureGuest", EvidenceBody("azure/trustee-az-snp-vtpm-evidence-v1.json").dump());
  ASSERT_EQ(token.status, 200) << token.body;
  const nlohmann::json release = {{"target", token.Json()["token"]}, {"enc", "CKM_RSA_AES_KEY_WRAP"}};
  const ClientResponse released = Post("/keys/datadisk/release", release.dump());
  EXPECT_EQ(released.status, 200) << released.body;
  EXPECT_TRUE(released.Json().contains("value")) << released.body;
}

// The SEV-SNP report inside an HCL report goes through the same AMD CRL
// lookup as /attest/SevSnpVm: with --snp-require-crl and no CRL at hand the
// evidence is rejected, and a TD quote, which has no AMD chain, is not.
TEST(AzureCrlTest, RequiredCrlAbsentRejectsSnpEvidence) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Config config;
  config.listen = "127.0.0.1:0";
  config.data_dir = ::testing::TempDir() + "/vouch_azure_crl_" + std::to_string(getpid());
  std::filesystem::remove_all(config.data_dir);
  config.collateral_dir = CollateralDir();
  config.accept_tcb = "UpToDate,OutOfDate";
  config.admin_token_sha256 = HashAdminToken(kAdminToken);
  config.dcap_verification_time_for_test = *ParseRfc3339("2025-10-20T00:00:00Z");
  config.snp_require_crl = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));

  const auto attest = [&server](const char* file) {
    EXPECT_OK(server->service().store().PutNonce(AsBytes("challenge"),
                                                 absl::Now() + absl::Seconds(60)));
    const Bytes raw = ReadVector(file);
    nlohmann::json body = nlohmann::json::parse(raw.begin(), raw.end());
    body["nonce"] = Base64UrlEncode(AsBytes("challenge"));
    absl::StatusOr<ClientResponse> response =
        Call(server->port(), "POST", "/attest/AzureGuest", body.dump(), {});
    VOUCH_CHECK(response.ok());
    return *response;
  };
  const ClientResponse snp = attest("azure/trustee-az-snp-vtpm-evidence-v1.json");
  EXPECT_EQ(snp.status, 401) << snp.body;
  EXPECT_THAT(snp.ErrorMessage(), HasSubstr("a CRL is required"));
  const ClientResponse tdx = attest("azure/trustee-az-tdx-vtpm-evidence-v0.json");
  EXPECT_EQ(tdx.status, 200) << tdx.body;

  server.reset();
  std::filesystem::remove_all(config.data_dir);
  std::filesystem::remove_all(config.collateral_dir);
}

}  // namespace
}  // namespace vouch::server
