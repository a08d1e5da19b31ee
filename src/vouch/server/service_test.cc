// End-to-end tests of the attestation service and key broker over HTTP,
// with evidence from the simulated SEV-SNP platform.
#include "vouch/server/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/token/issuer.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;
using ::testing::HasSubstr;
using testing::Headers;
using ::testing::Not;

constexpr char kAdminToken[] = "service-test-admin-token";

std::string NewDataDir(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "/vouch_service_test_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

Config BaseConfig(const std::string& data_dir) {
  Config config;
  config.listen = "127.0.0.1:0";
  config.data_dir = data_dir;
  config.admin_token_sha256 = HashAdminToken(kAdminToken);
  return config;
}

// CopySimulatedChain copies a simulated SEV-SNP chain made once per build
// folder into `dir`. ctest runs each test in its own process, and making the
// chain's two RSA-4096 keys takes seconds, far longer than any test here.
void CopySimulatedChain(const std::string& dir) {
  const std::string cache = std::string(VOUCH_BINARY_DIR) + "/server_test_simulated_snp";
  VOUCH_CHECK(snp::CopySimulatedSnp(cache, dir).ok());
}

Headers AdminHeaders() { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

// Guest is what the guest agent holds: an ephemeral RSA key and the runtime
// data that carries its public half.
struct Guest {
  crypto::SslPtr<EVP_PKEY> key;
  std::string runtime_data;
};

const Guest& TestGuest() {
  static const Guest* guest = [] {
    auto* g = new Guest();
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateRsaKey(2048);
    VOUCH_CHECK(key.ok());
    g->key = *std::move(key);
    absl::StatusOr<nlohmann::json> jwk = crypto::PublicKeyToJwk(g->key.get());
    VOUCH_CHECK(jwk.ok());
    (*jwk)["kid"] = "TpmEphemeralEncryptionKey";
    (*jwk)["key_ops"] = {"encrypt"};
    g->runtime_data =
        nlohmann::json({{"keys", {*jwk}}, {"vm-configuration", {{"tpm", false}}}}).dump();
    return g;
  }();
  return *guest;
}

// ReportDataFor returns SHA-256(runtime data) followed by 32 zero bytes.
Bytes ReportDataFor(std::string_view runtime_data) {
  Bytes report_data = crypto::Sha256(AsBytes(runtime_data));
  report_data.resize(64, 0);
  return report_data;
}

std::string ChainPem(const snp::SimulatedSnp& platform) {
  std::string pem;
  for (const crypto::Certificate& cert : platform.Certificates()) {
    pem += cert.Pem();
  }
  return pem;
}

nlohmann::json Policy(const std::string& authority, bool names_simulated_claim) {
  nlohmann::json all_of = {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                           {{"claim", "x-ms-sevsnpvm-vmpl"}, {"lessOrEquals", 0}}};
  if (names_simulated_claim) {
    all_of.push_back({{"claim", "x-vouch-simulated"}, {"equals", true}});
  }
  return {{"version", "1.0.0"}, {"anyOf", {{{"authority", authority}, {"allOf", all_of}}}}};
}

nlohmann::json CreateKeyBody(const nlohmann::json& policy, const SecretBytes* key) {
  nlohmann::json body = {{"attributes", {{"exportable", true}}},
                         {"release_policy",
                          {{"contentType", "application/json; charset=utf-8"},
                           {"data", Base64UrlEncode(AsBytes(policy.dump()))}}}};
  if (key != nullptr) {
    body["key"] = {{"kty", "oct"}, {"k", Base64UrlEncode(key->Expose())}};
  }
  return body;
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = new std::string(NewDataDir("main"));
    // The simulated chain is put in place before the server starts, so its
    // folder can also serve as the collateral folder for reports sent
    // without a chain.
    CopySimulatedChain(*data_dir_ + "/" + kSimulatedSnpDir);

    Config config = BaseConfig(*data_dir_);
    config.allow_simulated_snp = true;
    config.collateral_dir = *data_dir_ + "/" + kSimulatedSnpDir;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
    if (!server.ok()) {
      std::fprintf(stderr, "server start failed: %s\n", server.status().ToString().c_str());
    }
    VOUCH_CHECK(server.ok());
    server_ = server->release();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::filesystem::remove_all(*data_dir_);
    delete data_dir_;
  }

  static uint16_t port() { return server_->port(); }
  static std::string SimulatedIssuer() { return server_->issuer() + kSimulatedIssuerSuffix; }
  static const snp::SimulatedSnp& platform() { return *server_->service().simulated(); }

  static std::string AttestBody(std::string_view runtime_data, ByteSpan report_data,
                                bool with_chain = true, uint32_t vmpl = 0) {
    absl::StatusOr<Bytes> report = platform().GetReport(report_data, vmpl);
    VOUCH_CHECK(report.ok());
    return AttestRequestJson(*report, with_chain ? ChainPem(platform()) : "", AsBytes(runtime_data),
                             "nonce-123")
        .dump();
  }

  // Attest returns the token for the test guest's runtime data.
  static std::string Attest() {
    const std::string& runtime = TestGuest().runtime_data;
    absl::StatusOr<ClientResponse> response =
        Call(port(), "POST", "/attest/SevSnpVm", AttestBody(runtime, ReportDataFor(runtime)));
    VOUCH_CHECK(response.ok());
    EXPECT_EQ(response->status, 200) << response->body;
    return response->Json().value("token", "");
  }

  static ClientResponse Release(const std::string& name, const std::string& token) {
    const nlohmann::json body = {{"target", token}, {"enc", "CKM_RSA_AES_KEY_WRAP"}};
    absl::StatusOr<ClientResponse> response =
        Call(port(), "POST", "/keys/" + name + "/release", body.dump());
    VOUCH_CHECK(response.ok());
    return *response;
  }

  static ClientResponse CreateKey(const std::string& name, const nlohmann::json& body) {
    absl::StatusOr<ClientResponse> response =
        Call(port(), "PUT", "/keys/" + name, body.dump(), AdminHeaders());
    VOUCH_CHECK(response.ok());
    return *response;
  }

  // LastReleaseAuditDetail returns the detail of the newest key.release
  // audit record whose target names key `name`.
  static std::string LastReleaseAuditDetail(const std::string& name) {
    absl::StatusOr<std::vector<store::AuditEvent>> events =
        server_->service().store().ReadAudit(store::kAllAuditEvents);
    VOUCH_CHECK(events.ok());
    std::string detail;
    for (const store::AuditEvent& event : *events) {
      if (event.operation == "key.release" && absl::StartsWith(event.target, "keys/" + name + "/")) {
        detail = event.detail;
      }
    }
    return detail;
  }

  static std::string* data_dir_;
  static Server* server_;
};

std::string* ServiceTest::data_dir_ = nullptr;
Server* ServiceTest::server_ = nullptr;

TEST_F(ServiceTest, HealthzReturnsOk) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "GET", "/healthz"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Json(), nlohmann::json({{"status", "ok"}}));
}

