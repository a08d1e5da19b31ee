// End-to-end test of the server with its keys in a SoftHSM2 token: keys are
// created and released over HTTP, and the release is unwrapped as the guest
// agent does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/keystore/softhsm_testing.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/server.h"
#include "vouch/server/service.h"
#include "vouch/server/test_client.h"
#include "vouch/snp/simulated_copy.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using testing::Call;
using testing::ClientResponse;
using testing::Headers;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

constexpr char kAdminToken[] = "pkcs11-service-test-admin-token";
constexpr char kTokenLabel[] = "vouch-server";

// CopySimulatedChain copies the simulated SEV-SNP chain that the server
// tests make once per build folder, because its RSA-4096 keys take seconds.
void CopySimulatedChain(const std::string& dir) {
  const std::string cache = std::string(VOUCH_BINARY_DIR) + "/server_test_simulated_snp";
  VOUCH_CHECK(snp::CopySimulatedSnp(cache, dir).ok());
  std::filesystem::permissions(std::filesystem::path(dir).parent_path(),
                               std::filesystem::perms::owner_all);
}

Headers AdminHeaders() { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

class Pkcs11ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "vouch-pkcs11-service-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
    ASSERT_OK_AND_ASSIGN(token_,
                         keystore::CreateSoftHsmToken(dir_, kTokenLabel, "pin-8642-secret"));
    CopySimulatedChain(dir_ + "/data/" + kSimulatedSnpDir);
    pin_file_ = dir_ + "/pin";
    ASSERT_OK(WriteFileAtomic(pin_file_, AsBytes(token_.pin + "\n"), 0600));

    ASSERT_OK_AND_ASSIGN(guest_key_, crypto::GenerateRsaKey(2048));
    ASSERT_OK_AND_ASSIGN(nlohmann::json jwk, crypto::PublicKeyToJwk(guest_key_.get()));
    jwk["kid"] = "TpmEphemeralEncryptionKey";
    jwk["key_ops"] = {"encrypt"};
    runtime_data_ = nlohmann::json({{"keys", {jwk}}}).dump();
  }

  void TearDown() override {
    server_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  Config Pkcs11Config() const {
    Config config;
    config.listen = "127.0.0.1:0";
    // A fixed issuer, so release policies still name it after a restart on
    // another port.
    config.issuer = "http://vouch-hsm.test";
    config.data_dir = dir_ + "/data";
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    config.allow_simulated_snp = true;
    config.keystore = "pkcs11";
    config.pkcs11_module = keystore::kSoftHsmModulePath;
    config.pkcs11_token_label = kTokenLabel;
    config.pkcs11_pin_file = pin_file_;
    return config;
  }

  void StartServer() {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(Pkcs11Config());
    ASSERT_OK(server.status());
    server_ = *std::move(server);
  }

  // Attest returns a token for the guest's runtime data from the simulated
  // SEV-SNP platform.
  std::string Attest() {
    const snp::SimulatedSnp& platform = *server_->service().simulated();
    Bytes report_data = crypto::Sha256(AsBytes(runtime_data_));
    report_data.resize(64, 0);
    absl::StatusOr<Bytes> report = platform.GetReport(report_data, 0);
    EXPECT_OK(report.status());
    std::string chain;
    for (const crypto::Certificate& cert : platform.Certificates()) {
      chain += cert.Pem();
    }
    const std::string body =
        AttestRequestJson(*report, chain, AsBytes(runtime_data_), "nonce-1").dump();
    absl::StatusOr<ClientResponse> response =
        Call(server_->port(), "POST", "/attest/SevSnpVm", body);
    EXPECT_OK(response.status());
    EXPECT_EQ(response->status, 200) << response->body;
    return response->Json().value("token", "");
  }

  nlohmann::json CreateKeyBody(const SecretBytes* key) const {
    const nlohmann::json policy = {
        {"version", "1.0.0"},
        {"anyOf",
         {{{"authority", server_->issuer() + kSimulatedIssuerSuffix},
           {"allOf",
            {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
             {{"claim", "x-vouch-simulated"}, {"equals", true}}}}}}}};
    nlohmann::json body = {{"attributes", {{"exportable", true}}},
                           {"release_policy",
                            {{"contentType", "application/json; charset=utf-8"},
                             {"data", Base64UrlEncode(AsBytes(policy.dump()))}}}};
    if (key != nullptr) {
      body["key"] = {{"kty", "oct"}, {"k", Base64UrlEncode(key->Expose())}};
    }
    return body;
  }

  // CreateAndRelease creates key `name` (imported when `key` is set) and
  // returns the released key bytes.
  absl::StatusOr<SecretBytes> CreateAndRelease(const std::string& name, const SecretBytes* key) {
    VOUCH_ASSIGN_OR_RETURN(const ClientResponse created,
                           Call(server_->port(), "PUT", "/keys/" + name,
                                CreateKeyBody(key).dump(), AdminHeaders()));
    if (created.status != 200) {
      return Internalf("create key: HTTP {}: {}", created.status, created.body);
    }
    return Release(name);
  }

  absl::StatusOr<SecretBytes> Release(const std::string& name) {
    const nlohmann::json body = {{"target", Attest()}, {"enc", "CKM_RSA_AES_KEY_WRAP"}};
    VOUCH_ASSIGN_OR_RETURN(const ClientResponse released,
                           Call(server_->port(), "POST", "/keys/" + name + "/release",
                                body.dump()));
    if (released.status != 200) {
      return Internalf("release: HTTP {}: {}", released.status, released.body);
    }
    VOUCH_ASSIGN_OR_RETURN(const ClientResponse certs, Call(server_->port(), "GET", "/certs"));
    const nlohmann::json jwks = certs.Json();
    broker::ReleaseVerification verification;
    verification.broker_jwks = &jwks;
    return broker::UnwrapReleasedKey(released.Json()["value"].get<std::string>(), guest_key_.get(),
                                     verification);
  }

  std::string dir_;
  std::string pin_file_;
  keystore::SoftHsmToken token_;
  crypto::SslPtr<EVP_PKEY> guest_key_;
  std::string runtime_data_;
  std::unique_ptr<Server> server_;
};

