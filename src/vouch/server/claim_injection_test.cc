// Claim injection on POST /attest/AzureGuest and POST /attest/SgxEnclave.
//
// AzureGuest: the guest controls the runtime data it sends (bound through
// the HCL user data) and, in this test, the paravisor's runtime claims in
// the HCL report as well. The evidence verifies: swtpm on loopback plays the
// vTPM, and the simulated SEV-SNP platform signs the hardware report that
// binds swtpm's AK.
//
// SgxEnclave: the enclave controls the runtime data (enclave held data)
// that its report data binds. The quote verifies: the simulated DCAP
// platform signs a version-3 SGX quote and issues SGX collateral.
//
// In both, members named like verifier claims must not replace or add
// top-level token claims, and a release policy on the real claim still
// decides.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vouch/azure/hcl_report.h"
#include "vouch/azure/hcl_report_builder.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/dcap/claims.h"
#include "vouch/dcap/simulated.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/dcap_attestation.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/tpm/event_log_builder.h"
#include "vouch/tpm/swtpm.h"
#include "vouch/tpm/tpm_client.h"

namespace vouch::server {
namespace {

using Json = nlohmann::json;
using testing::Call;
using testing::ClientResponse;

constexpr char kAdminToken[] = "claim-injection-admin-token";

// Members named like the claims that the verifier derives from the signed
// evidence, with values the real evidence does not have.
Json InjectedMembers() {
  return {{"x-ms-attestation-type", "sevsnpvm"},
          {"x-ms-azurevm-attestation-protocol-ver", "9.9"},
          {"x-ms-azurevm-attested-pcrs", Json::array({0, 1, 2, 3, 4, 5, 6, 7})},
          {"x-ms-isolation-tee",
           {{"x-ms-attestation-type", "tdxvm"},
            {"x-ms-compliance-status", "injected"},
            {"x-ms-sevsnpvm-is-debuggable", true},
            {"x-ms-sevsnpvm-launchmeasurement", std::string(96, 'a')}}},
          {"x-ms-sevsnpvm-is-debuggable", true},
          {"x-ms-compliance-status", "azure-compliant-cvm"},
          {"x-ms-azurevm-vmid", "injected-vm-id"},
          {"x-vouch-azurevm-eventlog-verified-pcrs", Json::array({0, 1, 2, 3, 4, 5, 6, 7})},
          {"secureboot", false},
          {"x-vouch-simulated", false},
          {"iss", "https://attacker.invalid"}};
}

// Copies the simulated SEV-SNP chain into `data_dir`/simulated-snp and
// returns that folder. The chain is made once per build folder (two RSA-4096
// keys) and shared with azure_swtpm_test.cc, so that a server started with
// simulated evidence allowed does not generate keys of its own.
std::string CopySimulatedSnpChain(const std::string& data_dir) {
  const std::string cache = std::string(VOUCH_BINARY_DIR) + "/server_test_simulated_snp";
  const std::string chain_dir = data_dir + "/simulated-snp";
  EXPECT_OK(snp::CopySimulatedSnp(cache, chain_dir));
  std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all);
  return chain_dir;
}

// Creates key `name` on `server` whose release policy requires `claim` to
// equal `value` in the server's simulated tokens.
void CreateSimulatedKey(const Server& server, const std::string& name, const std::string& claim,
                        const Json& value) {
  const Json policy = {
      {"version", "1.0.0"},
      {"anyOf",
       {{{"authority", server.issuer() + kSimulatedIssuerSuffix},
         {"allOf",
          {{{"claim", "x-vouch-simulated"}, {"equals", true}},
           {{"claim", claim}, {"equals", value}}}}}}}};
  const Json body = {{"kty", "oct-HSM"}, {"exportable", true}, {"release_policy", policy}};
  const testing::Headers admin = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  absl::StatusOr<ClientResponse> created =
      Call(server.port(), "PUT", "/keys/" + name, body.dump(), admin);
  ASSERT_OK(created.status());
  ASSERT_EQ(created->status, 200) << created->body;
}

// Returns the HTTP status of releasing key `name` to `token`.
int ReleaseStatus(const Server& server, const std::string& name, const std::string& token) {
  const Json body = {{"target", token}, {"enc", "CKM_RSA_AES_KEY_WRAP"}};
  absl::StatusOr<ClientResponse> released =
      Call(server.port(), "POST", "/keys/" + name + "/release", body.dump());
  EXPECT_OK(released.status());
  return released.ok() ? released->status : 0;
}

// Returns a public RSA JWK for x-ms-runtime.keys, the key that a released
// key is wrapped to.
Json GuestEncryptionJwk() {
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> guest_key = crypto::GenerateRsaKey(2048);
  EXPECT_OK(guest_key.status());
  absl::StatusOr<Json> jwk = crypto::PublicKeyToJwk(guest_key->get());
  EXPECT_OK(jwk.status());
  (*jwk)["kid"] = "TpmEphemeralEncryptionKey";
  (*jwk)["key_ops"] = {"encrypt"};
  return *jwk;
}

class AzureClaimInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/vouch_claim_injection_" + std::to_string(getpid());
    std::filesystem::remove_all(data_dir_);
    const std::string chain_dir = CopySimulatedSnpChain(data_dir_);
    ASSERT_FALSE(HasFailure());
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

