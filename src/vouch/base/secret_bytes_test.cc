#include "vouch/base/secret_bytes.h"

#include <gtest/gtest.h>

namespace vouch {
namespace {

TEST(SecretBytesTest, ComparesByContent) {
  const Bytes a = {1, 2, 3};
  const Bytes b = {1, 2, 4};
  EXPECT_TRUE(SecretBytes(a) == SecretBytes(a));
  EXPECT_FALSE(SecretBytes(a) == SecretBytes(b));
  EXPECT_FALSE(SecretBytes(a) == SecretBytes(Bytes{1, 2}));
}

TEST(SecretBytesTest, MoveEmptiesSource) {
  SecretBytes a(Bytes{1, 2, 3});
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checks the moved-from state.
}

TEST(SecretBytesTest, CloneIsIndependent) {
  SecretBytes a(Bytes{1, 2, 3});
  SecretBytes b = a.Clone();
  b.MutableExpose()[0] = 9;
  EXPECT_EQ(a.Expose()[0], 1);
}

}  // namespace
}  // namespace vouch
