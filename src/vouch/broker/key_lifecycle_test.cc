// Key lifecycle of the KeyBroker (create, rotate, disable, policies, soft
// delete, recover, purge, purge protection), its audit records, and the
// signed audit heads.
#include <openssl/x509.h>
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
#include "vouch/broker/audit_head.h"
#include "vouch/broker/key_broker.h"
#include "vouch/broker/release_request.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/store/audit.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace vouch::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

constexpr char kIssuerUrl[] = "https://vouch.test";
constexpr char kBaseUrl[] = "https://vouch.test/";
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

EVP_PKEY* TokenKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
  return key;
}
EVP_PKEY* BrokerKey() {
  static EVP_PKEY* key = crypto::GenerateEcKey("P-256").value().release();
  return key;
}
EVP_PKEY* GuestKey() {
  static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
  return key;
}

crypto::SslPtr<EVP_PKEY> CopyKey(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return crypto::SslPtr<EVP_PKEY>(key);
}

Json SnpPolicy() {
  return Json{{"version", "1.0.0"},
              {"anyOf",
               {{{"authority", kIssuerUrl},
                 {"allOf",
                  {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                   {{"claim", "x-ms-sevsnpvm-vmpl"}, {"lessOrEquals", 0}}}}}}}};
}

Json OtherPolicy() {
  Json policy = SnpPolicy();
  policy["anyOf"][0]["allOf"][1]["lessOrEquals"] = 2;
  return policy;
}

Json Exportable(Json body) {
  body["exportable"] = true;
  body["release_policy"] = SnpPolicy();
  return body;
}

std::string VersionOf(const Json& metadata) {
  const std::string kid = metadata["key"]["kid"].get<std::string>();
  return kid.substr(kid.rfind('/') + 1);
}

class KeyLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/vouch_lifecycle_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_OK_AND_ASSIGN(store_, store::SqliteStore::Open(dir_ + "/vouch.db"));
    ASSERT_OK_AND_ASSIGN(keystore_, keystore::SoftwareKeyStore::OpenOrCreate(dir_ + "/root.key"));
    ASSERT_OK_AND_ASSIGN(
        issuer_, token::TokenIssuer::Create(CopyKey(TokenKey()), {.issuer = kIssuerUrl}));
    ASSERT_OK_AND_ASSIGN(validator_, token::TokenValidator::ForIssuer(*issuer_));
    ASSERT_OK_AND_ASSIGN(broker_, MakeBroker(kDefaultRecoveryDays));
  }

  void TearDown() override {
    broker_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<std::unique_ptr<KeyBroker>> MakeBroker(int recovery_days) {
    return KeyBroker::Create({.store = store_.get(),
                              .keystore = keystore_.get(),
                              .validator = &*validator_,
                              .signing_key = BrokerKey(),
                              .recovery_days = recovery_days});
  }

  Json GuestClaims() {
    Json jwk = crypto::PublicKeyToJwk(GuestKey()).value();
    jwk["kid"] = std::string(kEphemeralKeyKid);
    return Json{{"x-ms-attestation-type", "sevsnpvm"},
                {"x-ms-sevsnpvm-vmpl", 0},
                {"x-ms-runtime", {{"keys", Json::array({jwk})}}}};
  }

  std::string Token() { return issuer_->Issue(GuestClaims(), kNow).value(); }

  absl::StatusOr<Json> Release(std::string_view name, std::string_view version = "") {
    return broker_->Release(name, version, ReleaseRequest{Token(), std::nullopt}, kBaseUrl, kNow);
  }

  absl::StatusOr<SecretBytes> ReleaseAndUnwrap(std::string_view name) {
    VOUCH_ASSIGN_OR_RETURN(const Json response, Release(name));
    const Json jwks = broker_->Jwks();
    return UnwrapReleasedKey(response["value"].get<std::string>(), GuestKey(),
                             {.broker_jwks = &jwks});
  }

  Json Create(std::string_view name, const Json& body) {
    absl::StatusOr<Json> metadata = broker_->CreateKey(name, body, kBaseUrl, kNow);
    EXPECT_OK(metadata.status());
    return metadata.value_or(Json());
  }

  std::vector<store::AuditEvent> AuditLog() {
    return store_->ReadAudit(store::kAllAuditEvents).value();
  }

  std::vector<std::string> Operations() {
    std::vector<std::string> operations;
    for (const store::AuditEvent& event : AuditLog()) {
      operations.push_back(event.operation + ":" + event.outcome);
    }
    return operations;
  }

  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<keystore::SoftwareKeyStore> keystore_;
  std::optional<token::TokenIssuer> issuer_;
  std::optional<token::TokenValidator> validator_;
  std::unique_ptr<KeyBroker> broker_;
};

