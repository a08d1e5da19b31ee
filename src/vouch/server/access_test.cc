// Access control: the route table covers every route, each role reaches
// exactly its routes, forged bearer tokens are rejected, mutual TLS works
// over a real TLS connection on 127.0.0.1, and unsafe configurations are
// rejected.
#include "vouch/server/access.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/key_routes.h"
#include "vouch/server/server.h"
#include "vouch/server/service.h"
#include "vouch/server/status_mapping.h"
#include "vouch/server/test_client.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

constexpr char kAdminToken[] = "access-test-admin-token";
constexpr char kOidcIssuer[] = "https://login.example.test/tenant";
constexpr char kOidcAudience[] = "api://vouch";
constexpr char kOidcKid[] = "oidc-key-1";
// The phrase every access-control denial contains; handler errors never do.
constexpr char kAccessDenial[] = "this route needs";

std::string TestDir(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "/vouch_access_test_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  return dir;
}

void WriteText(const std::string& path, std::string_view text, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);
}

// RSA and EC keys are made once per test binary, because RSA generation is slow.
EVP_PKEY* OidcKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
  return key;
}

EVP_PKEY* AttackerKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
  return key;
}

Json OidcJwks() {
  Json jwk = crypto::PublicKeyToJwk(OidcKey()).value();
  jwk["kid"] = kOidcKid;
  jwk["use"] = "sig";
  return Json{{"keys", Json::array({jwk})}};
}

Json OidcClaims(Json roles) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  return Json{{"iss", kOidcIssuer}, {"aud", kOidcAudience}, {"sub", "user-1"},
              {"iat", now},         {"nbf", now},           {"exp", now + 300},
              {"roles", std::move(roles)}};
}

std::string SignOidc(const Json& claims, Json header = Json::object(),
                     EVP_PKEY* key = OidcKey()) {
  if (!header.contains("kid")) {
    header["kid"] = kOidcKid;
  }
  header["typ"] = "JWT";
  return crypto::JwsSign(key, crypto::JwsAlg::kRs256, header, claims.dump()).value();
}

std::string B64(std::string_view text) { return Base64UrlEncode(AsBytes(text)); }

// A certificate and its key, also written as PEM files.
struct Identity {
  crypto::Certificate certificate;
  crypto::SslPtr<EVP_PKEY> key;
  std::string cert_file;
  std::string key_file;
};

Identity Issue(const std::string& dir, const std::string& name, const Identity* ca) {
  Identity identity;
  identity.key = crypto::GenerateEcKey("P-256").value();
  crypto::CertificateSpec spec;
  spec.common_name = name;
  spec.organization = "vouch access test";
  spec.subject_key = identity.key.get();
  spec.issuer_key = ca == nullptr ? identity.key.get() : ca->key.get();
  if (ca != nullptr) {
    spec.issuer = ca->certificate;
  }
  spec.is_ca = ca == nullptr;
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24);
  spec.signature = crypto::SignatureScheme::kEcdsaSha256;
  if (name == "server") {
    // subjectAltName iPAddress 127.0.0.1, which libcurl clients check.
    spec.extensions.push_back({"2.5.29.17", Bytes{0x30, 0x06, 0x87, 0x04, 127, 0, 0, 1}, false});
  }
  static uint64_t serial = 1;
  spec.serial = ++serial;
  identity.certificate = crypto::IssueCertificate(spec).value();
  identity.cert_file = dir + "/" + name + ".pem";
  identity.key_file = dir + "/" + name + ".key";
  WriteText(identity.cert_file, identity.certificate.Pem());
  WriteText(identity.key_file, ToString(crypto::PrivateKeyToPem(identity.key.get())->Expose()));
  return identity;
}

ClientCertificate Presented(const Identity& identity) {
  return {identity.certificate.Subject(), HexEncode(identity.certificate.Sha256())};
}

// The test PKI and the files of a server configuration with every kind of
// credential.
struct TestPki {
  std::string dir;
  Identity ca;
  Identity server;
  Identity admin;
  Identity auditor;
  Identity release_user;
  Identity unmapped;

