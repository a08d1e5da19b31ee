#include "vouch/server/signing_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/server.h"
#include "vouch/server/service.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/token/issuer.h"

namespace vouch::server {
namespace {

using ::testing::ElementsAre;
using testing::Call;
using testing::ClientResponse;
using testing::Headers;
using ::vouch::testing::StatusIs;

constexpr char kAdminToken[] = "signing-keys-test-admin-token";
// Fixed, so that tokens stay valid across restarts on new ports. Never contacted.
constexpr char kIssuer[] = "http://vouch.test";

std::string NewDataDir(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "/vouch_signing_keys_test_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

// CopySimulatedChain copies the simulated SEV-SNP chain that the server
// tests make once per build folder (service_test.cc), because making its
// RSA-4096 keys takes seconds.
void CopySimulatedChain(const std::string& dir) {
  const std::string cache = std::string(VOUCH_BINARY_DIR) + "/server_test_simulated_snp";
  VOUCH_CHECK(snp::CopySimulatedSnp(cache, dir).ok());
}

Headers AdminHeaders() { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

std::string GuestRuntimeData() {
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateRsaKey(2048);
  VOUCH_CHECK(key.ok());
  absl::StatusOr<nlohmann::json> jwk = crypto::PublicKeyToJwk(key->get());
  VOUCH_CHECK(jwk.ok());
  (*jwk)["kid"] = "TpmEphemeralEncryptionKey";
  (*jwk)["key_ops"] = {"encrypt"};
  return nlohmann::json({{"keys", {*jwk}}, {"vm-configuration", {{"tpm", false}}}}).dump();
}

// KidOfToken returns the "kid" of a JWT's header, or "".
std::string KidOfToken(const std::string& token) {
  absl::StatusOr<Bytes> header = Base64UrlDecode(token.substr(0, token.find('.')));
  if (!header.ok()) {
    return "";
  }
  const nlohmann::json json = nlohmann::json::parse(ToString(*header), nullptr, false);
  return json.is_object() ? json.value("kid", "") : "";
}

// AlgOfToken returns the "alg" of a JWT's or JWS's header, or "".
std::string AlgOfToken(const std::string& token) {
  absl::StatusOr<Bytes> header = Base64UrlDecode(token.substr(0, token.find('.')));
  if (!header.ok()) {
    return "";
  }
  const nlohmann::json json = nlohmann::json::parse(ToString(*header), nullptr, false);
  return json.is_object() ? json.value("alg", "") : "";
}

std::vector<std::string> JwksKids(const ClientResponse& response) {
  std::vector<std::string> kids;
  for (const nlohmann::json& key : response.Json().value("keys", nlohmann::json::array())) {
    kids.push_back(key.value("kid", ""));
  }
  return kids;
}

// SingleNode is one `vouch serve` on a SQLite store, started and restarted
// on the same data folder.
class SingleNode {
 public:
  explicit SingleNode(std::string data_dir) : data_dir_(std::move(data_dir)) {
    CopySimulatedChain(data_dir_ + "/" + kSimulatedSnpDir);
    runtime_data_ = GuestRuntimeData();
  }
  ~SingleNode() { std::filesystem::remove_all(data_dir_); }

  // Restart starts the server again; `signing_key_type` sets
  // Config::signing_key_type ("" keeps the default).
  void Restart(const std::string& signing_key_type = "") {
    server_.reset();
    Config config;
    config.signing_key_type = signing_key_type;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_;
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    config.allow_simulated_snp = true;
    config.issuer = kIssuer;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
    ASSERT_OK(server.status());
    server_ = *std::move(server);
  }

  uint16_t port() const { return server_->port(); }

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
    absl::StatusOr<ClientResponse> response =
        Call(port(), "POST", "/attest/SevSnpVm",
             AttestRequestJson(*report, chain, AsBytes(runtime_data_)).dump());
    VOUCH_CHECK(response.ok());
    EXPECT_EQ(response->status, 200) << response->body;
    return response->Json().value("token", "");
  }

  int Release(const std::string& name, const std::string& token) const {
    return ReleaseResponse(name, token).status;
  }

  ClientResponse ReleaseResponse(const std::string& name, const std::string& token) const {
    const nlohmann::json body = {{"target", token}};
    absl::StatusOr<ClientResponse> response =
        Call(port(), "POST", "/keys/" + name + "/release", body.dump());
    VOUCH_CHECK(response.ok());
    return *response;
  }

  ClientResponse Get(const std::string& path) const {
    absl::StatusOr<ClientResponse> response = Call(port(), "GET", path);
    VOUCH_CHECK(response.ok());
    return *response;
  }

  ClientResponse Rotate(const Headers& headers) const {
    absl::StatusOr<ClientResponse> response =
        Call(port(), "POST", "/signing-keys/rotate", "{}", headers);
    VOUCH_CHECK(response.ok());
    return *response;
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
    absl::StatusOr<ClientResponse> response =
        Call(port(), "PUT", "/keys/" + name, body.dump(), AdminHeaders());
    VOUCH_CHECK(response.ok());
    ASSERT_EQ(response->status, 200) << response->body;
  }

  Service& service() { return server_->service(); }

 private:
  std::string data_dir_;
  std::string runtime_data_;
  std::unique_ptr<Server> server_;
};

TEST(SigningKeyRotationTest, RotateRequiresAdmin) {
  SingleNode node(NewDataDir("admin"));
  ASSERT_NO_FATAL_FAILURE(node.Restart());
  EXPECT_EQ(node.Rotate({}).status, 401);
  EXPECT_EQ(node.Rotate({{"Authorization", "Bearer wrong"}}).status, 401);
}

TEST(SigningKeyRotationTest, OldTokenReleasesAfterRotation) {
  SingleNode node(NewDataDir("rotate"));
  ASSERT_NO_FATAL_FAILURE(node.Restart());
  ASSERT_NO_FATAL_FAILURE(node.CreateKey("disk"));
  const std::string first_kid = node.service().issuer().kid();
  const std::string old_token = node.Attest();
  ASSERT_EQ(KidOfToken(old_token), first_kid);

  const ClientResponse rotated = node.Rotate(AdminHeaders());
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string second_kid = rotated.Json().value("kid", "");
  EXPECT_NE(second_kid, first_kid);
  EXPECT_EQ(rotated.Json()["previous_kids"], nlohmann::json::array({first_kid}));

  ASSERT_NO_FATAL_FAILURE(node.Restart());
  EXPECT_EQ(node.service().issuer().kid(), second_kid);
  EXPECT_THAT(JwksKids(node.Get("/certs")), ElementsAre(second_kid, first_kid));
  EXPECT_THAT(JwksKids(node.Get("/simulated/certs")), ElementsAre(second_kid, first_kid));
  EXPECT_EQ(node.Release("disk", old_token), 200);
  const std::string new_token = node.Attest();
  EXPECT_EQ(KidOfToken(new_token), second_kid);
  EXPECT_EQ(node.Release("disk", new_token), 200);
}

TEST(SigningKeyRotationTest, KeepsOnlyThePreviousKey) {
  SingleNode node(NewDataDir("keep"));
  ASSERT_NO_FATAL_FAILURE(node.Restart());
  ASSERT_NO_FATAL_FAILURE(node.CreateKey("disk"));
  const std::string first_kid = node.service().issuer().kid();
  const std::string first_token = node.Attest();

  ASSERT_EQ(node.Rotate(AdminHeaders()).status, 200);
  const ClientResponse second = node.Rotate(AdminHeaders());
  ASSERT_EQ(second.status, 200) << second.body;
  const std::string third_kid = second.Json().value("kid", "");
  ASSERT_EQ(second.Json()["previous_kids"].size(), 1u);
  const std::string second_kid = second.Json()["previous_kids"][0].get<std::string>();
  EXPECT_NE(second_kid, first_kid);

  ASSERT_NO_FATAL_FAILURE(node.Restart());
  EXPECT_THAT(JwksKids(node.Get("/certs")), ElementsAre(third_kid, second_kid));
  // Two rotations retire the first key from the JWKS, so its tokens fail.
  EXPECT_EQ(node.Release("disk", first_token), 401);
}

TEST(SigningKeyRotationTest, RotationIsAudited) {
  SingleNode node(NewDataDir("audit"));
  ASSERT_NO_FATAL_FAILURE(node.Restart());
  const std::string first_kid = node.service().issuer().kid();
  const ClientResponse rotated = node.Rotate(AdminHeaders());
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  ASSERT_OK_AND_ASSIGN(const std::vector<store::AuditEvent> events,
                       node.service().store().ReadAudit(store::kAllAuditEvents));
  ASSERT_FALSE(events.empty());
  const store::AuditEvent& last = events.back();
  EXPECT_EQ(last.operation, "token.signing-key.rotate");
  EXPECT_EQ(last.actor, "admin");
  EXPECT_EQ(last.target, "signing-keys/" + rotated.Json().value("kid", ""));
  EXPECT_EQ(last.detail, "previous kid " + first_kid);
}

TEST(SigningKeyTypeTest, ParsesNamesAndRejectsOthers) {
  ASSERT_OK_AND_ASSIGN(const SigningKeyType rsa, ParseSigningKeyType("rsa-3072"));
  EXPECT_EQ(rsa, SigningKeyType::kRsa3072);
  ASSERT_OK_AND_ASSIGN(const SigningKeyType p256, ParseSigningKeyType("ec-p256"));
  EXPECT_EQ(p256, SigningKeyType::kEcP256);
  ASSERT_OK_AND_ASSIGN(const SigningKeyType p384, ParseSigningKeyType("ec-p384"));
  EXPECT_EQ(p384, SigningKeyType::kEcP384);
  EXPECT_EQ(SigningKeyTypeName(SigningKeyType::kEcP256), "ec-p256");
  EXPECT_THAT(ParseSigningKeyType("rsa-2048"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSigningKeyType("EC-P256"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SigningKeyTypeTest, TypeOfGeneratedKeys) {
  for (const SigningKeyType type :
       {SigningKeyType::kRsa3072, SigningKeyType::kEcP256, SigningKeyType::kEcP384}) {
    SCOPED_TRACE(SigningKeyTypeName(type));
    ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> key, GenerateSigningKey(type));
    ASSERT_OK_AND_ASSIGN(const SigningKeyType found, SigningKeyTypeOf(key.get()));
    EXPECT_EQ(found, type);
  }
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> rsa2048, crypto::GenerateRsaKey(2048));
  EXPECT_THAT(SigningKeyTypeOf(rsa2048.get()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SigningKeyTypeTest, Es256TokenAndReleaseEndToEnd) {
  SingleNode node(NewDataDir("es256"));
  ASSERT_NO_FATAL_FAILURE(node.Restart("ec-p256"));
  ASSERT_NO_FATAL_FAILURE(node.CreateKey("disk"));

  const nlohmann::json jwks = node.Get("/certs").Json();
  ASSERT_EQ(jwks["keys"].size(), 1u);
  EXPECT_EQ(jwks["keys"][0].value("kty", ""), "EC");
  EXPECT_EQ(jwks["keys"][0].value("crv", ""), "P-256");
  EXPECT_EQ(jwks["keys"][0].value("alg", ""), "ES256");
  EXPECT_FALSE(jwks["keys"][0].contains("n"));

  const std::string token = node.Attest();
  EXPECT_EQ(AlgOfToken(token), "ES256");
  const ClientResponse released = node.ReleaseResponse("disk", token);
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_EQ(AlgOfToken(released.Json().value("value", "")), "ES256");
}

TEST(SigningKeyTypeTest, RotationFromRsaToEc) {
  SingleNode node(NewDataDir("rsa_to_ec"));
  ASSERT_NO_FATAL_FAILURE(node.Restart());
  ASSERT_NO_FATAL_FAILURE(node.CreateKey("disk"));
  const std::string rsa_token = node.Attest();
  ASSERT_EQ(AlgOfToken(rsa_token), "RS256");
  const std::string rsa_kid = node.service().issuer().kid();

  // The configured type applies to the next key: the stored RSA key stays.
  ASSERT_NO_FATAL_FAILURE(node.Restart("ec-p256"));
  EXPECT_EQ(node.service().issuer().kid(), rsa_kid);
  const ClientResponse rotated = node.Rotate(AdminHeaders());
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string ec_kid = rotated.Json().value("kid", "");

  ASSERT_NO_FATAL_FAILURE(node.Restart("ec-p256"));
  const nlohmann::json jwks = node.Get("/certs").Json();
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][0].value("kid", ""), ec_kid);
  EXPECT_EQ(jwks["keys"][0].value("kty", ""), "EC");
  EXPECT_EQ(jwks["keys"][0].value("alg", ""), "ES256");
  EXPECT_EQ(jwks["keys"][1].value("kid", ""), rsa_kid);
  EXPECT_EQ(jwks["keys"][1].value("kty", ""), "RSA");
  EXPECT_EQ(jwks["keys"][1].value("alg", ""), "RS256");

  EXPECT_EQ(node.Release("disk", rsa_token), 200);
  const std::string ec_token = node.Attest();
  EXPECT_EQ(AlgOfToken(ec_token), "ES256");
  EXPECT_EQ(node.Release("disk", ec_token), 200);
}

TEST(SigningKeyTypeTest, RotationKeepsKeyType) {
  SingleNode node(NewDataDir("keep_type"));
  ASSERT_NO_FATAL_FAILURE(node.Restart("ec-p384"));
  // A node without the option rotates to the current key's type.
  ASSERT_NO_FATAL_FAILURE(node.Restart());
  ASSERT_EQ(node.Rotate(AdminHeaders()).status, 200);
  ASSERT_NO_FATAL_FAILURE(node.Restart());
  const nlohmann::json jwks = node.Get("/certs").Json();
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][0].value("crv", ""), "P-384");
  EXPECT_EQ(jwks["keys"][0].value("alg", ""), "ES384");
  EXPECT_EQ(AlgOfToken(node.Attest()), "ES384");
}

TEST(PreviousSigningKeysTest, NoBlobMeansNoKeys) {
  const std::string dir = NewDataDir("empty");
  std::filesystem::create_directories(dir);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                       store::SqliteStore::Open(dir + "/vouch.db"));
  ASSERT_OK_AND_ASSIGN(const std::vector<PreviousSigningKey> keys,
                       LoadPreviousSigningKeys(*store));
  EXPECT_TRUE(keys.empty());
  std::filesystem::remove_all(dir);
}

TEST(PreviousSigningKeysTest, RejectsMalformedBlob) {
  const std::string dir = NewDataDir("malformed");
  std::filesystem::create_directories(dir);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                       store::SqliteStore::Open(dir + "/vouch.db"));
  for (const char* blob : {"not json", R"({"keys": 1})", R"({"keys": [{"kid": "a"}]})",
                           R"({"keys": [{"kid": "a", "public_key": "not a key"}]})"}) {
    SCOPED_TRACE(blob);
    ASSERT_OK(store->PutBlob(kPreviousSigningKeysBlob, AsBytes(blob)));
    EXPECT_THAT(LoadPreviousSigningKeys(*store),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  std::filesystem::remove_all(dir);
}

TEST(PreviousSigningKeysTest, RejectsKidThatIsNotTheThumbprint) {
  const std::string dir = NewDataDir("kid");
  std::filesystem::create_directories(dir);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                       store::SqliteStore::Open(dir + "/vouch.db"));
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> key, crypto::GenerateEcKey("P-256"));
  ASSERT_OK_AND_ASSIGN(const std::string pem, crypto::PublicKeyToPem(key.get()));
  const nlohmann::json blob = {{"keys", {{{"kid", "wrong"}, {"public_key", pem}}}}};
  ASSERT_OK(store->PutBlob(kPreviousSigningKeysBlob, AsBytes(blob.dump())));
  EXPECT_THAT(LoadPreviousSigningKeys(*store), StatusIs(absl::StatusCode::kInvalidArgument));
  std::filesystem::remove_all(dir);
}

