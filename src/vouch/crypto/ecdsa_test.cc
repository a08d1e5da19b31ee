#include "vouch/crypto/ecdsa.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/test_keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::crypto {
namespace {

using ::vouch::testing::StatusIs;

struct CurveCase {
  std::string_view curve;
  HashAlg hash;
  size_t field_size;
};

constexpr CurveCase kCurves[] = {
    {"P-256", HashAlg::kSha256, 32},
    {"P-384", HashAlg::kSha384, 48},
    {"P-521", HashAlg::kSha512, 66},
};

// Order of P-256 (SEC 2 section 2.4.2), big-endian.
constexpr std::string_view kP256OrderHex =
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

SslPtr<EVP_PKEY> PublicOnly(EVP_PKEY* key) {
  auto der = PublicKeyToDer(key);
  EXPECT_TRUE(der.ok());
  auto public_key = PublicKeyFromDer(*der);
  EXPECT_TRUE(public_key.ok());
  return *std::move(public_key);
}

TEST(EcdsaTest, RawRoundTripOnEveryCurve) {
  const Bytes message = ToBytes("attestation report bytes");
  for (const CurveCase& c : kCurves) {
    SCOPED_TRACE(std::string(c.curve));
    EVP_PKEY* key = testing::EcTestKey(c.curve);
    ASSERT_OK_AND_ASSIGN(const size_t field_size, EcFieldSize(key));
    EXPECT_EQ(field_size, c.field_size);

    ASSERT_OK_AND_ASSIGN(const Bytes signature, SignEcdsaRaw(key, c.hash, message));
    ASSERT_EQ(signature.size(), 2 * c.field_size);
    const ByteSpan r = ByteSpan(signature).first(c.field_size);
    const ByteSpan s = ByteSpan(signature).subspan(c.field_size);

    const SslPtr<EVP_PKEY> public_key = PublicOnly(key);
    EXPECT_OK(VerifyEcdsaRaw(public_key.get(), c.hash, message, r, s));
    EXPECT_THAT(VerifyEcdsaRaw(public_key.get(), c.hash, ToBytes("other"), r, s),
                StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_THAT(VerifyEcdsaRaw(public_key.get(), c.hash, message, s, r),
                StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_THAT(VerifyEcdsaRaw(public_key.get(), HashAlg::kSha1, message, r, s),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST(EcdsaTest, EveryBitFlipFails) {
  EVP_PKEY* key = testing::EcTestKey("P-384");
  const Bytes message = ToBytes("message");
  ASSERT_OK_AND_ASSIGN(const Bytes signature, SignEcdsaRaw(key, HashAlg::kSha384, message));
  for (size_t i = 0; i < signature.size(); ++i) {
    Bytes flipped = signature;
    flipped[i] ^= 0x80;
    EXPECT_THAT(VerifyEcdsaRaw(key, HashAlg::kSha384, message, ByteSpan(flipped).first(48),
                               ByteSpan(flipped).subspan(48)),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "byte " << i;
  }
}

TEST(EcdsaTest, AcceptsZeroPaddedSnpFields) {
  // SEV-SNP reports store r and s in 72-byte fields.
  EVP_PKEY* key = testing::EcTestKey("P-384");
  const Bytes message = ToBytes("report");
  ASSERT_OK_AND_ASSIGN(const Bytes signature, SignEcdsaRaw(key, HashAlg::kSha384, message));
  Bytes r(24, 0x00);
  Bytes s(24, 0x00);
  r.insert(r.end(), signature.begin(), signature.begin() + 48);
  s.insert(s.end(), signature.begin() + 48, signature.end());
  EXPECT_OK(VerifyEcdsaRaw(key, HashAlg::kSha384, message, r, s));
}

TEST(EcdsaTest, RejectsMalformedRawValues) {
  EVP_PKEY* key = testing::EcTestKey("P-256");
  const Bytes message = ToBytes("message");
  ASSERT_OK_AND_ASSIGN(const Bytes signature, SignEcdsaRaw(key, HashAlg::kSha256, message));
  const ByteSpan r = ByteSpan(signature).first(32);
  const ByteSpan s = ByteSpan(signature).subspan(32);
  ASSERT_OK_AND_ASSIGN(const Bytes order, HexDecode(kP256OrderHex));
  Bytes too_long(33, 0x01);

  struct BadCase {
    const char* name;
    ByteSpan r;
    ByteSpan s;
  };
  const Bytes zero(32, 0x00);
  const BadCase cases[] = {
      {"empty r", {}, s},
      {"empty s", r, {}},
      {"zero r", zero, s},
      {"zero s", r, zero},
      {"r longer than the field", too_long, s},
      {"s longer than the field", r, too_long},
      {"r equal to the order", order, s},
      {"s equal to the order", r, order},
  };
  for (const BadCase& c : cases) {
    EXPECT_THAT(VerifyEcdsaRaw(key, HashAlg::kSha256, message, c.r, c.s),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << c.name;
  }
}

TEST(EcdsaTest, RejectsNonEcKeys) {
  EVP_PKEY* rsa = testing::RsaTestKey(2048);
  const Bytes message = ToBytes("message");
  EXPECT_THAT(SignEcdsaRaw(rsa, HashAlg::kSha256, message),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyEcdsaRaw(rsa, HashAlg::kSha256, message, Bytes(32, 1), Bytes(32, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyEcdsaDer(rsa, HashAlg::kSha256, message, Bytes{0x30, 0x00}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EcFieldSize(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EcdsaTest, SignNeedsPrivateKey) {
  const SslPtr<EVP_PKEY> public_key = PublicOnly(testing::EcTestKey("P-256"));
  EXPECT_FALSE(SignEcdsaRaw(public_key.get(), HashAlg::kSha256, ToBytes("message")).ok());
}

TEST(EcdsaTest, DerSignatures) {
  EVP_PKEY* key = testing::EcTestKey("P-256");
  const Bytes message = ToBytes("message");
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  size_t size = 0;
  ASSERT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size, message.data(), message.size()), 1);
  Bytes der(size);
  ASSERT_EQ(EVP_DigestSign(ctx.get(), der.data(), &size, message.data(), message.size()), 1);
  der.resize(size);

  EXPECT_OK(VerifyEcdsaDer(key, HashAlg::kSha256, message, der));
  Bytes trailing = der;
  trailing.push_back(0x00);
  EXPECT_THAT(VerifyEcdsaDer(key, HashAlg::kSha256, message, trailing),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(VerifyEcdsaDer(key, HashAlg::kSha256, message, {}),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(VerifyEcdsaDer(key, HashAlg::kSha256, message, ByteSpan(der).first(der.size() - 1)),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace vouch::crypto
