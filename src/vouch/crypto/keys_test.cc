#include "vouch/crypto/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <string>

#include "vouch/base/bytes.h"
#include "vouch/crypto/test_keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::vouch::testing::StatusIs;

TEST(GenerateKeyTest, RsaSizes) {
  EXPECT_THAT(GenerateRsaKey(512), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GenerateRsaKey(2049), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GenerateRsaKey(kMaxRsaBits + 8), StatusIs(absl::StatusCode::kInvalidArgument));
  EVP_PKEY* key = testing::RsaTestKey(2048);
  EXPECT_TRUE(IsRsaKey(key));
  EXPECT_FALSE(IsEcKey(key));
  EXPECT_EQ(EVP_PKEY_get_bits(key), 2048);
}

TEST(GenerateKeyTest, EcCurves) {
  for (const char* curve : {"P-256", "P-384", "P-521"}) {
    SCOPED_TRACE(curve);
    ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> key, GenerateEcKey(curve));
    EXPECT_TRUE(IsEcKey(key.get()));
    EXPECT_FALSE(IsRsaKey(key.get()));
    ASSERT_OK_AND_ASSIGN(const std::string name, EcCurveName(key.get()));
    EXPECT_EQ(name, curve);
  }
  EXPECT_THAT(GenerateEcKey("secp256k1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GenerateEcKey("p-256"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EcCurveName(testing::RsaTestKey(2048)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(IsRsaKey(nullptr));
  EXPECT_FALSE(IsEcKey(nullptr));
}

TEST(KeyPemTest, PrivateKeyRoundTrip) {
  for (EVP_PKEY* key : {testing::RsaTestKey(2048), testing::EcTestKey("P-384")}) {
    ASSERT_OK_AND_ASSIGN(const SecretBytes pem, PrivateKeyToPem(key));
    EXPECT_THAT(ToString(pem.Expose()), StartsWith("-----BEGIN PRIVATE KEY-----"));
    ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> parsed, PrivateKeyFromPem(pem.Expose()));
    EXPECT_EQ(EVP_PKEY_eq(parsed.get(), key), 1);
  }
}

TEST(KeyPemTest, PublicKeyRoundTrip) {
  for (EVP_PKEY* key : {testing::RsaTestKey(2048), testing::EcTestKey("P-256")}) {
    ASSERT_OK_AND_ASSIGN(const std::string pem, PublicKeyToPem(key));
    EXPECT_THAT(pem, StartsWith("-----BEGIN PUBLIC KEY-----"));
    ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> parsed, PublicKeyFromPem(AsBytes(pem)));
    EXPECT_EQ(EVP_PKEY_eq(parsed.get(), key), 1);
    // A public key is not a private key.
    EXPECT_THAT(PrivateKeyFromPem(AsBytes(pem)), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(KeyPemTest, RejectsEncryptedPrivateKeyWithoutPrompting) {
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  char password[] = "password";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), testing::EcTestKey("P-256"),
                                          EVP_aes_256_cbc(), password, 8, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  const std::string pem(data, static_cast<size_t>(size));
  ASSERT_THAT(pem, HasSubstr("ENCRYPTED"));
  EXPECT_THAT(PrivateKeyFromPem(AsBytes(pem)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyPemTest, RejectsGarbage) {
  EXPECT_THAT(PrivateKeyFromPem({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyFromPem({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PrivateKeyFromPem(AsBytes("hello")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyFromPem(AsBytes("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyFromPem(Bytes(kMaxKeyInputBytes + 1, 'A')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
  EXPECT_THAT(PrivateKeyToPem(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyToPem(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyDerTest, PublicKeyRoundTrip) {
  for (EVP_PKEY* key : {testing::RsaTestKey(2048), testing::EcTestKey("P-384")}) {
    ASSERT_OK_AND_ASSIGN(const Bytes der, PublicKeyToDer(key));
    ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> parsed, PublicKeyFromDer(der));
    EXPECT_EQ(EVP_PKEY_eq(parsed.get(), key), 1);
  }
}

TEST(KeyDerTest, RejectsTruncationAndTrailingBytes) {
  ASSERT_OK_AND_ASSIGN(const Bytes der, PublicKeyToDer(testing::EcTestKey("P-256")));
  for (size_t n = 0; n < der.size(); ++n) {
    EXPECT_THAT(PublicKeyFromDer(ByteSpan(der).first(n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_THAT(PublicKeyFromDer(trailing),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trailing")));
  EXPECT_THAT(PublicKeyToDer(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::crypto