TEST_F(ServiceTest, IssuerIsBoundUrl) {
  EXPECT_EQ(server_->issuer(), fmt::format("http://127.0.0.1:{}", port()));
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(port(), "GET", "/.well-known/openid-configuration"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Json()["issuer"], server_->issuer());
  EXPECT_EQ(response.Json()["jwks_uri"], server_->issuer() + "/certs");
}

TEST_F(ServiceTest, TokenVerifiesWithJwks) {
  const std::string token = Attest();
  ASSERT_FALSE(token.empty());
  ASSERT_OK_AND_ASSIGN(const ClientResponse certs, Call(port(), "GET", "/certs"));
  ASSERT_EQ(certs.status, 200);
  const nlohmann::json jwks = certs.Json();

  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(token));
  EXPECT_EQ(parts.header["alg"], "RS256");
  EXPECT_EQ(parts.header["typ"], "JWT");
  const nlohmann::json* jwk = nullptr;
  for (const nlohmann::json& key : jwks["keys"]) {
    if (key["kid"] == parts.header["kid"]) {
      jwk = &key;
    }
  }
  ASSERT_NE(jwk, nullptr) << jwks.dump();
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> key, crypto::PublicKeyFromJwk(*jwk));
  const crypto::JwsAlg allowed[] = {crypto::JwsAlg::kRs256};
  EXPECT_OK(crypto::JwsVerify(parts, key.get(), allowed));

  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["iss"], SimulatedIssuer());
  EXPECT_EQ(claims["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_EQ(claims["nonce"], "nonce-123");
  EXPECT_EQ(claims["x-ms-runtime"], nlohmann::json::parse(TestGuest().runtime_data));
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 300);
}

