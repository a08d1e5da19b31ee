// The key lifecycle, settings and audit routes over loopback HTTP: status
// codes, error shapes, and the signed audit head written at shutdown.
#include "vouch/server/key_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "vouch/base/status.h"
#include "vouch/broker/audit_head.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::HasSubstr;
using testing::Call;
using testing::ClientResponse;
using testing::Headers;
using Json = nlohmann::json;

constexpr char kAdminToken[] = "key-routes-test-admin-token";

Json SnpPolicy(const std::string& authority) {
  return {{"version", "1.0.0"},
          {"anyOf",
           {{{"authority", authority},
             {"allOf", {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}}}}}}}};
}

class KeyRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/vouch_key_routes_test_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = dir_;
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    config.key_recovery_days = 7;
    ASSERT_OK_AND_ASSIGN(server_, Server::Start(config));
  }

  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  ClientResponse Admin(std::string_view method, std::string_view target, const Json& body = {}) {
    absl::StatusOr<ClientResponse> response =
        Call(server_->port(), method, target, body.is_null() ? "" : body.dump(),
             Headers{{"Authorization", std::string("Bearer ") + kAdminToken}});
    VOUCH_CHECK(response.ok());
    return *response;
  }

  static std::string VersionOf(const ClientResponse& response) {
    const std::string kid = response.Json()["key"]["kid"].get<std::string>();
    return kid.substr(kid.rfind('/') + 1);
  }

  std::string dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(KeyRoutesTest, CreateRotateListAndUpdate) {
  const ClientResponse created = Admin("PUT", "/keys/k", {{"kty", "EC-HSM"}, {"crv", "P-384"}});
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.Json()["key"]["crv"], "P-384");
  EXPECT_EQ(created.Json()["attributes"]["recoverableDays"], 7);
  const std::string first = VersionOf(created);

  const ClientResponse bad = Admin("PUT", "/keys/k", {{"kty", "RSA-HSM"}, {"key_size", 1024}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.ErrorMessage(), HasSubstr("want 2048, 3072 or 4096"));
  const absl::StatusOr<ClientResponse> anonymous = Call(server_->port(), "PUT", "/keys/k", "{}");
  ASSERT_OK(anonymous.status());
  EXPECT_EQ(anonymous->status, 401);

  const ClientResponse rotated = Admin("POST", "/keys/k/rotate");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_NE(VersionOf(rotated), first);
  EXPECT_EQ(Admin("POST", "/keys/absent/rotate").status, 404);

  EXPECT_EQ(Admin("GET", "/keys").Json()["value"].size(), 1u);
  EXPECT_EQ(Admin("GET", "/keys/k/versions").Json()["value"].size(), 2u);
  EXPECT_EQ(VersionOf(Admin("GET", "/keys/k")), VersionOf(rotated));

  const ClientResponse disabled = Admin("PATCH", "/keys/k/" + first, {{"enabled", false}});
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_EQ(disabled.Json()["attributes"]["enabled"], false);
  const ClientResponse enabled =
      Admin("POST", "/keys/k/" + first + "/attributes", {{"attributes", {{"enabled", true}}}});
  EXPECT_EQ(enabled.Json()["attributes"]["enabled"], true);
  EXPECT_EQ(Admin("PATCH", "/keys/k/" + first, {{"enabled", "no"}}).status, 400);
  EXPECT_EQ(Admin("PATCH", "/keys/k/" + std::string(32, 'a'), {{"enabled", true}}).status, 404);
  EXPECT_EQ(Admin("GET", "/keys/missing").ErrorCode(), "KeyNotFound");
}

TEST_F(KeyRoutesTest, ReleasePolicyRoutes) {
  const std::string version = VersionOf(Admin("PUT", "/keys/k", Json::object()));
  const std::string path = "/keys/k/" + version + "/releasepolicy";
  const ClientResponse none = Admin("GET", path);
  EXPECT_EQ(none.status, 404);
  EXPECT_THAT(none.ErrorMessage(), HasSubstr("has no release policy"));

  const Json envelope = {{"contentType", "application/json; charset=utf-8"},
                         {"data", Base64UrlEncode(AsBytes(SnpPolicy(server_->issuer()).dump()))},
                         {"immutable", true}};
  const ClientResponse set = Admin("PUT", path, envelope);
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Json()["immutable"], true);
  EXPECT_EQ(Admin("GET", path).Json()["data"], envelope["data"]);
  const ClientResponse refused = Admin("PUT", path, SnpPolicy(server_->issuer()));
  EXPECT_EQ(refused.status, 409);
  EXPECT_THAT(refused.ErrorMessage(), HasSubstr("immutable"));
  EXPECT_EQ(Admin("PUT", path, {{"anyOf", 3}}).status, 400);
}

