// Two running nodes on one SQLite store follow a token signing-key rotation
// without a restart (signing_key_set.h).
#include "vouch/server/signing_key_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/server.h"
#include "vouch/server/service.h"
#include "vouch/server/signing_keys.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/token/issuer.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/snp/simulated.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::ElementsAre;
using testing::Call;
using testing::ClientResponse;
using testing::Headers;

constexpr char kAdminToken[] = "signing-key-reload-test-admin-token";
// Shared by both nodes, so that each accepts the other's tokens. Never contacted.
constexpr char kIssuer[] = "http://vouch.test";

Headers AdminHeaders() { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

// KidOfToken returns the "kid" of a JWT's header, or "".
std::string KidOfToken(const std::string& token) {
  absl::StatusOr<Bytes> header = Base64UrlDecode(token.substr(0, token.find('.')));
  if (!header.ok()) {
    return "";
  }
  const nlohmann::json json = nlohmann::json::parse(ToString(*header), nullptr, false);
  return json.is_object() ? json.value("kid", "") : "";
}

std::vector<std::string> JwksKids(const ClientResponse& response) {
  std::vector<std::string> kids;
  for (const nlohmann::json& key : response.Json().value("keys", nlohmann::json::array())) {
    kids.push_back(key.value("kid", ""));
  }
  return kids;
}

// Deployment is a data folder that every node of a test shares: one SQLite
// store, one root key and one simulated SEV-SNP chain.
class Deployment {
 public:
  explicit Deployment(const std::string& name)
      : data_dir_(::testing::TempDir() + "/vouch_signing_key_reload_test_" + name + "_" +
                  std::to_string(getpid())) {
    std::filesystem::remove_all(data_dir_);
    // The simulated chain that the server tests make once per build folder
    // (service_test.cc), because making its RSA-4096 keys takes seconds.
    const std::string cache = std::string(VOUCH_BINARY_DIR) + "/server_test_simulated_snp";
    const std::string chain_dir = data_dir_ + "/" + kSimulatedSnpDir;
    VOUCH_CHECK(snp::CopySimulatedSnp(cache, chain_dir).ok());
    std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all);
  }
  ~Deployment() { std::filesystem::remove_all(data_dir_); }

  const std::string& data_dir() const { return data_dir_; }

 private:
  std::string data_dir_;
};

// Node is one in-process server of a Deployment.
class Node {
 public:
  static std::unique_ptr<Node> Start(const Deployment& deployment, absl::Duration reload_interval) {
    Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = deployment.data_dir();
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    config.allow_simulated_snp = true;
    config.issuer = kIssuer;
    config.signing_key_reload_interval = reload_interval;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
    EXPECT_OK(server.status());
    if (!server.ok()) {
      return nullptr;
    }
    std::unique_ptr<Node> node(new Node());
    node->server_ = *std::move(server);
    node->runtime_data_ = GuestRuntimeData();
    return node;
  }

  Service& service() { return server_->service(); }

  std::string Attest() const {
    Bytes report_data = crypto::Sha256(AsBytes(runtime_data_));
    report_data.resize(64, 0);
    const snp::SimulatedSnp& platform = *server_->service().simulated();
    absl::StatusOr<Bytes> report = platform.GetReport(report_data);
    VOUCH_CHECK(report.ok());
    std::string chain;
    for (const crypto::Certificate& cert : platform.Certificates()) {
      chain += cert.Pem();
    }
    const nlohmann::json request = AttestRequestJson(*report, chain, AsBytes(runtime_data_));
    const ClientResponse response = Send("POST", "/attest/SevSnpVm", request.dump());
    EXPECT_EQ(response.status, 200) << response.body;
    return response.Json().value("token", "");
  }

  int Release(const std::string& name, const std::string& token) const {
    const ClientResponse response =
        Send("POST", "/keys/" + name + "/release", nlohmann::json({{"target", token}}).dump());
    EXPECT_TRUE(response.status == 200 || response.status == 401) << response.body;
    return response.status;
  }

