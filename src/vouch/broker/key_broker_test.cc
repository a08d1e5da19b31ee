#include "vouch/broker/key_broker.h"

#include <stdlib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/broker/release_request.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace vouch::broker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

constexpr char kIssuerUrl[] = "https://vouch.test";
constexpr char kBaseUrl[] = "https://vouch.test/";
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

// Each key is generated on first use and kept for the rest of the test
// binary, because RSA generation is slow (CTest runs every test in its own
// process, so a test only pays for the keys it uses).
EVP_PKEY* TokenKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
  return key;
}
EVP_PKEY* BrokerKey() {
  static EVP_PKEY* key = crypto::GenerateEcKey("P-256").value().release();
  return key;
}
// The guest agent's ephemeral key is RSA-3072. Most tests use a 2048-bit
// guest key, which is faster to generate and wraps the same way.
EVP_PKEY* Guest3072Key() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(3072).value().release();
  return key;
}
EVP_PKEY* GuestKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
  return key;
}
EVP_PKEY* OtherGuestKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
  return key;
}
EVP_PKEY* SmallGuestKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(1024).value().release();
  return key;
}

crypto::SslPtr<EVP_PKEY> CopyKey(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return crypto::SslPtr<EVP_PKEY>(key);
}

Json GuestJwk(EVP_PKEY* key, std::string kid = std::string(kEphemeralKeyKid)) {
  Json jwk = crypto::PublicKeyToJwk(key).value();
  jwk["kid"] = std::move(kid);
  jwk["key_ops"] = Json::array({"encrypt"});
  return jwk;
}

Json Policy(const Json& all_of, std::string authority = kIssuerUrl) {
  return Json{{"version", "1.0.0"},
              {"anyOf", Json::array({Json{{"authority", std::move(authority)},
                                          {"allOf", all_of}}})}};
}

Json SnpPolicy() {
  return Policy(Json::array({Json{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                             Json{{"claim", "x-ms-sevsnpvm-vmpl"}, {"lessOrEquals", 0}}}));
}

Json EncodedPolicy(const Json& policy) {
  return Json{{"contentType", "application/json; charset=utf-8"},
              {"data", Base64UrlEncode(AsBytes(policy.dump()))}};
}

// CreateBody imports `key` (when given) as an exportable key under `policy`.
Json CreateBody(const Json& policy, const SecretBytes* key = nullptr) {
  Json body = {{"attributes", {{"exportable", true}}}, {"release_policy", EncodedPolicy(policy)}};
  if (key != nullptr) {
    body["key"] = Json{{"kty", "oct"}, {"k", Base64UrlEncode(key->Expose())}};
  }
  return body;
}

std::string VersionOf(const Json& metadata) {
  const std::string kid = metadata["key"]["kid"].get<std::string>();
  return kid.substr(kid.rfind('/') + 1);
}

class KeyBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/vouch_broker_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_OK_AND_ASSIGN(store_, store::SqliteStore::Open(dir_ + "/vouch.db"));
    ASSERT_OK_AND_ASSIGN(keystore_, keystore::SoftwareKeyStore::OpenOrCreate(dir_ + "/root.key"));
    ASSERT_OK_AND_ASSIGN(
        issuer_, token::TokenIssuer::Create(CopyKey(TokenKey()), {.issuer = kIssuerUrl}));
    ASSERT_OK_AND_ASSIGN(validator_, token::TokenValidator::ForIssuer(*issuer_));
    ASSERT_OK_AND_ASSIGN(broker_, KeyBroker::Create({.store = store_.get(),
                                                     .keystore = keystore_.get(),
                                                     .validator = &*validator_,
                                                     .signing_key = BrokerKey()}));
  }

  void TearDown() override {
    broker_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Claims of a genuine SEV-SNP guest at VMPL 0 with its ephemeral key.
  Json GuestClaims() {
    return Json{{"x-ms-attestation-type", "sevsnpvm"},
                {"x-ms-sevsnpvm-vmpl", 0},
                {"x-ms-runtime", {{"keys", Json::array({GuestJwk(guest_key_)})}}}};
  }

  std::string Token(Json claims) { return issuer_->Issue(std::move(claims), kNow).value(); }

  ReleaseRequest Request(std::string token, KeyExportEnc enc = KeyExportEnc::kCkmRsaAesKeyWrap) {
    return ReleaseRequest{std::move(token), "nonce-1", enc};
  }

  std::string CreateImported(const SecretBytes& key, const Json& policy = SnpPolicy()) {
    absl::StatusOr<Json> metadata = broker_->CreateKey("disk", CreateBody(policy, &key), kBaseUrl, kNow);
    EXPECT_TRUE(metadata.ok()) << metadata.status();
    return VersionOf(*metadata);
  }

  absl::StatusOr<SecretBytes> ReleaseAndUnwrap(std::string_view version, const Json& claims,
                                               KeyExportEnc enc = KeyExportEnc::kCkmRsaAesKeyWrap) {
    VOUCH_ASSIGN_OR_RETURN(const Json response,
                           broker_->Release("disk", version, Request(Token(claims), enc), kBaseUrl,
                                            kNow));
    const Json jwks = broker_->Jwks();
    return UnwrapReleasedKey(response["value"].get<std::string>(), guest_key_,
                             {.broker_jwks = &jwks, .expected_enc = enc});
  }

  EVP_PKEY* guest_key_ = GuestKey();
  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<keystore::SoftwareKeyStore> keystore_;
  std::optional<token::TokenIssuer> issuer_;
  std::optional<token::TokenValidator> validator_;
  std::unique_ptr<KeyBroker> broker_;
};