TEST_F(Pkcs11ServiceTest, ReleasesImportedAndGeneratedKeys) {
  StartServer();
  ASSERT_NE(server_, nullptr);
  const SecretBytes data_key = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const SecretBytes released, CreateAndRelease("disk", &data_key));
  EXPECT_TRUE(released == data_key);

  ASSERT_OK_AND_ASSIGN(const SecretBytes generated, CreateAndRelease("generated", nullptr));
  EXPECT_EQ(generated.size(), 32u);
}

// The token signing key is sealed inside the token, and keys stay in it:
// after a restart on the same token both still work.
TEST_F(Pkcs11ServiceTest, RestartKeepsSigningKeyAndKeys) {
  StartServer();
  ASSERT_NE(server_, nullptr);
  const SecretBytes data_key = crypto::RandomSecret(16);
  ASSERT_OK_AND_ASSIGN(const SecretBytes released, CreateAndRelease("disk", &data_key));
  EXPECT_TRUE(released == data_key);
  ASSERT_OK_AND_ASSIGN(const ClientResponse before, Call(server_->port(), "GET", "/certs"));
  server_.reset();

  StartServer();
  ASSERT_NE(server_, nullptr);
  ASSERT_OK_AND_ASSIGN(const ClientResponse after, Call(server_->port(), "GET", "/certs"));
  EXPECT_EQ(before.Json(), after.Json());
  ASSERT_OK_AND_ASSIGN(const SecretBytes again, Release("disk"));
  EXPECT_TRUE(again == data_key);
}

TEST_F(Pkcs11ServiceTest, WrongPinStopsStart) {
  ASSERT_OK(WriteFileAtomic(pin_file_, AsBytes(std::string_view("0000\n")), 0600));
  EXPECT_THAT(Server::Start(Pkcs11Config()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("CKR_PIN_INCORRECT")));
}

TEST_F(Pkcs11ServiceTest, MissingTokenSelectionIsInvalidConfig) {
  Config config = Pkcs11Config();
  config.pkcs11_token_label.clear();
  EXPECT_THAT(ValidateConfig(config), StatusIs(absl::StatusCode::kInvalidArgument));
  config.pkcs11_token_label = kTokenLabel;
  config.pkcs11_module.clear();
  EXPECT_THAT(ValidateConfig(config), StatusIs(absl::StatusCode::kInvalidArgument));
  config = Pkcs11Config();
  config.keystore = "hsm";
  EXPECT_THAT(ValidateConfig(config), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ValidateConfig(Pkcs11Config()));
}

TEST_F(Pkcs11ServiceTest, DescribeConfigNamesTokenButNotPin) {
  const std::string description = DescribeConfig(Pkcs11Config());
  EXPECT_THAT(description, HasSubstr("pkcs11"));
  EXPECT_THAT(description, HasSubstr(kTokenLabel));
  EXPECT_THAT(description, ::testing::Not(HasSubstr(token_.pin)));
}

}  // namespace
}  // namespace vouch::server
