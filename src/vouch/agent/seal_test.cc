#include "vouch/agent/seal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vouch/crypto/random.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

const std::string kVersion = "0123456789abcdef0123456789abcdef";

TEST(SealDataTest, RoundTrips) {
  const SecretBytes key = crypto::RandomSecret(32);
  const Bytes plaintext = ToBytes("database password: hunter2\n");
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, SealData(plaintext, "app-secrets", kVersion, key));
  ASSERT_OK_AND_ASSIGN(const SecretBytes opened, UnsealData(sealed, key));
  EXPECT_EQ(Bytes(opened.Expose().begin(), opened.Expose().end()), plaintext);
}

TEST(SealDataTest, HeaderLayout) {
  const SecretBytes key = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, SealData(ToBytes("x"), "k", "7", key));
  // magic, version 1, name length 1, "k", version length 1, "7", wrapped length 40.
  const Bytes want = {'V', 'S', 'E', 'A', 'L', 1, 1, 'k', 1, '7', 0, 40};
  ASSERT_GE(sealed.size(), want.size());
  EXPECT_EQ(Bytes(sealed.begin(), sealed.begin() + want.size()), want);
  // Header 12 + wrapped key 40 + nonce 12 + 1 byte + tag 16.
  EXPECT_EQ(sealed.size(), 12u + 40 + 12 + 1 + 16);
  ASSERT_OK_AND_ASSIGN(const SealedHeader header, ParseSealedHeader(sealed));
  EXPECT_EQ(header.key_name, "k");
  EXPECT_EQ(header.key_version, "7");
  EXPECT_EQ(header.header_bytes, 52u);
}

TEST(SealDataTest, EmptyPlaintext) {
  const SecretBytes key = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, SealData({}, "k", kVersion, key));
  ASSERT_OK_AND_ASSIGN(const SecretBytes opened, UnsealData(sealed, key));
  EXPECT_TRUE(opened.empty());
}

TEST(SealDataTest, WrongKeyIsUnauthenticated) {
  ASSERT_OK_AND_ASSIGN(const Bytes sealed,
                       SealData(ToBytes("secret"), "k", kVersion, crypto::RandomSecret(32)));
  EXPECT_THAT(UnsealData(sealed, crypto::RandomSecret(32)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("does not unwrap")));
}

TEST(SealDataTest, EveryByteFlipIsRejected) {
  const SecretBytes key = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, SealData(ToBytes("secret"), "name", kVersion, key));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_FALSE(UnsealData(bad, key).ok()) << "flip at " << i;
  }
}

TEST(SealDataTest, EditedKeyVersionFailsTag) {
  const SecretBytes key = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(Bytes sealed, SealData(ToBytes("secret"), "k", "1", key));
  sealed[9] = '2';  // The key version byte.
  EXPECT_THAT(UnsealData(sealed, key),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("GCM tag mismatch")));
}

TEST(SealDataTest, EveryTruncationIsRejected) {
  const SecretBytes key = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, SealData(ToBytes("secret"), "k", kVersion, key));
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(UnsealData(ByteSpan(sealed).first(n), key).ok()) << "length " << n;
  }
}

TEST(SealDataTest, RejectsBadHeaders) {
  EXPECT_THAT(ParseSealedHeader(ToBytes("NOPE!")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no \"VSEAL\" magic")));
  Bytes version2 = {'V', 'S', 'E', 'A', 'L', 2};
  EXPECT_THAT(ParseSealedHeader(version2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format version 2")));
  Bytes empty_name = {'V', 'S', 'E', 'A', 'L', 1, 0};
  EXPECT_THAT(ParseSealedHeader(empty_name),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key name of 0 bytes")));
}

TEST(SealDataTest, RejectsBadKeyNames) {
  const SecretBytes key = crypto::RandomSecret(32);
  EXPECT_THAT(SealData(ToBytes("x"), "", kVersion, key),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SealData(ToBytes("x"), std::string(128, 'a'), kVersion, key),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SealData(ToBytes("x"), "k", "", key), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::agent
