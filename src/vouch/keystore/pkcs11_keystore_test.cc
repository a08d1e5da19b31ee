#include "vouch/keystore/pkcs11_keystore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/keystore_conformance_test.h"
#include "vouch/keystore/softhsm_testing.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::keystore {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

constexpr char kTokenLabel[] = "vouch-test";
constexpr std::string_view kLabel = "key:data-key:0123456789abcdef0123456789abcdef";

// OpenOnToken creates the token in `location` on first use and opens it.
absl::StatusOr<std::unique_ptr<KeyStore>> OpenOnToken(const std::string& location,
                                                      bool host_oaep) {
  SoftHsmToken token;
  if (access((location + "/softhsm2.conf").c_str(), F_OK) == 0) {
    token = UseSoftHsmToken(location, kTokenLabel);
  } else {
    VOUCH_ASSIGN_OR_RETURN(token, CreateSoftHsmToken(location, kTokenLabel));
  }
  Pkcs11Options options = token.Options();
  options.host_oaep = host_oaep;
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11KeyStore> keystore,
                         Pkcs11KeyStore::Open(std::move(options)));
  return std::unique_ptr<KeyStore>(std::move(keystore));
}

// SoftHSM2 2.6 wraps with CKM_RSA_PKCS_OAEP only with SHA-1, so the strict
// key store releases only for enc CKM_RSA_AES_KEY_WRAP.
conformance::KeyStoreFactory SoftHsmFactory() {
  conformance::KeyStoreFactory factory;
  factory.name = "SoftHsm";
  factory.open = [](const std::string& location) { return OpenOnToken(location, false); };
  factory.release_hashes = {crypto::HashAlg::kSha1};
  factory.destroy_removes_key = true;
  return factory;
}

using conformance::KeyStoreConformanceTest;
INSTANTIATE_TEST_SUITE_P(Pkcs11, KeyStoreConformanceTest,
                         ::testing::Values(SoftHsmFactory()),
                         conformance::FactoryName);

class Pkcs11KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "vouch-pkcs11-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
    ASSERT_OK_AND_ASSIGN(token_, CreateSoftHsmToken(dir_, kTokenLabel));
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<Pkcs11KeyStore> OpenOrDie() {
    absl::StatusOr<std::unique_ptr<Pkcs11KeyStore>> keystore = Pkcs11KeyStore::Open(token_.Options());
    EXPECT_OK(keystore.status());
    return keystore.ok() ? std::move(keystore).value() : nullptr;
  }

  std::string dir_;
  SoftHsmToken token_;
};

TEST_F(Pkcs11KeyStoreTest, NameAndMechanism) {
  auto keystore = OpenOrDie();
  ASSERT_NE(keystore, nullptr);
  EXPECT_EQ(keystore->Name(), "pkcs11");
  // SoftHSM2 2.6 lists CKM_AES_KEY_WRAP_PAD and not the 3.0 name KWP.
  EXPECT_TRUE(keystore->key_wrap_mechanism() == CKM_AES_KEY_WRAP_PAD ||
              keystore->key_wrap_mechanism() == kCkmAesKeyWrapKwp);
}

TEST_F(Pkcs11KeyStoreTest, WrongPinIsPermissionDeniedWithFix) {
  Pkcs11Options options = token_.Options();
  options.pin = SecretBytes(AsBytes(std::string_view("9999")));
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(options)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("C_Login"), HasSubstr("CKR_PIN_INCORRECT"),
                             HasSubstr("PIN file"), HasSubstr(kTokenLabel))));
}

TEST_F(Pkcs11KeyStoreTest, UnknownTokenLabelIsNotFound) {
  Pkcs11Options options = token_.Options();
  options.token_label = "no-such-token";
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(options)),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("no-such-token"), HasSubstr(kTokenLabel))));
}

TEST_F(Pkcs11KeyStoreTest, MissingModuleIsNotFound) {
  Pkcs11Options options = token_.Options();
  options.module_path = dir_ + "/absent.so";
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(options)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("softhsm2")));
  options = token_.Options();
  options.module_path = "";
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(options)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--pkcs11-module")));
}