TEST_F(ServiceTest, FullFlowReleasesImportedKey) {
  const SecretBytes data_key = crypto::RandomSecret(32);
  const ClientResponse created =
      CreateKey("disk", CreateKeyBody(Policy(SimulatedIssuer(), true), &data_key));
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_THAT(created.Json()["key"]["kid"].get<std::string>(),
              HasSubstr(server_->issuer() + "/keys/disk/"));
  EXPECT_THAT(created.body, Not(HasSubstr(Base64UrlEncode(data_key.Expose()))));

  ASSERT_OK_AND_ASSIGN(const ClientResponse metadata,
                       Call(port(), "GET", "/keys/disk", "", AdminHeaders()));
  EXPECT_EQ(metadata.status, 200);
  EXPECT_EQ(metadata.Json()["key"]["kid"], created.Json()["key"]["kid"]);

  const ClientResponse released = Release("disk", Attest());
  ASSERT_EQ(released.status, 200) << released.body;
  ASSERT_OK_AND_ASSIGN(const ClientResponse certs, Call(port(), "GET", "/certs"));
  const nlohmann::json jwks = certs.Json();
  broker::ReleaseVerification verification;
  verification.broker_jwks = &jwks;
  ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                       broker::UnwrapReleasedKey(released.Json()["value"].get<std::string>(),
                                                 TestGuest().key.get(), verification));
  EXPECT_TRUE(unwrapped == data_key);
}

TEST_F(ServiceTest, ReleaseByVersionAndAudit) {
  const ClientResponse created =
      CreateKey("versioned", CreateKeyBody(Policy(SimulatedIssuer(), true), nullptr));
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string kid = created.Json()["key"]["kid"].get<std::string>();
  const std::string version = kid.substr(kid.rfind('/') + 1);

  ASSERT_OK_AND_ASSIGN(const ClientResponse by_version,
                       Call(port(), "GET", "/keys/versioned/" + version, "", AdminHeaders()));
  EXPECT_EQ(by_version.status, 200);
  ASSERT_OK_AND_ASSIGN(const ClientResponse versions,
                       Call(port(), "GET", "/keys/versioned/versions", "", AdminHeaders()));
  EXPECT_EQ(versions.status, 200);
  EXPECT_EQ(versions.Json()["value"].size(), 1u);

  const nlohmann::json body = {{"target", Attest()}};
  ASSERT_OK_AND_ASSIGN(
      const ClientResponse released,
      Call(port(), "POST", "/keys/versioned/" + version + "/release", body.dump()));
  EXPECT_EQ(released.status, 200) << released.body;

  ASSERT_OK_AND_ASSIGN(const std::vector<store::AuditEvent> events,
                       server_->service().store().ReadAudit(store::kAllAuditEvents));
  bool saw_create = false;
  bool saw_release = false;
  for (const store::AuditEvent& event : events) {
    saw_create = saw_create ||
                 (event.operation == "key.create" && absl::StrContains(event.target, "versioned"));
    saw_release = saw_release || (event.operation == "key.release" &&
                                  absl::StrContains(event.target, "versioned"));
  }
  EXPECT_TRUE(saw_create);
  EXPECT_TRUE(saw_release);
}