TEST_F(KeyRoutesTest, DeleteRecoverPurgeAndProtection) {
  Admin("PUT", "/keys/k", Json::object());
  const ClientResponse deleted = Admin("DELETE", "/keys/k");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_THAT(deleted.Json()["recoveryId"].get<std::string>(), HasSubstr("/deletedkeys/k"));
  EXPECT_EQ(Admin("DELETE", "/keys/k").status, 409);
  EXPECT_EQ(Admin("GET", "/keys/k").status, 404);
  EXPECT_EQ(Admin("PUT", "/keys/k", Json::object()).status, 409);
  EXPECT_EQ(Admin("GET", "/deletedkeys").Json()["value"].size(), 1u);
  EXPECT_EQ(Admin("GET", "/deletedkeys/k").status, 200);
  EXPECT_EQ(Admin("POST", "/deletedkeys/k/recover").status, 200);
  EXPECT_EQ(Admin("POST", "/deletedkeys/k/recover").status, 404);
  EXPECT_EQ(Admin("GET", "/keys/k").status, 200);

  EXPECT_EQ(Admin("DELETE", "/deletedkeys/k").status, 404);
  ASSERT_EQ(Admin("DELETE", "/keys/k").status, 200);
  EXPECT_EQ(Admin("DELETE", "/deletedkeys/k").status, 204);
  EXPECT_EQ(Admin("GET", "/deletedkeys/k").status, 404);

  EXPECT_EQ(Admin("GET", "/settings/purge-protection").Json()["enabled"], false);
  EXPECT_EQ(Admin("PUT", "/settings/purge-protection", {{"enabled", true}}).status, 200);
  EXPECT_EQ(Admin("PUT", "/settings/purge-protection", {{"enabled", false}}).status, 409);
  EXPECT_EQ(Admin("PUT", "/settings/purge-protection", {{"on", true}}).status, 400);
  EXPECT_EQ(Admin("GET", "/settings/purge-protection").Json()["enabled"], true);
  Admin("PUT", "/keys/j", Json::object());
  ASSERT_EQ(Admin("DELETE", "/keys/j").status, 200);
  const ClientResponse forbidden = Admin("DELETE", "/deletedkeys/j");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_THAT(forbidden.ErrorMessage(), HasSubstr("purge protection is on"));
}

TEST_F(KeyRoutesTest, AuditQueryAndSignedHeadAtShutdown) {
  Admin("PUT", "/keys/k", Json::object());
  Admin("PUT", "/keys/k-other", Json::object());
  Admin("DELETE", "/keys/k");
  Admin("DELETE", "/keys/k");  // refused: already deleted

  const ClientResponse for_key = Admin("GET", "/audit?key=k");
  ASSERT_EQ(for_key.status, 200) << for_key.body;
  ASSERT_EQ(for_key.Json()["value"].size(), 3u);
  EXPECT_EQ(for_key.Json()["value"][0]["operation"], "key.create");
  const ClientResponse denied = Admin("GET", "/audit?outcome=denied&limit=5");
  ASSERT_EQ(denied.Json()["value"].size(), 1u);
  EXPECT_EQ(denied.Json()["value"][0]["operation"], "key.delete");
  EXPECT_EQ(Admin("GET", "/audit?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z")
                .Json()["value"]
                .size(),
            0u);
  for (const char* bad : {"/audit?limit=0", "/audit?since=yesterday", "/audit?colour=red",
                          "/audit?key=a%2Fb", "/audit?key=a&key=b"}) {
    EXPECT_EQ(Admin("GET", bad).status, 400) << bad;
  }
  const absl::StatusOr<ClientResponse> anonymous = Call(server_->port(), "GET", "/audit");
  ASSERT_OK(anonymous.status());
  EXPECT_EQ(anonymous->status, 401);

  const Json jwks = Admin("GET", "/certs").Json();
  server_.reset();  // signs a last head
  ASSERT_OK_AND_ASSIGN(auto store, store::SqliteStore::Open(dir_ + "/vouch.db"));
  ASSERT_OK_AND_ASSIGN(const auto events, store->ReadAudit(store::kAllAuditEvents));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().operation, broker::kAuditHeadOperation);
  ASSERT_OK_AND_ASSIGN(const broker::AuditLogReport report, broker::VerifyAuditLog(events, jwks));
  EXPECT_EQ(report.heads, 1);
  EXPECT_EQ(report.last_signed_sequence, report.records);
}

}  // namespace
}  // namespace vouch::server