TEST_F(Pkcs11KeyStoreTest, NonModuleFileIsRejected) {
  const std::string path = dir_ + "/not-a-module.so";
  ASSERT_OK(WriteFileAtomic(path, AsBytes(std::string_view("hello")), 0600));
  Pkcs11Options options = token_.Options();
  options.module_path = path;
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(options)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot load module")));
}

TEST_F(Pkcs11KeyStoreTest, TokenSelectionIsExclusive) {
  Pkcs11Options both = token_.Options();
  both.slot = 0;
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(both)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Pkcs11Options neither = token_.Options();
  neither.token_label.clear();
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(neither)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Pkcs11Options no_pin = token_.Options();
  no_pin.pin = SecretBytes();
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(no_pin)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("VOUCH_PKCS11_PIN")));
}

TEST_F(Pkcs11KeyStoreTest, OpensBySlot) {
  // Find the slot SoftHSM2 gave the token through the label first.
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<Pkcs11Module> module,
                       Pkcs11Module::Load(kSoftHsmModulePath));
  CK_SLOT_ID slots[8];
  CK_ULONG count = 8;
  ASSERT_EQ(module->functions()->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
  ASSERT_GE(count, 1u);
  Pkcs11Options options = token_.Options();
  options.token_label.clear();
  options.slot = slots[0];
  ASSERT_OK_AND_ASSIGN(auto keystore, Pkcs11KeyStore::Open(std::move(options)));
  EXPECT_OK(keystore->GenerateSymmetric(256, kLabel).status());

  Pkcs11Options wrong = token_.Options();
  wrong.token_label.clear();
  wrong.slot = slots[0] + 12345;
  EXPECT_THAT(Pkcs11KeyStore::Open(std::move(wrong)), StatusIs(absl::StatusCode::kNotFound));
}

// The released bytes are the token's key: a block encrypted inside the token
// decrypts with them.
TEST_F(Pkcs11KeyStoreTest, ReleasedAesKeyIsTheTokenKey) {
  auto keystore = OpenOrDie();
  ASSERT_NE(keystore, nullptr);
  ASSERT_OK_AND_ASSIGN(const auto rsa, crypto::GenerateRsaKey(2048));
  for (const int bits : {128, 192, 256}) {
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->GenerateSymmetric(bits, kLabel));
    const Bytes block(16, 0x5a);
    ASSERT_OK_AND_ASSIGN(const Bytes encrypted,
                         keystore->EncryptWithKeyForTest(sealed, kLabel, block));
    ASSERT_EQ(encrypted.size(), 16u);
    ASSERT_OK_AND_ASSIGN(const Bytes wrapped,
                         keystore->WrapForRelease(sealed, kLabel, rsa.get(), crypto::HashAlg::kSha1));
    ASSERT_OK_AND_ASSIGN(const SecretBytes key,
                         crypto::RsaAesKeyUnwrap(rsa.get(), crypto::HashAlg::kSha1, wrapped));
    ASSERT_EQ(key.size(), static_cast<size_t>(bits / 8));

    const EVP_CIPHER* cipher = bits == 128   ? EVP_aes_128_ecb()
                               : bits == 192 ? EVP_aes_192_ecb()
                                             : EVP_aes_256_ecb();
    crypto::SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
    ASSERT_EQ(EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.Expose().data(), nullptr), 1);
    EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
    Bytes decrypted(32);
    int out = 0;
    int final_out = 0;
    ASSERT_EQ(EVP_DecryptUpdate(ctx.get(), decrypted.data(), &out, encrypted.data(), 16), 1);
    ASSERT_EQ(EVP_DecryptFinal_ex(ctx.get(), decrypted.data() + out, &final_out), 1);
    decrypted.resize(static_cast<size_t>(out + final_out));
    EXPECT_EQ(decrypted, block) << bits << " bits";
  }
}