TEST_F(ServiceTest, ProductionAuthorityDeniesSimulatedToken) {
  const ClientResponse created =
      CreateKey("production", CreateKeyBody(Policy(server_->issuer(), true), nullptr));
  ASSERT_EQ(created.status, 200) << created.body;
  const ClientResponse released = Release("production", Attest());
  EXPECT_EQ(released.status, 403);
  EXPECT_EQ(released.ErrorCode(), "AccessDenied");
  EXPECT_THAT(LastReleaseAuditDetail("production"), HasSubstr(SimulatedIssuer()));
}

TEST_F(ServiceTest, PolicyWithoutSimulatedClaimDenies) {
  const ClientResponse created =
      CreateKey("unmarked", CreateKeyBody(Policy(SimulatedIssuer(), false), nullptr));
  ASSERT_EQ(created.status, 200) << created.body;
  const ClientResponse released = Release("unmarked", Attest());
  EXPECT_EQ(released.status, 403);
  EXPECT_EQ(released.ErrorCode(), "AccessDenied");
  EXPECT_THAT(LastReleaseAuditDetail("unmarked"), HasSubstr("x-vouch-simulated"));
}

TEST_F(ServiceTest, SimulatedIssuerPublishesSameKeys) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse certs, Call(port(), "GET", "/simulated/certs"));
  ASSERT_EQ(certs.status, 200) << certs.body;
  ASSERT_OK_AND_ASSIGN(const ClientResponse real_certs, Call(port(), "GET", "/certs"));
  EXPECT_EQ(certs.Json(), real_certs.Json());
  ASSERT_OK_AND_ASSIGN(const ClientResponse metadata,
                       Call(port(), "GET", "/simulated/.well-known/openid-configuration"));
  ASSERT_EQ(metadata.status, 200) << metadata.body;
  EXPECT_EQ(metadata.Json()["issuer"], SimulatedIssuer());
}

TEST_F(ServiceTest, ReleaseRejectsBadTokenAndUnknownKey) {
  const ClientResponse forged = Release("disk", "e30.e30.AAAA");
  EXPECT_EQ(forged.status, 401);
  const ClientResponse missing = Release("no-such-key", Attest());
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(missing.ErrorCode(), "AccessDenied");
  ASSERT_OK_AND_ASSIGN(const ClientResponse malformed,
                       Call(port(), "POST", "/keys/disk/release", "{\"target\": 1}"));
  EXPECT_EQ(malformed.status, 400);
}

// A caller with a valid token gets byte for byte the same response for a key
// that does not exist and for a key whose release policy rejects it, so it
// cannot probe key names. The reasons differ only in the audit log.
TEST_F(ServiceTest, MissingAndDeniedKeyGetSameResponse) {
  const ClientResponse created =
      CreateKey("probe-denied", CreateKeyBody(Policy(server_->issuer(), true), nullptr));
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string token = Attest();

  const ClientResponse missing = Release("probe-missing", token);
  const ClientResponse denied = Release("probe-denied", token);
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(missing.ErrorCode(), "AccessDenied");
  EXPECT_EQ(missing.body, denied.body);
  EXPECT_EQ(missing.headers.at("content-type"), denied.headers.at("content-type"));
  EXPECT_EQ(missing.headers.at("content-length"), denied.headers.at("content-length"));
  EXPECT_THAT(LastReleaseAuditDetail("probe-missing"), HasSubstr("NOT_FOUND"));
  EXPECT_THAT(LastReleaseAuditDetail("probe-denied"), HasSubstr("PERMISSION_DENIED"));

  // Both paths check the token first: a forged token gets the same 401 for
  // either name.
  const ClientResponse forged_missing = Release("probe-missing", "e30.e30.AAAA");
  const ClientResponse forged_denied = Release("probe-denied", "e30.e30.AAAA");
  EXPECT_EQ(forged_missing.status, 401);
  EXPECT_EQ(forged_missing.body, forged_denied.body);
}