class KeyBrokerEncTest : public KeyBrokerTest,
                         public ::testing::WithParamInterface<KeyExportEnc> {};

TEST_P(KeyBrokerEncTest, ReleaseRoundTrip) {
  guest_key_ = Guest3072Key();
  const SecretBytes key = crypto::RandomSecret(32);
  const std::string version = CreateImported(key);
  ASSERT_OK_AND_ASSIGN(const SecretBytes released, ReleaseAndUnwrap(version, GuestClaims(), GetParam()));
  EXPECT_TRUE(released == key);
}

INSTANTIATE_TEST_SUITE_P(Encs, KeyBrokerEncTest,
                         ::testing::Values(KeyExportEnc::kCkmRsaAesKeyWrap,
                                           KeyExportEnc::kRsaAesKeyWrap256,
                                           KeyExportEnc::kRsaAesKeyWrap384),
                         [](const ::testing::TestParamInfo<KeyExportEnc>& param_info) {
                           return std::string(EncName(param_info.param)).substr(0, 3) +
                                  std::to_string(static_cast<int>(param_info.param));
                         });

TEST_F(KeyBrokerTest, ReleasePayloadHasAzureShape) {
  guest_key_ = Guest3072Key();
  const SecretBytes key = crypto::RandomSecret(32);
  const std::string version = CreateImported(key);
  ASSERT_OK_AND_ASSIGN(const Json response,
                       broker_->Release("disk", version,
                                        Request(Token(GuestClaims()),
                                                KeyExportEnc::kRsaAesKeyWrap256),
                                        kBaseUrl, kNow));
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts,
                       crypto::JwsDecode(response["value"].get<std::string>()));
  EXPECT_EQ(parts.header["alg"], "ES256");
  EXPECT_EQ(parts.header["kid"], broker_->Jwks()["keys"][0]["kid"]);

  const Json payload = Json::parse(parts.payload);
  const std::string kid = "https://vouch.test/keys/disk/" + version;
  EXPECT_EQ(payload["request"]["api-version"], "7.3");
  EXPECT_EQ(payload["request"]["enc"], "RSA_AES_KEY_WRAP_256");
  EXPECT_EQ(payload["request"]["kid"], kid);
  EXPECT_EQ(payload["request"]["nonce"], "nonce-1");
  const Json& bundle = payload["response"]["key"];
  EXPECT_EQ(bundle["key"]["kid"], kid);
  EXPECT_EQ(bundle["key"]["kty"], "oct-HSM");
  EXPECT_EQ(bundle["attributes"]["exportable"], true);
  EXPECT_EQ(bundle["attributes"]["created"], absl::ToUnixSeconds(kNow));
  EXPECT_EQ(bundle["release_policy"]["contentType"], "application/json; charset=utf-8");
  EXPECT_EQ(Json::parse(ToString(Base64UrlDecode(bundle["release_policy"]["data"].get<std::string>())
                                     .value())),
            SnpPolicy());

  const Json key_hsm =
      Json::parse(ToString(Base64UrlDecode(bundle["key"]["key_hsm"].get<std::string>()).value()));
  EXPECT_EQ(key_hsm["schema_version"], "1.0");
  EXPECT_EQ(key_hsm["header"], (Json{{"kid", "TpmEphemeralEncryptionKey"}, {"alg", "dir"},
                                     {"enc", "RSA_AES_KEY_WRAP_256"}}));
  // RSA-3072 ciphertext (384 bytes) then the RFC 5649 wrap of 32 bytes (40 bytes).
  EXPECT_EQ(Base64UrlDecode(key_hsm["ciphertext"].get<std::string>()).value().size(), 384u + 40u);
}

