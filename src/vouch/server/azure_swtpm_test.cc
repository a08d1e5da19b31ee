// The whole Azure CVM flow against a real TPM. swtpm on loopback plays the
// vTPM. An HCL report from the simulated SEV-SNP platform binds swtpm's own
// AK and sits in NV index 0x01400001. The guest quotes PCRs with a nonce from
// POST /challenge. The server issues a token and releases a key under
// Azure's data-disk release policy to the guest's ephemeral key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "vouch/azure/hcl_report.h"
#include "vouch/azure/hcl_report_builder.h"
#include "vouch/base/status.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"
#include "vouch/tpm/event_log_builder.h"
#include "vouch/tpm/swtpm.h"
#include "vouch/tpm/tpm_client.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;

constexpr char kAdminToken[] = "azure-swtpm-admin-token";

// SecureBootVariable is UEFI_VARIABLE_DATA for SecureBoot = `value`.
Bytes SecureBootVariable(uint8_t value) {
  Bytes data = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
                0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};
  const std::u16string name = u"SecureBoot";
  for (int i = 0; i < 8; ++i) data.push_back(i == 0 ? static_cast<uint8_t>(name.size()) : 0);
  for (int i = 0; i < 8; ++i) data.push_back(i == 0 ? 1 : 0);
  for (char16_t c : name) {
    data.push_back(static_cast<uint8_t>(c));
    data.push_back(static_cast<uint8_t>(c >> 8));
  }
  data.push_back(value);
  return data;
}

class AzureSwtpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/vouch_azure_swtpm_" + std::to_string(getpid());
    std::filesystem::remove_all(data_dir_);
    // The simulated chain is made once per build folder (two RSA-4096 keys).
    const std::string cache = std::string(VOUCH_BINARY_DIR) + "/server_test_simulated_snp";
    const std::string chain_dir = data_dir_ + "/simulated-snp";
    ASSERT_OK(snp::CopySimulatedSnp(cache, chain_dir));
    std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all);
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_;
    config.allow_simulated_snp = true;
    config.collateral_dir = chain_dir;
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
    ASSERT_OK(server.status());
    server_ = *std::move(server);

    absl::StatusOr<std::unique_ptr<tpm::Swtpm>> swtpm = tpm::Swtpm::Start();
    ASSERT_OK(swtpm.status());
    swtpm_ = *std::move(swtpm);
    absl::StatusOr<std::unique_ptr<tpm::TpmClient>> client = tpm::TpmClient::Open(swtpm_->Tcti());
    ASSERT_OK(client.status());
    tpm_ = *std::move(client);
  }

  void TearDown() override {
    tpm_.reset();
    swtpm_.reset();
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  // ProvisionVtpm does what Azure's paravisor does at boot: create the AK at
  // 0x81000003 and store an HCL report whose runtime claims carry the AK and
  // `user_data`, signed by the (simulated) SEV-SNP firmware.
  void ProvisionVtpm(ByteSpan user_data) {
    ASSERT_OK_AND_ASSIGN(auto ak, tpm_->CreateAk(azure::kAkPersistentHandle));
    ASSERT_OK_AND_ASSIGN(const std::string runtime,
                         azure::RuntimeClaimsJson(ak.get(), nullptr, true, user_data));
    const snp::SimulatedSnp& platform = *server_->service().simulated();
    ASSERT_OK_AND_ASSIGN(
        const Bytes report,
        platform.GetReport(azure::RuntimeReportData(crypto::HashAlg::kSha256, AsBytes(runtime))));
    // swtpm's NV indices hold at most 2048 bytes, so the report is not padded
    // to Azure's 2600.
    const Bytes hcl = azure::BuildHclReport(azure::HclReportType::kSnp, report, AsBytes(runtime),
                                            crypto::HashAlg::kSha256, 0);
    ASSERT_OK(tpm_->NvDefine(azure::kHclReportNvIndex, hcl.size()));
    ASSERT_OK(tpm_->NvWrite(azure::kHclReportNvIndex, hcl));
  }

  // MeasureBoot extends PCRs as firmware would and returns the event log.
  Bytes MeasureBoot() {
    tpm::EventLogBuilder log({crypto::HashAlg::kSha256});
    log.Measure(0, tpm::kEvSCrtmVersion, AsBytes("simulated firmware 1.0"))
        .Measure(7, tpm::kEvEfiVariableDriverConfig, SecureBootVariable(1))
        .Measure(4, tpm::kEvEfiBootServicesApplication, AsBytes("shimx64.efi"))
        .Measure(7, tpm::kEvSeparator, Bytes(4, 0));
    for (const tpm::EventLogEntry& e : log.Entries()) {
      EXPECT_OK(tpm_->ExtendPcr(e.register_index, e.digests[0].second));
    }
    return log.Build();
  }

  std::string ChainPem() const {
    std::string pem;
    for (const crypto::Certificate& cert : server_->service().simulated()->Certificates()) {
      pem += cert.Pem();
    }
    return pem;
  }

  // GuestEvidence reads the HCL report and quotes all 24 PCRs with a fresh
  // challenge, as the guest agent does, and returns the request body.
  nlohmann::json GuestEvidence(ByteSpan event_log, const std::string& runtime_data) {
    absl::StatusOr<ClientResponse> challenge = Call(server_->port(), "POST", "/challenge", "");
    EXPECT_OK(challenge.status());
    const std::string nonce_text = challenge->Json()["nonce"].get<std::string>();
    const Bytes nonce = Base64UrlDecode(nonce_text).value();
    std::vector<uint32_t> all;
    for (uint32_t i = 0; i < 24; ++i) all.push_back(i);
    absl::StatusOr<tpm::TpmClient::Quote> quote =
        tpm_->QuotePcrs(azure::kAkPersistentHandle, nonce, all);
    EXPECT_OK(quote.status());
    absl::StatusOr<std::vector<Bytes>> pcrs = tpm_->ReadPcrs();
    EXPECT_OK(pcrs.status());
    absl::StatusOr<Bytes> hcl = tpm_->NvRead(azure::kHclReportNvIndex);
    EXPECT_OK(hcl.status());
    nlohmann::json pcr_hex = nlohmann::json::array();
    for (const Bytes& pcr : *pcrs) pcr_hex.push_back(HexEncode(pcr));
    return {{"hcl_report", Base64UrlEncode(*hcl)},
            {"tpm_quote",
             {{"message", HexEncode(quote->attest)},
              {"signature", HexEncode(quote->signature)},
              {"pcrs", pcr_hex}}},
            {"vcek_chain", ChainPem()},
            {"event_log", Base64UrlEncode(event_log)},
            {"runtime_data", Base64UrlEncode(AsBytes(runtime_data))},
            {"nonce", nonce_text}};
  }

  std::string data_dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<tpm::Swtpm> swtpm_;
  std::unique_ptr<tpm::TpmClient> tpm_;
};