// Runtime data is the guest's own JSON. Members named like hardware claims
// must stay inside x-ms-runtime and never replace the claims read from the
// signed report.
TEST_F(ServiceTest, RuntimeDataCannotOverrideHardwareClaims) {
  nlohmann::json runtime = nlohmann::json::parse(TestGuest().runtime_data);
  const nlohmann::json injected = {
      {"x-ms-sevsnpvm-is-debuggable", true},
      {"x-ms-sevsnpvm-launchmeasurement", std::string(96, 'a')},
      {"x-ms-sevsnpvm-vmpl", 3},
      {"x-ms-attestation-type", "tdxvm"},
      {"x-vouch-simulated", false},
      {"iss", "https://attacker.example"},
  };
  runtime.update(injected);
  const std::string runtime_text = runtime.dump();
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(port(), "POST", "/attest/SevSnpVm",
                            AttestBody(runtime_text, ReportDataFor(runtime_text))));
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts,
                       crypto::JwsDecode(response.Json()["token"].get<std::string>()));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);

  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts plain_parts, crypto::JwsDecode(Attest()));
  const nlohmann::json plain = nlohmann::json::parse(plain_parts.payload);
  EXPECT_EQ(claims["x-ms-sevsnpvm-is-debuggable"], false);
  EXPECT_EQ(claims["x-ms-sevsnpvm-launchmeasurement"], plain["x-ms-sevsnpvm-launchmeasurement"]);
  EXPECT_EQ(claims["x-ms-sevsnpvm-vmpl"], 0);
  EXPECT_EQ(claims["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_EQ(claims["iss"], SimulatedIssuer());
  EXPECT_EQ(claims["x-ms-runtime"], runtime);
}

TEST_F(ServiceTest, RawReportUsesCollateral) {
  const std::string& runtime = TestGuest().runtime_data;
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(port(), "POST", "/attest/SevSnpVm",
                            AttestBody(runtime, ReportDataFor(runtime), /*with_chain=*/false)));
  EXPECT_EQ(response.status, 200) << response.body;
}

TEST_F(ServiceTest, BindingMismatchGets400) {
  const std::string& runtime = TestGuest().runtime_data;
  const Bytes other_report_data = ReportDataFor(runtime + " ");
  ASSERT_OK_AND_ASSIGN(const ClientResponse response, Call(port(), "POST", "/attest/SevSnpVm",
                                                           AttestBody(runtime, other_report_data)));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.ErrorCode(), "InvalidRequest");
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("runtime data binding"));
}

TEST_F(ServiceTest, AppraisalRejectionGets403) {
  const std::string& runtime = TestGuest().runtime_data;
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(port(), "POST", "/attest/SevSnpVm",
                            AttestBody(runtime, ReportDataFor(runtime), true, /*vmpl=*/1)));
  EXPECT_EQ(response.status, 403);
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("vmpl"));
}

TEST_F(ServiceTest, TamperedReportGets401) {
  const std::string& runtime = TestGuest().runtime_data;
  ASSERT_OK_AND_ASSIGN(Bytes report, platform().GetReport(ReportDataFor(runtime)));
  report[0x90] ^= 1;  // MEASUREMENT, inside the signed bytes.
  const std::string body = AttestRequestJson(report, ChainPem(platform()), AsBytes(runtime)).dump();
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(port(), "POST", "/attest/SevSnpVm", body));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_EQ(response.ErrorCode(), "Unauthorized");
}

TEST_F(ServiceTest, MalformedAttestRequestsGet4xx) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse not_json,
                       Call(port(), "POST", "/attest/SevSnpVm", "{not json"));
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.ErrorCode(), "InvalidRequest");

  ASSERT_OK_AND_ASSIGN(const ClientResponse wrong_type,
                       Call(port(), "POST", "/attest/SevSnpVm", "report=1",
                            {{"Content-Type", "application/x-www-form-urlencoded"}}));
  EXPECT_EQ(wrong_type.status, 415);
  EXPECT_EQ(wrong_type.ErrorCode(), "UnsupportedMediaType");

  ASSERT_OK_AND_ASSIGN(const ClientResponse short_report,
                       Call(port(), "POST", "/attest/SevSnpVm",
                            AttestRequestJson(Bytes(100, 3), "", AsBytes("{}")).dump()));
  EXPECT_EQ(short_report.status, 400);

  ASSERT_OK_AND_ASSIGN(const ClientResponse health, Call(port(), "GET", "/healthz"));
  EXPECT_EQ(health.status, 200);
}

