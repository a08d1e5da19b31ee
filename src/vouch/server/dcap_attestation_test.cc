// POST /attest/TdxVm and /attest/SgxEnclave through the real server over
// loopback, with real quotes and Intel collateral at a pinned time.
#include "vouch/server/dcap_attestation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vouch/base/byte_reader.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jws.h"
#include "vouch/collateral/cache.h"
#include "vouch/collateral/pcs_test_server.h"
#include "vouch/dcap/quote_builder.h"
#include "vouch/dcap/simulated.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kAzureTdQuote[] = "azure/trustee-az-tdx-td-quote.dat";
constexpr char kAzureHclReport[] = "azure/trustee-az-tdx-hcl-report.bin";
constexpr char kGcpTdQuote[] = "tdx/gotdxguest-gcp-cos113-v4-00806f05.dat";
constexpr char kGcpCcel[] = "tdx/eventlog/gotdxguest-cos113-ccel_data.dat";
// GcpCcel returns the CCEL event log without the unused 0xFF tail of its
// 256 KiB area (keeping 64 zero bytes), as a client sends it: the request's
// JSON is limited to 256 KiB.
std::string GcpCcel() {
  Bytes log = ReadVector(kGcpCcel);
  while (!log.empty() && (log.back() == 0x00 || log.back() == 0xff)) {
    log.pop_back();
  }
  log.resize(log.size() + 64, 0);
  return Base64UrlEncode(log);
}

constexpr char kSgxQuote[] = "sgx/trustee-occlum-v3-00606a.dat";
// Every quote above verifies at this time with the 2025-10 collateral set.
constexpr char kVerificationTime[] = "2025-10-20T00:00:00Z";

// AzureRuntimeData returns the runtime data JSON of the Azure TDX HCL report,
// which the Azure TD quote's report data binds by SHA-256. The HCL report is
// a 32-byte header, a 1184-byte hardware report area (the 1024-byte TDREPORT
// and padding), then a 20-byte runtime data header (data size, version,
// report type, hash type, runtime data size) and the runtime data.
std::string AzureRuntimeData() {
  const Bytes hcl = ReadVector(kAzureHclReport);
  ByteReader in(hcl, "hcl report");
  EXPECT_OK(in.Skip(32 + 1184 + 16, "header, report, runtime data header"));
  absl::StatusOr<uint32_t> size = in.U32Le("runtime data size");
  EXPECT_OK(size.status());
  absl::StatusOr<ByteSpan> data = in.Span(size.value_or(0), "runtime data");
  EXPECT_OK(data.status());
  return ToString(data.value_or(ByteSpan()));
}

// CollateralDir writes the 2025-10 collateral set for FMSPC 00806F050000
// and Intel's certificates and root CA CRL into a fresh folder.
std::string CollateralDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/vouch_dcap_collateral_" + name + "_" +
                          std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* file : {"intel-collateral/2025-10_automata/tcbinfo_tdx_00806f050000.json",
                           "intel-collateral/2025-10_automata/qeidentity_td_qe.json",
                           "intel-collateral/2025-10_automata/pck_platform_crl.der",
                           "intel-certs/intel_sgx_root_ca.pem",
                           "intel-certs/intel_sgx_root_ca_crl_2025-03-20.der",
                           "intel-certs/intel_sgx_tcb_signing_2025-2032.pem",
                           "intel-certs/intel_sgx_pck_platform_ca.pem"}) {
    const std::string target = dir + "/" + std::filesystem::path(file).filename().string();
    std::filesystem::copy_file(vouch::testing::VectorsDir() + "/" + file, target);
  }
  return dir;
}

Config DcapConfig(const std::string& name, const std::string& accept_tcb) {
  Config config;
  config.listen = "127.0.0.1:0";
  config.data_dir = ::testing::TempDir() + "/vouch_dcap_server_" + name + "_" +
                    std::to_string(getpid());
  std::filesystem::remove_all(config.data_dir);
  config.collateral_dir = CollateralDir(name);
  config.accept_tcb = accept_tcb;
  config.dcap_verification_time_for_test = *ParseRfc3339(kVerificationTime);
  // The server does not start without an admin credential.
  config.admin_token_sha256 = HashAdminToken("dcap-test-admin-token");
  return config;
}

class DcapServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!vouch::testing::HaveVectors()) {
      return;
    }
    config_ = new Config(DcapConfig("main", "UpToDate,OutOfDate"));
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

  static ClientResponse Post(const std::string& route, const nlohmann::json& body) {
    absl::StatusOr<ClientResponse> response = Call(server_->port(), "POST", route, body.dump());
    VOUCH_CHECK(response.ok());
    return *response;
  }

  static nlohmann::json TokenClaims(const ClientResponse& response) {
    absl::StatusOr<crypto::JwsParts> parts =
        crypto::JwsDecode(response.Json().value("token", ""));
    EXPECT_OK(parts.status());
    return parts.ok() ? nlohmann::json::parse(parts->payload) : nlohmann::json();
  }

  static Config* config_;
  static Server* server_;
};

Config* DcapServerTest::config_ = nullptr;
Server* DcapServerTest::server_ = nullptr;

TEST_F(DcapServerTest, AzureTdQuoteGetsToken) {
  const std::string runtime = AzureRuntimeData();
  const ClientResponse response =
      Post("/attest/TdxVm", DcapAttestRequestJson(ReadVector(kAzureTdQuote), AsBytes(runtime),
                                                  /*json=*/true, "nonce-1"));
  ASSERT_EQ(response.status, 200) << response.body;
  const nlohmann::json claims = TokenClaims(response);
  EXPECT_EQ(claims["x-ms-attestation-type"], "tdxvm");
  EXPECT_EQ(claims["attester_tcb_status"], "OutOfDate");
  EXPECT_THAT(claims["attester_advisory_ids"].get<std::vector<std::string>>(),
              Contains("INTEL-SA-00960"));
  EXPECT_EQ(claims["tdx_report_data"].get<std::string>().substr(0, 64),
            HexEncode(crypto::Sha256(AsBytes(runtime))));
  EXPECT_EQ(claims["tdx_td_attributes_debug"], false);
  EXPECT_EQ(claims["x-vouch-runtime-data-hash"], "SHA-256");
  EXPECT_EQ(claims["x-vouch-dcap-fmspc"], "00806f050000");
  EXPECT_EQ(claims["nonce"], "nonce-1");
  EXPECT_TRUE(claims["x-ms-runtime"].is_object());
  EXPECT_TRUE(claims.contains("x-ms-policy-hash"));
  EXPECT_EQ(claims["tdx_mrtd"].get<std::string>().size(), 96u);
}

TEST_F(DcapServerTest, RejectsUnboundRuntimeData) {
  const ClientResponse response =
      Post("/attest/TdxVm", DcapAttestRequestJson(ReadVector(kAzureTdQuote),
                                                  AsBytes(std::string("{}")), true));
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.body, HasSubstr("runtime data binding"));
}

// The GCP quote verifies (UpToDate at this time), but its report data is
// all zero, so no runtime data can bind it.
TEST_F(DcapServerTest, UpToDateQuoteReachesBindingCheck) {
  const ClientResponse response =
      Post("/attest/TdxVm", DcapAttestRequestJson(ReadVector(kGcpTdQuote),
                                                  AsBytes(std::string("abc")), false));
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.body, HasSubstr("runtime data binding"));
}

// The GCP quote's CCEL event log replays to its RTMRs, so the request gets
// past the event log to the runtime data binding.
TEST_F(DcapServerTest, EventLogReplaysBeforeBinding) {
  nlohmann::json body =
      DcapAttestRequestJson(ReadVector(kGcpTdQuote), AsBytes(std::string("abc")), false);
  body["eventLog"] = GcpCcel();
  const ClientResponse response = Post("/attest/TdxVm", body);
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.body, HasSubstr("runtime data binding"));
}

TEST_F(DcapServerTest, RejectsEventLogOfOtherQuote) {
  nlohmann::json body =
      DcapAttestRequestJson(ReadVector(kAzureTdQuote), AsBytes(AzureRuntimeData()), true);
  body["eventLog"] = GcpCcel();
  const ClientResponse response = Post("/attest/TdxVm", body);
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("RTMR0 replayed"));
}