  explicit TestPki(const std::string& name) : dir(TestDir(name)) {
    ca = Issue(dir, "ca", nullptr);
    server = Issue(dir, "server", &ca);
    admin = Issue(dir, "admin", &ca);
    auditor = Issue(dir, "auditor", &ca);
    release_user = Issue(dir, "release", &ca);
    unmapped = Issue(dir, "unmapped", &ca);
    const Json roles = {
        {"certificates",
         {{{"subject", admin.certificate.Subject()}, {"roles", {"administrator"}}},
          {{"subject", auditor.certificate.Subject()}, {"roles", {"auditor"}}},
          {{"sha256", HexEncode(release_user.certificate.Sha256())},
           {"roles", {"release-user"}}}}},
        {"oidc_claims",
         {{"vouch-admins", {"administrator"}},
          {"vouch-auditors", {"auditor"}},
          {"vouch-release", {"release-user"}}}}};
    WriteText(dir + "/roles.json", roles.dump());
    WriteText(dir + "/oidc-jwks.json", OidcJwks().dump());
  }

  Config MakeConfig() const {
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = dir + "/data";
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    config.roles_file = dir + "/roles.json";
    config.oidc_issuer = kOidcIssuer;
    config.oidc_jwks_file = dir + "/oidc-jwks.json";
    config.oidc_audience = kOidcAudience;
    config.release_requires_role = true;
    return config;
  }
};

// A credential that carries one role, as a client certificate or a bearer token.
struct Credential {
  std::string name;
  std::optional<ClientCertificate> certificate;
  std::string bearer;

  void ApplyTo(HttpRequest& request) const {
    request.client_certificate = certificate;
    if (!bearer.empty()) {
      request.headers["authorization"] = "Bearer " + bearer;
    }
  }
};

struct RoleCredentials {
  Credential administrator;
  Credential auditor;
  Credential release_user;
};

RoleCredentials CertificateCredentials(const TestPki& setup) {
  return {{"admin certificate", Presented(setup.admin), ""},
          {"auditor certificate", Presented(setup.auditor), ""},
          {"release-user certificate", Presented(setup.release_user), ""}};
}

RoleCredentials BearerCredentials() {
  return {{"admin token", std::nullopt, kAdminToken},
          {"oidc auditor", std::nullopt, SignOidc(OidcClaims({"vouch-auditors"}))},
          {"oidc release-user", std::nullopt, SignOidc(OidcClaims("vouch-release"))}};
}

HttpRequest RequestFor(const RouteKey& route) {
  HttpRequest request;
  request.method = route.method;
  std::string path;
  for (const std::string_view segment : SplitPath(route.pattern)) {
    path += "/";
    path += segment.front() == '{' ? "item1" : std::string(segment);
  }
  request.path = path.empty() ? "/" : path;
  request.target = request.path;
  request.request_id = "access-test";
  return request;
}

HttpResponse DispatchTo(const Router& router, HttpRequest request) {
  absl::StatusOr<HttpResponse> response = router.Dispatch(request);
  return response.ok() ? *std::move(response) : StatusResponse(response.status());
}

std::string MessageOf(const HttpResponse& response) {
  const Json body = Json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) {
    return "";
  }
  return body["error"].value("message", "");
}

bool IsAccessDenial(const HttpResponse& response) {
  return (response.status == 401 || response.status == 403) &&
         MessageOf(response).find(kAccessDenial) != std::string::npos;
}

const Credential& WrongRole(const RoleCredentials& credentials, RouteAccess access) {
  switch (access) {
    case RouteAccess::kAdministrator:
      return credentials.auditor;
    case RouteAccess::kAuditor:
      return credentials.release_user;
    default:
      return credentials.administrator;
  }
}

const Credential& RightRole(const RoleCredentials& credentials, RouteAccess access) {
  switch (access) {
    case RouteAccess::kAuditor:
      return credentials.auditor;
    case RouteAccess::kRelease:
      return credentials.release_user;
    default:
      return credentials.administrator;
  }
}

