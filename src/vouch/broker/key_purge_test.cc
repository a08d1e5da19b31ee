// Purge order of the KeyBroker: the key store objects are destroyed first
// and the records removed after them, so a purge that stops half-way keeps
// the records and a repeated purge finishes. Runs on the software key store
// and on a SoftHSM2 token, whose objects the tests list.
#include <stdlib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/broker/key_broker.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/pkcs11_keystore.h"
#include "vouch/keystore/pkcs11_module.h"
#include "vouch/keystore/softhsm_testing.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/store/audit.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace vouch::broker {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

constexpr char kIssuerUrl[] = "https://vouch.test";
constexpr char kBaseUrl[] = "https://vouch.test/";
constexpr char kTokenLabel[] = "purge";
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

EVP_PKEY* TokenKey() {
  static EVP_PKEY* key = crypto::GenerateEcKey("P-256").value().release();
  return key;
}

crypto::SslPtr<EVP_PKEY> CopyKey(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return crypto::SslPtr<EVP_PKEY>(key);
}

std::string VersionOf(const Json& metadata) {
  const std::string kid = metadata["key"]["kid"].get<std::string>();
  return kid.substr(kid.rfind('/') + 1);
}

// FailingKeyStore forwards to another key store, except that DestroyKey of
// `fail_label` fails with Unavailable, as an HSM that went away would.
class FailingKeyStore : public keystore::KeyStore {
 public:
  explicit FailingKeyStore(keystore::KeyStore* inner) : inner_(inner) {}

  void FailDestroyOf(std::optional<std::string> label) { fail_label_ = std::move(label); }

  std::string_view Name() const override { return inner_->Name(); }
  absl::StatusOr<keystore::GeneratedKey> GenerateKey(const keystore::KeySpec& spec,
                                                     std::string_view label) override {
    return inner_->GenerateKey(spec, label);
  }
  absl::StatusOr<Bytes> GenerateSymmetric(int size_bits, std::string_view label) override {
    return inner_->GenerateSymmetric(size_bits, label);
  }
  absl::StatusOr<Bytes> ImportSymmetric(const SecretBytes& key, std::string_view label) override {
    return inner_->ImportSymmetric(key, label);
  }
  absl::StatusOr<Bytes> WrapForRelease(ByteSpan sealed, std::string_view label, EVP_PKEY* target,
                                       crypto::HashAlg oaep_hash) override {
    return inner_->WrapForRelease(sealed, label, target, oaep_hash);
  }
  absl::Status DestroyKey(ByteSpan sealed, std::string_view label) override {
    if (fail_label_.has_value() && label == *fail_label_) {
      return Unavailablef("test key store: destroy {} failed", label);
    }
    return inner_->DestroyKey(sealed, label);
  }
  absl::StatusOr<Bytes> Seal(const SecretBytes& secret, std::string_view label) override {
    return inner_->Seal(secret, label);
  }
  absl::StatusOr<SecretBytes> Unseal(ByteSpan sealed, std::string_view label) override {
    return inner_->Unseal(sealed, label);
  }

 private:
  keystore::KeyStore* inner_;
  std::optional<std::string> fail_label_;
};

// TokenObjectLabels returns the CKA_LABEL of every object on the SoftHSM2
// token, public or private, by a session of its own.
absl::StatusOr<std::multiset<std::string>> TokenObjectLabels(const keystore::SoftHsmToken& token) {
  VOUCH_ASSIGN_OR_RETURN(std::shared_ptr<keystore::Pkcs11Module> module,
                         keystore::Pkcs11Module::Load(keystore::kSoftHsmModulePath));
  CK_FUNCTION_LIST* fn = module->functions();

  CK_SLOT_ID slots[8];
  CK_ULONG count = 8;
  if (fn->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK || count == 0) {
    return Internalf("C_GetSlotList found no token");
  }
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  if (fn->C_OpenSession(slots[0], CKF_SERIAL_SESSION, nullptr, nullptr, &session) != CKR_OK) {
    return Internalf("C_OpenSession failed");
  }
  std::string pin = token.pin;
  const CK_RV login = fn->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(pin.data()),
                                  pin.size());
  if (login != CKR_OK && login != CKR_USER_ALREADY_LOGGED_IN) {
    fn->C_CloseSession(session);
    return Internalf("C_Login failed: 0x{:x}", login);
  }

  std::multiset<std::string> labels;
  if (fn->C_FindObjectsInit(session, nullptr, 0) != CKR_OK) {
    fn->C_CloseSession(session);
    return Internalf("C_FindObjectsInit failed");
  }
  for (;;) {
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    CK_ULONG found = 0;
    if (fn->C_FindObjects(session, &object, 1, &found) != CKR_OK || found == 0) {
      break;
    }
    char label[256] = {};
    CK_ATTRIBUTE attribute = {CKA_LABEL, label, sizeof(label) - 1};
    if (fn->C_GetAttributeValue(session, object, &attribute, 1) == CKR_OK) {
      labels.insert(std::string(label, attribute.ulValueLen));
    }
  }

  fn->C_FindObjectsFinal(session);
  fn->C_CloseSession(session);
  return labels;
}

class KeyPurgeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/vouch_purge_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_OK_AND_ASSIGN(store_, store::SqliteStore::Open(dir_ + "/vouch.db"));
    if (UsesToken()) {
      ASSERT_OK_AND_ASSIGN(token_, keystore::CreateSoftHsmToken(dir_, kTokenLabel));
      ASSERT_OK_AND_ASSIGN(inner_keystore_, keystore::Pkcs11KeyStore::Open(token_.Options()));
    } else {
      ASSERT_OK_AND_ASSIGN(inner_keystore_,
                           keystore::SoftwareKeyStore::OpenOrCreate(dir_ + "/root.key"));
    }
    keystore_ = std::make_unique<FailingKeyStore>(inner_keystore_.get());
    ASSERT_OK_AND_ASSIGN(
        issuer_, token::TokenIssuer::Create(CopyKey(TokenKey()), {.issuer = kIssuerUrl}));
    ASSERT_OK_AND_ASSIGN(validator_, token::TokenValidator::ForIssuer(*issuer_));
    ASSERT_OK_AND_ASSIGN(broker_, KeyBroker::Create({.store = store_.get(),
                                                     .keystore = keystore_.get(),
                                                     .validator = &*validator_,
                                                     .signing_key = TokenKey()}));
  }

  void TearDown() override {
    broker_.reset();
    keystore_.reset();
    inner_keystore_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool UsesToken() const { return GetParam() == "SoftHsm"; }

  // CreateDeletedKey makes `versions` versions of key `name`, soft-deletes
  // it and returns the versions, oldest first.
  std::vector<std::string> CreateDeletedKey(std::string_view name, int versions) {
    std::vector<std::string> created;
    for (int i = 0; i < versions; ++i) {
      absl::StatusOr<Json> metadata =
          i == 0 ? broker_->CreateKey(name, Json::object(), kBaseUrl, kNow)
                 : broker_->RotateKey(name, Json::object(), kBaseUrl, kNow + absl::Seconds(i));
      EXPECT_OK(metadata.status());
      if (metadata.ok()) {
        created.push_back(VersionOf(*metadata));
      }
    }
    EXPECT_OK(broker_->DeleteKey(name, kBaseUrl, kNow).status());
    return created;
  }

  // KeyObjectCount returns how many token objects carry a label of a
  // version of `name`; 0 for the software key store, which has none.
  size_t KeyObjectCount(std::string_view name, std::string_view version = "") {
    if (!UsesToken()) {
      return 0;
    }
    absl::StatusOr<std::multiset<std::string>> labels = TokenObjectLabels(token_);
    EXPECT_OK(labels.status());
    if (!labels.ok()) {
      return 0;
    }
    const std::string prefix = fmt::format("key:{}:{}", name, version);
    size_t count = 0;
    for (const std::string& label : *labels) {
      count += label.starts_with(prefix) ? 1 : 0;
    }
    return count;
  }

  std::vector<std::string> Operations() {
    std::vector<std::string> operations;
    const std::vector<store::AuditEvent> events =
        store_->ReadAudit(store::kAllAuditEvents).value_or(std::vector<store::AuditEvent>());
    for (const store::AuditEvent& event : events) {
      operations.push_back(event.operation + ":" + event.outcome);
    }
    return operations;
  }

  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
  keystore::SoftHsmToken token_;
  std::unique_ptr<keystore::KeyStore> inner_keystore_;
  std::unique_ptr<FailingKeyStore> keystore_;
  std::optional<token::TokenIssuer> issuer_;
  std::optional<token::TokenValidator> validator_;
  std::unique_ptr<KeyBroker> broker_;
};