  // Creates the AK and stores an HCL report whose runtime claims are
  // Azure's (AK, secure boot on, `user_data`) plus `extra` members, signed
  // by the simulated SEV-SNP firmware. Returns the runtime claims.
  Json ProvisionVtpm(ByteSpan user_data, const Json& extra) {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> ak = tpm_->CreateAk(azure::kAkPersistentHandle);
    EXPECT_OK(ak.status());
    absl::StatusOr<std::string> azure_runtime =
        azure::RuntimeClaimsJson(ak->get(), nullptr, true, user_data);
    EXPECT_OK(azure_runtime.status());
    Json runtime = Json::parse(*azure_runtime);
    runtime.update(extra);
    const std::string text = runtime.dump();
    absl::StatusOr<Bytes> report = server_->service().simulated()->GetReport(
        azure::RuntimeReportData(crypto::HashAlg::kSha256, AsBytes(text)));
    EXPECT_OK(report.status());
    // swtpm's NV indices hold at most 2048 bytes, so the report is not
    // padded to Azure's 2600.
    const Bytes hcl = azure::BuildHclReport(azure::HclReportType::kSnp, *report, AsBytes(text),
                                            crypto::HashAlg::kSha256, 0);
    EXPECT_OK(tpm_->NvDefine(azure::kHclReportNvIndex, hcl.size()));
    EXPECT_OK(tpm_->NvWrite(azure::kHclReportNvIndex, hcl));
    return runtime;
  }

  // Extends PCRs 0, 4 and 7 as firmware would (secure boot on) and returns
  // the event log.
  Bytes MeasureBoot() {
    // UEFI_VARIABLE_DATA for SecureBoot = 1: the EFI global variable GUID,
    // name length 10, data length 1, the UTF-16 name, then the value.
    Bytes secure_boot = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
                         0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};
    const std::u16string name = u"SecureBoot";
    for (int i = 0; i < 8; ++i) secure_boot.push_back(i == 0 ? name.size() : 0);
    for (int i = 0; i < 8; ++i) secure_boot.push_back(i == 0 ? 1 : 0);
    for (char16_t c : name) {
      secure_boot.push_back(static_cast<uint8_t>(c));
      secure_boot.push_back(static_cast<uint8_t>(c >> 8));
    }
    secure_boot.push_back(1);

