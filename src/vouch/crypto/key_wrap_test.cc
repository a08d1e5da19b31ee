#include "vouch/crypto/key_wrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/crypto/test_keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::crypto {
namespace {

using ::vouch::testing::StatusIs;

Bytes Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  return bytes.ok() ? *bytes : Bytes{};
}

SecretBytes SecretUnhex(std::string_view hex) { return SecretBytes(Unhex(hex)); }

struct WrapVector {
  const char* name;
  std::string_view kek;
  std::string_view key;
  std::string_view wrapped;
};

// RFC 5649 section 6.
constexpr WrapVector kRfc5649Vectors[] = {
    {"20-octet key", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
     "c37b7e6492584340bed12207808941155068f738",
     "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
    {"7-octet key", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
     "afbeb0f07dfbf5419200f2ccb50bb24f"},
};

// RFC 3394 sections 4.1 and 4.6.
constexpr WrapVector kRfc3394Vectors[] = {
    {"128-bit key, 128-bit KEK", "000102030405060708090a0b0c0d0e0f",
     "00112233445566778899aabbccddeeff", "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"},
    {"256-bit key, 256-bit KEK", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f",
     "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21"},
};

TEST(AesKeyWrapPadTest, Rfc5649KnownAnswers) {
  for (const WrapVector& v : kRfc5649Vectors) {
    SCOPED_TRACE(v.name);
    ASSERT_OK_AND_ASSIGN(const Bytes wrapped, AesKeyWrapPad(SecretUnhex(v.kek), Unhex(v.key)));
    EXPECT_EQ(HexEncode(wrapped), v.wrapped);
    ASSERT_OK_AND_ASSIGN(const SecretBytes key,
                         AesKeyUnwrapPad(SecretUnhex(v.kek), Unhex(v.wrapped)));
    EXPECT_EQ(HexEncode(key.Expose()), v.key);
  }
}

TEST(AesKeyWrapTest, Rfc3394KnownAnswers) {
  for (const WrapVector& v : kRfc3394Vectors) {
    SCOPED_TRACE(v.name);
    ASSERT_OK_AND_ASSIGN(const Bytes wrapped, AesKeyWrap(SecretUnhex(v.kek), Unhex(v.key)));
    EXPECT_EQ(HexEncode(wrapped), v.wrapped);
    ASSERT_OK_AND_ASSIGN(const SecretBytes key, AesKeyUnwrap(SecretUnhex(v.kek), Unhex(v.wrapped)));
    EXPECT_EQ(HexEncode(key.Expose()), v.key);
  }
}

TEST(AesKeyWrapPadTest, RoundTripEveryKekSize) {
  for (const size_t kek_size : {16u, 24u, 32u}) {
    for (const size_t key_size : {1u, 8u, 9u, 16u, 32u, 65u}) {
      SCOPED_TRACE(std::to_string(kek_size) + "-byte KEK, " + std::to_string(key_size) +
                   "-byte key");
      const SecretBytes kek = RandomSecret(kek_size);
      const Bytes key = RandomBytes(key_size);
      ASSERT_OK_AND_ASSIGN(const Bytes wrapped, AesKeyWrapPad(kek, key));
      EXPECT_EQ(wrapped.size(), (key_size + 7) / 8 * 8 + 8);
      ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped, AesKeyUnwrapPad(kek, wrapped));
      EXPECT_EQ(HexEncode(unwrapped.Expose()), HexEncode(key));
    }
  }
}