// Every registered route, with every credential kind: anonymous gets 401,
// the wrong role 403, the right role reaches the handler.
class RouteAccessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_ = new TestPki("routes");
    Config config = setup_->MakeConfig();
    config.allow_simulated_snp = true;  // registers the /simulated routes too
    service_ = Service::Open(config, "http://127.0.0.1:1").value().release();
    router_ = new Router();
    ASSERT_OK(service_->AddRoutes(*router_));
  }
  static void TearDownTestSuite() {
    delete router_;
    delete service_;
    std::filesystem::remove_all(setup_->dir);
    delete setup_;
  }

  void CheckEveryRoute(const RoleCredentials& credentials) {
    const std::vector<RouteKey> routes = router_->Routes();
    ASSERT_GT(routes.size(), 30u);
    for (const RouteKey& route : routes) {
      SCOPED_TRACE(route.method + " " + route.pattern);
      const std::optional<RouteAccess> access = FindRouteAccess(route.method, route.pattern);
      ASSERT_TRUE(access.has_value()) << "no route access table entry";

      const HttpResponse anonymous = DispatchTo(*router_, RequestFor(route));
      if (*access == RouteAccess::kPublic) {
        EXPECT_FALSE(IsAccessDenial(anonymous)) << anonymous.body;
        continue;
      }
      EXPECT_EQ(anonymous.status, 401) << anonymous.body;
      EXPECT_THAT(MessageOf(anonymous), HasSubstr(kAccessDenial));

      const Credential& wrong = WrongRole(credentials, *access);
      HttpRequest wrong_request = RequestFor(route);
      wrong.ApplyTo(wrong_request);
      const HttpResponse denied = DispatchTo(*router_, wrong_request);
      EXPECT_EQ(denied.status, 403) << wrong.name << ": " << denied.body;
      EXPECT_THAT(MessageOf(denied), HasSubstr(kAccessDenial)) << wrong.name;

      const Credential& right = RightRole(credentials, *access);
      HttpRequest right_request = RequestFor(route);
      right.ApplyTo(right_request);
      const HttpResponse allowed = DispatchTo(*router_, right_request);
      EXPECT_NE(allowed.status, 401) << right.name << ": " << allowed.body;
      EXPECT_FALSE(IsAccessDenial(allowed)) << right.name << ": " << allowed.body;
    }
  }

  static TestPki* setup_;
  static Service* service_;
  static Router* router_;
};

TestPki* RouteAccessTest::setup_ = nullptr;
Service* RouteAccessTest::service_ = nullptr;
Router* RouteAccessTest::router_ = nullptr;

TEST_F(RouteAccessTest, EveryRouteWithCertificates) {
  CheckEveryRoute(CertificateCredentials(*setup_));
}

TEST_F(RouteAccessTest, EveryRouteWithBearerTokens) { CheckEveryRoute(BearerCredentials()); }

TEST_F(RouteAccessTest, PublicRoutesAreListed) {
  for (const std::string_view pattern :
       {"/certs", "/.well-known/openid-configuration", "/healthz", "/attest/SevSnpVm",
        "/attest/TdxVm", "/attest/SgxEnclave", "/attest/AzureGuest"}) {
    const std::string_view method = pattern.starts_with("/attest") ? "POST" : "GET";
    EXPECT_EQ(FindRouteAccess(method, pattern), RouteAccess::kPublic) << pattern;
  }
  EXPECT_EQ(FindRouteAccess("POST", "/challenge"), RouteAccess::kPublic);
}

TEST_F(RouteAccessTest, UnmappedCertificateGets403) {
  HttpRequest request = RequestFor({"GET", "/keys"});
  request.client_certificate = Presented(setup_->unmapped);
  const HttpResponse response = DispatchTo(*router_, request);
  EXPECT_EQ(response.status, 403);
  EXPECT_THAT(MessageOf(response), HasSubstr("the credential has no role"));
}