TEST_F(DcapServerTest, RejectsEventLogOnSgxRoute) {
  nlohmann::json body =
      DcapAttestRequestJson(ReadVector(kSgxQuote), AsBytes(std::string("test")), false);
  body["eventLog"] = GcpCcel();
  const ClientResponse response = Post("/attest/SgxEnclave", body);
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.body, HasSubstr("only by /attest/TdxVm"));
}

TEST_F(DcapServerTest, RejectsTdxQuoteOnSgxRoute) {
  const ClientResponse response =
      Post("/attest/SgxEnclave", DcapAttestRequestJson(ReadVector(kAzureTdQuote),
                                                       AsBytes(AzureRuntimeData()), true));
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.body, HasSubstr("takes SGX quotes"));
}

TEST_F(DcapServerTest, SgxQuoteWithoutCollateralIsRejected) {
  // The folder has no SGX TCB info for FMSPC 00606A000000.
  const ClientResponse response = Post(
      "/attest/SgxEnclave",
      DcapAttestRequestJson(ReadVector(kSgxQuote), AsBytes(std::string("test")), false));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("no collateral"));
}

TEST_F(DcapServerTest, RejectsFlippedQuote) {
  Bytes quote = ReadVector(kAzureTdQuote);
  quote[100] ^= 1;  // inside the TD report body
  const ClientResponse response =
      Post("/attest/TdxVm", DcapAttestRequestJson(quote, AsBytes(AzureRuntimeData()), true));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("quote signature"));
}

TEST_F(DcapServerTest, RejectsMalformedBody) {
  EXPECT_EQ(Post("/attest/TdxVm", {{"quote", "!!"}}).status, 400);
  EXPECT_EQ(Post("/attest/TdxVm", {{"report", "AAAA"}}).status, 400);
  nlohmann::json body = DcapAttestRequestJson(ReadVector(kAzureTdQuote), AsBytes("x"), false);
  body["runtimeData"]["dataType"] = "Text";
  EXPECT_EQ(Post("/attest/TdxVm", body).status, 400);
  EXPECT_EQ(Post("/attest/TdxVm", DcapAttestRequestJson(Bytes{4, 0, 2, 0}, AsBytes("x"), false))
                .status,
            400);
}

TEST(DcapServerDefaultsTest, OutOfDateIsRejectedByDefault) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Config config = DcapConfig("defaults", "UpToDate");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));
  const nlohmann::json body =
      DcapAttestRequestJson(ReadVector(kAzureTdQuote), AsBytes(AzureRuntimeData()), true);
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  EXPECT_EQ(response.status, 403) << response.body;
  EXPECT_THAT(response.body, HasSubstr("tcb status OutOfDate is not accepted"));
  EXPECT_THAT(response.body, HasSubstr("INTEL-SA-00960"));
  server.reset();
  std::filesystem::remove_all(config.data_dir);
  std::filesystem::remove_all(config.collateral_dir);
}

// Collateral that `vouch collateral import` put in the cache folder serves
// a server that has no --collateral folder, without any PCS service.
TEST(DcapServerCacheTest, CollateralComesFromCacheFolder) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Config config = DcapConfig("cache", "UpToDate,OutOfDate");
  dcap::CollateralSet set;
  ASSERT_OK(set.AddDirectory(config.collateral_dir));
  config.collateral_cache_dir = config.collateral_dir + "-cache";
  ASSERT_OK(collateral::CollateralCache(config.collateral_cache_dir).StoreSet(set));
  std::filesystem::remove_all(config.collateral_dir);
  config.collateral_dir.clear();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));

  const std::string runtime = AzureRuntimeData();
  const nlohmann::json body =
      DcapAttestRequestJson(ReadVector(kAzureTdQuote), AsBytes(runtime), /*json=*/true);
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  EXPECT_EQ(response.status, 200) << response.body;
  server.reset();
  std::filesystem::remove_all(config.data_dir);
  std::filesystem::remove_all(config.collateral_cache_dir);
}