TEST(AesKeyWrapPadTest, DetectsTamperingAndWrongKek) {
  const SecretBytes kek = RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const Bytes wrapped, AesKeyWrapPad(kek, RandomBytes(32)));
  for (size_t i = 0; i < wrapped.size(); ++i) {
    Bytes tampered = wrapped;
    tampered[i] ^= 0x01;
    EXPECT_THAT(AesKeyUnwrapPad(kek, tampered), StatusIs(absl::StatusCode::kUnauthenticated))
        << "byte " << i;
  }
  EXPECT_THAT(AesKeyUnwrapPad(RandomSecret(32), wrapped),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(AesKeyUnwrap(kek, wrapped), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AesKeyWrapPadTest, RejectsBadSizes) {
  const SecretBytes kek = RandomSecret(32);
  EXPECT_THAT(AesKeyWrapPad(RandomSecret(20), RandomBytes(16)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesKeyWrapPad(kek, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesKeyWrapPad(kek, Bytes(kMaxWrappedKeyBytes + 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesKeyUnwrapPad(kek, Bytes(8)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesKeyUnwrapPad(kek, Bytes(17)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesKeyWrap(kek, RandomBytes(8)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesKeyWrap(kek, RandomBytes(20)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesKeyUnwrap(kek, Bytes(16)), StatusIs(absl::StatusCode::kInvalidArgument));
}

constexpr HashAlg kOaepHashes[] = {HashAlg::kSha1, HashAlg::kSha256, HashAlg::kSha384};

TEST(RsaOaepTest, RoundTripAndWrongHash) {
  EVP_PKEY* key = testing::RsaTestKey(2048);
  const Bytes plaintext = RandomBytes(32);
  for (const HashAlg hash : kOaepHashes) {
    SCOPED_TRACE(std::string(HashAlgName(hash)));
    ASSERT_OK_AND_ASSIGN(const Bytes ciphertext, RsaOaepEncrypt(key, hash, plaintext));
    EXPECT_EQ(ciphertext.size(), 256u);
    ASSERT_OK_AND_ASSIGN(const SecretBytes decrypted, RsaOaepDecrypt(key, hash, ciphertext));
    EXPECT_EQ(HexEncode(decrypted.Expose()), HexEncode(plaintext));
    const HashAlg other = hash == HashAlg::kSha256 ? HashAlg::kSha384 : HashAlg::kSha256;
    EXPECT_THAT(RsaOaepDecrypt(key, other, ciphertext),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST(RsaOaepTest, RejectsBadInput) {
  EVP_PKEY* key = testing::RsaTestKey(2048);
  // RSA-2048 with SHA-256 fits at most 256 - 2 * 32 - 2 = 190 bytes.
  EXPECT_OK(RsaOaepEncrypt(key, HashAlg::kSha256, Bytes(190)).status());
  EXPECT_THAT(RsaOaepEncrypt(key, HashAlg::kSha256, Bytes(191)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepEncrypt(testing::EcTestKey("P-256"), HashAlg::kSha256, Bytes(16)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepDecrypt(key, HashAlg::kSha256, Bytes(256, 0x01)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_FALSE(RsaOaepDecrypt(key, HashAlg::kSha256, Bytes(10, 0x01)).ok());
}

TEST(RsaAesKeyWrapTest, RoundTripForEveryHashAndModulus) {
  for (const int bits : {2048, 3072}) {
    EVP_PKEY* private_key = testing::RsaTestKey(bits);
    ASSERT_OK_AND_ASSIGN(const Bytes public_der, PublicKeyToDer(private_key));
    ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> public_key, PublicKeyFromDer(public_der));
    for (const HashAlg hash : kOaepHashes) {
      for (const size_t key_size : {16u, 32u, 33u}) {
        SCOPED_TRACE("RSA-" + std::to_string(bits) + " " + std::string(HashAlgName(hash)) + " " +
                     std::to_string(key_size) + "-byte key");
        const Bytes target = RandomBytes(key_size);
        ASSERT_OK_AND_ASSIGN(const Bytes wrapped, RsaAesKeyWrap(public_key.get(), hash, target));
        EXPECT_EQ(wrapped.size(), static_cast<size_t>(bits / 8) + (key_size + 7) / 8 * 8 + 8);
        ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                             RsaAesKeyUnwrap(private_key, hash, wrapped));
        EXPECT_EQ(HexEncode(unwrapped.Expose()), HexEncode(target));
      }
    }
  }
}

TEST(RsaAesKeyWrapTest, RejectsTamperingWrongHashAndTruncation) {
  EVP_PKEY* key = testing::RsaTestKey(2048);
  ASSERT_OK_AND_ASSIGN(const Bytes wrapped,
                       RsaAesKeyWrap(key, HashAlg::kSha256, RandomBytes(32)));
  EXPECT_THAT(RsaAesKeyUnwrap(key, HashAlg::kSha1, wrapped),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(RsaAesKeyUnwrap(testing::RsaTestKey(2048, 1), HashAlg::kSha256, wrapped),
              StatusIs(absl::StatusCode::kUnauthenticated));
  for (const size_t i : {size_t{0}, size_t{100}, size_t{255}, size_t{256}, wrapped.size() - 1}) {
    Bytes tampered = wrapped;
    tampered[i] ^= 0x01;
    EXPECT_THAT(RsaAesKeyUnwrap(key, HashAlg::kSha256, tampered),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "byte " << i;
  }
  EXPECT_THAT(RsaAesKeyUnwrap(key, HashAlg::kSha256, ByteSpan(wrapped).first(256 + 8)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(RsaAesKeyUnwrap(key, HashAlg::kSha256, ByteSpan(wrapped).first(wrapped.size() - 8))
                   .ok());
  EXPECT_THAT(RsaAesKeyUnwrap(testing::EcTestKey("P-256"), HashAlg::kSha256, wrapped),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A temporary AES key of another size than 32 bytes, as another PKCS#11
// implementation may choose, still unwraps.
TEST(RsaAesKeyWrapTest, UnwrapsShorterTemporaryKey) {
  EVP_PKEY* key = testing::RsaTestKey(2048);
  const SecretBytes aes_key = RandomSecret(16);
  const Bytes target = RandomBytes(32);
  ASSERT_OK_AND_ASSIGN(Bytes wrapped, RsaOaepEncrypt(key, HashAlg::kSha1, aes_key.Expose()));
  ASSERT_OK_AND_ASSIGN(const Bytes kwp, AesKeyWrapPad(aes_key, target));
  wrapped.insert(wrapped.end(), kwp.begin(), kwp.end());
  ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped, RsaAesKeyUnwrap(key, HashAlg::kSha1, wrapped));
  EXPECT_EQ(HexEncode(unwrapped.Expose()), HexEncode(target));
}

}  // namespace
}  // namespace vouch::crypto