    tpm::EventLogBuilder log({crypto::HashAlg::kSha256});
    log.Measure(0, tpm::kEvSCrtmVersion, AsBytes("simulated firmware 1.0"))
        .Measure(7, tpm::kEvEfiVariableDriverConfig, secure_boot)
        .Measure(4, tpm::kEvEfiBootServicesApplication, AsBytes("shimx64.efi"))
        .Measure(7, tpm::kEvSeparator, Bytes(4, 0));
    for (const tpm::EventLogEntry& e : log.Entries()) {
      EXPECT_OK(tpm_->ExtendPcr(e.register_index, e.digests[0].second));
    }
    return log.Build();
  }

  // Returns the body of POST /attest/AzureGuest: the HCL report, a quote of
  // all 24 PCRs over a fresh challenge, the event log and `runtime_data`.
  Json GuestEvidence(ByteSpan event_log, const std::string& runtime_data) {
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
    Json pcr_hex = Json::array();
    for (const Bytes& pcr : *pcrs) pcr_hex.push_back(HexEncode(pcr));
    std::string chain;
    for (const crypto::Certificate& cert : server_->service().simulated()->Certificates()) {
      chain += cert.Pem();
    }
    return {{"hcl_report", Base64UrlEncode(*hcl)},
            {"tpm_quote",
             {{"message", HexEncode(quote->attest)},
              {"signature", HexEncode(quote->signature)},
              {"pcrs", pcr_hex}}},
            {"vcek_chain", chain},
            {"event_log", Base64UrlEncode(event_log)},
            {"runtime_data", Base64UrlEncode(AsBytes(runtime_data))},
            {"nonce", nonce_text}};
  }

  void CreateKey(const std::string& name, const std::string& claim, const Json& value) {
    CreateSimulatedKey(*server_, name, claim, value);
  }

  int Release(const std::string& name, const std::string& token) {
    return ReleaseStatus(*server_, name, token);
  }

  std::string data_dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<tpm::Swtpm> swtpm_;
  std::unique_ptr<tpm::TpmClient> tpm_;
};