// RequestCollateral is the 2025-10 collateral for FMSPC 00806F050000 as a
// request's "collateral" member.
nlohmann::json RequestCollateral() {
  const auto text = [](const char* file) { return ToString(ReadVector(file)); };
  const std::string tcb_chain = text("intel-certs/intel_sgx_tcb_signing_2025-2032.pem") +
                                text("intel-certs/intel_sgx_root_ca.pem");
  return {
      {"tcbInfo", text("intel-collateral/2025-10_automata/tcbinfo_tdx_00806f050000.json")},
      {"tcbInfoIssuerChain", tcb_chain},
      {"qeIdentity", text("intel-collateral/2025-10_automata/qeidentity_td_qe.json")},
      {"qeIdentityIssuerChain", tcb_chain},
      {"pckCrl",
       Base64UrlEncode(ReadVector("intel-collateral/2025-10_automata/pck_platform_crl.der"))},
      {"pckCrlIssuerChain", text("intel-certs/intel_sgx_pck_platform_ca.pem") +
                                text("intel-certs/intel_sgx_root_ca.pem")},
      {"rootCaCrl", Base64UrlEncode(ReadVector("intel-certs/intel_sgx_root_ca_crl_2025-03-20.der"))},
  };
}

// Collateral that the request carries serves a server without any, and its
// signatures are checked like any other collateral's.
TEST(DcapServerRequestCollateralTest, RequestCollateralVerifiesQuote) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Config config = DcapConfig("request", "UpToDate,OutOfDate");
  std::filesystem::remove_all(config.collateral_dir);
  config.collateral_dir.clear();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));

  nlohmann::json body =
      DcapAttestRequestJson(ReadVector(kAzureTdQuote), AsBytes(AzureRuntimeData()), true);
  ASSERT_OK_AND_ASSIGN(const ClientResponse without,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  EXPECT_EQ(without.status, 401) << without.body;
  EXPECT_THAT(without.body, HasSubstr("no collateral"));

  body["collateral"] = RequestCollateral();
  ASSERT_OK_AND_ASSIGN(const ClientResponse with,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  EXPECT_EQ(with.status, 200) << with.body;

  std::string tampered = body["collateral"]["tcbInfo"].get<std::string>();
  tampered.replace(tampered.find("UpToDate"), 8, "OutOfDate");
  body["collateral"]["tcbInfo"] = tampered;
  ASSERT_OK_AND_ASSIGN(const ClientResponse forged,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  EXPECT_EQ(forged.status, 401) << forged.body;
  server.reset();
  std::filesystem::remove_all(config.data_dir);
}

TEST(ParseDcapAttestRequestTest, RejectsMalformedCollateral) {
  nlohmann::json body = DcapAttestRequestJson(Bytes{1, 2}, AsBytes("raw"), false);
  body["collateral"] = {{"tcbInfo", "{}"}};
  EXPECT_THAT(ParseDcapAttestRequest(body.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("collateral.qeIdentity")));
  body["collateral"] = {{"tcbInfo", "{}"}, {"qeIdentity", "{}"}, {"extra", 1}};
  EXPECT_THAT(ParseDcapAttestRequest(body.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown member")));
  body["collateral"] = {{"tcbInfo", "{}"}, {"qeIdentity", "{}"}, {"pckCrlIssuerChain", "x"}};
  EXPECT_THAT(ParseDcapAttestRequest(body.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pckCrlIssuerChain")));
}

TEST(DcapServerDefaultsTest, RejectsRevokedInAcceptList) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Config config = DcapConfig("revoked", "UpToDate,Revoked");
  EXPECT_THAT(Server::Start(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("accept_tcb")));
  std::filesystem::remove_all(config.data_dir);
  std::filesystem::remove_all(config.collateral_dir);
}

// SimulatedConfig starts a server without collateral, at the real time, with
// or without simulated evidence.
Config SimulatedConfig(const std::string& name, bool allow_simulated) {
  Config config;
  config.listen = "127.0.0.1:0";
  config.data_dir = ::testing::TempDir() + "/vouch_dcap_simulated_" + name + "_" +
                    std::to_string(getpid());
  std::filesystem::remove_all(config.data_dir);
  config.allow_simulated_snp = allow_simulated;
  config.admin_token_sha256 = HashAdminToken("dcap-test-admin-token");
  return config;
}

TEST(DcapSimulatedTest, SimulatedQuoteGetsSimulatedToken) {
  const Config config = SimulatedConfig("allowed", true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));
  // The agent's platform shares the server's data folder, as in the demo.
  ASSERT_OK_AND_ASSIGN(const dcap::SimulatedTdx tdx,
                       dcap::SimulatedTdx::LoadOrCreate(config.data_dir + "/" + kSimulatedTdxDir));
  const std::string runtime = R"({"keys":[]})";
  Bytes report_data = crypto::Sha256(AsBytes(runtime));
  report_data.resize(64, 0);
  ASSERT_OK_AND_ASSIGN(const Bytes quote, tdx.GetQuote(report_data));

  const nlohmann::json body = DcapAttestRequestJson(quote, AsBytes(runtime), true, "n-sim");
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts,
                       crypto::JwsDecode(response.Json().value("token", "")));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_THAT(claims["iss"].get<std::string>(), ::testing::EndsWith("/simulated"));
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
  EXPECT_EQ(claims["tdx_mrtd"], HexEncode(dcap::SimulatedTdx::SimulatedMrTd()));
  EXPECT_EQ(claims["nonce"], "n-sim");
  server.reset();
  std::filesystem::remove_all(config.data_dir);
}

// Runtime data members named like TDX claims stay inside x-ms-runtime and
// never replace the claims read from the signed quote.
TEST(DcapSimulatedTest, RuntimeDataCannotOverrideQuoteClaims) {
  const Config config = SimulatedConfig("injection", true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));
  ASSERT_OK_AND_ASSIGN(const dcap::SimulatedTdx tdx,
                       dcap::SimulatedTdx::LoadOrCreate(config.data_dir + "/" + kSimulatedTdxDir));
  const nlohmann::json runtime_json = {{"keys", nlohmann::json::array()},
                                       {"tdx_mrtd", std::string(96, 'a')},
                                       {"tdx_td_attributes_debug", true},
                                       {"attester_tcb_status", "UpToDate"},
                                       {"x-ms-attestation-type", "sevsnpvm"},
                                       {"x-vouch-simulated", false}};
  const std::string runtime = runtime_json.dump();
  Bytes report_data = crypto::Sha256(AsBytes(runtime));
  report_data.resize(64, 0);
  ASSERT_OK_AND_ASSIGN(const Bytes quote, tdx.GetQuote(report_data));

  const nlohmann::json body = DcapAttestRequestJson(quote, AsBytes(runtime), true);
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts,
                       crypto::JwsDecode(response.Json().value("token", "")));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["tdx_mrtd"], HexEncode(dcap::SimulatedTdx::SimulatedMrTd()));
  EXPECT_EQ(claims["tdx_td_attributes_debug"], false);
  EXPECT_EQ(claims["x-ms-attestation-type"], "tdxvm");
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_EQ(claims["x-ms-runtime"], runtime_json);
  server.reset();
  std::filesystem::remove_all(config.data_dir);
}