  std::vector<std::string> CertsKids() const { return JwksKids(Send("GET", "/certs")); }

  ClientResponse Rotate() const {
    return Send("POST", "/signing-keys/rotate", "{}", AdminHeaders());
  }

  void CreateKey(const std::string& name) const {
    const nlohmann::json all_of = {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                                   {{"claim", "x-vouch-simulated"}, {"equals", true}}};
    const nlohmann::json policy = {
        {"version", "1.0.0"},
        {"anyOf", {{{"authority", std::string(kIssuer) + kSimulatedIssuerSuffix},
                    {"allOf", all_of}}}}};
    const nlohmann::json body = {{"attributes", {{"exportable", true}}},
                                 {"release_policy",
                                  {{"contentType", "application/json; charset=utf-8"},
                                   {"data", Base64UrlEncode(AsBytes(policy.dump()))}}}};
    const ClientResponse response = Send("PUT", "/keys/" + name, body.dump(), AdminHeaders());
    ASSERT_EQ(response.status, 200) << response.body;
  }

 private:
  Node() = default;

  static std::string GuestRuntimeData() {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateRsaKey(2048);
    VOUCH_CHECK(key.ok());
    absl::StatusOr<nlohmann::json> jwk = crypto::PublicKeyToJwk(key->get());
    VOUCH_CHECK(jwk.ok());
    (*jwk)["kid"] = "TpmEphemeralEncryptionKey";
    (*jwk)["key_ops"] = {"encrypt"};
    return nlohmann::json({{"keys", {*jwk}}, {"vm-configuration", {{"tpm", false}}}}).dump();
  }

  ClientResponse Send(const std::string& method, const std::string& path,
                      const std::string& body = "", const Headers& headers = {}) const {
    absl::StatusOr<ClientResponse> response = Call(server_->port(), method, path, body, headers);
    VOUCH_CHECK(response.ok());
    return *response;
  }

  std::unique_ptr<Server> server_;
  std::string runtime_data_;
};

// WaitForKids polls `node`'s /certs until it lists `kids`, for at most 10 s.
bool WaitForKids(const Node& node, const std::vector<std::string>& kids) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (node.CertsKids() == kids) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// Node B never reloads on a timer here, so only a token with an unknown kid
// makes it read the new key set.
TEST(SigningKeyReloadTest, UnknownKidReloadsAtOnce) {
  const Deployment deployment("unknown_kid");
  std::unique_ptr<Node> a = Node::Start(deployment, absl::ZeroDuration());
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = Node::Start(deployment, absl::ZeroDuration());
  ASSERT_NE(b, nullptr);
  ASSERT_NO_FATAL_FAILURE(a->CreateKey("disk"));
  const std::string old_token = b->Attest();
  const std::string old_kid = KidOfToken(old_token);
  ASSERT_FALSE(old_kid.empty());

  const ClientResponse rotated = a->Rotate();
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string new_kid = rotated.Json().value("kid", "");
  ASSERT_NE(new_kid, old_kid);

  // The rotating node swapped its keys in place.
  EXPECT_THAT(a->CertsKids(), ElementsAre(new_kid, old_kid));
  const std::string new_token = a->Attest();
  ASSERT_EQ(KidOfToken(new_token), new_kid);
  EXPECT_THAT(b->CertsKids(), ElementsAre(old_kid));

  EXPECT_EQ(b->Release("disk", new_token), 200);
  EXPECT_THAT(b->CertsKids(), ElementsAre(new_kid, old_kid));
  EXPECT_EQ(KidOfToken(b->Attest()), new_kid);
  EXPECT_EQ(a->Release("disk", old_token), 200);
  EXPECT_EQ(b->Release("disk", old_token), 200);
}

