#include "vouch/keystore/keystore_conformance_test.h"

#include <gmock/gmock.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::keystore::conformance {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::StatusIs;

std::string FactoryName(const ::testing::TestParamInfo<KeyStoreFactory>& info) {
  return info.param.name;
}

void KeyStoreConformanceTest::SetUp() {
  std::string pattern = ::testing::TempDir() + "vouch-keystore-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
  location_ = pattern;
  absl::StatusOr<std::unique_ptr<KeyStore>> keystore = GetParam().open(location_);
  ASSERT_TRUE(keystore.ok()) << keystore.status();
  keystore_ = std::move(keystore).value();
}

void KeyStoreConformanceTest::TearDown() {
  keystore_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(location_, ignored);
}

namespace {

constexpr std::string_view kLabel = "key:data-key:0123456789abcdef0123456789abcdef";

SecretBytes Pattern(size_t size, uint8_t seed) {
  SecretBytes secret(size);
  for (size_t i = 0; i < size; ++i) {
    secret.MutableExpose()[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return secret;
}

TEST_P(KeyStoreConformanceTest, NameIsSet) { EXPECT_FALSE(keystore_->Name().empty()); }

TEST_P(KeyStoreConformanceTest, SealThenUnsealRoundTrips) {
  for (const size_t size : {1, 16, 32, 1000, 8192}) {
    const SecretBytes secret = Pattern(size, static_cast<uint8_t>(size));
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(secret, kLabel));
    ASSERT_OK_AND_ASSIGN(const SecretBytes opened, keystore_->Unseal(sealed, kLabel));
    EXPECT_TRUE(opened == secret) << "size " << size;
  }
}

TEST_P(KeyStoreConformanceTest, SealedBlobHidesTheSecret) {
  const SecretBytes secret = Pattern(32, 0x41);
  ASSERT_OK_AND_ASSIGN(const Bytes first, keystore_->Seal(secret, kLabel));
  ASSERT_OK_AND_ASSIGN(const Bytes second, keystore_->Seal(secret, kLabel));
  EXPECT_NE(first, second) << "sealing must be randomized";
  const Bytes plain(secret.Expose().begin(), secret.Expose().end());
  EXPECT_EQ(std::search(first.begin(), first.end(), plain.begin(), plain.end()), first.end());
}

TEST_P(KeyStoreConformanceTest, WrongLabelDoesNotOpen) {
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(32, 1), kLabel));
  EXPECT_THAT(keystore_->Unseal(sealed, "key:other-key:0123456789abcdef0123456789abcdef"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(keystore_->Unseal(sealed, std::string(kLabel) + " "),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_P(KeyStoreConformanceTest, EveryFlippedByteIsRejected) {
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(32, 2), kLabel));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes tampered = sealed;
    tampered[i] ^= 0x01;
    EXPECT_THAT(keystore_->Unseal(tampered, kLabel),
                AnyOf(StatusIs(absl::StatusCode::kUnauthenticated),
                      StatusIs(absl::StatusCode::kInvalidArgument)))
        << "byte " << i;
  }
}

TEST_P(KeyStoreConformanceTest, EveryTruncationIsRejected) {
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(32, 3), kLabel));
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(keystore_->Unseal(ByteSpan(sealed).first(n), kLabel).ok()) << "length " << n;
  }
  Bytes extended = sealed;
  extended.push_back(0);
  EXPECT_FALSE(keystore_->Unseal(extended, kLabel).ok());
}

TEST_P(KeyStoreConformanceTest, GenerateSymmetricMakesAesKeys) {
  for (const int bits : {128, 192, 256}) {
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->GenerateSymmetric(bits, kLabel));
    ASSERT_OK_AND_ASSIGN(const SecretBytes key, keystore_->Unseal(sealed, kLabel));
    EXPECT_EQ(key.size(), static_cast<size_t>(bits / 8));
    EXPECT_FALSE(IsAllZero(key.Expose()));
  }
  ASSERT_OK_AND_ASSIGN(const Bytes a, keystore_->GenerateSymmetric(256, kLabel));
  ASSERT_OK_AND_ASSIGN(const Bytes b, keystore_->GenerateSymmetric(256, kLabel));
  ASSERT_OK_AND_ASSIGN(const SecretBytes key_a, keystore_->Unseal(a, kLabel));
  ASSERT_OK_AND_ASSIGN(const SecretBytes key_b, keystore_->Unseal(b, kLabel));
  EXPECT_FALSE(key_a == key_b);
}