// Keys are token objects that the token keeps secret.
TEST_F(Pkcs11KeyStoreTest, KeyObjectsAreSensitiveTokenObjects) {
  auto keystore = OpenOrDie();
  ASSERT_NE(keystore, nullptr);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->GenerateSymmetric(256, kLabel));
  ASSERT_EQ(sealed.size(), 20u);
  EXPECT_EQ(sealed[0], Pkcs11KeyStore::kReferenceFormat);

  ASSERT_OK_AND_ASSIGN(std::shared_ptr<Pkcs11Module> module,
                       Pkcs11Module::Load(kSoftHsmModulePath));
  CK_FUNCTION_LIST* fn = module->functions();
  CK_SLOT_ID slots[8];
  CK_ULONG count = 8;
  ASSERT_EQ(fn->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  ASSERT_EQ(fn->C_OpenSession(slots[0], CKF_SERIAL_SESSION, nullptr, nullptr, &session), CKR_OK);

  Bytes id(sealed.begin() + 4, sealed.end());
  CK_ATTRIBUTE match[] = {{CKA_ID, id.data(), id.size()},
                          {CKA_LABEL, const_cast<char*>(kLabel.data()), kLabel.size()}};
  ASSERT_EQ(fn->C_FindObjectsInit(session, match, 2), CKR_OK);
  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  CK_ULONG found = 0;
  ASSERT_EQ(fn->C_FindObjects(session, &object, 1, &found), CKR_OK);
  fn->C_FindObjectsFinal(session);
  ASSERT_EQ(found, 1u);

  CK_BBOOL token = CK_FALSE, sensitive = CK_FALSE, is_private = CK_FALSE, extractable = CK_FALSE;
  CK_ATTRIBUTE flags[] = {{CKA_TOKEN, &token, sizeof(token)},
                          {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
                          {CKA_PRIVATE, &is_private, sizeof(is_private)},
                          {CKA_EXTRACTABLE, &extractable, sizeof(extractable)}};
  ASSERT_EQ(fn->C_GetAttributeValue(session, object, flags, 4), CKR_OK);
  EXPECT_EQ(token, CK_TRUE);
  EXPECT_EQ(sensitive, CK_TRUE);
  EXPECT_EQ(is_private, CK_TRUE);
  EXPECT_EQ(extractable, CK_TRUE);
  uint8_t value[32];
  CK_ATTRIBUTE read_value = {CKA_VALUE, value, sizeof(value)};
  EXPECT_EQ(fn->C_GetAttributeValue(session, object, &read_value, 1), CKR_ATTRIBUTE_SENSITIVE);
  fn->C_CloseSession(session);
}

TEST_F(Pkcs11KeyStoreTest, LostSessionIsReopened) {
  auto keystore = OpenOrDie();
  ASSERT_NE(keystore, nullptr);
  const SecretBytes secret(Bytes(32, 7));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->Seal(secret, "token-signing"));
  keystore->CloseSessionForTest();
  ASSERT_OK_AND_ASSIGN(const SecretBytes opened, keystore->Unseal(sealed, "token-signing"));
  EXPECT_TRUE(opened == secret);
  keystore->CloseSessionForTest();
  EXPECT_OK(keystore->GenerateKey(KeySpec::Ec(256), kLabel).status());
}

TEST_F(Pkcs11KeyStoreTest, Sha256OaepNamesMissingMechanism) {
  auto keystore = OpenOrDie();
  ASSERT_NE(keystore, nullptr);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->GenerateSymmetric(256, kLabel));
  ASSERT_OK_AND_ASSIGN(const auto rsa, crypto::GenerateRsaKey(2048));
  EXPECT_THAT(keystore->WrapForRelease(sealed, kLabel, rsa.get(), crypto::HashAlg::kSha256),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("CKM_RSA_PKCS_OAEP"), HasSubstr("CKM_SHA256"),
                             HasSubstr("--pkcs11-host-oaep"))));
}

// With host_oaep, RSA-OAEP of the session key runs in this process, so
// every enc works; the target key is still wrapped inside the token.
TEST_F(Pkcs11KeyStoreTest, HostOaepReleasesWithEveryHash) {
  Pkcs11Options options = token_.Options();
  options.host_oaep = true;
  ASSERT_OK_AND_ASSIGN(auto keystore, Pkcs11KeyStore::Open(std::move(options)));
  const SecretBytes key(Bytes(32, 0x42));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->ImportSymmetric(key, kLabel));
  ASSERT_OK_AND_ASSIGN(const GeneratedKey ec, keystore->GenerateKey(KeySpec::Ec(384), kLabel));
  ASSERT_OK_AND_ASSIGN(const auto rsa, crypto::GenerateRsaKey(3072));
  for (const crypto::HashAlg hash :
       {crypto::HashAlg::kSha1, crypto::HashAlg::kSha256, crypto::HashAlg::kSha384}) {
    ASSERT_OK_AND_ASSIGN(const Bytes wrapped,
                         keystore->WrapForRelease(sealed, kLabel, rsa.get(), hash));
    EXPECT_EQ(wrapped.size(), 384u + 40u);
    ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                         crypto::RsaAesKeyUnwrap(rsa.get(), hash, wrapped));
    EXPECT_TRUE(unwrapped == key) << crypto::HashAlgName(hash);

    ASSERT_OK_AND_ASSIGN(const Bytes wrapped_ec,
                         keystore->WrapForRelease(ec.sealed, kLabel, rsa.get(), hash));
    ASSERT_OK_AND_ASSIGN(const SecretBytes released,
                         crypto::RsaAesKeyUnwrap(rsa.get(), hash, wrapped_ec));
    EXPECT_OK(ReleasedPkcs8Der(released).status()) << crypto::HashAlgName(hash);
  }
}

