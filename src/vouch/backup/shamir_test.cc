#include "vouch/backup/shamir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "vouch/crypto/random.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::backup {
namespace {

using ::vouch::testing::StatusIs;

std::vector<SecretShare> Pick(const std::vector<SecretShare>& shares, std::vector<size_t> which) {
  std::vector<SecretShare> picked;
  for (const size_t i : which) {
    picked.push_back(SecretShare{shares[i].index, shares[i].value.Clone()});
  }
  return picked;
}

TEST(GfMultiplyTest, MatchesFips197Example) {
  // FIPS 197 section 4.2: {57} * {83} = {c1}, and {57} * {13} = {fe}.
  EXPECT_EQ(GfMultiply(0x57, 0x83), 0xc1);
  EXPECT_EQ(GfMultiply(0x57, 0x13), 0xfe);
  EXPECT_EQ(GfMultiply(0x00, 0xff), 0x00);
  EXPECT_EQ(GfMultiply(0x01, 0xa5), 0xa5);
}

TEST(GfMultiplyTest, IsCommutative) {
  for (int a = 0; a < 256; a += 7) {
    for (int b = 0; b < 256; b += 5) {
      EXPECT_EQ(GfMultiply(static_cast<uint8_t>(a), static_cast<uint8_t>(b)),
                GfMultiply(static_cast<uint8_t>(b), static_cast<uint8_t>(a)));
    }
  }
}

TEST(ShamirTest, EveryThresholdSubsetRecoversSecret) {
  const SecretBytes secret = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const std::vector<SecretShare> shares, SplitSecret(secret, 3, 5));
  ASSERT_EQ(shares.size(), 5u);
  for (size_t a = 0; a < 5; ++a) {
    for (size_t b = a + 1; b < 5; ++b) {
      for (size_t c = b + 1; c < 5; ++c) {
        ASSERT_OK_AND_ASSIGN(const SecretBytes combined, CombineShares(Pick(shares, {a, b, c})));
        EXPECT_TRUE(combined == secret) << a << b << c;
      }
    }
  }
  ASSERT_OK_AND_ASSIGN(const SecretBytes all, CombineShares(Pick(shares, {4, 0, 2, 1, 3})));
  EXPECT_TRUE(all == secret);
}

TEST(ShamirTest, FewerThanThresholdGiveAnotherValue) {
  const SecretBytes secret = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const std::vector<SecretShare> shares, SplitSecret(secret, 3, 5));
  ASSERT_OK_AND_ASSIGN(const SecretBytes combined, CombineShares(Pick(shares, {0, 1})));
  EXPECT_FALSE(combined == secret);
}

TEST(ShamirTest, MaximumShares) {
  const SecretBytes secret = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const std::vector<SecretShare> shares, SplitSecret(secret, 16, 16));
  std::vector<size_t> all;
  for (size_t i = 0; i < 16; ++i) {
    all.push_back(i);
  }
  ASSERT_OK_AND_ASSIGN(const SecretBytes combined, CombineShares(Pick(shares, all)));
  EXPECT_TRUE(combined == secret);
}

TEST(ShamirTest, SharesDifferFromSecret) {
  const SecretBytes secret(std::vector<uint8_t>(32, 0x42));
  ASSERT_OK_AND_ASSIGN(const std::vector<SecretShare> shares, SplitSecret(secret, 2, 3));
  for (const SecretShare& share : shares) {
    EXPECT_FALSE(share.value == secret) << "share " << int{share.index};
  }
}

TEST(ShamirTest, SplitRejectsBounds) {
  const SecretBytes secret = crypto::RandomSecret(32);
  EXPECT_THAT(SplitSecret(secret, 1, 3), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SplitSecret(secret, 4, 3), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SplitSecret(secret, 2, 17), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SplitSecret(SecretBytes(), 2, 3), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ShamirTest, CombineRejectsBadShareSets) {
  const SecretBytes secret = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const std::vector<SecretShare> shares, SplitSecret(secret, 2, 3));
  EXPECT_THAT(CombineShares(Pick(shares, {0})), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CombineShares(Pick(shares, {1, 1})), StatusIs(absl::StatusCode::kInvalidArgument));

  std::vector<SecretShare> zero = Pick(shares, {0, 1});
  zero[0].index = 0;
  EXPECT_THAT(CombineShares(zero), StatusIs(absl::StatusCode::kInvalidArgument));

  std::vector<SecretShare> short_value = Pick(shares, {0, 1});
  short_value[1].value = SecretBytes(31);
  EXPECT_THAT(CombineShares(short_value), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::backup