TEST(SigningKeyReloadTest, PeriodicReloadFollowsRotation) {
  const Deployment deployment("periodic");
  std::unique_ptr<Node> a = Node::Start(deployment, absl::ZeroDuration());
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = Node::Start(deployment, absl::Milliseconds(200));
  ASSERT_NE(b, nullptr);
  ASSERT_NO_FATAL_FAILURE(a->CreateKey("disk"));
  const std::string old_token = a->Attest();
  const std::string old_kid = KidOfToken(old_token);

  const ClientResponse rotated = a->Rotate();
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string new_kid = rotated.Json().value("kid", "");

  ASSERT_TRUE(WaitForKids(*b, {new_kid, old_kid}));
  EXPECT_EQ(b->service().signing_keys()->issuer->kid(), new_kid);
  EXPECT_EQ(KidOfToken(b->Attest()), new_kid);
  EXPECT_EQ(b->Release("disk", old_token), 200);
  EXPECT_EQ(b->Release("disk", a->Attest()), 200);
  EXPECT_EQ(a->Release("disk", b->Attest()), 200);
}

// A node whose periodic reload fails keeps its keys: it still issues
// tokens and releases keys, and it picks up the keys once the store is
// readable again.
TEST(SigningKeyReloadTest, FailedReloadKeepsServing) {
  const Deployment deployment("failed");
  std::unique_ptr<Node> a = Node::Start(deployment, absl::ZeroDuration());
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = Node::Start(deployment, absl::Milliseconds(100));
  ASSERT_NE(b, nullptr);
  ASSERT_NO_FATAL_FAILURE(a->CreateKey("disk"));
  const std::string kid = b->service().signing_keys()->issuer->kid();

  store::Store& store = a->service().store();
  ASSERT_OK(store.PutBlob(kPreviousSigningKeysBlob, AsBytes(std::string("not json"))));
  // Several reload periods of B pass with the blob unreadable.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_THAT(b->CertsKids(), ElementsAre(kid));
  const std::string token = b->Attest();
  EXPECT_EQ(KidOfToken(token), kid);
  EXPECT_EQ(b->Release("disk", token), 200);

  ASSERT_OK(store.DeleteBlob(kPreviousSigningKeysBlob));
  const ClientResponse rotated = a->Rotate();
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string new_kid = rotated.Json().value("kid", "");
  EXPECT_TRUE(WaitForKids(*b, {new_kid, kid}));
}

// Reload reports the error and keeps the snapshot when the signing key
// blob is missing or unreadable.
TEST(SigningKeyReloadTest, ReloadErrorKeepsSnapshot) {
  const Deployment deployment("reload_error");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                       store::SqliteStore::Open(deployment.data_dir() + "/" + kDatabaseFile));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<keystore::SoftwareKeyStore> keystore,
                       keystore::SoftwareKeyStore::OpenOrCreate(deployment.data_dir() + "/" +
                                                                kRootKeyFile));
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> key, GenerateSigningKey(SigningKeyType::kEcP256));
  SigningKeySetOptions options;
  options.issuer.issuer = kIssuer;
  options.reload_interval = absl::ZeroDuration();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SigningKeySet> keys,
                       SigningKeySet::Create(store.get(), keystore.get(), std::move(key), options));
  const std::shared_ptr<const SigningKeySnapshot> first = keys->Snapshot();

  // No kSigningKeyBlob in the store.
  EXPECT_THAT(keys->Reload(),
              ::vouch::testing::StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(keys->Snapshot(), first);

  ASSERT_OK(store->PutBlob(kSigningKeyBlob, AsBytes(std::string("not sealed"))));
  EXPECT_FALSE(keys->Reload().ok());
  EXPECT_EQ(keys->Snapshot(), first);
  EXPECT_EQ(keys->Current().signing_key, first->issuer->signing_key());
}

