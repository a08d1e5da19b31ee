#include "vouch/crypto/jwk.h"

#include <gmock/gmock.h>
#include <openssl/bn.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/crypto/test_keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::crypto {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

// RFC 7638 section 3.1 example key and its thumbprint.
constexpr const char* kRfc7638N =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb"
    "WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQ"
    "MicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2N"
    "cRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
constexpr const char* kRfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

// RFC 7517 appendix A.1 example EC key. Its thumbprint was computed
// independently with Python's hashlib over the RFC 7638 canonical JSON.
constexpr const char* kRfc7517X = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
constexpr const char* kRfc7517Y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
constexpr const char* kRfc7517Thumbprint = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";

json Rfc7638Jwk() {
  return json{{"kty", "RSA"}, {"n", kRfc7638N}, {"e", "AQAB"}, {"alg", "RS256"},
              {"kid", "2011-04-29"}};
}

json Rfc7517EcJwk() {
  return json{{"kty", "EC"}, {"crv", "P-256"}, {"x", kRfc7517X}, {"y", kRfc7517Y},
              {"use", "enc"}, {"kid", "1"}};
}

TEST(JwkTest, RoundTripRsaAndEc) {
  for (EVP_PKEY* key : {testing::RsaTestKey(2048), testing::RsaTestKey(2048, 1),
                        testing::EcTestKey("P-256"), testing::EcTestKey("P-384"),
                        testing::EcTestKey("P-521")}) {
    ASSERT_OK_AND_ASSIGN(const json jwk, PublicKeyToJwk(key));
    SCOPED_TRACE(jwk.dump());
    EXPECT_FALSE(jwk.contains("d"));
    ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> parsed, PublicKeyFromJwk(jwk));
    EXPECT_EQ(EVP_PKEY_eq(parsed.get(), key), 1);
  }
}

TEST(JwkTest, EcCoordinatesHaveFullSize) {
  ASSERT_OK_AND_ASSIGN(const json jwk, PublicKeyToJwk(testing::EcTestKey("P-521")));
  EXPECT_EQ(jwk["crv"], "P-521");
  ASSERT_OK_AND_ASSIGN(const Bytes x, Base64UrlDecode(jwk["x"].get<std::string>()));
  ASSERT_OK_AND_ASSIGN(const Bytes y, Base64UrlDecode(jwk["y"].get<std::string>()));
  EXPECT_EQ(x.size(), 66u);
  EXPECT_EQ(y.size(), 66u);
}

TEST(JwkTest, ReadsRfcExampleKeys) {
  ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> rsa, PublicKeyFromJwk(Rfc7638Jwk()));
  EXPECT_EQ(EVP_PKEY_get_bits(rsa.get()), 2048);
  ASSERT_OK_AND_ASSIGN(const json rsa_jwk, PublicKeyToJwk(rsa.get()));
  EXPECT_EQ(rsa_jwk, (json{{"kty", "RSA"}, {"n", kRfc7638N}, {"e", "AQAB"}}));

  ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> ec, PublicKeyFromJwk(Rfc7517EcJwk()));
  ASSERT_OK_AND_ASSIGN(const json ec_jwk, PublicKeyToJwk(ec.get()));
  EXPECT_EQ(ec_jwk, (json{{"kty", "EC"}, {"crv", "P-256"}, {"x", kRfc7517X}, {"y", kRfc7517Y}}));
}

TEST(JwkTest, ThumbprintKnownAnswers) {
  ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> rsa, PublicKeyFromJwk(Rfc7638Jwk()));
  ASSERT_OK_AND_ASSIGN(const std::string rsa_thumbprint, JwkThumbprint(rsa.get()));
  EXPECT_EQ(rsa_thumbprint, kRfc7638Thumbprint);

  ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> ec, PublicKeyFromJwk(Rfc7517EcJwk()));
  ASSERT_OK_AND_ASSIGN(const std::string ec_thumbprint, JwkThumbprint(ec.get()));
  EXPECT_EQ(ec_thumbprint, kRfc7517Thumbprint);
}