TEST_F(KeyBrokerTest, GeneratedKeyReleasesSameBytesEachTime) {
  ASSERT_OK_AND_ASSIGN(const Json metadata,
                       broker_->CreateKey("disk", CreateBody(SnpPolicy()), kBaseUrl, kNow));
  const std::string version = VersionOf(metadata);
  EXPECT_EQ(version.size(), 32u);
  ASSERT_OK_AND_ASSIGN(const SecretBytes first, ReleaseAndUnwrap(version, GuestClaims()));
  ASSERT_OK_AND_ASSIGN(const SecretBytes second, ReleaseAndUnwrap("", GuestClaims()));
  EXPECT_EQ(first.size(), 32u);
  EXPECT_TRUE(first == second);
}

TEST_F(KeyBrokerTest, GeneratesRequestedKeySizes) {
  for (const int bits : {128, 192, 256}) {
    Json body = CreateBody(SnpPolicy());
    body["key_size"] = bits;
    ASSERT_OK_AND_ASSIGN(const Json metadata, broker_->CreateKey("disk", body, kBaseUrl, kNow));
    ASSERT_OK_AND_ASSIGN(const SecretBytes released,
                         ReleaseAndUnwrap(VersionOf(metadata), GuestClaims()));
    EXPECT_EQ(released.size() * 8, static_cast<size_t>(bits));
  }
}

TEST_F(KeyBrokerTest, LatestVersionIsReleased) {
  const SecretBytes old_key = crypto::RandomSecret(32);
  const SecretBytes new_key = crypto::RandomSecret(32);
  const std::string old_version = CreateImported(old_key);
  CreateImported(new_key);
  ASSERT_OK_AND_ASSIGN(const SecretBytes latest, ReleaseAndUnwrap("", GuestClaims()));
  EXPECT_TRUE(latest == new_key);
  ASSERT_OK_AND_ASSIGN(const SecretBytes pinned, ReleaseAndUnwrap(old_version, GuestClaims()));
  EXPECT_TRUE(pinned == old_key);
}

TEST_F(KeyBrokerTest, PolicyDenialNamesCondition) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  Json claims = GuestClaims();
  claims["x-ms-sevsnpvm-vmpl"] = 1;
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "release policy: claim x-ms-sevsnpvm-vmpl lessOrEquals 0 failed: found 1"));
}

TEST_F(KeyBrokerTest, PolicyForOtherAuthorityIsDenied) {
  const Json policy =
      Policy(Json::array({Json{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}}}),
             "https://sharedeus.eus.attest.azure.net");
  const std::string version = CreateImported(crypto::RandomSecret(32), policy);
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(GuestClaims())), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("matches no authority")));
}

