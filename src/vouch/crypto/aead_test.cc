#include "vouch/crypto/aead.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vouch/base/bytes.h"
#include "vouch/crypto/random.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::crypto {
namespace {

using ::vouch::testing::StatusIs;

Bytes Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  return bytes.ok() ? *bytes : Bytes{};
}

TEST(AesGcmTest, RoundTrip) {
  const SecretBytes key = RandomSecret(32);
  const Bytes aad = ToBytes("key-id v1");
  for (const size_t size : {0u, 1u, 16u, 33u, 4096u}) {
    SCOPED_TRACE(size);
    const Bytes plaintext = RandomBytes(size);
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, AesGcmSeal(key, plaintext, aad));
    EXPECT_EQ(sealed.size(), kAesGcmNonceBytes + size + kAesGcmTagBytes);
    ASSERT_OK_AND_ASSIGN(const SecretBytes opened, AesGcmOpen(key, sealed, aad));
    EXPECT_EQ(ToString(opened.Expose()), ToString(plaintext));
  }
}

TEST(AesGcmTest, NoncesDiffer) {
  const SecretBytes key = RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const Bytes first, AesGcmSeal(key, ToBytes("same"), {}));
  ASSERT_OK_AND_ASSIGN(const Bytes second, AesGcmSeal(key, ToBytes("same"), {}));
  EXPECT_NE(first, second);
}

TEST(AesGcmTest, DetectsEveryTamperedByte) {
  const SecretBytes key = RandomSecret(32);
  const Bytes aad = ToBytes("aad");
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, AesGcmSeal(key, ToBytes("secret key material"), aad));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes tampered = sealed;
    tampered[i] ^= 0x01;
    EXPECT_THAT(AesGcmOpen(key, tampered, aad), StatusIs(absl::StatusCode::kUnauthenticated))
        << "byte " << i;
  }
}

TEST(AesGcmTest, RejectsWrongKeyAadAndTruncation) {
  const SecretBytes key = RandomSecret(32);
  const Bytes aad = ToBytes("aad");
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, AesGcmSeal(key, ToBytes("secret"), aad));

  EXPECT_THAT(AesGcmOpen(RandomSecret(32), sealed, aad),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(AesGcmOpen(key, sealed, ToBytes("other aad")),
              StatusIs(absl::StatusCode::kUnauthenticated));
  for (size_t n = 0; n < sealed.size(); ++n) {
    const absl::StatusCode want = n < kAesGcmNonceBytes + kAesGcmTagBytes
                                      ? absl::StatusCode::kInvalidArgument
                                      : absl::StatusCode::kUnauthenticated;
    EXPECT_THAT(AesGcmOpen(key, ByteSpan(sealed).first(n), aad), StatusIs(want)) << "length " << n;
  }
}

TEST(AesGcmTest, RejectsWrongKeySize) {
  EXPECT_THAT(AesGcmSeal(RandomSecret(16), ToBytes("x"), {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AesGcmOpen(RandomSecret(31), Bytes(40), {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AesGcmTest, OpensKnownAnswer) {
  // Known-answer vector checked independently with the AESGCM class of Python's
  // cryptography package, laid out as nonce || ciphertext || tag.
  const SecretBytes key(Unhex("31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22"));
  const Bytes sealed = Unhex(
      "0d18e06c7c725ac9e362e1ce"                // nonce
      "fa4362189661d163fcd6a56d8bf0405a"        // ciphertext
      "d636ac1bbedd5cc3ee727dc2ab4a9489");      // tag
  ASSERT_OK_AND_ASSIGN(const SecretBytes plaintext, AesGcmOpen(key, sealed, {}));
  EXPECT_EQ(HexEncode(plaintext.Expose()), "2db5168e932556f8089a0622981d017d");
}

}  // namespace
}  // namespace vouch::crypto