TEST_F(ServiceTest, AdminRoutesNeedBearerToken) {
  const nlohmann::json body = CreateKeyBody(Policy(SimulatedIssuer(), true), nullptr);
  ASSERT_OK_AND_ASSIGN(const ClientResponse anonymous,
                       Call(port(), "PUT", "/keys/guarded", body.dump()));
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.ErrorCode(), "Unauthorized");
  EXPECT_EQ(anonymous.headers.at("www-authenticate"), "Bearer");

  ASSERT_OK_AND_ASSIGN(const ClientResponse wrong,
                       Call(port(), "PUT", "/keys/guarded", body.dump(),
                            {{"Authorization", "Bearer not-the-token"}}));
  EXPECT_EQ(wrong.status, 401);

  ASSERT_OK_AND_ASSIGN(const ClientResponse read, Call(port(), "GET", "/keys/guarded"));
  EXPECT_EQ(read.status, 401);
  ASSERT_OK_AND_ASSIGN(const ClientResponse missing,
                       Call(port(), "GET", "/keys/guarded", "", AdminHeaders()));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.ErrorCode(), "KeyNotFound");
}

TEST_F(ServiceTest, CreateKeyRejectsBadPolicy) {
  nlohmann::json body = CreateKeyBody(Policy(SimulatedIssuer(), true), nullptr);
  body["release_policy"] = {{"version", "1.0.0"}, {"anyOf", nlohmann::json::array()}};
  EXPECT_EQ(CreateKey("bad-policy", body).status, 400);
  EXPECT_EQ(CreateKey("bad-json", nlohmann::json::array()).status, 400);
  ASSERT_OK_AND_ASSIGN(const ClientResponse not_json,
                       Call(port(), "PUT", "/keys/bad", "{", AdminHeaders()));
  EXPECT_EQ(not_json.status, 400);
}

TEST_F(ServiceTest, RejectsSimulatedEvidenceWhenNotAllowed) {
  // A second server on the same data folder, without --allow-simulated-snp.
  absl::StatusOr<std::unique_ptr<Server>> strict = Server::Start(BaseConfig(*data_dir_));
  ASSERT_OK(strict.status());
  EXPECT_EQ((*strict)->service().simulated(), nullptr);
  const std::string& runtime = TestGuest().runtime_data;
  for (const bool with_chain : {true, false}) {
    ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                         Call((*strict)->port(), "POST", "/attest/SevSnpVm",
                              AttestBody(runtime, ReportDataFor(runtime), with_chain)));
    EXPECT_EQ(response.status, 401) << response.body;
    EXPECT_EQ(response.ErrorCode(), "Unauthorized");
  }
}

// A server whose minimum SEV-SNP TCB is above the simulated report's TCB
// rejects the report with 403, naming the component.
TEST_F(ServiceTest, ReportedTcbBelowMinimumGets403) {
  Config config = BaseConfig(*data_dir_);
  config.allow_simulated_snp = true;
  config.snp_min_tcb = "bootloader=255,tee=255,snp=255,microcode=255";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> strict, Server::Start(config));
  const std::string& runtime = TestGuest().runtime_data;
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(strict->port(), "POST", "/attest/SevSnpVm",
                            AttestBody(runtime, ReportDataFor(runtime))));
  EXPECT_EQ(response.status, 403) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("bootloader"));

  config.snp_min_tcb = "bootloader=1,tee=x";
  EXPECT_THAT(Server::Start(config),
              vouch::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("snp_min_tcb")));
}