INSTANTIATE_TEST_SUITE_P(KeyStores, KeyPurgeTest, ::testing::Values("Software", "SoftHsm"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

TEST_P(KeyPurgeTest, FailedDestroyKeepsRecordsAndRetryFinishes) {
  const std::vector<std::string> versions = CreateDeletedKey("k", 3);
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(KeyObjectCount("k"), UsesToken() ? 3u : 0u);

  keystore_->FailDestroyOf(KeyLabel("k", versions[1]));
  EXPECT_THAT(broker_->PurgeKey("k", kNow),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(fmt::format("version {} failed; the records are kept, so retry "
                                             "the purge",
                                             versions[1]))));

  // The records stay, the first version's object is gone, the rest remain.
  EXPECT_OK(broker_->GetDeletedKey("k", kBaseUrl).status());
  ASSERT_OK_AND_ASSIGN(const std::vector<store::KeyRecord> kept,
                       store_->ListDeletedKeyVersions("k"));
  EXPECT_EQ(kept.size(), 3u);
  if (UsesToken()) {
    EXPECT_EQ(KeyObjectCount("k", versions[0]), 0u);
    EXPECT_EQ(KeyObjectCount("k", versions[1]), 1u);
    EXPECT_EQ(KeyObjectCount("k", versions[2]), 1u);
  }

  keystore_->FailDestroyOf(std::nullopt);
  ASSERT_OK(broker_->PurgeKey("k", kNow));
  EXPECT_THAT(broker_->GetDeletedKey("k", kBaseUrl), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->ListDeletedKeyVersions("k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(KeyObjectCount("k"), 0u);

  const std::vector<std::string> operations = Operations();
  EXPECT_THAT(operations, Contains("key.purge:error"));
  EXPECT_EQ(operations.back(), "key.purge:ok");
  EXPECT_OK(store::VerifyAuditChain(*store_));
}

// A purge that stopped after destroying every object, before the records
// went, is what a crash leaves: the objects are gone and the records stay.
TEST_P(KeyPurgeTest, PurgeFinishesWhenObjectsAreAlreadyGone) {
  const std::vector<std::string> versions = CreateDeletedKey("k", 2);
  ASSERT_EQ(versions.size(), 2u);
  ASSERT_OK_AND_ASSIGN(const std::vector<store::KeyRecord> records,
                       store_->ListDeletedKeyVersions("k"));
  for (const store::KeyRecord& record : records) {
    ASSERT_OK(inner_keystore_->DestroyKey(record.sealed_key,
                                          KeyLabel(record.name, record.version)));
  }
  EXPECT_EQ(KeyObjectCount("k"), 0u);

  ASSERT_OK(broker_->PurgeKey("k", kNow));
  EXPECT_THAT(broker_->GetDeletedKey("k", kBaseUrl), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Operations().back(), "key.purge:ok");
}

// Purging one key leaves the objects of every other key on the token.
TEST_P(KeyPurgeTest, FinishedPurgeLeavesOnlyOtherKeysObjects) {
  CreateDeletedKey("gone", 2);
  ASSERT_OK(broker_->CreateKey("kept", Json::object(), kBaseUrl, kNow).status());
  ASSERT_OK(broker_->PurgeKey("gone", kNow));

  EXPECT_EQ(KeyObjectCount("gone"), 0u);
  EXPECT_EQ(KeyObjectCount("kept"), UsesToken() ? 1u : 0u);
  EXPECT_OK(broker_->GetKey("kept", "", kBaseUrl).status());
  if (UsesToken()) {
    ASSERT_OK_AND_ASSIGN(const std::multiset<std::string> labels, TokenObjectLabels(token_));
    for (const std::string& label : labels) {
      EXPECT_FALSE(label.starts_with("key:gone:")) << label;
    }
    EXPECT_THAT(labels, Not(IsEmpty()));
  }
}

}  // namespace
}  // namespace vouch::broker