TEST_F(RouteAccessTest, InvalidBearerGets401WithChallenge) {
  HttpRequest request = RequestFor({"GET", "/keys"});
  request.headers["authorization"] = "Bearer not-the-admin-token";
  const HttpResponse response = DispatchTo(*router_, request);
  EXPECT_EQ(response.status, 401);
  EXPECT_THAT(MessageOf(response), HasSubstr("not the admin token"));
  bool has_challenge = false;
  for (const auto& [name, value] : response.headers) {
    has_challenge |= name == "WWW-Authenticate" && value == "Bearer";
  }
  EXPECT_TRUE(has_challenge);
}

TEST(RouteAccessTableTest, RouteWithoutEntryFailsInstall) {
  Router router;
  ASSERT_OK(router.Add("GET", "/healthz", [](const HttpRequest&) {
    return absl::StatusOr<HttpResponse>(JsonResponse(200, {}));
  }));
  ASSERT_OK(router.Add("GET", "/unlisted", [](const HttpRequest&) {
    return absl::StatusOr<HttpResponse>(JsonResponse(200, {}));
  }));
  std::shared_ptr<const Authorizer> authorizer = Authorizer::Create({}).value();
  EXPECT_THAT(InstallAccessControl(router, authorizer),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("GET /unlisted")));
}

TEST(RouteAccessTableTest, RouteAddedAfterInstallGets500) {
  Router router;
  std::shared_ptr<const Authorizer> authorizer = Authorizer::Create({}).value();
  ASSERT_OK(InstallAccessControl(router, authorizer));
  ASSERT_OK(router.Add("GET", "/later", [](const HttpRequest&) {
    return absl::StatusOr<HttpResponse>(JsonResponse(200, {}));
  }));
  EXPECT_EQ(DispatchTo(router, RequestFor({"GET", "/later"})).status, 500);
}

TEST(RouteAccessTableTest, ReleaseIsOpenByDefault) {
  AccessOptions options;
  options.admin_token_sha256 = HashAdminToken(kAdminToken);
  const std::unique_ptr<Authorizer> by_token = Authorizer::Create(options).value();
  EXPECT_FALSE(by_token->Check(HttpRequest{}, RouteAccess::kRelease, absl::Now()).has_value());

  options.release_requires_role = true;
  const std::unique_ptr<Authorizer> by_role = Authorizer::Create(options).value();
  const std::optional<HttpResponse> denied =
      by_role->Check(HttpRequest{}, RouteAccess::kRelease, absl::Now());
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->status, 401);
}

// Bearer tokens an attacker can make: each is rejected with a message that
// names the failed check.
class BearerForgeryTest : public ::testing::Test {
 protected:
  BearerForgeryTest() {
    AccessOptions options;
    options.oidc_issuer = kOidcIssuer;
    options.oidc_jwks = OidcJwks();
    options.oidc_audience = kOidcAudience;
    options.oidc_claim_roles["vouch-admins"] = {Role::kAdministrator};
    authorizer_ = Authorizer::Create(std::move(options)).value();
  }

  void ExpectRejected(const std::string& token, std::string_view reason) {
    HttpRequest request;
    request.headers["authorization"] = "Bearer " + token;
    EXPECT_THAT(authorizer_->Authenticate(request, absl::Now()),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr(reason)));
    const std::optional<HttpResponse> response =
        authorizer_->Check(request, RouteAccess::kAdministrator, absl::Now());
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 401);
  }

  std::unique_ptr<Authorizer> authorizer_;
};

TEST_F(BearerForgeryTest, ValidTokenGetsRole) {
  HttpRequest request;
  request.headers["authorization"] = "Bearer " + SignOidc(OidcClaims({"vouch-admins"}));
  ASSERT_OK_AND_ASSIGN(const Principal principal, authorizer_->Authenticate(request, absl::Now()));
  EXPECT_TRUE(principal.roles.contains(Role::kAdministrator));
  EXPECT_THAT(principal.credential, HasSubstr("user-1"));
}

TEST_F(BearerForgeryTest, RejectsAlgNone) {
  const Json header = {{"alg", "none"}, {"kid", kOidcKid}, {"typ", "JWT"}};
  ExpectRejected(B64(header.dump()) + "." + B64(OidcClaims({"vouch-admins"}).dump()) + ".",
                 "alg \"none\" is never accepted");
}