TEST_P(KeyStoreConformanceTest, GenerateSymmetricRejectsOtherSizes) {
  for (const int bits : {0, -256, 64, 255, 257, 384, 512}) {
    EXPECT_THAT(keystore_->GenerateSymmetric(bits, kLabel),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bits << " bits";
  }
}

TEST_P(KeyStoreConformanceTest, ImportSymmetricRoundTrips) {
  for (const size_t size : {16, 24, 32}) {
    const SecretBytes key = Pattern(size, 9);
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
    ASSERT_OK_AND_ASSIGN(const SecretBytes opened, keystore_->Unseal(sealed, kLabel));
    EXPECT_TRUE(opened == key) << size << " bytes";
  }
  for (const size_t size : {0, 1, 15, 17, 31, 33, 64}) {
    EXPECT_THAT(keystore_->ImportSymmetric(Pattern(size, 9), kLabel),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << size << " bytes";
  }
}

TEST_P(KeyStoreConformanceTest, EmptySecretAndLabelAreRejected) {
  EXPECT_THAT(keystore_->Seal(SecretBytes(), kLabel), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keystore_->Seal(Pattern(32, 1), ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keystore_->Unseal(Bytes(), kLabel), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(KeyStoreConformanceTest, ReopenedStoreOpensOldBlobs) {
  const SecretBytes secret = Pattern(32, 4);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(secret, kLabel));
  keystore_.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, GetParam().open(location_));
  ASSERT_OK_AND_ASSIGN(const SecretBytes opened, reopened->Unseal(sealed, kLabel));
  EXPECT_TRUE(opened == secret);
}

TEST_P(KeyStoreConformanceTest, WrapForReleaseUnwrapsWithPrivateKey) {
  ASSERT_OK_AND_ASSIGN(const auto rsa, crypto::GenerateRsaKey(2048));
  const SecretBytes key = Pattern(32, 5);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
  for (const crypto::HashAlg hash :
       {crypto::HashAlg::kSha1, crypto::HashAlg::kSha256, crypto::HashAlg::kSha384}) {
    ASSERT_OK_AND_ASSIGN(const Bytes wrapped,
                         keystore_->WrapForRelease(sealed, kLabel, rsa.get(), hash));
    EXPECT_EQ(wrapped.size(), 256u + 40u) << "RSA-2048 ciphertext plus RFC 5649 of 32 bytes";
    ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                         crypto::RsaAesKeyUnwrap(rsa.get(), hash, wrapped));
    EXPECT_TRUE(unwrapped == key) << crypto::HashAlgName(hash);
  }
}

TEST_P(KeyStoreConformanceTest, WrapForReleaseOfGeneratedKey) {
  ASSERT_OK_AND_ASSIGN(const auto rsa, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->GenerateSymmetric(256, kLabel));
  ASSERT_OK_AND_ASSIGN(const Bytes wrapped, keystore_->WrapForRelease(sealed, kLabel, rsa.get(),
                                                                      crypto::HashAlg::kSha256));
  ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                       crypto::RsaAesKeyUnwrap(rsa.get(), crypto::HashAlg::kSha256, wrapped));
  EXPECT_EQ(unwrapped.size(), 32u);
}

TEST_P(KeyStoreConformanceTest, WrapForReleaseRejectsBadInput) {
  ASSERT_OK_AND_ASSIGN(const auto rsa, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(const auto ec, crypto::GenerateEcKey("P-256"));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->GenerateSymmetric(256, kLabel));

  EXPECT_THAT(keystore_->WrapForRelease(sealed, "key:other:0", rsa.get(), crypto::HashAlg::kSha256),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(keystore_->WrapForRelease(sealed, kLabel, ec.get(), crypto::HashAlg::kSha256),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keystore_->WrapForRelease(sealed, kLabel, nullptr, crypto::HashAlg::kSha256),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A sealed secret that is not an AES key (a signing key's PEM) is never
// released, whatever label the caller passes.
TEST_P(KeyStoreConformanceTest, WrapForReleaseRejectsNonKeySecret) {
  ASSERT_OK_AND_ASSIGN(const auto rsa, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(1200, 6), "token-signing"));
  EXPECT_THAT(
      keystore_->WrapForRelease(sealed, "token-signing", rsa.get(), crypto::HashAlg::kSha256),
      StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(KeyStoreConformanceTest, ErrorsNeverContainKeyBytes) {
  const SecretBytes key = Pattern(32, 0x61);  // printable: "ahov}..."
  const Bytes key_bytes(key.Expose().begin(), key.Expose().end());
  const std::string raw = ToString(key_bytes);
  const std::string hex = HexEncode(key_bytes);
  const std::string b64 = Base64Encode(key_bytes);
  ASSERT_OK_AND_ASSIGN(Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
  ASSERT_OK_AND_ASSIGN(const auto ec, crypto::GenerateEcKey("P-256"));

  Bytes tampered = sealed;
  tampered.back() ^= 1;
  const std::vector<absl::Status> errors = {
      keystore_->Unseal(sealed, "key:wrong:label").status(),
      keystore_->Unseal(tampered, kLabel).status(),
      keystore_->WrapForRelease(sealed, kLabel, ec.get(), crypto::HashAlg::kSha256).status(),
      keystore_->WrapForRelease(tampered, kLabel, nullptr, crypto::HashAlg::kSha1).status(),
  };
  for (const absl::Status& status : errors) {
    ASSERT_FALSE(status.ok());
    const std::string message(status.message());
    EXPECT_THAT(message, Not(HasSubstr(raw.substr(0, 8))));
    EXPECT_THAT(message, Not(HasSubstr(hex.substr(0, 16))));
    EXPECT_THAT(message, Not(HasSubstr(b64.substr(0, 12))));
  }
}

}  // namespace

}  // namespace vouch::keystore::conformance
