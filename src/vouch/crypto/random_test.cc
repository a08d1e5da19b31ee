#include "vouch/crypto/random.h"

#include <gtest/gtest.h>

#include "vouch/base/bytes.h"

namespace vouch::crypto {
namespace {

TEST(RandomTest, ReturnsRequestedSize) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(33).size(), 33u);
  EXPECT_EQ(RandomSecret(32).size(), 32u);
}

TEST(RandomTest, OutputsDiffer) {
  // Two 32-byte draws collide with probability 2^-256.
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
  EXPECT_FALSE(RandomSecret(32) == RandomSecret(32));
  EXPECT_FALSE(IsAllZero(RandomBytes(32)));
}

}  // namespace
}  // namespace vouch::crypto