TEST_F(AzureSwtpmTest, TokenAndReleaseWithRealTpmQuote) {
  // The guest's ephemeral key, bound through the HCL user data.
  ASSERT_OK_AND_ASSIGN(auto guest_key, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(nlohmann::json jwk, crypto::PublicKeyToJwk(guest_key.get()));
  jwk["kid"] = "TpmEphemeralEncryptionKey";
  jwk["key_ops"] = {"encrypt"};
  const std::string runtime_data = nlohmann::json({{"keys", {jwk}}}).dump();
  Bytes user_data = crypto::Sha256(AsBytes(runtime_data));
  user_data.resize(azure::kHclUserDataSize, 0);
  ProvisionVtpm(user_data);
  const Bytes log = MeasureBoot();

  const nlohmann::json body = GuestEvidence(log, runtime_data);
  ASSERT_OK_AND_ASSIGN(const ClientResponse attested,
                       Call(server_->port(), "POST", "/attest/AzureGuest", body.dump()));
  ASSERT_EQ(attested.status, 200) << attested.body;
  const std::string token = attested.Json()["token"].get<std::string>();
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(token));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["iss"], server_->issuer() + kSimulatedIssuerSuffix);
  EXPECT_EQ(claims["x-ms-isolation-tee"]["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(claims["x-ms-isolation-tee"]["x-ms-compliance-status"], "azure-compliant-cvm");
  EXPECT_EQ(claims["secureboot"], true);
  EXPECT_EQ(claims["x-vouch-azurevm-eventlog-verified-pcrs"], nlohmann::json({0, 4, 7}));
  EXPECT_EQ(claims["x-ms-runtime"], nlohmann::json::parse(runtime_data));
  EXPECT_EQ(claims["x-vouch-simulated"], true);

  // A second attestation with the same nonce is refused.
  ASSERT_OK_AND_ASSIGN(const ClientResponse replay,
                       Call(server_->port(), "POST", "/attest/AzureGuest", body.dump()));
  EXPECT_EQ(replay.status, 401) << replay.body;

  // Azure's data-disk policy, authority = vouch's simulated issuer. The broker
  // releases to simulated evidence only when the policy requires the marker.
  const Bytes raw = vouch::testing::ReadVector("azure/skr-policy-datadisk-example.json");
  nlohmann::json policy = nlohmann::json::parse(raw.begin(), raw.end());
  for (nlohmann::json& branch : policy["anyOf"]) {
    branch["authority"] = server_->issuer() + kSimulatedIssuerSuffix;
    branch["allOf"].push_back({{"claim", "x-vouch-simulated"}, {"equals", true}});
  }
  const SecretBytes data_key = crypto::RandomSecret(32);
  const nlohmann::json create = {
      {"attributes", {{"exportable", true}}},
      {"key", {{"kty", "oct"}, {"k", Base64UrlEncode(data_key.Expose())}}},
      {"release_policy",
       {{"contentType", "application/json; charset=utf-8"},
        {"data", Base64UrlEncode(AsBytes(policy.dump()))}}}};
  const testing::Headers admin = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  ASSERT_OK_AND_ASSIGN(const ClientResponse created,
                       Call(server_->port(), "PUT", "/keys/datadisk", create.dump(), admin));
  ASSERT_EQ(created.status, 200) << created.body;
  const nlohmann::json release = {{"target", token}, {"enc", "CKM_RSA_AES_KEY_WRAP"}};
  ASSERT_OK_AND_ASSIGN(const ClientResponse released,
                       Call(server_->port(), "POST", "/keys/datadisk/release", release.dump()));
  ASSERT_EQ(released.status, 200) << released.body;
  ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                       broker::UnwrapReleasedKey(released.Json()["value"].get<std::string>(),
                                                 guest_key.get()));
  EXPECT_TRUE(unwrapped == data_key);
}

TEST_F(AzureSwtpmTest, RejectsPcrNotMatchingEventLog) {
  ProvisionVtpm(Bytes(azure::kHclUserDataSize, 0));
  const Bytes log = MeasureBoot();
  // Something extends PCR 4 after the log was written.
  ASSERT_OK(tpm_->ExtendPcr(4, crypto::Sha256(AsBytes("unlogged"))));
  nlohmann::json body = GuestEvidence(log, "{}");
  body.erase("runtime_data");
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server_->port(), "POST", "/attest/AzureGuest", body.dump()));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.ErrorMessage(), ::testing::HasSubstr("PCR 4"));
}

TEST_F(AzureSwtpmTest, RejectsQuoteByOtherKey) {
  ProvisionVtpm(Bytes(azure::kHclUserDataSize, 0));
  // Replace the AK after the HCL report was made. Another unique field in the
  // template makes the TPM derive a different key, so the quote's key is no
  // longer the one the hardware report binds.
  ASSERT_OK_AND_ASSIGN(auto bound, tpm_->ReadPublicKey(azure::kAkPersistentHandle));
  ASSERT_OK_AND_ASSIGN(auto other,
                       tpm_->CreateAk(azure::kAkPersistentHandle, AsBytes("another key")));
  ASSERT_NE(EVP_PKEY_eq(bound.get(), other.get()), 1);
  nlohmann::json body = GuestEvidence(MeasureBoot(), "{}");
  body.erase("runtime_data");
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server_->port(), "POST", "/attest/AzureGuest", body.dump()));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.ErrorMessage(), ::testing::HasSubstr("not signed by HCLAkPub"));
}

}  // namespace
}  // namespace vouch::server