// A second unknown kid within min_unknown_kid_interval does not reload.
TEST(SigningKeyReloadTest, UnknownKidReloadIsRateLimited) {
  const Deployment deployment("rate_limit");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                       store::SqliteStore::Open(deployment.data_dir() + "/" + kDatabaseFile));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<keystore::SoftwareKeyStore> keystore,
                       keystore::SoftwareKeyStore::OpenOrCreate(deployment.data_dir() + "/" +
                                                                kRootKeyFile));
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> key, GenerateSigningKey(SigningKeyType::kEcP256));
  ASSERT_OK_AND_ASSIGN(const SecretBytes pem, crypto::PrivateKeyToPem(key.get()));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->Seal(pem, kSigningKeyBlob));
  ASSERT_OK(store->PutBlob(kSigningKeyBlob, sealed));
  SigningKeySetOptions options;
  options.issuer.issuer = kIssuer;
  options.reload_interval = absl::ZeroDuration();
  options.min_unknown_kid_interval = absl::Hours(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SigningKeySet> keys,
                       SigningKeySet::Create(store.get(), keystore.get(), std::move(key), options));

  // Tokens that name this node's issuer but carry a kid it does not know.
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> stranger,
                       GenerateSigningKey(SigningKeyType::kEcP256));
  token::TokenIssuerOptions stranger_options;
  stranger_options.issuer = kIssuer;
  ASSERT_OK_AND_ASSIGN(const token::TokenIssuer stranger_issuer,
                       token::TokenIssuer::Create(std::move(stranger), stranger_options));
  ASSERT_OK_AND_ASSIGN(const std::string unknown_kid,
                       stranger_issuer.Issue(nlohmann::json::object(), absl::Now()));

  // The first unknown kid reloads and picks up a rotation.
  const std::shared_ptr<const SigningKeySnapshot> original = keys->Snapshot();
  ASSERT_OK(RotateSigningKey(*store, *keystore, "test").status());
  EXPECT_TRUE(keys->ReloadForToken(unknown_kid, keys->Current()).has_value());
  const std::shared_ptr<const SigningKeySnapshot> first = keys->Snapshot();
  EXPECT_NE(first, original);

  // The second, within the interval, does not, even after another rotation.
  ASSERT_OK(RotateSigningKey(*store, *keystore, "test").status());
  EXPECT_FALSE(keys->ReloadForToken(unknown_kid, keys->Current()).has_value());
  EXPECT_EQ(keys->Snapshot(), first);

  // An explicit reload still follows.
  ASSERT_OK(keys->Reload());
  EXPECT_NE(keys->Snapshot(), first);
}

// The unknown-kid reload runs only for tokens of this node's issuers.
TEST(SigningKeyReloadTest, ForeignTokenDoesNotReload) {
  const Deployment deployment("foreign");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                       store::SqliteStore::Open(deployment.data_dir() + "/" + kDatabaseFile));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<keystore::SoftwareKeyStore> keystore,
                       keystore::SoftwareKeyStore::OpenOrCreate(deployment.data_dir() + "/" +
                                                                kRootKeyFile));
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> key, GenerateSigningKey(SigningKeyType::kEcP256));
  SigningKeySetOptions options;
  options.issuer.issuer = kIssuer;
  options.reload_interval = absl::ZeroDuration();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SigningKeySet> keys,
                       SigningKeySet::Create(store.get(), keystore.get(), std::move(key), options));

  // A token of another issuer, signed by a key that is not in this node's JWKS.
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> other, GenerateSigningKey(SigningKeyType::kEcP256));
  token::TokenIssuerOptions other_options;
  other_options.issuer = "http://other.test";
  ASSERT_OK_AND_ASSIGN(const token::TokenIssuer other_issuer,
                       token::TokenIssuer::Create(std::move(other), other_options));
  ASSERT_OK_AND_ASSIGN(const std::string foreign,
                       other_issuer.Issue(nlohmann::json::object(), absl::Now()));
  EXPECT_FALSE(keys->ReloadForToken(foreign, keys->Current()).has_value());
  EXPECT_FALSE(keys->ReloadForToken("not.a.jwt", keys->Current()).has_value());
}

}  // namespace
}  // namespace vouch::server