TEST_F(KeyBrokerTest, TokenFromUntrustedIssuerIsRejected) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(const token::TokenIssuer other,
                       token::TokenIssuer::Create(CopyKey(OtherGuestKey()),
                                                  {.issuer = "https://attacker.test"}));
  ASSERT_OK_AND_ASSIGN(const std::string token, other.Issue(GuestClaims(), kNow));
  EXPECT_THAT(broker_->Release("disk", version, Request(token), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not a trusted authority")));
}

TEST_F(KeyBrokerTest, InvalidTokensAreUnauthenticated) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  EXPECT_THAT(broker_->Release("disk", version, Request("not-a-token"), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(GuestClaims())), kBaseUrl,
                               kNow + absl::Hours(1)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
}

TEST_F(KeyBrokerTest, SimulatedTokenDeniedByProductionPolicy) {
  const std::string production = CreateImported(crypto::RandomSecret(32));
  Json claims = GuestClaims();
  claims["x-vouch-simulated"] = true;
  EXPECT_THAT(broker_->Release("disk", production, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("simulated evidence needs a policy that requires "
                                 "x-vouch-simulated")));
}

TEST_F(KeyBrokerTest, SimulatedTokenGrantedWhenPolicyRequiresMarker) {
  const SecretBytes key = crypto::RandomSecret(32);
  const Json simulation_policy =
      Policy(Json::array({Json{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                          Json{{"claim", "x-vouch-simulated"}, {"equals", true}}}));
  const std::string simulation = CreateImported(key, simulation_policy);
  Json claims = GuestClaims();
  claims["x-vouch-simulated"] = true;
  ASSERT_OK_AND_ASSIGN(const SecretBytes released, ReleaseAndUnwrap(simulation, claims));
  EXPECT_TRUE(released == key);
}

TEST_F(KeyBrokerTest, SimulatedMarkerInAnyOfBranchIsDenied) {
  // The policy mentions the marker, but its second branch grants the
  // simulated token without it.
  const Json bypass_policy = {
      {"version", "1.0.0"},
      {"anyOf",
       Json::array({Json{{"authority", kIssuerUrl},
                         {"anyOf", Json::array({Json{{"claim", "x-vouch-simulated"},
                                                     {"exists", false}},
                                                Json{{"claim", "x-ms-sevsnpvm-vmpl"},
                                                     {"lessOrEquals", 0}}})}}})}};
  const std::string version = CreateImported(crypto::RandomSecret(32), bypass_policy);
  EXPECT_OK(broker_->Release("disk", version, Request(Token(GuestClaims())), kBaseUrl, kNow)
                .status());

  Json claims = GuestClaims();
  claims["x-vouch-simulated"] = true;
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("needs a policy that requires x-vouch-simulated")));
}

TEST_F(KeyBrokerTest, SimulatedTokenDeniedWhenProductionStatementAlsoMatches) {
  // A statement for simulated guests next to a production statement for the
  // same authority does not make the grant depend on the marker.
  const Json production_statement =
      Json{{"authority", kIssuerUrl},
           {"allOf", Json::array({Json{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}}})}};
  const Json simulation_statement =
      Json{{"authority", kIssuerUrl},
           {"allOf", Json::array({Json{{"claim", "x-vouch-simulated"}, {"equals", true}}})}};
  const Json policy = {{"version", "1.0.0"},
                       {"anyOf", Json::array({production_statement, simulation_statement})}};
  const std::string version = CreateImported(crypto::RandomSecret(32), policy);
  Json claims = GuestClaims();
  claims["x-vouch-simulated"] = true;
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("x-vouch-simulated")));
}

TEST_F(KeyBrokerTest, SimulatedTokenFailingPolicyGetsConditionMessage) {
  const Json simulation_policy =
      Policy(Json::array({Json{{"claim", "x-ms-sevsnpvm-vmpl"}, {"lessOrEquals", 0}},
                          Json{{"claim", "x-vouch-simulated"}, {"equals", true}}}));
  const std::string version = CreateImported(crypto::RandomSecret(32), simulation_policy);
  Json claims = GuestClaims();
  claims["x-vouch-simulated"] = true;
  claims["x-ms-sevsnpvm-vmpl"] = 2;
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("x-ms-sevsnpvm-vmpl lessOrEquals 0 failed: found 2")));
}

TEST_F(KeyBrokerTest, MalformedSimulatedMarkerCountsAsSimulated) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  Json claims = GuestClaims();
  claims["x-vouch-simulated"] = "yes";
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("x-vouch-simulated")));
  claims["x-vouch-simulated"] = false;
  EXPECT_OK(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow).status());
}