TEST_F(BearerForgeryTest, RejectsHmacWithPublicKey) {
  const std::string public_pem = crypto::PublicKeyToPem(OidcKey()).value();
  const Json header = {{"alg", "HS256"}, {"kid", kOidcKid}, {"typ", "JWT"}};
  const std::string input =
      B64(header.dump()) + "." + B64(OidcClaims({"vouch-admins"}).dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  ASSERT_NE(HMAC(EVP_sha256(), public_pem.data(), static_cast<int>(public_pem.size()),
                 AsBytes(input).data(), input.size(), mac, &mac_size),
            nullptr);
  ExpectRejected(input + "." + Base64UrlEncode(ByteSpan(mac, mac_size)),
                 "alg \"HS256\" is never accepted");
}

TEST_F(BearerForgeryTest, RejectsEmbeddedKeyHeaders) {
  const Json attacker_jwk = crypto::PublicKeyToJwk(AttackerKey()).value();
  const Json claims = OidcClaims({"vouch-admins"});
  ExpectRejected(SignOidc(claims, {{"jwk", attacker_jwk}}, AttackerKey()),
                 "header member \"jwk\" is not accepted");
  ExpectRejected(SignOidc(claims, {{"x5u", "https://attacker.test/cert.pem"}}, AttackerKey()),
                 "header member \"x5u\" is not accepted");
  ExpectRejected(SignOidc(claims, {{"x5c", Json::array({"MIIB"})}}, AttackerKey()),
                 "header member \"x5c\" is not accepted");
  ExpectRejected(SignOidc(claims, {{"jku", "https://attacker.test/jwks"}}, AttackerKey()),
                 "jku \"https://attacker.test/jwks\" is not the trusted authority's");
}

TEST_F(BearerForgeryTest, RejectsExpired) {
  Json claims = OidcClaims({"vouch-admins"});
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  claims["iat"] = now - 600;
  claims["nbf"] = now - 600;
  claims["exp"] = now - 120;
  ExpectRejected(SignOidc(claims), "expired at");
}

TEST_F(BearerForgeryTest, RejectsNotYetValid) {
  Json claims = OidcClaims({"vouch-admins"});
  claims["nbf"] = absl::ToUnixSeconds(absl::Now()) + 120;
  ExpectRejected(SignOidc(claims), "not valid before");
}

TEST_F(BearerForgeryTest, RejectsUntrustedIssuer) {
  Json claims = OidcClaims({"vouch-admins"});
  claims["iss"] = "https://attacker.test";
  ExpectRejected(SignOidc(claims, Json::object(), AttackerKey()),
                 "issuer \"https://attacker.test\" is not a trusted authority");
}

TEST_F(BearerForgeryTest, RejectsWrongAudience) {
  Json claims = OidcClaims({"vouch-admins"});
  claims["aud"] = "api://another-service";
  ExpectRejected(SignOidc(claims), "want one of api://vouch");
  claims.erase("aud");
  ExpectRejected(SignOidc(claims), "missing aud");
}

TEST_F(BearerForgeryTest, RejectsTokenOfAnotherKey) {
  // The attacker keeps the trusted kid but signs with a key of its own.
  ExpectRejected(SignOidc(OidcClaims({"vouch-admins"}), Json::object(), AttackerKey()),
                 "signature");
  ExpectRejected(SignOidc(OidcClaims({"vouch-admins"}), {{"kid", "attacker"}}, AttackerKey()),
                 "kid \"attacker\" is not in the JWKS");
}

TEST_F(BearerForgeryTest, RejectsTamperedPayload) {
  const std::string token = SignOidc(OidcClaims({"vouch-auditors"}));
  const size_t first_dot = token.find('.');
  const size_t second_dot = token.find('.', first_dot + 1);
  const std::string tampered = token.substr(0, first_dot + 1) +
                               B64(OidcClaims({"vouch-admins"}).dump()) +
                               token.substr(second_dot);
  ExpectRejected(tampered, "signature");
}

TEST(RolesFileTest, RejectsMalformedEntries) {
  const Json bad[] = {
      Json::array(),
      {{"users", Json::array()}},
      {{"certificates", {{{"subject", "CN=a"}, {"roles", {"root"}}}}}},
      {{"certificates", {{{"subject", "CN=a"}, {"sha256", std::string(64, 'a')},
                          {"roles", {"auditor"}}}}}},
      {{"certificates", {{{"sha256", "abc"}, {"roles", {"auditor"}}}}}},
      {{"certificates", {{{"subject", "CN=a"}, {"roles", Json::array()}}}}},
      {{"oidc_claims", {{"admins", "administrator"}}}},
  };
  for (const Json& json : bad) {
    AccessOptions options;
    EXPECT_THAT(ParseRolesFile(json, options), StatusIs(absl::StatusCode::kInvalidArgument))
        << json.dump();
  }
}

// Unsafe configurations: rejected by default, warned about in development.
class UnsafeConfigTest : public ::testing::Test {
 protected:
  UnsafeConfigTest() : dir_(TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name())) {}
  ~UnsafeConfigTest() override { std::filesystem::remove_all(dir_); }

  Config SafeConfig() const {
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = dir_ + "/data";
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    return config;
  }

  absl::StatusOr<std::vector<std::string>> Check(const Config& config) {
    std::unique_ptr<Authorizer> authorizer =
        Authorizer::Create(LoadAccessOptions(config).value()).value();
    return CheckUnsafeConfig(config, *authorizer);
  }

  std::string dir_;
};