// Two threads rotate through two store handles on one SQLite file, as two
// nodes sharing a database would. Each rotation either commits whole or
// fails with Aborted, so the audit records form one chain of kids from the
// first key to the stored one, and the retired-key blob names the key that
// the last rotation replaced.
TEST(SigningKeyRotationTest, ConcurrentRotationsKeepOneChain) {
  constexpr int kThreads = 2;
  constexpr int kRotationsPerThread = 8;
  const std::string dir = NewDataDir("concurrent");
  std::filesystem::create_directories(dir);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<keystore::SoftwareKeyStore> keystore,
                       keystore::SoftwareKeyStore::OpenOrCreate(dir + "/root.key"));
  std::vector<std::unique_ptr<store::SqliteStore>> stores;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::SqliteStore> store,
                         store::SqliteStore::Open(dir + "/vouch.db"));
    stores.push_back(std::move(store));
  }
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> first, crypto::GenerateEcKey("P-256"));
  ASSERT_OK_AND_ASSIGN(const SecretBytes first_pem, crypto::PrivateKeyToPem(first.get()));
  ASSERT_OK_AND_ASSIGN(const Bytes first_sealed, keystore->Seal(first_pem, kSigningKeyBlob));
  ASSERT_OK(stores[0]->PutBlob(kSigningKeyBlob, first_sealed));
  ASSERT_OK_AND_ASSIGN(const nlohmann::json first_jwk,
                       token::PublicJwk(first.get(), crypto::JwsAlg::kEs256));
  const std::string first_kid = first_jwk.at("kid").get<std::string>();

  std::atomic<int> committed{0};
  std::atomic<int> aborted{0};
  std::vector<absl::Status> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRotationsPerThread; ++i) {
        const absl::StatusOr<SigningKeyRotation> rotation =
            RotateSigningKey(*stores[t], *keystore, "admin", kKeptPreviousSigningKeys,
                             SigningKeyType::kEcP256);
        if (rotation.ok()) {
          ++committed;
        } else if (absl::IsAborted(rotation.status())) {
          ++aborted;
        } else {
          failures[t] = rotation.status();
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_OK(failures[t]) << "thread " << t;
  }
  EXPECT_EQ(committed + aborted, kThreads * kRotationsPerThread);

  ASSERT_OK_AND_ASSIGN(const std::vector<store::AuditEvent> events,
                       stores[0]->ReadAudit(store::kAllAuditEvents));
  std::string chain_kid = first_kid;
  std::string replaced_kid;
  int records = 0;
  for (const store::AuditEvent& event : events) {
    ASSERT_EQ(event.operation, "token.signing-key.rotate");
    EXPECT_EQ(event.detail, "previous kid " + chain_kid) << "sequence " << event.sequence;
    replaced_kid = chain_kid;
    chain_kid = event.target.substr(std::string("signing-keys/").size());
    ++records;
  }
  EXPECT_EQ(records, committed.load());

  ASSERT_OK_AND_ASSIGN(const std::vector<PreviousSigningKey> previous,
                       LoadPreviousSigningKeys(*stores[1]));
  ASSERT_EQ(previous.size(), 1u);
  EXPECT_EQ(previous[0].kid, replaced_kid);
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> current_sealed,
                       stores[1]->GetBlob(kSigningKeyBlob));
  ASSERT_TRUE(current_sealed.has_value());
  ASSERT_OK_AND_ASSIGN(const SecretBytes current_pem,
                       keystore->Unseal(*current_sealed, kSigningKeyBlob));
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> current,
                       crypto::PrivateKeyFromPem(current_pem.Expose()));
  ASSERT_OK_AND_ASSIGN(const nlohmann::json current_jwk,
                       token::PublicJwk(current.get(), crypto::JwsAlg::kEs256));
  EXPECT_EQ(current_jwk.at("kid").get<std::string>(), chain_kid);
  std::printf("%d rotations committed, %d aborted by a concurrent rotation\n", committed.load(),
              aborted.load());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vouch::server