TEST_F(KeyBrokerTest, DisabledKeyIsNotReleased) {
  Json body = CreateBody(SnpPolicy());
  body["attributes"]["enabled"] = false;
  ASSERT_OK_AND_ASSIGN(const Json metadata, broker_->CreateKey("disk", body, kBaseUrl, kNow));
  EXPECT_EQ(metadata["attributes"]["enabled"], false);
  EXPECT_THAT(broker_->Release("disk", VersionOf(metadata), Request(Token(GuestClaims())),
                               kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is disabled")));
}

TEST_F(KeyBrokerTest, NonExportableKeyIsNotReleased) {
  Json body = CreateBody(SnpPolicy());
  body.erase("attributes");
  ASSERT_OK_AND_ASSIGN(const Json metadata, broker_->CreateKey("disk", body, kBaseUrl, kNow));
  EXPECT_EQ(metadata["attributes"]["exportable"], false);
  EXPECT_THAT(broker_->Release("disk", VersionOf(metadata), Request(Token(GuestClaims())),
                               kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is not exportable")));
}

TEST_F(KeyBrokerTest, UnknownKeyIsNotFound) {
  EXPECT_THAT(broker_->Release("missing", "", Request(Token(GuestClaims())), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kNotFound));
  CreateImported(crypto::RandomSecret(32));
  EXPECT_THAT(broker_->Release("disk", "0123456789abcdef0123456789abcdef",
                               Request(Token(GuestClaims())), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(broker_->GetKey("missing", "", kBaseUrl), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KeyBrokerTest, TargetKeySelection) {
  const SecretBytes key = crypto::RandomSecret(32);
  const std::string version = CreateImported(key);

  // The kid TpmEphemeralEncryptionKey wins over an earlier RSA key.
  Json claims = GuestClaims();
  claims["x-ms-runtime"]["keys"] =
      Json::array({GuestJwk(OtherGuestKey(), "HCLAkPub"), GuestJwk(GuestKey())});
  ASSERT_OK_AND_ASSIGN(const SecretBytes released, ReleaseAndUnwrap(version, claims));
  EXPECT_TRUE(released == key);

  // Without that kid, the first usable RSA key is used.
  claims["x-ms-runtime"]["keys"] = Json::array({GuestJwk(GuestKey(), "other")});
  ASSERT_OK_AND_ASSIGN(const SecretBytes by_position, ReleaseAndUnwrap(version, claims));
  EXPECT_TRUE(by_position == key);
}

TEST_F(KeyBrokerTest, ToleratesOddRuntimeKeyMembers) {
  // x-ms-runtime comes from the guest's runtime data, so its members can have any type.
  const SecretBytes key = crypto::RandomSecret(32);
  const std::string version = CreateImported(key);
  Json numeric_kid = GuestJwk(GuestKey());
  numeric_kid["kid"] = 5;
  Json claims = GuestClaims();
  claims["x-ms-runtime"]["keys"] =
      Json::array({"x", nullptr, Json{{"kty", 7}}, Json{{"kty", "RSA"}, {"n", 1}}, numeric_kid});
  ASSERT_OK_AND_ASSIGN(const SecretBytes released, ReleaseAndUnwrap(version, claims));
  EXPECT_TRUE(released == key);

  claims["x-ms-runtime"] = "keys";
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(KeyBrokerTest, RejectsUnusableTargetKeys) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  Json signing_only = GuestJwk(GuestKey());
  signing_only["key_ops"] = Json::array({"verify"});
  Json use_sig = GuestJwk(GuestKey());
  use_sig["use"] = "sig";
  const Json cases[] = {
      Json::array(),
      Json::array({GuestJwk(SmallGuestKey())}),
      Json::array({signing_only}),
      Json::array({use_sig}),
      Json::array({crypto::PublicKeyToJwk(BrokerKey()).value()}),
  };
  for (const Json& keys : cases) {
    Json claims = GuestClaims();
    claims["x-ms-runtime"]["keys"] = keys;
    EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("x-ms-runtime.keys")))
        << keys.dump();
  }
  Json claims = GuestClaims();
  claims.erase("x-ms-runtime");
  EXPECT_THAT(broker_->Release("disk", version, Request(Token(claims)), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing")));
}

TEST_F(KeyBrokerTest, CreateRejectsBadRequests) {
  const SecretBytes short_key = crypto::RandomSecret(20);
  Json wrong_size = CreateBody(SnpPolicy(), &short_key);
  Json unknown_member = CreateBody(SnpPolicy());
  unknown_member["colour"] = Json::object();
  Json bad_key_size = CreateBody(SnpPolicy());
  bad_key_size["key_size"] = 512;
  Json no_policy = CreateBody(SnpPolicy());
  no_policy.erase("release_policy");
  Json bad_version = CreateBody(SnpPolicy());
  Json policy_102 = SnpPolicy();
  policy_102["version"] = "1.0.2";
  bad_version["release_policy"] = EncodedPolicy(policy_102);
  Json malformed_policy = CreateBody(SnpPolicy());
  malformed_policy["release_policy"]["data"] = Base64UrlEncode(AsBytes("{\"anyOf\": ["));
  Json policy_not_base64 = CreateBody(SnpPolicy());
  policy_not_base64["release_policy"]["data"] = "***";
  Json wrong_content_type = CreateBody(SnpPolicy());
  wrong_content_type["release_policy"]["contentType"] = "text/plain";
  Json bad_kty = CreateBody(SnpPolicy());
  bad_kty["kty"] = "OKP";
  Json bad_attribute = CreateBody(SnpPolicy());
  bad_attribute["attributes"]["exportable"] = "yes";

  const std::pair<const char*, Json> cases[] = {
      {"bytes, want 16, 24 or 32", wrong_size},
      {"unknown member \"colour\"", unknown_member},
      {"key_size 512", bad_key_size},
      {"exportable key needs a release_policy", no_policy},
      {"version \"1.0.2\" is not supported", bad_version},
      {"invalid JSON", malformed_policy},
      {"not valid base64url", policy_not_base64},
      {"contentType", wrong_content_type},
      {"kty \"OKP\"", bad_kty},
      {"must be true or false", bad_attribute},
  };
  for (const auto& [message, body] : cases) {
    EXPECT_THAT(broker_->CreateKey("disk", body, kBaseUrl, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << message;
  }
  EXPECT_THAT(broker_->CreateKey("bad name!", CreateBody(SnpPolicy()), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(KeyBrokerTest, CreateRejectsKeySizeOutsideIntRange) {
  // Each value truncates to 256 or 128 when narrowed to int.
  const Json sizes[] = {Json(4294967552ULL), Json(int64_t{-4294967040}), Json(4294967424ULL),
                        Json(18446744073709551615ULL), Json(256.0)};
  for (const Json& size : sizes) {
    Json body = CreateBody(SnpPolicy());
    body["key_size"] = size;
    EXPECT_THAT(broker_->CreateKey("disk", body, kBaseUrl, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("key_size " + size.dump() + ", want 128, 192 or 256")))
        << size.dump();
  }
  EXPECT_THAT(broker_->ListVersions("disk", kBaseUrl), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KeyBrokerTest, CreateRejectsPolicyDataWithNulByte) {
  Json body = CreateBody(SnpPolicy());
  const std::string policy_text = SnpPolicy().dump() + std::string("\0junk", 5);
  body["release_policy"]["data"] = Base64UrlEncode(AsBytes(policy_text));
  EXPECT_THAT(broker_->CreateKey("disk", body, kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(fmt::format("invalid JSON at byte {}", SnpPolicy().dump().size() + 1))));
}

TEST_F(KeyBrokerTest, CreateAcceptsInlinePolicyObject) {
  Json body = CreateBody(SnpPolicy());
  body["release_policy"] = SnpPolicy();
  ASSERT_OK_AND_ASSIGN(const Json metadata, broker_->CreateKey("disk", body, kBaseUrl, kNow));
  EXPECT_EQ(metadata["release_policy"]["data"], Base64UrlEncode(AsBytes(SnpPolicy().dump())));
}

TEST_F(KeyBrokerTest, MetadataHoldsNoKeyMaterial) {
  const SecretBytes key = crypto::RandomSecret(32);
  const std::string version = CreateImported(key);
  ASSERT_OK_AND_ASSIGN(const Json metadata, broker_->GetKey("disk", version, kBaseUrl));
  EXPECT_EQ(metadata["key"]["kid"], "https://vouch.test/keys/disk/" + version);
  EXPECT_EQ(metadata["key"]["kty"], "oct-HSM");
  EXPECT_FALSE(metadata["key"].contains("k"));
  EXPECT_FALSE(metadata["key"].contains("key_hsm"));
  EXPECT_THAT(metadata.dump(), Not(HasSubstr(Base64UrlEncode(key.Expose()))));
  EXPECT_THAT(metadata.dump(), Not(HasSubstr(HexEncode(key.Expose()))));

  ASSERT_OK_AND_ASSIGN(const Json versions, broker_->ListVersions("disk", kBaseUrl));
  EXPECT_EQ(versions["value"].size(), 1u);
}

TEST_F(KeyBrokerTest, AuditRecordsDecisions) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  ASSERT_OK(ReleaseAndUnwrap(version, GuestClaims()).status());
  Json denied = GuestClaims();
  denied["x-ms-sevsnpvm-vmpl"] = 2;
  EXPECT_FALSE(broker_->Release("disk", version, Request(Token(denied)), kBaseUrl, kNow).ok());

  ASSERT_OK_AND_ASSIGN(const std::vector<store::AuditEvent> events, store_->ReadAudit(10));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].operation, "key.create");
  EXPECT_EQ(events[1].operation, "key.release");
  EXPECT_EQ(events[1].outcome, "granted");
  EXPECT_EQ(events[1].target, "keys/disk/" + version);
  EXPECT_THAT(events[1].actor, HasSubstr("token:"));
  EXPECT_EQ(events[2].outcome, "denied");
  EXPECT_THAT(events[2].detail, HasSubstr("x-ms-sevsnpvm-vmpl lessOrEquals 0 failed: found 2"));
}

std::vector<store::AuditEvent> ReleaseEvents(store::Store& store) {
  std::vector<store::AuditEvent> events = store.ReadAudit(store::kAllAuditEvents).value();
  std::erase_if(events, [](const store::AuditEvent& event) {
    return event.operation != "key.release";
  });
  return events;
}

TEST_F(KeyBrokerTest, ReleaseRejectsInvalidNameOrVersionUnaudited) {
  CreateImported(crypto::RandomSecret(32));
  const std::string garbage_token(100 * 1024, 'g');
  const std::pair<std::string, std::string> cases[] = {
      {std::string(15 * 1024, 'a'), ""},
      {std::string(128, 'a'), ""},
      {"", ""},
      {"bad name!", ""},
      {"disk", std::string(15 * 1024, '0')},
      {"disk", "0123456789ABCDEF0123456789ABCDEF"},
      {"disk", "latest"},
  };
  for (const auto& [name, version] : cases) {
    EXPECT_THAT(broker_->Release(name, version, Request(garbage_token), kBaseUrl, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "name of " << name.size() << " bytes, version of " << version.size() << " bytes";
  }
  EXPECT_TRUE(ReleaseEvents(*store_).empty());
}

TEST_F(KeyBrokerTest, InvalidTokenDenialsAreRateLimited) {
  CreateImported(crypto::RandomSecret(32));
  const std::string garbage_token(100 * 1024, 'g');
  for (int i = 0; i < 30; ++i) {
    EXPECT_THAT(broker_->Release("disk", "", Request(garbage_token), kBaseUrl, kNow),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  std::vector<store::AuditEvent> events = ReleaseEvents(*store_);
  ASSERT_EQ(events.size(), 20u);
  for (const store::AuditEvent& event : events) {
    EXPECT_EQ(event.outcome, "denied");
    EXPECT_EQ(event.target, "keys/disk/latest");
    EXPECT_LE(event.detail.size(), kMaxAuditDetailBytes + 64);
  }

  // The next denial after the window first writes the count of the 10 left out.
  const absl::Time later = kNow + absl::Seconds(61);
  EXPECT_THAT(broker_->Release("disk", "", Request(garbage_token), kBaseUrl, later),
              StatusIs(absl::StatusCode::kUnauthenticated));
  events = ReleaseEvents(*store_);
  ASSERT_EQ(events.size(), 22u);
  EXPECT_EQ(events[20].target, "keys/disk");
  EXPECT_EQ(events[20].outcome, "denied");
  EXPECT_THAT(events[20].detail,
              HasSubstr("10 more denied releases with invalid tokens suppressed between "
                        "2026-01-01T00:00:00Z and 2026-01-01T00:01:00Z"));
  EXPECT_EQ(events[21].target, "keys/disk/latest");
  EXPECT_THAT(events[21].detail, Not(HasSubstr("suppressed")));
}

TEST_F(KeyBrokerTest, SuppressedDenialsSummarizedBeforeGrant) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  for (int i = 0; i < 25; ++i) {
    EXPECT_FALSE(broker_->Release("disk", version, Request("not-a-token"), kBaseUrl, kNow).ok());
  }
  const absl::Time later = kNow + absl::Seconds(61);
  ASSERT_OK(broker_->Release("disk", version, Request(Token(GuestClaims())), kBaseUrl, later)
                .status());

  const std::vector<store::AuditEvent> events = ReleaseEvents(*store_);
  ASSERT_EQ(events.size(), 22u);
  EXPECT_THAT(events[20].detail, HasSubstr("5 more denied releases with invalid tokens"));
  EXPECT_EQ(events[21].outcome, "granted");
}

TEST_F(KeyBrokerTest, InvalidTokenRowsCappedAcrossKeys) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<KeyBroker> broker,
      KeyBroker::Create({.store = store_.get(),
                         .keystore = keystore_.get(),
                         .validator = &*validator_,
                         .signing_key = BrokerKey()},
                        {.max_rows_per_key = 2, .max_rows_total = 5, .max_tracked_keys = 4}));
  for (int i = 0; i < 50; ++i) {
    const std::string name = fmt::format("key-{}", i);
    EXPECT_THAT(broker->Release(name, "", Request("not-a-token"), kBaseUrl, kNow),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  EXPECT_EQ(ReleaseEvents(*store_).size(), 5u);
}

TEST_F(KeyBrokerTest, LongAuditDetailIsCut) {
  CreateImported(crypto::RandomSecret(32));
  // The validator quotes the header's alg in its message.
  const std::string header = Json{{"alg", std::string(20000, 'A')}, {"typ", "JWT"}}.dump();
  const std::string token = Base64UrlEncode(AsBytes(header)) + ".e30.c2ln";
  absl::StatusOr<Json> released = broker_->Release("disk", "", Request(token), kBaseUrl, kNow);
  ASSERT_THAT(released, StatusIs(absl::StatusCode::kUnauthenticated));
  ASSERT_GT(released.status().ToString().size(), kMaxAuditDetailBytes);

  const std::vector<store::AuditEvent> events = ReleaseEvents(*store_);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_LE(events[0].detail.size(), kMaxAuditDetailBytes + 64);
  EXPECT_THAT(events[0].detail, HasSubstr("bytes in all]"));
}

TEST_F(KeyBrokerTest, UnwrapRejectsWrongKeysAndTampering) {
  const std::string version = CreateImported(crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(const Json response,
                       broker_->Release("disk", version, Request(Token(GuestClaims())), kBaseUrl,
                                        kNow));
  const std::string value = response["value"].get<std::string>();

  EXPECT_THAT(UnwrapReleasedKey(value, OtherGuestKey()),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(UnwrapReleasedKey(value, GuestKey(),
                                {.broker_key = TokenKey()}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
  EXPECT_THAT(UnwrapReleasedKey(value, GuestKey(),
                                {.expected_enc = KeyExportEnc::kRsaAesKeyWrap384}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want RSA_AES_KEY_WRAP_384")));
  EXPECT_OK(UnwrapReleasedKey(value, GuestKey(),
                              {.broker_key = BrokerKey()})
                .status());

  // A payload re-encoded with another enc no longer verifies.
  ASSERT_OK_AND_ASSIGN(crypto::JwsParts parts, crypto::JwsDecode(value));
  Json payload = Json::parse(parts.payload);
  payload["request"]["enc"] = "RSA_AES_KEY_WRAP_256";
  const size_t first_dot = value.find('.');
  const std::string tampered = value.substr(0, first_dot + 1) +
                               Base64UrlEncode(AsBytes(payload.dump())) +
                               value.substr(value.rfind('.'));
  const Json jwks = broker_->Jwks();
  EXPECT_THAT(UnwrapReleasedKey(tampered, GuestKey(), {.broker_jwks = &jwks}),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(UnwrapReleasedKey(tampered, GuestKey()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("differs from key_hsm")));
  EXPECT_THAT(UnwrapReleasedKey("garbage", GuestKey()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyBrokerCreateTest, RequiresDependencies) {
  EXPECT_THAT(KeyBroker::Create({}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyBrokerHelpersTest, KeyIdAndLabel) {
  EXPECT_EQ(KeyId("https://vouch.test/", "disk", "abc"), "https://vouch.test/keys/disk/abc");
  EXPECT_EQ(KeyId("https://vouch.test", "disk", "abc"), "https://vouch.test/keys/disk/abc");
  EXPECT_EQ(KeyLabel("disk", "abc"), "key:disk:abc");
}

}  // namespace
}  // namespace vouch::broker