TEST_F(UnsafeConfigTest, SafeConfigHasNoWarnings) {
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> warnings, Check(SafeConfig()));
  EXPECT_TRUE(warnings.empty());
}

TEST_F(UnsafeConfigTest, RejectsNoAdminCredential) {
  Config config = SafeConfig();
  config.admin_token_sha256.clear();
  EXPECT_THAT(Server::Start(config), StatusIs(absl::StatusCode::kFailedPrecondition,
                                              HasSubstr("no admin credential")));
  // A roles file that maps a certificate to administrator is an admin credential.
  const Json roles = {{"certificates",
                       {{{"subject", "CN=ops"}, {"roles", {"administrator", "auditor"}}}}}};
  WriteText(dir_ + "/roles.json", roles.dump());
  config.roles_file = dir_ + "/roles.json";
  EXPECT_OK(Check(config).status());
}

TEST_F(UnsafeConfigTest, RejectsSimulatedEvidenceOnNonLoopback) {
  Config config = SafeConfig();
  config.listen = "192.0.2.10:8443";  // Checked only, never bound.
  config.tls_cert_file = dir_ + "/absent.pem";
  config.tls_key_file = dir_ + "/absent.key";
  config.allow_simulated_snp = true;
  EXPECT_THAT(Check(config), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      HasSubstr("simulated evidence is allowed")));
  config.listen = "[::1]:8443";
  EXPECT_OK(Check(config).status());
}

TEST_F(UnsafeConfigTest, RejectsPlainHttpOnNonLoopback) {
  Config config = SafeConfig();
  config.listen = "192.0.2.10:8443";
  EXPECT_THAT(Check(config),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("plain HTTP")));
}

TEST_F(UnsafeConfigTest, RejectsReadableRootKey) {
  Config config = SafeConfig();
  std::filesystem::create_directories(config.data_dir);
  WriteText(config.data_dir + "/root.key", std::string(32, 'k'), 0644);
  EXPECT_THAT(Server::Start(config), StatusIs(absl::StatusCode::kFailedPrecondition,
                                              HasSubstr("chmod 600")));
  ::chmod((config.data_dir + "/root.key").c_str(), 0600);
  EXPECT_OK(Check(config).status());
}

TEST_F(UnsafeConfigTest, RejectsReadableTlsKey) {
  Config config = SafeConfig();
  config.tls_cert_file = dir_ + "/server.pem";
  config.tls_key_file = dir_ + "/server.key";
  WriteText(config.tls_key_file, "key", 0640);
  EXPECT_THAT(Check(config),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("TLS key")));
}

