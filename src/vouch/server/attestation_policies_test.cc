// Tests of the attestation policy registry, directly and through the real
// server on 127.0.0.1 with simulated SEV-SNP evidence.
#include "vouch/server/attestation_policies.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/time/clock.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/policy/attestation_policy.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;
using testing::Headers;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

constexpr char kAdminToken[] = "policy-test-admin-token";

constexpr char kDenyDebugPolicy[] = R"(version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-is-debuggable", value==true] => deny();
  [type=="x-ms-sevsnpvm-vmpl", value>=1] => deny();
  => permit();
};
issuancerules {
  c:[type=="x-ms-sevsnpvm-guestsvn"] => issue(type="guest-svn", value=c.value);
  => issue(type="policy-name", value="deny-debug");
};
)";

std::string NewTempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/vouch_attestation_policies_test_" + name + "_" +
                          std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Json SnpClaims() {
  return {{"x-ms-attestation-type", "sevsnpvm"},
          {"x-ms-sevsnpvm-vmpl", 0},
          {"x-ms-sevsnpvm-is-debuggable", false},
          {"x-ms-sevsnpvm-guestsvn", 7}};
}

// SigningIdentity is a key with a self-signed certificate, as an operator
// holds for signing policies.
struct SigningIdentity {
  crypto::SslPtr<EVP_PKEY> key;
  crypto::Certificate certificate;
};

SigningIdentity MakeSigningIdentity(const std::string& name) {
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateEcKey("P-256");
  VOUCH_CHECK(key.ok());
  crypto::CertificateSpec spec;
  spec.common_name = name;
  spec.subject_key = key->get();
  spec.issuer_key = key->get();
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24);
  spec.signature = crypto::SignatureScheme::kEcdsaSha256;
  absl::StatusOr<crypto::Certificate> certificate = crypto::IssueCertificate(spec);
  VOUCH_CHECK(certificate.ok());
  return {*std::move(key), *std::move(certificate)};
}

std::string PolicyPayload(std::string_view text) {
  return Json{{"AttestationPolicy", Base64UrlEncode(AsBytes(text))}}.dump();
}

std::string SignPolicy(const SigningIdentity& identity, std::string_view text) {
  absl::StatusOr<std::string> jws = crypto::JwsSign(identity.key.get(), crypto::JwsAlg::kEs256,
                                                    Json::object(), PolicyPayload(text));
  VOUCH_CHECK(jws.ok());
  return *jws;
}

std::string UnsignedJws(std::string_view text) {
  return Base64UrlEncode(AsBytes(R"({"alg":"none"})")) + "." +
         Base64UrlEncode(AsBytes(PolicyPayload(text))) + ".";
}

class AttestationPoliciesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> opened =
        store::SqliteStore::Open(dir_ + "/vouch.db");
    ASSERT_OK(opened.status());
    store_ = *std::move(opened);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<AttestationPolicies> Load(AttestationPoliciesOptions options = {}) {
    absl::StatusOr<std::unique_ptr<AttestationPolicies>> policies =
        AttestationPolicies::Load(*store_, std::move(options));
    EXPECT_OK(policies.status());
    return policies.ok() ? *std::move(policies) : nullptr;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(AttestationPoliciesTest, DefaultPolicyPassesClaimsThrough) {
  const auto policies = Load();
  ASSERT_OK_AND_ASSIGN(const PolicyRecord record, policies->Get(kSevSnpVmKind));
  EXPECT_TRUE(record.is_default);
  EXPECT_EQ(record.policy_hash, policy::PolicyHash(record.text));
  ASSERT_OK_AND_ASSIGN(const Json claims, policies->Apply(kSevSnpVmKind, SnpClaims()));
  Json want = SnpClaims();
  want["x-ms-policy-hash"] = record.policy_hash;
  EXPECT_EQ(claims, want);
}

// A policy whose audit record cannot be appended is not stored and not
// applied: the blob and the record are one transaction.
TEST_F(AttestationPoliciesTest, SetWithFailedAuditChangesNothing) {
  const auto policies = Load();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/vouch.db").c_str(), &db), SQLITE_OK);
  const int created = sqlite3_exec(db,
                                   "CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log "
                                   "BEGIN SELECT RAISE(ABORT, 'audit append failed by a test "
                                   "trigger'); END",
                                   nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_EQ(created, SQLITE_OK);

  EXPECT_THAT(policies->Set(kSevSnpVmKind, kDenyDebugPolicy), Not(StatusIs(absl::StatusCode::kOk)));
  ASSERT_OK_AND_ASSIGN(const PolicyRecord current, policies->Get(kSevSnpVmKind));
  EXPECT_TRUE(current.is_default);
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> blob,
                       store_->GetBlob(std::string(kPolicyBlobPrefix) + kSevSnpVmKind));
  EXPECT_FALSE(blob.has_value());
  const auto reloaded = Load();
  ASSERT_OK_AND_ASSIGN(const PolicyRecord loaded, reloaded->Get(kSevSnpVmKind));
  EXPECT_TRUE(loaded.is_default);
}

TEST_F(AttestationPoliciesTest, EveryKindHasADefault) {
  const auto policies = Load();
  for (const char* kind : {kSevSnpVmKind, kTdxVmKind, kSgxEnclaveKind, kAzureGuestKind}) {
    ASSERT_OK_AND_ASSIGN(const PolicyRecord record, policies->Get(kind));
    EXPECT_TRUE(record.is_default) << kind;
  }
  EXPECT_THAT(policies->Get("OpenEnclave"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(policies->Apply("OpenEnclave", SnpClaims()), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AttestationPoliciesTest, SetAppliesAndPersists) {
  const auto policies = Load();
  ASSERT_OK_AND_ASSIGN(const PolicyRecord record, policies->Set(kSevSnpVmKind, kDenyDebugPolicy));
  EXPECT_FALSE(record.is_default);
  EXPECT_EQ(record.policy_hash, policy::PolicyHash(kDenyDebugPolicy));

  ASSERT_OK_AND_ASSIGN(const Json claims, policies->Apply(kSevSnpVmKind, SnpClaims()));
  EXPECT_EQ(claims["guest-svn"], 7);
  EXPECT_EQ(claims["policy-name"], "deny-debug");
  EXPECT_EQ(claims["x-ms-sevsnpvm-vmpl"], 0);
  EXPECT_EQ(claims["x-ms-policy-hash"], record.policy_hash);

  // A new registry on the same store loads the stored policy.
  const auto reloaded = Load();
  ASSERT_OK_AND_ASSIGN(const PolicyRecord loaded, reloaded->Get(kSevSnpVmKind));
  EXPECT_EQ(loaded.text, kDenyDebugPolicy);
  EXPECT_FALSE(loaded.is_default);
  ASSERT_OK_AND_ASSIGN(const std::vector<store::AuditEvent> audit,
                       store_->ReadAudit(store::kAllAuditEvents));
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back().operation, "attestation-policy.set");
  EXPECT_EQ(audit.back().target, "policies/SevSnpVm");
}

TEST_F(AttestationPoliciesTest, DenialNamesTheRule) {
  const auto policies = Load();
  ASSERT_OK(policies->Set(kSevSnpVmKind, kDenyDebugPolicy).status());
  Json debuggable = SnpClaims();
  debuggable["x-ms-sevsnpvm-is-debuggable"] = true;
  EXPECT_THAT(policies->Apply(kSevSnpVmKind, debuggable),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("attestation policy for SevSnpVm: denied by authorizationrules "
                                 "rule 1 at 3:3: [type==\"x-ms-sevsnpvm-is-debuggable\"")));
}

TEST_F(AttestationPoliciesTest, SetRejectsBadPolicies) {
  const auto policies = Load();
  EXPECT_THAT(policies->Set(kSevSnpVmKind, "version=1.0;\nauthorizationrules {\n  => permit()\n};"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("4:1: expected ';'")));
  EXPECT_THAT(policies->Set(kSevSnpVmKind,
                            "version=1.0;\nauthorizationrules {\n  [type==\"x-ms-sevsnpvm-vmp\"] "
                            "=> permit();\n};"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("3:3: unknown claim type \"x-ms-sevsnpvm-vmp\"")));
  EXPECT_THAT(policies->Set(kSevSnpVmKind,
                            "version=1.0; authorizationrules { => permit(); }; issuancerules { "
                            "=> issue(type=\"x-ms-policy-hash\", value=\"forged\"); };"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not allowed")));
  EXPECT_THAT(policies->Set(kSevSnpVmKind,
                            "version=1.2; authorizationrules { => permit(); }; issuancerules { "
                            "=> issue(type=\"a\", value=JmesPath(\"{}\", \"a\")); };"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not supported by vouch")));
  EXPECT_THAT(policies->Set("NoSuchKind", kDenyDebugPolicy),
              StatusIs(absl::StatusCode::kNotFound));
  // The failed attempts changed nothing.
  ASSERT_OK_AND_ASSIGN(const PolicyRecord record, policies->Get(kSevSnpVmKind));
  EXPECT_TRUE(record.is_default);
}

TEST_F(AttestationPoliciesTest, IssuedClaimMustNotContradictEvidence) {
  const auto policies = Load();
  ASSERT_OK(policies
                ->Set(kSevSnpVmKind,
                      "version=1.0; authorizationrules { => permit(); }; issuancerules { "
                      "c:[type==\"x-ms-sevsnpvm-vmpl\"] => issue(claim=c); => "
                      "issue(type=\"x-ms-attestation-type\", value=\"tdxvm\"); };")
                .status());
  EXPECT_THAT(policies->Apply(kSevSnpVmKind, SnpClaims()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("issues claim x-ms-attestation-type")));
}

TEST_F(AttestationPoliciesTest, TypeMismatchIsAnError) {
  const auto policies = Load();
  ASSERT_OK(policies
                ->Set(kSevSnpVmKind,
                      "version=1.0; authorizationrules { [type==\"x-ms-sevsnpvm-vmpl\", "
                      "value==\"0\"] => permit(); };")
                .status());
  EXPECT_THAT(policies->Apply(kSevSnpVmKind, SnpClaims()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot compare")));
}

TEST_F(AttestationPoliciesTest, UnsignedJwsAcceptedOutsideIsolatedMode) {
  const auto policies = Load();
  ASSERT_OK_AND_ASSIGN(const PolicyRecord record,
                       policies->Set(kSevSnpVmKind, UnsignedJws(kDenyDebugPolicy)));
  EXPECT_EQ(record.text, kDenyDebugPolicy);
  const SigningIdentity stranger = MakeSigningIdentity("stranger");
  EXPECT_THAT(policies->Set(kSevSnpVmKind, SignPolicy(stranger, kDenyDebugPolicy)),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AttestationPoliciesTest, IsolatedModeAcceptsOnlyConfiguredSigners) {
  const SigningIdentity operator_identity = MakeSigningIdentity("policy signer");
  const SigningIdentity stranger = MakeSigningIdentity("stranger");
  AttestationPoliciesOptions options;
  options.isolated = true;
  EXPECT_THAT(AttestationPolicies::Load(*store_, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("policy-signing")));
  options.signing_certificates = {operator_identity.certificate};
  const auto policies = Load(options);

  EXPECT_THAT(policies->Set(kSevSnpVmKind, kDenyDebugPolicy),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not policy text")));
  EXPECT_THAT(policies->Set(kSevSnpVmKind, UnsignedJws(kDenyDebugPolicy)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("alg none")));
  EXPECT_THAT(policies->Set(kSevSnpVmKind, SignPolicy(stranger, kDenyDebugPolicy)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not signed by any")));
  std::string tampered = SignPolicy(operator_identity, kDenyDebugPolicy);
  tampered[tampered.find('.') + 3] ^= 1;
  EXPECT_FALSE(policies->Set(kSevSnpVmKind, tampered).ok());

  ASSERT_OK_AND_ASSIGN(const PolicyRecord record,
                       policies->Set(kSevSnpVmKind, SignPolicy(operator_identity, kDenyDebugPolicy)));
  EXPECT_EQ(record.text, kDenyDebugPolicy);
  EXPECT_EQ(record.policy_hash, policy::PolicyHash(kDenyDebugPolicy));
}

TEST_F(AttestationPoliciesTest, ConcurrentApplyAndSet) {
  const auto policies = Load();
  const std::string other = std::string(kDenyDebugPolicy) + "// second version\n";
  const std::set<std::string> hashes = {policy::PolicyHash(kDenyDebugPolicy),
                                        policy::PolicyHash(other)};
  ASSERT_OK(policies->Set(kSevSnpVmKind, kDenyDebugPolicy).status());
  std::atomic<bool> stop = false;
  std::atomic<int> bad = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        absl::StatusOr<Json> claims = policies->Apply(kSevSnpVmKind, SnpClaims());
        if (!claims.ok() || !hashes.contains((*claims)["x-ms-policy-hash"].get<std::string>())) {
          ++bad;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_OK(policies->Set(kSevSnpVmKind, i % 2 == 0 ? other : kDenyDebugPolicy).status());
  }
  stop = true;
  for (std::thread& reader : readers) {
    reader.join();
  }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------- over loopback

Headers AdminHeaders(std::string_view content_type = "text/plain") {
  Headers headers = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  if (!content_type.empty()) {
    headers["Content-Type"] = std::string(content_type);
  }
  return headers;
}

// CopySimulatedChain copies the simulated SEV-SNP chain made once per build
// folder (making its RSA-4096 keys takes seconds).
void CopySimulatedChain(const std::string& dir) {
  const std::string cache = std::string(VOUCH_BINARY_DIR) + "/server_test_simulated_snp";
  VOUCH_CHECK(snp::CopySimulatedSnp(cache, dir).ok());
}

std::unique_ptr<Server> StartServer(const std::string& data_dir, Config config = {}) {
  CopySimulatedChain(data_dir + "/" + kSimulatedSnpDir);
  config.listen = "127.0.0.1:0";
  config.data_dir = data_dir;
  config.admin_token_sha256 = HashAdminToken(kAdminToken);
  config.allow_simulated_snp = true;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  EXPECT_OK(server.status());
  return server.ok() ? *std::move(server) : nullptr;
}

std::string AttestBody(const snp::SimulatedSnp& platform, uint32_t vmpl = 0) {
  const std::string runtime = R"({"keys":[]})";
  Bytes report_data = crypto::Sha256(AsBytes(runtime));
  report_data.resize(64, 0);
  absl::StatusOr<Bytes> report = platform.GetReport(report_data, vmpl);
  VOUCH_CHECK(report.ok());
  std::string pem;
  for (const crypto::Certificate& cert : platform.Certificates()) {
    pem += cert.Pem();
  }
  return AttestRequestJson(*report, pem, AsBytes(runtime)).dump();
}

Json TokenPayload(const ClientResponse& response) {
  const std::string token = response.Json().value("token", "");
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  absl::StatusOr<Bytes> payload = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  VOUCH_CHECK(payload.ok());
  return Json::parse(ToString(*payload));
}

TEST(AttestationPolicyRoutesTest, SetGetAndAttest) {
  const std::string dir = NewTempDir("routes");
  const std::unique_ptr<Server> server = StartServer(dir);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  const snp::SimulatedSnp& platform = *server->service().simulated();

  // Before any PUT: the default policy, and tokens carry its hash.
  ASSERT_OK_AND_ASSIGN(ClientResponse got, Call(port, "GET", "/policies/SevSnpVm", "",
                                                AdminHeaders("")));
  EXPECT_EQ(got.status, 200) << got.body;
  EXPECT_TRUE(got.Json()["default"].get<bool>());
  ASSERT_OK_AND_ASSIGN(ClientResponse attested,
                       Call(port, "POST", "/attest/SevSnpVm", AttestBody(platform)));
  ASSERT_EQ(attested.status, 200) << attested.body;
  EXPECT_EQ(TokenPayload(attested)["x-ms-policy-hash"], got.Json()["x-ms-policy-hash"]);

  // Admin only.
  ASSERT_OK_AND_ASSIGN(ClientResponse anonymous,
                       Call(port, "PUT", "/policies/SevSnpVm", kDenyDebugPolicy));
  EXPECT_EQ(anonymous.status, 401);
  ASSERT_OK_AND_ASSIGN(anonymous, Call(port, "GET", "/policies/SevSnpVm"));
  EXPECT_EQ(anonymous.status, 401);

  ASSERT_OK_AND_ASSIGN(ClientResponse put, Call(port, "PUT", "/policies/SevSnpVm",
                                                kDenyDebugPolicy, AdminHeaders()));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Json()["x-ms-policy-hash"], policy::PolicyHash(kDenyDebugPolicy));
  ASSERT_OK_AND_ASSIGN(got, Call(port, "GET", "/policies/SevSnpVm", "", AdminHeaders("")));
  EXPECT_EQ(got.Json()["policy"], kDenyDebugPolicy);
  EXPECT_FALSE(got.Json()["default"].get<bool>());

  // Permitted: the issued claims and the hash are in the token.
  ASSERT_OK_AND_ASSIGN(attested, Call(port, "POST", "/attest/SevSnpVm", AttestBody(platform)));
  ASSERT_EQ(attested.status, 200) << attested.body;
  const Json payload = TokenPayload(attested);
  EXPECT_EQ(payload["policy-name"], "deny-debug");
  EXPECT_EQ(payload["guest-svn"], payload["x-ms-sevsnpvm-guestsvn"]);
  EXPECT_EQ(payload["x-ms-policy-hash"], policy::PolicyHash(kDenyDebugPolicy));

  std::filesystem::remove_all(dir);
}

TEST(AttestationPolicyRoutesTest, DenialByRuleGets403) {
  const std::string dir = NewTempDir("deny");
  Config config;
  config.max_vmpl = 3;  // the appraisal lets VMPL 1 through; the policy decides
  const std::unique_ptr<Server> server = StartServer(dir, config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  ASSERT_OK_AND_ASSIGN(const ClientResponse put, Call(port, "PUT", "/policies/SevSnpVm",
                                                      kDenyDebugPolicy, AdminHeaders()));
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_OK_AND_ASSIGN(const ClientResponse denied,
                       Call(port, "POST", "/attest/SevSnpVm",
                            AttestBody(*server->service().simulated(), 1)));
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_THAT(denied.ErrorMessage(),
              HasSubstr("denied by authorizationrules rule 2 at 4:3: "
                        "[type==\"x-ms-sevsnpvm-vmpl\", value>=1] => deny();"));
  std::filesystem::remove_all(dir);
}

TEST(AttestationPolicyRoutesTest, RejectsBadRequests) {
  const std::string dir = NewTempDir("bad");
  const std::unique_ptr<Server> server = StartServer(dir);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  ASSERT_OK_AND_ASSIGN(ClientResponse response,
                       Call(port, "PUT", "/policies/SevSnpVm",
                            "version=1.0;\nauthorizationrules {\n  [type=\"a\"] => permit();\n};",
                            AdminHeaders()));
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("attestation policy 3:8: '=' in a condition"));
  ASSERT_OK_AND_ASSIGN(response, Call(port, "PUT", "/policies/Nope", kDenyDebugPolicy,
                                      AdminHeaders()));
  EXPECT_EQ(response.status, 404);
  ASSERT_OK_AND_ASSIGN(response, Call(port, "PUT", "/policies/SevSnpVm", kDenyDebugPolicy,
                                      AdminHeaders("application/json")));
  EXPECT_EQ(response.status, 415);
  std::filesystem::remove_all(dir);
}

TEST(AttestationPolicyRoutesTest, IsolatedServerNeedsSignedPolicy) {
  const std::string dir = NewTempDir("isolated");
  const SigningIdentity operator_identity = MakeSigningIdentity("policy signer");
  const SigningIdentity stranger = MakeSigningIdentity("stranger");
  const std::string cert_file = dir + "/policy-signer.pem";
  ASSERT_OK(WriteFileAtomic(cert_file, AsBytes(operator_identity.certificate.Pem()), 0644));
  Config config;
  config.isolated = true;
  config.policy_signing_cert_files = {cert_file};
  const std::unique_ptr<Server> server = StartServer(dir + "/data", config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();

  ASSERT_OK_AND_ASSIGN(ClientResponse response, Call(port, "PUT", "/policies/SevSnpVm",
                                                     kDenyDebugPolicy, AdminHeaders()));
  EXPECT_EQ(response.status, 401) << response.body;
  ASSERT_OK_AND_ASSIGN(response, Call(port, "PUT", "/policies/SevSnpVm",
                                      SignPolicy(stranger, kDenyDebugPolicy),
                                      AdminHeaders("application/jose")));
  EXPECT_EQ(response.status, 401) << response.body;
  ASSERT_OK_AND_ASSIGN(response, Call(port, "PUT", "/policies/SevSnpVm",
                                      SignPolicy(operator_identity, kDenyDebugPolicy),
                                      AdminHeaders("application/jose")));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.Json()["policy"], kDenyDebugPolicy);
  std::filesystem::remove_all(dir);
}

TEST(AttestationPolicyRoutesTest, IsolatedWithoutCertificateFailsToStart) {
  Config config;
  config.data_dir = NewTempDir("isolated_no_cert");
  config.listen = "127.0.0.1:0";
  config.isolated = true;
  EXPECT_THAT(Server::Start(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("policy-signing certificate")));
  std::filesystem::remove_all(config.data_dir);
}

}  // namespace
}  // namespace vouch::server