TEST_F(KeyLifecycleTest, CreatesEveryKeyType) {
  struct Case {
    Json body;
    const char* kty;
    int bits;
    const char* public_member;
  };
  const Case cases[] = {
      {{{"kty", "oct-HSM"}, {"key_size", 128}}, "oct-HSM", 128, nullptr},
      {{{"kty", "oct"}}, "oct-HSM", 256, nullptr},
      {{{"kty", "RSA-HSM"}}, "RSA-HSM", 2048, "n"},
      {{{"kty", "RSA"}, {"key_size", 3072}}, "RSA-HSM", 3072, "n"},
      {{{"kty", "RSA-HSM"}, {"key_size", 4096}}, "RSA-HSM", 4096, "n"},
      {{{"kty", "EC-HSM"}}, "EC-HSM", 256, "x"},
      {{{"kty", "EC"}, {"crv", "P-384"}}, "EC-HSM", 384, "x"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string name = fmt::format("key-{}", n++);
    const Json metadata = Create(name, c.body);
    SCOPED_TRACE(c.body.dump());
    EXPECT_EQ(metadata["key"]["kty"], c.kty);
    if (c.public_member != nullptr) {
      EXPECT_TRUE(metadata["key"].contains(c.public_member));
    } else {
      EXPECT_FALSE(metadata["key"].contains("n"));
    }
    ASSERT_OK_AND_ASSIGN(const store::KeyRecord record, store_->GetKey(name, ""));
    EXPECT_EQ(record.key_size_bits, c.bits);
    EXPECT_EQ(record.public_key.empty(), c.public_member == nullptr);
  }
  ASSERT_OK_AND_ASSIGN(const store::KeyRecord p384, store_->GetKey("key-6", ""));
  EXPECT_EQ(p384.curve, "P-384");
  ASSERT_OK_AND_ASSIGN(const Json listed, broker_->ListKeys(kBaseUrl));
  EXPECT_EQ(listed["value"].size(), std::size(cases));
}

TEST_F(KeyLifecycleTest, CreateRejectsInvalidTypesAndFlags) {
  Json too_many_tags = {{"tags", Json::object()}};
  for (int i = 0; i < 16; ++i) {
    too_many_tags["tags"][fmt::format("t{}", i)] = "v";
  }
  const std::pair<const char*, Json> cases[] = {
      {"key_size 1024 for RSA, want 2048, 3072 or 4096", {{"kty", "RSA-HSM"}, {"key_size", 1024}}},
      {"crv \"P-521\", want \"P-256\" or \"P-384\"", {{"kty", "EC-HSM"}, {"crv", "P-521"}}},
      {"EC keys take crv, not key_size", {{"kty", "EC-HSM"}, {"key_size", 256}}},
      {"crv applies to EC keys only", {{"kty", "RSA-HSM"}, {"crv", "P-256"}}},
      {"only oct keys can be imported",
       {{"kty", "RSA-HSM"}, {"key", {{"kty", "oct"}, {"k", "AAAAAAAAAAAAAAAAAAAAAA"}}}}},
      {"immutable is set but there is no release_policy", {{"immutable", true}}},
      {"16 tags, want at most 15", too_many_tags},
      {"tag \"t\" must be a string", {{"tags", {{"t", 1}}}}},
      {"exportable key needs a release_policy", {{"exportable", true}}},
      {"exportable and attributes.exportable differ",
       {{"exportable", true}, {"attributes", {{"exportable", false}}}}},
  };
  for (const auto& [message, body] : cases) {
    EXPECT_THAT(broker_->CreateKey("k", body, kBaseUrl, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << body.dump();
  }
  EXPECT_THAT(broker_->ListKeys(kBaseUrl), ::testing::Not(StatusIs(absl::StatusCode::kInternal)));
  ASSERT_OK_AND_ASSIGN(const Json listed, broker_->ListKeys(kBaseUrl));
  EXPECT_TRUE(listed["value"].empty());
  EXPECT_TRUE(AuditLog().empty());
}

TEST_F(KeyLifecycleTest, TagsAndImmutableFlagRoundTrip) {
  Json body = Exportable({{"tags", {{"volume", "6f1c"}}}});
  body["immutable"] = true;
  const Json metadata = Create("k", body);
  EXPECT_EQ(metadata["tags"], Json({{"volume", "6f1c"}}));
  EXPECT_EQ(metadata["release_policy"]["immutable"], true);
  EXPECT_EQ(metadata["attributes"]["recoverableDays"], 90);
  EXPECT_EQ(metadata["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
}

TEST_F(KeyLifecycleTest, PrivateKeysReleaseAsPkcs8) {
  for (const Json& body : {Json{{"kty", "RSA-HSM"}}, Json{{"kty", "EC-HSM"}, {"crv", "P-384"}}}) {
    const std::string name = body["kty"] == "RSA-HSM" ? "rsa" : "ec";
    const Json metadata = Create(name, Exportable(body));
    ASSERT_OK_AND_ASSIGN(const SecretBytes released, ReleaseAndUnwrap(name));
    const ByteSpan der = released.Expose();
    const unsigned char* cursor = der.data();
    crypto::SslPtr<EVP_PKEY> private_key(
        d2i_AutoPrivateKey(nullptr, &cursor, static_cast<long>(der.size())));
    ASSERT_NE(private_key, nullptr) << name << ": release is not PKCS#8 DER";
    ASSERT_OK_AND_ASSIGN(const Json jwk, crypto::PublicKeyToJwk(private_key.get()));
    const char* member = name == "rsa" ? "n" : "x";
    EXPECT_EQ(jwk[member], metadata["key"][member]) << name;
  }
}

TEST_F(KeyLifecycleTest, RotateCarriesPolicyAndExportableOver) {
  Json body = Exportable({{"kty", "EC-HSM"}, {"tags", {{"team", "storage"}}}});
  const Json first = Create("k", body);
  ASSERT_OK_AND_ASSIGN(const Json second,
                       broker_->RotateKey("k", Json(), kBaseUrl, kNow + absl::Seconds(1)));
  EXPECT_NE(VersionOf(second), VersionOf(first));
  EXPECT_EQ(second["key"]["kty"], "EC-HSM");
  EXPECT_EQ(second["attributes"]["exportable"], true);
  EXPECT_EQ(second["release_policy"], first["release_policy"]);
  EXPECT_EQ(second["tags"], first["tags"]);
  EXPECT_NE(second["key"]["x"], first["key"]["x"]);

  ASSERT_OK_AND_ASSIGN(const Json latest, broker_->GetKey("k", "", kBaseUrl));
  EXPECT_EQ(VersionOf(latest), VersionOf(second));
  ASSERT_OK_AND_ASSIGN(const Json versions, broker_->ListVersions("k", kBaseUrl));
  ASSERT_EQ(versions["value"].size(), 2u);
  EXPECT_EQ(VersionOf(versions["value"][0]), VersionOf(first));
  EXPECT_OK(Release("k").status());
}

TEST_F(KeyLifecycleTest, RotateReplacesPolicyWhenGiven) {
  Create("k", Exportable({}));
  ASSERT_OK_AND_ASSIGN(const Json rotated,
                       broker_->RotateKey("k", {{"release_policy", OtherPolicy()}}, kBaseUrl,
                                          kNow + absl::Seconds(1)));
  EXPECT_EQ(rotated["release_policy"]["data"], Base64UrlEncode(AsBytes(OtherPolicy().dump())));
  ASSERT_OK_AND_ASSIGN(const Json not_exportable,
                       broker_->RotateKey("k", {{"exportable", false}}, kBaseUrl,
                                          kNow + absl::Seconds(2)));
  EXPECT_EQ(not_exportable["attributes"]["exportable"], false);
}

TEST_F(KeyLifecycleTest, RotateRefusals) {
  EXPECT_THAT(broker_->RotateKey("absent", Json(), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("key absent not found")));
  Json body = Exportable({});
  body["immutable"] = true;
  Create("k", body);
  EXPECT_THAT(broker_->RotateKey("k", {{"release_policy", OtherPolicy()}}, kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is immutable, so a rotation cannot replace it")));
  EXPECT_THAT(broker_->RotateKey("k", {{"kty", "RSA"}}, kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown member \"kty\"")));
  // Without a new policy the immutable one carries over.
  ASSERT_OK_AND_ASSIGN(const Json rotated, broker_->RotateKey("k", Json(), kBaseUrl, kNow));
  EXPECT_EQ(rotated["release_policy"]["immutable"], true);
  EXPECT_THAT(Operations(), ElementsAre("key.create:ok", "key.rotate:denied", "key.rotate:ok"));
}

TEST_F(KeyLifecycleTest, DisabledVersionIsNeverReleased) {
  const std::string version = VersionOf(Create("k", Exportable({})));
  ASSERT_OK_AND_ASSIGN(const Json disabled,
                       broker_->SetEnabled("k", version, false, kBaseUrl, kNow));
  EXPECT_EQ(disabled["attributes"]["enabled"], false);
  EXPECT_THAT(Release("k", version),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is disabled")));
  EXPECT_THAT(Release("k"), StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("disabled")));
  ASSERT_OK(broker_->SetEnabled("k", version, true, kBaseUrl, kNow).status());
  EXPECT_OK(Release("k").status());
  EXPECT_THAT(broker_->SetEnabled("k", std::string(32, 'f'), false, kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Operations(), ElementsAre("key.create:ok", "key.disable:ok", "key.release:denied",
                                        "key.release:denied", "key.enable:ok",
                                        "key.release:granted"));
}

TEST_F(KeyLifecycleTest, KeyWithoutPolicyIsNeverReleased) {
  const std::string version = VersionOf(Create("k", {{"kty", "oct-HSM"}}));
  EXPECT_THAT(Release("k"), StatusIs(absl::StatusCode::kPermissionDenied,
                                     HasSubstr("has no release policy, so it is never released")));
  EXPECT_THAT(broker_->GetReleasePolicy("k", version),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has no release policy")));
  // A policy alone does not make it exportable.
  ASSERT_OK(broker_->SetReleasePolicy("k", version, SnpPolicy(), kNow).status());
  EXPECT_THAT(Release("k"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is not exportable")));
}

TEST_F(KeyLifecycleTest, ReleasePolicyIsReplacedAtomically) {
  const std::string version = VersionOf(Create("k", Exportable({})));
  ASSERT_OK_AND_ASSIGN(const Json before, broker_->GetReleasePolicy("k", version));
  EXPECT_EQ(before["data"], Base64UrlEncode(AsBytes(SnpPolicy().dump())));
  EXPECT_EQ(before["immutable"], false);

  const Json envelope = {{"contentType", "application/json; charset=utf-8"},
                         {"data", Base64UrlEncode(AsBytes(OtherPolicy().dump()))},
                         {"immutable", true}};
  ASSERT_OK(broker_->SetReleasePolicy("k", version, envelope, kNow).status());
  ASSERT_OK_AND_ASSIGN(const Json after, broker_->GetReleasePolicy("k", version));
  EXPECT_EQ(after["data"], envelope["data"]);
  EXPECT_EQ(after["immutable"], true);

  EXPECT_THAT(broker_->SetReleasePolicy("k", version, SnpPolicy(), kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("immutable")));
  EXPECT_THAT(broker_->SetReleasePolicy("k", version, {{"anyOf", 1}}, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(const Json unchanged, broker_->GetReleasePolicy("k", version));
  EXPECT_EQ(unchanged["data"], envelope["data"]);
  EXPECT_THAT(Operations(), ElementsAre("key.create:ok", "key.policy:ok", "key.policy:denied"));
}

TEST_F(KeyLifecycleTest, DeleteRecoverAndPurge) {
  Create("k", Exportable({}));
  ASSERT_OK_AND_ASSIGN(const Json deleted, broker_->DeleteKey("k", kBaseUrl, kNow));
  EXPECT_EQ(deleted["recoveryId"], "https://vouch.test/deletedkeys/k");
  EXPECT_EQ(deleted["deletedDate"], absl::ToUnixSeconds(kNow));
  EXPECT_EQ(deleted["scheduledPurgeDate"], absl::ToUnixSeconds(kNow + absl::Hours(24 * 90)));

  EXPECT_THAT(broker_->GetKey("k", "", kBaseUrl),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted")));
  EXPECT_THAT(Release("k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(broker_->DeleteKey("k", kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already deleted")));
  EXPECT_THAT(broker_->CreateKey("k", Json::object(), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("name stays taken")));
  ASSERT_OK_AND_ASSIGN(const Json listed, broker_->ListKeys(kBaseUrl));
  EXPECT_TRUE(listed["value"].empty());
  ASSERT_OK_AND_ASSIGN(const Json deleted_list, broker_->ListDeletedKeys(kBaseUrl));
  ASSERT_EQ(deleted_list["value"].size(), 1u);

  ASSERT_OK_AND_ASSIGN(const Json recovered, broker_->RecoverKey("k", kBaseUrl, kNow));
  EXPECT_EQ(recovered["attributes"]["exportable"], true);
  EXPECT_OK(Release("k").status());
  EXPECT_THAT(broker_->RecoverKey("k", kBaseUrl, kNow), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(broker_->PurgeKey("k", kNow),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted key k not found")));

  ASSERT_OK(broker_->DeleteKey("k", kBaseUrl, kNow).status());
  ASSERT_OK(broker_->PurgeKey("k", kNow));
  EXPECT_THAT(broker_->GetDeletedKey("k", kBaseUrl), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(broker_->GetKey("k", "", kBaseUrl),
              StatusIs(absl::StatusCode::kNotFound, Not(HasSubstr("deleted"))));
  EXPECT_OK(broker_->CreateKey("k", Json::object(), kBaseUrl, kNow).status());
  EXPECT_THAT(Operations(),
              ElementsAre("key.create:ok", "key.delete:ok", "key.release:denied",
                          "key.delete:denied",
                          "key.create:denied", "key.recover:ok", "key.release:granted",
                          "key.delete:ok", "key.purge:ok", "key.create:ok"));
}

TEST_F(KeyLifecycleTest, RecoveryPeriodIsConfigurable) {
  ASSERT_OK_AND_ASSIGN(broker_, MakeBroker(7));
  Create("k", {});
  ASSERT_OK_AND_ASSIGN(const Json deleted, broker_->DeleteKey("k", kBaseUrl, kNow));
  EXPECT_EQ(deleted["scheduledPurgeDate"], absl::ToUnixSeconds(kNow + absl::Hours(24 * 7)));
  for (const int days : {6, 91, 0}) {
    EXPECT_THAT(MakeBroker(days), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr(fmt::format("{} days, want 7 to 90", days))));
  }
}

TEST_F(KeyLifecycleTest, PurgeProtectionDelaysPurgeAndStaysOn) {
  ASSERT_OK_AND_ASSIGN(const bool initially, broker_->PurgeProtection());
  EXPECT_FALSE(initially);
  ASSERT_OK(broker_->SetPurgeProtection(true, kNow));
  ASSERT_OK(broker_->SetPurgeProtection(true, kNow));
  EXPECT_THAT(broker_->SetPurgeProtection(false, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot be switched off")));
  ASSERT_OK_AND_ASSIGN(const bool after, broker_->PurgeProtection());
  EXPECT_TRUE(after);

  Create("k", {});
  ASSERT_OK_AND_ASSIGN(const Json metadata, broker_->GetKey("k", "", kBaseUrl));
  EXPECT_EQ(metadata["attributes"]["recoveryLevel"], "Recoverable");
  ASSERT_OK(broker_->DeleteKey("k", kBaseUrl, kNow).status());
  const absl::Time purge_time = kNow + absl::Hours(24 * 90);
  EXPECT_THAT(broker_->PurgeKey("k", purge_time - absl::Seconds(1)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("purge protection is on: deleted key k can be purged from "
                                 "2026-04-01T00:00:00Z")));
  ASSERT_OK_AND_ASSIGN(const Json still_deleted, broker_->GetDeletedKey("k", kBaseUrl));
  EXPECT_EQ(still_deleted["recoveryId"], "https://vouch.test/deletedkeys/k");
  EXPECT_OK(broker_->PurgeKey("k", purge_time));
  EXPECT_THAT(Operations(),
              ElementsAre("settings.purge-protection:ok", "settings.purge-protection:denied",
                          "key.create:ok", "key.delete:ok", "key.purge:denied", "key.purge:ok"));
}

TEST_F(KeyLifecycleTest, ReleaseAuditNamesIssuerEvidenceAndCondition) {
  Create("k", Exportable({}));
  ASSERT_OK(Release("k").status());
  Json claims = GuestClaims();
  claims["x-ms-sevsnpvm-vmpl"] = 3;
  const std::string denied_token = issuer_->Issue(claims, kNow).value();
  EXPECT_THAT(broker_->Release("k", "", ReleaseRequest{denied_token, std::nullopt}, kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));

  const std::vector<store::AuditEvent> events = AuditLog();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].outcome, "granted");
  EXPECT_THAT(events[1].detail,
              HasSubstr("issuer https://vouch.test evidence sevsnpvm enc CKM_RSA_AES_KEY_WRAP"));
  EXPECT_THAT(events[1].detail, HasSubstr("statement for authority https://vouch.test satisfied"));
  EXPECT_EQ(events[2].outcome, "denied");
  EXPECT_THAT(events[2].detail, HasSubstr("issuer https://vouch.test evidence sevsnpvm: "));
  EXPECT_THAT(events[2].detail, HasSubstr("x-ms-sevsnpvm-vmpl lessOrEquals 0 failed: found 3"));
  for (const store::AuditEvent& event : events) {
    EXPECT_THAT(event.detail, Not(HasSubstr(denied_token.substr(0, 40))));
    EXPECT_THAT(event.actor, Not(HasSubstr(".")));
  }
  EXPECT_OK(store::VerifyAuditChain(*store_));
}

TEST_F(KeyLifecycleTest, ChangeThatFailsLeavesNoKeyMaterialOrRecord) {
  Create("k", {});
  ASSERT_OK(broker_->DeleteKey("k", kBaseUrl, kNow).status());
  const size_t before = AuditLog().size();
  EXPECT_THAT(broker_->RotateKey("k", Json(), kBaseUrl, kNow),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted")));
  EXPECT_EQ(AuditLog().size(), before);
}

class AuditHeadTest : public KeyLifecycleTest {
 protected:
  Json Jwks() {
    const crypto::JwsAlg alg = token::SigningAlgForKey(TokenKey()).value();
    return Json{{"keys", {token::PublicJwk(TokenKey(), alg).value()}}};
  }
};

TEST_F(AuditHeadTest, SignedHeadsVerify) {
  AuditHeadSigner signer(store_.get(), TokenKey(), {.every_records = 3, .every = absl::Hours(1)});
  ASSERT_OK_AND_ASSIGN(const bool empty_signed, signer.Sign(kNow));
  EXPECT_FALSE(empty_signed);
  Create("a", {});
  Create("b", {});
  ASSERT_OK_AND_ASSIGN(const bool early, signer.SignIfDue(kNow));
  EXPECT_FALSE(early);
  Create("c", {});
  ASSERT_OK_AND_ASSIGN(const bool due, signer.SignIfDue(kNow));
  EXPECT_TRUE(due);
  ASSERT_OK_AND_ASSIGN(const bool again, signer.Sign(kNow));
  EXPECT_FALSE(again) << "the newest record is already a head";
  Create("d", {});
  ASSERT_OK_AND_ASSIGN(const bool by_time, signer.SignIfDue(kNow + absl::Hours(2)));
  EXPECT_TRUE(by_time);

  const std::vector<store::AuditEvent> events = AuditLog();
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[3].operation, kAuditHeadOperation);
  ASSERT_OK_AND_ASSIGN(const AuditLogReport report, VerifyAuditLog(events, Jwks()));
  EXPECT_EQ(report.records, 6);
  EXPECT_EQ(report.heads, 2);
  EXPECT_EQ(report.last_signed_sequence, 6);
  EXPECT_EQ(report.last_head, events[5].detail);
}

TEST_F(AuditHeadTest, RewrittenLogFailsAtTheSignedHead) {
  AuditHeadSigner signer(store_.get(), TokenKey());
  Create("a", {});
  Create("b", {});
  ASSERT_OK(signer.Sign(kNow).status());
  std::vector<store::AuditEvent> events = AuditLog();
  // Edit record 1 and rebuild the whole chain, as someone with write access
  // to the file could: only the head's signed hash shows it.
  events[0].detail = "edited";
  Bytes prev(store::kAuditHashBytes, 0);
  for (store::AuditEvent& event : events) {
    event.prev_hash = prev;
    event.hash = store::ChainAuditHash(prev, event);
    prev = event.hash;
  }
  EXPECT_THAT(VerifyAuditLog(events, Jwks()),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("record 3 (signed head): signs hash")));

  std::vector<store::AuditEvent> wrong_key = AuditLog();
  const Json other_jwks = {
      {"keys", {token::PublicJwk(BrokerKey(), crypto::JwsAlg::kEs256).value()}}};
  EXPECT_THAT(VerifyAuditLog(wrong_key, other_jwks),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is not in the JWKS")));

  std::vector<store::AuditEvent> edited = AuditLog();
  edited[1].outcome = "denied";
  EXPECT_THAT(VerifyAuditLog(edited, Jwks()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 2")));
}

TEST_F(AuditHeadTest, JsonRoundTripKeepsHashes) {
  AuditHeadSigner signer(store_.get(), TokenKey());
  Create("a", {});
  ASSERT_OK(signer.Sign(kNow + absl::Microseconds(17)).status());
  std::vector<store::AuditEvent> decoded;
  for (const store::AuditEvent& event : AuditLog()) {
    ASSERT_OK_AND_ASSIGN(store::AuditEvent copy, AuditEventFromJson(AuditEventToJson(event)));
    EXPECT_EQ(copy.time, event.time);
    decoded.push_back(std::move(copy));
  }
  EXPECT_OK(VerifyAuditLog(decoded, Jwks()).status());
  EXPECT_THAT(AuditEventFromJson({{"sequence", 1}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("time must be a string")));
}

}  // namespace
}  // namespace vouch::broker