TEST(DcapSimulatedTest, SimulatedQuoteRejectedWhenNotAllowed) {
  const Config config = SimulatedConfig("refused", false);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));
  ASSERT_OK_AND_ASSIGN(const dcap::SimulatedTdx tdx,
                       dcap::SimulatedTdx::LoadOrCreate(config.data_dir + "/" + kSimulatedTdxDir));
  ASSERT_OK_AND_ASSIGN(const Bytes quote, tdx.GetQuote(Bytes(64, 0)));
  const nlohmann::json body = DcapAttestRequestJson(quote, AsBytes(std::string("x")), false);
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server->port(), "POST", "/attest/TdxVm", body.dump()));
  // Without simulated evidence there is no collateral for the simulated
  // FMSPC, and its root is not the pinned Intel root either.
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("no collateral"));
  server.reset();
  std::filesystem::remove_all(config.data_dir);
}

// Quotes with an encrypted PPID (certification data type 3) take their PCK
// certificate from the cache or a PCS service. A loopback stand-in for PCS
// serves the simulated platform's PCK certificate, or another platform's.
class DcapEncryptedPpidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = SimulatedConfig("ppid_" + std::string(::testing::UnitTest::GetInstance()
                                                         ->current_test_info()
                                                         ->name()),
                              true);
    ASSERT_OK_AND_ASSIGN(tdx_, dcap::SimulatedTdx::LoadOrCreate(config_.data_dir + "/" +
                                                               kSimulatedTdxDir));
    Bytes report_data = crypto::Sha256(AsBytes(runtime_));
    report_data.resize(64, 0);
    ASSERT_OK_AND_ASSIGN(
        quote_, tdx_->GetQuote(report_data, dcap::CertificationDataType::kEncryptedPpidRsa3072));
  }
  void TearDown() override { std::filesystem::remove_all(config_.data_dir); }

  // Serve returns `chain`: its PCK certificate as the /pckcert body, and its
  // CA and root in the issuer chain header.
  static collateral::PcsTestReply Serve(const std::string& target,
                                        const std::vector<crypto::Certificate>& chain) {
    if (target.rfind("/sgx/certification/v4/pckcert?", 0) != 0) {
      return {404, {}, "not found"};
    }
    return {200,
            {{"SGX-PCK-Certificate-Issuer-Chain",
              collateral::UrlEncode(chain[1].Pem() + chain[2].Pem())}},
            chain[0].Pem()};
  }

  absl::StatusOr<ClientResponse> Attest(const Server& server) const {
    const nlohmann::json body = DcapAttestRequestJson(quote_, AsBytes(runtime_), true);
    return Call(server.port(), "POST", "/attest/TdxVm", body.dump());
  }

  Config config_;
  std::optional<dcap::SimulatedTdx> tdx_;
  std::string runtime_ = R"({"keys":[]})";
  Bytes quote_;
};