TEST_F(AzureClaimInjectionTest, RuntimeDataCannotOverrideEvidenceClaims) {
  const Json jwk = GuestEncryptionJwk();
  ASSERT_FALSE(HasFailure());
  Json runtime_json = InjectedMembers();
  runtime_json["keys"] = {jwk};
  const std::string runtime_data = runtime_json.dump();
  Bytes user_data = crypto::Sha256(AsBytes(runtime_data));
  user_data.resize(azure::kHclUserDataSize, 0);
  // The paravisor's runtime claims carry a few of the same members: swtpm's
  // NV index limit of 2048 bytes leaves about 810 bytes for runtime claims.
  // The attestation type differs from the hardware's ("sevsnpvm"), so that
  // a merge into x-ms-isolation-tee would show.
  const Json hcl_injected = {{"x-ms-attestation-type", "tdxvm"},
                             {"x-ms-isolation-tee", {{"x-ms-sevsnpvm-is-debuggable", true}}},
                             {"secureboot", false}};
  const Json hcl_runtime = ProvisionVtpm(user_data, hcl_injected);
  ASSERT_FALSE(HasFailure());
  const Bytes log = MeasureBoot();

  const Json body = GuestEvidence(log, runtime_data);
  ASSERT_OK_AND_ASSIGN(const ClientResponse attested,
                       Call(server_->port(), "POST", "/attest/AzureGuest", body.dump()));
  ASSERT_EQ(attested.status, 200) << attested.body;
  const std::string token = attested.Json()["token"].get<std::string>();
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(token));
  // Not const: a missing claim then reads as null and fails its check,
  // where a const operator[] would be undefined behaviour.
  Json claims = Json::parse(parts.payload);

  // Every top-level claim keeps the value derived from the signed evidence.
  EXPECT_EQ(claims["iss"], server_->issuer() + kSimulatedIssuerSuffix);
  EXPECT_EQ(claims["x-ms-attestation-type"], "azurevm");
  EXPECT_EQ(claims["x-ms-azurevm-attestation-protocol-ver"], "2.0");
  EXPECT_EQ(claims["x-ms-azurevm-attested-pcrs"].size(), 24u);
  EXPECT_EQ(claims["x-vouch-azurevm-eventlog-verified-pcrs"], Json({0, 4, 7}));
  EXPECT_EQ(claims["secureboot"], true);
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_FALSE(claims.contains("x-ms-sevsnpvm-is-debuggable"));
  EXPECT_FALSE(claims.contains("x-ms-compliance-status"));
  EXPECT_EQ(claims["x-ms-azurevm-vmid"], "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(claims["x-vouch-azurevm-configured-secureboot"], true);
  Json& tee = claims["x-ms-isolation-tee"];
  EXPECT_EQ(tee["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(tee["x-ms-compliance-status"], "azure-compliant-cvm");
  EXPECT_EQ(tee["x-ms-sevsnpvm-is-debuggable"], false);
  EXPECT_NE(tee["x-ms-sevsnpvm-launchmeasurement"], std::string(96, 'a'));
  EXPECT_FALSE(tee.contains("secureboot"));
  EXPECT_FALSE(tee.contains("x-ms-isolation-tee"));

  // The injected members appear only where runtime data belongs.
  EXPECT_EQ(claims["x-ms-runtime"], runtime_json);
  EXPECT_EQ(tee["x-ms-runtime"], hcl_runtime);

  // A policy on the real claim releases; one that only the injected value
  // meets does not.
  CreateKey("real-not-debuggable", "x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable", false);
  CreateKey("injected-debuggable", "x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable", true);
  CreateKey("injected-top-level-debuggable", "x-ms-sevsnpvm-is-debuggable", true);
  CreateKey("injected-secureboot-off", "secureboot", false);
  CreateKey("injected-not-simulated", "x-ms-isolation-tee.x-ms-attestation-type", "tdxvm");
  EXPECT_EQ(Release("real-not-debuggable", token), 200);
  EXPECT_EQ(Release("injected-debuggable", token), 403);
  EXPECT_EQ(Release("injected-top-level-debuggable", token), 403);
  EXPECT_EQ(Release("injected-secureboot-off", token), 403);
  EXPECT_EQ(Release("injected-not-simulated", token), 403);
}

// Members named like the claims of an SGX quote, its TCB and the token,
// with values the simulated quote does not have.
Json SgxInjectedMembers() {
  return {{"x-ms-attestation-type", "sevsnpvm"},
          {"x-ms-sgx-mrenclave", std::string(64, 'a')},
          {"x-ms-sgx-mrsigner", std::string(64, 'b')},
          {"x-ms-sgx-is-debuggable", true},
          {"x-ms-sgx-product-id", 99},
          {"x-ms-sgx-svn", 99},
          {"x-ms-sgx-config-id", std::string(128, 'c')},
          {"x-ms-sgx-config-svn", 99},
          {"x-ms-sgx-isv-extended-product-id", std::string(32, 'd')},
          {"x-ms-sgx-isv-family-id", std::string(32, 'e')},
          {"x-ms-sgx-ehd", "aW5qZWN0ZWQ"},
          {"x-vouch-sgx-report-data", std::string(128, 'f')},
          {"x-vouch-sgx-attributes", std::string(32, '0')},
          {"attester_tcb_status", "OutOfDate"},
          {"attester_advisory_ids", Json::array({"INTEL-SA-00000"})},
          {"x-vouch-dcap-fmspc", "00906ed50000"},
          {"x-vouch-dcap-revocation-checked", false},
          {"x-vouch-runtime-data-hash", "none"},
          {"x-vouch-runtime-data", "aW5qZWN0ZWQ"},
          {"x-vouch-simulated", false},
          {"nonce", "injected-nonce"},
          {"iss", "https://attacker.invalid"},
          {"exp", 4102444800}};
}

class SgxClaimInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/vouch_sgx_claim_injection_" + std::to_string(getpid());
    std::filesystem::remove_all(data_dir_);
    CopySimulatedSnpChain(data_dir_);
    ASSERT_FALSE(HasFailure());
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_;
    config.allow_simulated_snp = true;
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
    ASSERT_OK(server.status());
    server_ = *std::move(server);
    // The enclave's platform shares the server's simulated DCAP PKI.
    absl::StatusOr<dcap::SimulatedTdx> platform =
        dcap::SimulatedTdx::LoadOrCreate(data_dir_ + "/" + kSimulatedTdxDir);
    ASSERT_OK(platform.status());
    platform_ = *std::move(platform);
  }

  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  std::string data_dir_;
  std::unique_ptr<Server> server_;
  std::optional<dcap::SimulatedTdx> platform_;
};