TEST_F(Pkcs11KeyStoreTest, SealedBlobsOpenOnlyWithTheirToken) {
  auto keystore = OpenOrDie();
  ASSERT_NE(keystore, nullptr);
  const SecretBytes secret(Bytes(40, 3));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore->Seal(secret, "token-signing"));
  EXPECT_EQ(sealed[0], Pkcs11KeyStore::kSealedFormat);
  keystore.reset();

  // A second token in another folder has its own seal key.
  const std::string other_dir = dir_ + "/other";
  ASSERT_EQ(mkdir(other_dir.c_str(), 0700), 0);
  ASSERT_OK_AND_ASSIGN(const SoftHsmToken other, CreateSoftHsmToken(other_dir, "other"));
  ASSERT_OK_AND_ASSIGN(auto other_keystore, Pkcs11KeyStore::Open(other.Options()));
  EXPECT_THAT(other_keystore->Unseal(sealed, "token-signing"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(ReadPkcs11PinTest, ReadsFileWithoutTrailingNewline) {
  std::string pattern = ::testing::TempDir() + "vouch-pin-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::string path = pattern + "/pin";
  ASSERT_OK(WriteFileAtomic(path, AsBytes(std::string_view("12 34\n")), 0600));
  ASSERT_OK_AND_ASSIGN(const SecretBytes pin, ReadPkcs11Pin(path));
  EXPECT_EQ(ToString(pin.Expose()), "12 34");

  ASSERT_OK(WriteFileAtomic(path, AsBytes(std::string_view("1234\n")), 0644));
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EXPECT_THAT(ReadPkcs11Pin(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));

  ASSERT_OK(WriteFileAtomic(path, AsBytes(std::string_view("\n")), 0600));
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_THAT(ReadPkcs11Pin(path), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadPkcs11Pin(pattern + "/absent"), StatusIs(absl::StatusCode::kNotFound));
  std::filesystem::remove_all(pattern);
}

TEST(ReadPkcs11PinTest, FallsBackToEnvironment) {
  setenv("VOUCH_PKCS11_PIN", "5678", 1);
  ASSERT_OK_AND_ASSIGN(const SecretBytes pin, ReadPkcs11Pin(""));
  EXPECT_EQ(ToString(pin.Expose()), "5678");
  unsetenv("VOUCH_PKCS11_PIN");
  EXPECT_THAT(ReadPkcs11Pin(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--pkcs11-pin-file")));
}

TEST(Pkcs11ErrorTest, NamesCallCodeAndFix) {
  EXPECT_EQ(CkrName(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(CkrName(0x80000001UL), "CKR_0x80000001");
  const absl::Status status = Pkcs11Error("log in to token 'x'", "C_Login", CKR_PIN_INCORRECT);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                               AllOf(HasSubstr("log in to token 'x' (C_Login)"),
                                     HasSubstr("CKR_PIN_INCORRECT"), HasSubstr("PIN file"))));
  EXPECT_THAT(Pkcs11Error("release", "C_WrapKey", CKR_DEVICE_REMOVED),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("reconnect")));
  EXPECT_TRUE(IsLostSession(CKR_SESSION_HANDLE_INVALID));
  EXPECT_TRUE(IsLostSession(CKR_SESSION_CLOSED));
  EXPECT_FALSE(IsLostSession(CKR_PIN_INCORRECT));
}

}  // namespace
}  // namespace vouch::keystore