TEST_F(DcapEncryptedPpidTest, PckCertificateComesFromPcsThenCache) {
  const std::vector<crypto::Certificate> chain = tdx_->PckCertificates();
  collateral::PcsTestServer pcs(
      [&chain](const std::string& target) { return Serve(target, chain); });
  config_.pcs_url = pcs.Url();
  config_.collateral_cache_dir = config_.data_dir + "/collateral-cache";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config_));

  ASSERT_OK_AND_ASSIGN(const ClientResponse first, Attest(*server));
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts,
                       crypto::JwsDecode(first.Json().value("token", "")));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
  EXPECT_EQ(pcs.targets().size(), 1u);

  ASSERT_OK_AND_ASSIGN(const ClientResponse second, Attest(*server));
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(pcs.targets().size(), 1u) << "the second quote should use the cached certificate";
}

TEST_F(DcapEncryptedPpidTest, WithoutPckSourceIsRejected) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config_));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest(*server));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("no PCK certificate source"));
}

TEST_F(DcapEncryptedPpidTest, PckOfAnotherPlatformIsRejected) {
  ASSERT_OK_AND_ASSIGN(const dcap::testing::TestPckChain other, dcap::testing::MakeTestPckChain());
  const std::vector<crypto::Certificate> chain = other.Certificates();
  collateral::PcsTestServer pcs(
      [&chain](const std::string& target) { return Serve(target, chain); });
  config_.pcs_url = pcs.Url();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config_));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Attest(*server));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.body, HasSubstr("no PCK certificate for the quote's encrypted PPID"));
}

TEST(ParseDcapAttestRequestTest, ReadsBinaryAndJson) {
  ASSERT_OK_AND_ASSIGN(const DcapAttestRequest binary,
                       ParseDcapAttestRequest(
                           DcapAttestRequestJson(Bytes{1, 2}, AsBytes("raw"), false).dump()));
  EXPECT_FALSE(binary.runtime_data_is_json);
  EXPECT_EQ(ToString(binary.runtime_data), "raw");
  EXPECT_FALSE(binary.nonce.has_value());
  ASSERT_OK_AND_ASSIGN(const DcapAttestRequest json,
                       ParseDcapAttestRequest(
                           DcapAttestRequestJson(Bytes{1, 2}, AsBytes("{\"a\":1}"), true, "n")
                               .dump()));
  EXPECT_EQ(json.runtime_json["a"], 1);
  EXPECT_EQ(json.nonce, "n");
  EXPECT_THAT(ParseDcapAttestRequest(
                  DcapAttestRequestJson(Bytes{1, 2}, AsBytes("[1]"), true).dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be an object")));
  nlohmann::json extra = DcapAttestRequestJson(Bytes{1, 2}, AsBytes("x"), false);
  extra["initTimeData"] = "AA";
  EXPECT_THAT(ParseDcapAttestRequest(extra.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown member")));
}

}  // namespace
}  // namespace vouch::server