TEST_F(SgxClaimInjectionTest, RuntimeDataCannotOverrideQuoteClaims) {
  Json runtime_json = SgxInjectedMembers();
  runtime_json["keys"] = {GuestEncryptionJwk()};
  ASSERT_FALSE(HasFailure());
  const std::string runtime_data = runtime_json.dump();
  Bytes report_data = crypto::Sha256(AsBytes(runtime_data));
  report_data.resize(64, 0);
  ASSERT_OK_AND_ASSIGN(const Bytes quote, platform_->GetSgxQuote(report_data));

  // No nonce in the request, so a top-level "nonce" can only be injected.
  const Json body = DcapAttestRequestJson(quote, AsBytes(runtime_data), true);
  ASSERT_OK_AND_ASSIGN(const ClientResponse attested,
                       Call(server_->port(), "POST", "/attest/SgxEnclave", body.dump()));
  ASSERT_EQ(attested.status, 200) << attested.body;
  const std::string token = attested.Json()["token"].get<std::string>();
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(token));
  Json claims = Json::parse(parts.payload);

  // Every top-level claim keeps the value read from the signed quote, its
  // collateral or the issuer.
  EXPECT_EQ(claims["iss"], server_->issuer() + kSimulatedIssuerSuffix);
  EXPECT_EQ(claims["x-ms-attestation-type"], "sgx");
  EXPECT_EQ(claims["x-ms-sgx-mrenclave"], HexEncode(dcap::SimulatedTdx::SimulatedMrEnclave()));
  EXPECT_EQ(claims["x-ms-sgx-mrsigner"], HexEncode(dcap::SimulatedTdx::SimulatedMrSigner()));
  EXPECT_EQ(claims["x-ms-sgx-is-debuggable"], false);
  EXPECT_EQ(claims["x-ms-sgx-product-id"], dcap::kSimulatedEnclaveProdId);
  EXPECT_EQ(claims["x-ms-sgx-svn"], dcap::kSimulatedEnclaveSvn);
  EXPECT_EQ(claims["x-ms-sgx-config-id"], std::string(128, '0'));
  EXPECT_EQ(claims["x-ms-sgx-config-svn"], 0);
  EXPECT_EQ(claims["x-ms-sgx-isv-extended-product-id"], std::string(32, '0'));
  EXPECT_EQ(claims["x-ms-sgx-isv-family-id"], std::string(32, '0'));
  EXPECT_EQ(claims["x-vouch-sgx-report-data"], HexEncode(report_data));
  EXPECT_NE(claims["x-vouch-sgx-attributes"], std::string(32, '0'));
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
  EXPECT_EQ(claims["attester_advisory_ids"], Json::array());
  EXPECT_EQ(claims["x-vouch-dcap-fmspc"], HexEncode(dcap::kSimulatedFmspc));
  EXPECT_EQ(claims["x-vouch-dcap-revocation-checked"], true);
  EXPECT_EQ(claims["x-vouch-runtime-data-hash"], "SHA-256");
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_FALSE(claims.contains("x-vouch-runtime-data"));
  EXPECT_FALSE(claims.contains("nonce"));
  EXPECT_LE(claims["exp"].get<int64_t>(), claims["iat"].get<int64_t>() + 300);

  // No member of the runtime data adds a top-level claim: every claim is
  // one the route registers or one the token issuer adds.
  std::vector<std::string> known = dcap::SgxClaimTypes();
  for (const char* type : {"x-ms-runtime", "x-ms-sgx-ehd", "x-vouch-runtime-data-hash",
                           "x-vouch-simulated", "iss", "iat", "nbf", "exp", "jti", "x-ms-ver",
                           "x-ms-policy-hash"}) {
    known.emplace_back(type);
  }
  for (auto claim = claims.begin(); claim != claims.end(); ++claim) {
    EXPECT_THAT(known, ::testing::Contains(claim.key()));
  }

  // The injected members appear only where the runtime data belongs: as
  // x-ms-runtime, and encoded whole as the enclave held data.
  EXPECT_EQ(claims["x-ms-runtime"], runtime_json);
  EXPECT_EQ(claims["x-ms-sgx-ehd"], Base64UrlEncode(AsBytes(runtime_data)));

  // A policy on the real claim releases, and so does one on the injected
  // member under x-ms-runtime, where the runtime data belongs. Policies
  // that only the injected top-level values meet do not.
  CreateSimulatedKey(*server_, "real-mrenclave", "x-ms-sgx-mrenclave",
                     HexEncode(dcap::SimulatedTdx::SimulatedMrEnclave()));
  CreateSimulatedKey(*server_, "runtime-debuggable", "x-ms-runtime.x-ms-sgx-is-debuggable", true);
  CreateSimulatedKey(*server_, "injected-mrenclave", "x-ms-sgx-mrenclave", std::string(64, 'a'));
  CreateSimulatedKey(*server_, "injected-debuggable", "x-ms-sgx-is-debuggable", true);
  CreateSimulatedKey(*server_, "injected-svn", "x-ms-sgx-svn", 99);
  CreateSimulatedKey(*server_, "injected-type", "x-ms-attestation-type", "sevsnpvm");
  CreateSimulatedKey(*server_, "injected-tcb", "attester_tcb_status", "OutOfDate");
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReleaseStatus(*server_, "real-mrenclave", token), 200);
  EXPECT_EQ(ReleaseStatus(*server_, "runtime-debuggable", token), 200);
  EXPECT_EQ(ReleaseStatus(*server_, "injected-mrenclave", token), 403);
  EXPECT_EQ(ReleaseStatus(*server_, "injected-debuggable", token), 403);
  EXPECT_EQ(ReleaseStatus(*server_, "injected-svn", token), 403);
  EXPECT_EQ(ReleaseStatus(*server_, "injected-type", token), 403);
  EXPECT_EQ(ReleaseStatus(*server_, "injected-tcb", token), 403);
}

// The TDX route rejects the simulated platform's SGX quote, so an SGX
// quote never gets a TDX token.
TEST_F(SgxClaimInjectionTest, SgxQuoteRejectedOnTdxRoute) {
  const std::string runtime_data = R"({"keys":[]})";
  Bytes report_data = crypto::Sha256(AsBytes(runtime_data));
  report_data.resize(64, 0);
  ASSERT_OK_AND_ASSIGN(const Bytes quote, platform_->GetSgxQuote(report_data));
  const Json body = DcapAttestRequestJson(quote, AsBytes(runtime_data), true);
  ASSERT_OK_AND_ASSIGN(const ClientResponse tdx,
                       Call(server_->port(), "POST", "/attest/TdxVm", body.dump()));
  EXPECT_EQ(tdx.status, 400) << tdx.body;
  EXPECT_THAT(tdx.body, ::testing::HasSubstr("SGX quote"));
}

}  // namespace
}  // namespace vouch::server