TEST_F(ServiceTest, SigningKeySurvivesRestart) {
  ASSERT_OK_AND_ASSIGN(const ClientResponse before, Call(port(), "GET", "/certs"));
  absl::StatusOr<std::unique_ptr<Server>> second = Server::Start(BaseConfig(*data_dir_));
  ASSERT_OK(second.status());
  ASSERT_OK_AND_ASSIGN(const ClientResponse after, Call((*second)->port(), "GET", "/certs"));
  EXPECT_EQ(before.Json()["keys"][0]["kid"], after.Json()["keys"][0]["kid"]);
}

// A key whose policy names another attestation service is released to that
// service's token once the server is configured to trust it.
TEST(ServerStartTest, TrustedAuthorityTokenReleasesKey) {
  const std::string dir = NewDataDir("authority");
  std::filesystem::create_directories(dir);
  const std::string other_issuer = "https://attest.example.test";
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> other_key, crypto::GenerateEcKey("P-256"));
  ASSERT_OK_AND_ASSIGN(const token::TokenIssuer other,
                       token::TokenIssuer::Create(std::move(other_key), {.issuer = other_issuer}));
  const std::string jwks_file = dir + "-jwks.json";
  ASSERT_OK(WriteFileAtomic(jwks_file, AsBytes(other.Jwks().dump())));

  Config config = BaseConfig(dir);
  config.trusted_authorities.push_back({other_issuer, jwks_file});
  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Server> server, Server::Start(config));

  const nlohmann::json policy = {
      {"version", "1.0.0"},
      {"anyOf",
       {{{"authority", other_issuer},
         {"allOf", {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}}}}}}}};
  const SecretBytes data_key = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const ClientResponse created,
                       Call(server->port(), "PUT", "/keys/shared",
                            CreateKeyBody(policy, &data_key).dump(), AdminHeaders()));
  ASSERT_EQ(created.status, 200) << created.body;

  nlohmann::json claims = {{"x-ms-attestation-type", "sevsnpvm"},
                           {"x-ms-runtime", nlohmann::json::parse(TestGuest().runtime_data)}};
  ASSERT_OK_AND_ASSIGN(const std::string token, other.Issue(std::move(claims), absl::Now()));
  const nlohmann::json body = {{"target", token}, {"enc", "RSA_AES_KEY_WRAP_256"}};
  ASSERT_OK_AND_ASSIGN(const ClientResponse released,
                       Call(server->port(), "POST", "/keys/shared/release", body.dump()));
  ASSERT_EQ(released.status, 200) << released.body;
  ASSERT_OK_AND_ASSIGN(const ClientResponse certs, Call(server->port(), "GET", "/certs"));
  const nlohmann::json broker_jwks = certs.Json();
  broker::ReleaseVerification verification;
  verification.broker_jwks = &broker_jwks;
  ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                       broker::UnwrapReleasedKey(released.Json()["value"].get<std::string>(),
                                                 TestGuest().key.get(), verification));
  EXPECT_TRUE(unwrapped == data_key);
}

TEST(ServerStartTest, RejectsUnreadableTrustedAuthority) {
  Config config = BaseConfig(NewDataDir("authority_missing"));
  config.trusted_authorities.push_back({"https://attest.example.test", "/nonexistent/jwks.json"});
  EXPECT_THAT(Server::Start(config),
              vouch::testing::StatusIs(absl::StatusCode::kNotFound,
                                       HasSubstr("trusted authority https://attest.example.test")));
}

TEST(ServerStartTest, RejectsInvalidConfig) {
  Config config;
  EXPECT_THAT(Server::Start(config), vouch::testing::StatusIs(absl::StatusCode::kInvalidArgument));
  config.data_dir = NewDataDir("invalid");
  config.admin_token_sha256 = HashAdminToken(kAdminToken);
  config.listen = "0.0.0.0:0";  // rejected before any socket is bound
  EXPECT_THAT(Server::Start(config), vouch::testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                                              HasSubstr("plain HTTP")));
}

}  // namespace
}  // namespace vouch::server