TEST_F(UnsafeConfigTest, DevelopmentWarnsForEachRelaxedRule) {
  Config config = SafeConfig();
  config.admin_token_sha256.clear();
  config.listen = "192.0.2.10:8443";
  config.allow_simulated_snp = true;
  config.development = true;
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> warnings, Check(config));
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_THAT(warnings[0], HasSubstr("no admin credential"));
  EXPECT_THAT(warnings[1], HasSubstr("simulated evidence"));
  EXPECT_THAT(warnings[2], HasSubstr("plain HTTP"));
}

TEST_F(UnsafeConfigTest, DevelopmentServerStartsWithoutAdminCredential) {
  Config config = SafeConfig();
  config.admin_token_sha256.clear();
  config.development = true;
  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Server> server, Server::Start(config));
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse keys,
                       testing::Call(server->port(), "GET", "/keys"));
  EXPECT_EQ(keys.status, 401);
}

// A real server with TLS, client certificates, OIDC and the admin token.
class MutualTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_ = new TestPki("tls");
    Config config = setup_->MakeConfig();
    config.tls_cert_file = setup_->server.cert_file;
    config.tls_key_file = setup_->server.key_file;
    config.tls_client_ca_file = setup_->ca.cert_file;
    server_ = Server::Start(config).value().release();
  }
  static void TearDownTestSuite() {
    delete server_;
    std::filesystem::remove_all(setup_->dir);
    delete setup_;
  }

  static absl::StatusOr<testing::ClientResponse> Get(const Identity* client,
                                                     std::string_view target,
                                                     const testing::Headers& headers = {}) {
    absl::StatusOr<std::unique_ptr<testing::TestConnection>> connection =
        client == nullptr
            ? testing::TestConnection::ConnectTls(server_->port(), setup_->ca.cert_file)
            : testing::TestConnection::ConnectMutualTls(server_->port(), setup_->ca.cert_file,
                                                         client->cert_file, client->key_file);
    if (!connection.ok()) {
      return connection.status();
    }
    return (*connection)->Request("GET", target, "", headers);
  }

  static TestPki* setup_;
  static Server* server_;
};

TestPki* MutualTlsTest::setup_ = nullptr;
Server* MutualTlsTest::server_ = nullptr;

TEST_F(MutualTlsTest, AdminCertificateManagesKeys) {
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse keys, Get(&setup_->admin, "/keys"));
  EXPECT_EQ(keys.status, 200) << keys.body;
}

TEST_F(MutualTlsTest, AuditorCertificateReadsOnlyAudit) {
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse keys, Get(&setup_->auditor, "/keys"));
  EXPECT_EQ(keys.status, 403) << keys.body;
  EXPECT_THAT(keys.ErrorMessage(), HasSubstr("the credential has auditor"));
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse audit, Get(&setup_->auditor, "/audit"));
  EXPECT_EQ(audit.status, 200) << audit.body;
}

TEST_F(MutualTlsTest, NoCertificateIsAnonymous) {
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse keys, Get(nullptr, "/keys"));
  EXPECT_EQ(keys.status, 401) << keys.body;
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse health, Get(nullptr, "/healthz"));
  EXPECT_EQ(health.status, 200);
}

TEST_F(MutualTlsTest, ReleaseNeedsReleaseUserRole) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<testing::TestConnection> anonymous,
                       testing::TestConnection::ConnectTls(server_->port(), setup_->ca.cert_file));
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse refused,
                       anonymous->Request("POST", "/keys/absent/release", R"({"target":"x"})"));
  EXPECT_EQ(refused.status, 401) << refused.body;

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<testing::TestConnection> release_user,
                       testing::TestConnection::ConnectMutualTls(
                           server_->port(), setup_->ca.cert_file, setup_->release_user.cert_file,
                           setup_->release_user.key_file));
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse reached,
                       release_user->Request("POST", "/keys/absent/release", R"({"target":"x"})"));
  // The broker, not access control, refuses: the attestation token is invalid.
  EXPECT_THAT(reached.ErrorMessage(), Not(HasSubstr(kAccessDenial))) << reached.body;
  EXPECT_THAT(reached.ErrorMessage(), HasSubstr("token")) << reached.body;
}

