#include "vouch/crypto/hash.h"

#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"

namespace vouch::crypto {
namespace {

struct HashCase {
  HashAlg alg;
  std::string_view name;
  size_t size;
  std::string_view abc_hex;  // FIPS 180-4 example digest of "abc"
};

constexpr HashCase kHashCases[] = {
    {HashAlg::kSha1, "SHA-1", 20, "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {HashAlg::kSha256, "SHA-256", 32,
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {HashAlg::kSha384, "SHA-384", 48,
     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c82"
     "5a7"},
    {HashAlg::kSha512, "SHA-512", 64,
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "bbd454d4423643ce80e2a9ac94fa54ca49f"},
};

TEST(HashTest, KnownAnswersForAbc) {
  for (const HashCase& c : kHashCases) {
    SCOPED_TRACE(std::string(c.name));
    EXPECT_EQ(HexEncode(Hash(c.alg, AsBytes("abc"))), c.abc_hex);
    EXPECT_EQ(HashSize(c.alg), c.size);
    EXPECT_EQ(HashAlgName(c.alg), c.name);
    EXPECT_EQ(static_cast<size_t>(EVP_MD_get_size(EvpMd(c.alg))), c.size);
  }
}

TEST(HashTest, Sha256AndSha384Shortcuts) {
  EXPECT_EQ(Sha256(AsBytes("abc")), Hash(HashAlg::kSha256, AsBytes("abc")));
  EXPECT_EQ(Sha384(AsBytes("abc")), Hash(HashAlg::kSha384, AsBytes("abc")));
}

TEST(HashTest, EmptyInput) {
  EXPECT_EQ(HexEncode(Sha256({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace vouch::crypto