TEST(JwkTest, RejectsPrivateMembers) {
  ASSERT_OK_AND_ASSIGN(json rsa, PublicKeyToJwk(testing::RsaTestKey(2048)));
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    json jwk = rsa;
    jwk[member] = "AQAB";
    EXPECT_THAT(PublicKeyFromJwk(jwk),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("private member")))
        << member;
  }
  json ec = Rfc7517EcJwk();
  ec["d"] = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE";
  EXPECT_THAT(PublicKeyFromJwk(ec), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(JwkTest, RejectsSmallRsaKeys) {
  ASSERT_OK_AND_ASSIGN(const json small, PublicKeyToJwk(testing::RsaTestKey(1024)));
  EXPECT_THAT(PublicKeyFromJwk(small),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1024 bits")));
}

TEST(JwkTest, RejectsBadRsaMembers) {
  const json good = Rfc7638Jwk();
  struct BadCase {
    const char* name;
    const char* member;
    json value;
  };
  const BadCase cases[] = {
      {"even exponent", "e", "AQAC"},
      {"exponent 3", "e", "Aw"},
      {"empty exponent", "e", ""},
      {"exponent not a string", "e", 65537},
      {"modulus not base64url", "n", "not base64url!"},
      {"modulus with padding characters in the middle", "n", "AA==AA"},
      {"huge modulus", "n", Base64UrlEncode(Bytes(2000, 0xff))},
  };
  for (const BadCase& c : cases) {
    json jwk = good;
    jwk[c.member] = c.value;
    EXPECT_THAT(PublicKeyFromJwk(jwk), StatusIs(absl::StatusCode::kInvalidArgument)) << c.name;
  }
  json no_n = good;
  no_n.erase("n");
  EXPECT_THAT(PublicKeyFromJwk(no_n),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"n\"")));
}

// 2^2048 - 1 is odd and 2048 bits long, but divisible by 3.
TEST(JwkTest, RejectsRsaModulusWithSmallFactor) {
  json jwk = Rfc7638Jwk();
  jwk["n"] = Base64UrlEncode(Bytes(256, 0xff));
  EXPECT_THAT(PublicKeyFromJwk(jwk),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("small factor 3")));
}

// 997 times a 2,039-bit prime: the largest small prime that the check
// covers, behind a modulus of the usual size.
TEST(JwkTest, RejectsRsaModulusWithLargestSmallFactor) {
  SslPtr<BIGNUM> prime(BN_new());
  SslPtr<BIGNUM> n(BN_new());
  SslPtr<BN_CTX> ctx(BN_CTX_new());
  ASSERT_TRUE(prime);
  ASSERT_TRUE(n);
  ASSERT_TRUE(ctx);
  ASSERT_EQ(BN_generate_prime_ex(prime.get(), 2039, 0, nullptr, nullptr, nullptr), 1);
  ASSERT_NE(BN_copy(n.get(), prime.get()), nullptr);
  ASSERT_EQ(BN_mul_word(n.get(), 997), 1);
  Bytes n_bytes(static_cast<size_t>(BN_num_bytes(n.get())));
  BN_bn2bin(n.get(), n_bytes.data());
  json jwk = Rfc7638Jwk();
  jwk["n"] = Base64UrlEncode(n_bytes);
  EXPECT_THAT(PublicKeyFromJwk(jwk),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("small factor 997")));
}

TEST(JwkTest, RejectsBadEcMembers) {
  const json good = Rfc7517EcJwk();
  // Flipping the last byte of y moves the point off the curve.
  Bytes y = *Base64UrlDecode(kRfc7517Y);
  y.back() ^= 0x01;
  struct BadCase {
    const char* name;
    const char* member;
    json value;
  };
  const BadCase cases[] = {
      {"point not on the curve", "y", Base64UrlEncode(y)},
      {"short x", "x", Base64UrlEncode(Bytes(31, 0x01))},
      {"long x", "x", Base64UrlEncode(Bytes(33, 0x01))},
      {"curve of another size", "crv", "P-384"},
      {"unknown curve", "crv", "secp256k1"},
      {"curve not a string", "crv", 256},
      {"x not a string", "x", json::array()},
  };
  for (const BadCase& c : cases) {
    json jwk = good;
    jwk[c.member] = c.value;
    EXPECT_THAT(PublicKeyFromJwk(jwk), StatusIs(absl::StatusCode::kInvalidArgument)) << c.name;
  }
}

TEST(JwkTest, RejectsOtherShapes) {
  EXPECT_THAT(PublicKeyFromJwk(json::array()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyFromJwk(json("RSA")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyFromJwk(json::object()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kty")));
  EXPECT_THAT(PublicKeyFromJwk(json{{"kty", "oct"}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyFromJwk(json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AA"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyFromJwk(json{{"kty", 1}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublicKeyToJwk(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(JwkThumbprint(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::crypto