// RunVouch runs the built `vouch` binary with `args` and returns its exit
// status and output (stdout and stderr).
std::pair<int, std::string> RunVouch(const std::string& args) {
  const std::string command =
      std::string(VOUCH_BINARY_DIR) + "/src/vouch/cli/vouch " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {-1, "popen failed"};
  }
  std::string output;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// The CLI's admin commands use a client certificate alone, without the
// admin token, and the server applies that certificate's role.
TEST_F(MutualTlsTest, CliUsesClientCertificateWithoutAdminToken) {
  ::unsetenv("VOUCH_ADMIN_TOKEN");
  const std::string common = fmt::format("keys list --server https://127.0.0.1:{} --ca-cert {}",
                                         server_->port(), setup_->ca.cert_file);
  const auto [admin_status, admin_output] =
      RunVouch(fmt::format("{} --client-cert {} --client-key {}", common, setup_->admin.cert_file,
                           setup_->admin.key_file));
  EXPECT_EQ(admin_status, 0) << admin_output;

  const auto [auditor_status, auditor_output] =
      RunVouch(fmt::format("{} --client-cert {} --client-key {}", common,
                           setup_->auditor.cert_file, setup_->auditor.key_file));
  EXPECT_NE(auditor_status, 0) << auditor_output;
  EXPECT_THAT(auditor_output, HasSubstr("auditor"));

  const auto [anonymous_status, anonymous_output] = RunVouch(common);
  EXPECT_EQ(anonymous_status, 2) << anonymous_output;
  EXPECT_THAT(anonymous_output, HasSubstr("admin token missing"));
}

TEST_F(MutualTlsTest, CertificateOfUntrustedCaFailsHandshake) {
  const Identity other_ca = Issue(setup_->dir, "other-ca", nullptr);
  const Identity stranger = Issue(setup_->dir, "stranger", &other_ca);
  EXPECT_FALSE(Get(&stranger, "/healthz").ok());
}

TEST_F(MutualTlsTest, OidcBearerOverTls) {
  const testing::Headers admin = {
      {"Authorization", "Bearer " + SignOidc(OidcClaims({"vouch-admins"}))}};
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse keys, Get(nullptr, "/keys", admin));
  EXPECT_EQ(keys.status, 200) << keys.body;

  const Json none_header = {{"alg", "none"}, {"kid", kOidcKid}};
  const testing::Headers forged = {
      {"Authorization", "Bearer " + B64(none_header.dump()) + "." +
                            B64(OidcClaims({"vouch-admins"}).dump()) + "."}};
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse refused, Get(nullptr, "/keys", forged));
  EXPECT_EQ(refused.status, 401);
  EXPECT_THAT(refused.ErrorMessage(), HasSubstr("never accepted"));
}

TEST(MutualTlsRequiredTest, ConnectionWithoutCertificateFails) {
  const TestPki setup("tls_required");
  Config config = setup.MakeConfig();
  config.tls_cert_file = setup.server.cert_file;
  config.tls_key_file = setup.server.key_file;
  config.tls_client_ca_file = setup.ca.cert_file;
  config.require_client_certificate = true;
  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Server> server, Server::Start(config));

  absl::StatusOr<std::unique_ptr<testing::TestConnection>> anonymous =
      testing::TestConnection::ConnectTls(server->port(), setup.ca.cert_file);
  if (anonymous.ok()) {
    // With TLS 1.3 the client learns of the rejection at its first read.
    EXPECT_FALSE((*anonymous)->Request("GET", "/healthz").ok());
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<testing::TestConnection> admin,
                       testing::TestConnection::ConnectMutualTls(
                           server->port(), setup.ca.cert_file, setup.admin.cert_file,
                           setup.admin.key_file));
  ASSERT_OK_AND_ASSIGN(const testing::ClientResponse keys, admin->Request("GET", "/keys"));
  EXPECT_EQ(keys.status, 200) << keys.body;
  std::filesystem::remove_all(setup.dir);
}

}  // namespace
}  // namespace vouch::server
