#include "vouch/crypto/jws.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <string>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/test_keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::crypto {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr JwsAlg kAllAlgs[] = {JwsAlg::kRs256, JwsAlg::kPs256, JwsAlg::kEs256, JwsAlg::kEs384};

EVP_PKEY* KeyFor(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::kRs256:
    case JwsAlg::kPs256:
      return testing::RsaTestKey(2048);
    case JwsAlg::kEs256:
      return testing::EcTestKey("P-256");
    case JwsAlg::kEs384:
      return testing::EcTestKey("P-384");
  }
  return nullptr;
}

SslPtr<EVP_PKEY> PublicOnly(EVP_PKEY* key) {
  auto der = PublicKeyToDer(key);
  EXPECT_TRUE(der.ok());
  auto public_key = PublicKeyFromDer(*der);
  EXPECT_TRUE(public_key.ok());
  return *std::move(public_key);
}

// UnsignedToken builds header.payload.signature from raw parts, for tokens
// JwsSign refuses to make.
std::string UnsignedToken(const json& header, std::string_view payload, ByteSpan signature) {
  return Base64UrlEncode(AsBytes(header.dump())) + "." + Base64UrlEncode(AsBytes(payload)) + "." +
         Base64UrlEncode(signature);
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

TEST(JwsTest, RoundTripEveryAlg) {
  const std::string payload = R"({"iss":"https://vouch.test","x-ms-ver":"1.0"})";
  for (const JwsAlg alg : kAllAlgs) {
    SCOPED_TRACE(std::string(JwsAlgName(alg)));
    ASSERT_OK_AND_ASSIGN(const std::string token,
                         JwsSign(KeyFor(alg), alg, json{{"typ", "JWT"}, {"kid", "k1"}}, payload));
    ASSERT_OK_AND_ASSIGN(const JwsParts parts, JwsDecode(token));
    EXPECT_EQ(parts.header["alg"], JwsAlgName(alg));
    EXPECT_EQ(parts.header["kid"], "k1");
    EXPECT_EQ(parts.payload, payload);
    EXPECT_EQ(parts.signing_input, token.substr(0, token.rfind('.')));

    const SslPtr<EVP_PKEY> public_key = PublicOnly(KeyFor(alg));
    EXPECT_OK(JwsVerify(parts, public_key.get(), kAllAlgs));
    const JwsAlg only[] = {alg};
    EXPECT_OK(JwsVerify(parts, public_key.get(), only));
  }
}

TEST(JwsTest, EcdsaSignaturesAreRaw) {
  ASSERT_OK_AND_ASSIGN(const std::string es256,
                       JwsSign(KeyFor(JwsAlg::kEs256), JwsAlg::kEs256, nullptr, "x"));
  ASSERT_OK_AND_ASSIGN(const JwsParts parts256, JwsDecode(es256));
  EXPECT_EQ(parts256.signature.size(), 64u);
  ASSERT_OK_AND_ASSIGN(const std::string es384,
                       JwsSign(KeyFor(JwsAlg::kEs384), JwsAlg::kEs384, json::object(), "x"));
  ASSERT_OK_AND_ASSIGN(const JwsParts parts384, JwsDecode(es384));
  EXPECT_EQ(parts384.signature.size(), 96u);
}

TEST(JwsTest, RejectsAlgNotInAllowedList) {
  ASSERT_OK_AND_ASSIGN(const std::string token,
                       JwsSign(KeyFor(JwsAlg::kPs256), JwsAlg::kPs256, nullptr, "x"));
  ASSERT_OK_AND_ASSIGN(const JwsParts parts, JwsDecode(token));
  const JwsAlg rs256_only[] = {JwsAlg::kRs256};
  EXPECT_THAT(JwsVerify(parts, KeyFor(JwsAlg::kPs256), rs256_only),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("allowed")));
  EXPECT_THAT(JwsVerify(parts, KeyFor(JwsAlg::kPs256), {}),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(JwsTest, RejectsNoneAndHmac) {
  EVP_PKEY* rsa = KeyFor(JwsAlg::kRs256);
  // The classic confusion attack: an HMAC keyed with the verifier's public key.
  ASSERT_OK_AND_ASSIGN(const std::string public_pem, PublicKeyToPem(rsa));
  const std::string signing_input = Base64UrlEncode(AsBytes(R"({"alg":"HS256"})")) + "." +
                                    Base64UrlEncode(AsBytes("payload"));
  Bytes mac(32);
  unsigned int mac_size = 0;
  ASSERT_NE(HMAC(EVP_sha256(), public_pem.data(), static_cast<int>(public_pem.size()),
                 AsBytes(signing_input).data(), signing_input.size(), mac.data(), &mac_size),
            nullptr);

  const std::vector<std::string> tokens = {
      UnsignedToken(json{{"alg", "none"}}, "payload", {}),
      UnsignedToken(json{{"alg", "None"}}, "payload", {}),
      signing_input + "." + Base64UrlEncode(mac),
      UnsignedToken(json{{"alg", "HS384"}}, "payload", Bytes(48, 1)),
      UnsignedToken(json{{"alg", "HS512"}}, "payload", Bytes(64, 1)),
      UnsignedToken(json{{"alg", "RS512"}}, "payload", Bytes(256, 1)),
      UnsignedToken(json{{"alg", ""}}, "payload", Bytes(256, 1)),
  };
  for (const std::string& token : tokens) {
    ASSERT_OK_AND_ASSIGN(const JwsParts parts, JwsDecode(token));
    SCOPED_TRACE(parts.header.dump());
    EXPECT_THAT(JwsVerify(parts, rsa, kAllAlgs),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not accepted")));
  }
  EXPECT_THAT(ParseJwsAlg("none"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(ParseJwsAlg("HS256"), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(JwsTest, RejectsAlgKeyMismatch) {
  struct MismatchCase {
    JwsAlg signed_with;
    EVP_PKEY* verify_key;
  };
  const MismatchCase cases[] = {
      {JwsAlg::kEs256, testing::RsaTestKey(2048)},
      {JwsAlg::kEs384, testing::EcTestKey("P-256")},
      {JwsAlg::kEs256, testing::EcTestKey("P-384")},
      {JwsAlg::kRs256, testing::EcTestKey("P-256")},
      {JwsAlg::kPs256, testing::EcTestKey("P-384")},
      {JwsAlg::kRs256, testing::RsaTestKey(1024)},
      {JwsAlg::kRs256, testing::RsaTestKey(2048, 1)},  // right type, wrong key
  };
  for (const MismatchCase& c : cases) {
    SCOPED_TRACE(std::string(JwsAlgName(c.signed_with)));
    ASSERT_OK_AND_ASSIGN(const std::string token,
                         JwsSign(KeyFor(c.signed_with), c.signed_with, nullptr, "x"));
    ASSERT_OK_AND_ASSIGN(const JwsParts parts, JwsDecode(token));
    EXPECT_THAT(JwsVerify(parts, c.verify_key, kAllAlgs),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST(JwsTest, RejectsRelabeledRsaAlg) {
  // An RS256 signature must not verify when the header claims PS256, and the
  // other way round.
  for (const auto& [signed_with, claimed] :
       {std::pair{JwsAlg::kRs256, JwsAlg::kPs256}, std::pair{JwsAlg::kPs256, JwsAlg::kRs256}}) {
    ASSERT_OK_AND_ASSIGN(const std::string token,
                         JwsSign(KeyFor(signed_with), signed_with, nullptr, "x"));
    ASSERT_OK_AND_ASSIGN(JwsParts parts, JwsDecode(token));
    const json relabeled = {{"alg", JwsAlgName(claimed)}};
    parts.header = relabeled;
    parts.signing_input =
        Base64UrlEncode(AsBytes(relabeled.dump())) + "." + Base64UrlEncode(AsBytes("x"));
    EXPECT_THAT(JwsVerify(parts, KeyFor(signed_with), kAllAlgs),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST(JwsTest, SignRejectsKeyThatDoesNotFit) {
  EXPECT_THAT(JwsSign(testing::EcTestKey("P-256"), JwsAlg::kRs256, nullptr, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(JwsSign(testing::EcTestKey("P-384"), JwsAlg::kEs256, nullptr, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(JwsSign(testing::RsaTestKey(2048), JwsAlg::kEs384, nullptr, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(JwsSign(testing::RsaTestKey(1024), JwsAlg::kPs256, nullptr, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1024")));
  EXPECT_THAT(JwsSign(testing::RsaTestKey(2048), JwsAlg::kRs256, json::array(), "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(JwsTest, RejectsCritHeader) {
  ASSERT_OK_AND_ASSIGN(const std::string token,
                       JwsSign(KeyFor(JwsAlg::kEs256), JwsAlg::kEs256,
                               json{{"crit", {"exp"}}, {"exp", 1}}, "x"));
  ASSERT_OK_AND_ASSIGN(const JwsParts parts, JwsDecode(token));
  EXPECT_THAT(JwsVerify(parts, KeyFor(JwsAlg::kEs256), kAllAlgs),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("crit")));
}

TEST(JwsTest, DecodeRejectsWrongSegmentCounts) {
  ASSERT_OK_AND_ASSIGN(const std::string token,
                       JwsSign(KeyFor(JwsAlg::kEs256), JwsAlg::kEs256, nullptr, "x"));
  const std::string two = token.substr(0, token.rfind('.'));
  for (const std::string& bad : {std::string(), std::string("abc"), two, token + ".AAAA",
                                 token + ".", "." + token, std::string("..."), std::string("..")}) {
    EXPECT_THAT(JwsDecode(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(JwsTest, DecodeRejectsBadBase64Url) {
  const std::string header = Base64UrlEncode(AsBytes(R"({"alg":"ES256"})"));
  const std::string good = header + ".eA." + Base64UrlEncode(Bytes(64, 7));
  ASSERT_OK(JwsDecode(good).status());
  for (const std::string& bad : {
           header + ".eA==." + Base64UrlEncode(Bytes(64, 7)),  // padding
           header + ".e+A." + Base64UrlEncode(Bytes(64, 7)),   // standard alphabet
           header + ".e/A." + Base64UrlEncode(Bytes(64, 7)),
           header + ".e A." + Base64UrlEncode(Bytes(64, 7)),   // white space
           header + ".eAAAA." + Base64UrlEncode(Bytes(64, 7)), // 5 characters
           header + "\n.eA." + Base64UrlEncode(Bytes(64, 7)),
           header + ".eA." + Base64UrlEncode(Bytes(64, 7)) + "!",
       }) {
    EXPECT_THAT(JwsDecode(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(JwsTest, DecodeRejectsBadHeaders) {
  for (const std::string& header : {std::string("not json"), std::string("[1,2]"),
                                    std::string(R"({"typ":"JWT"})"), std::string(R"({"alg":1})"),
                                    std::string(R"({"alg":null})"), std::string(R"("ES256")"),
                                    std::string(R"({"alg":"ES256")")}) {
    const std::string token =
        Base64UrlEncode(AsBytes(header)) + ".eA." + Base64UrlEncode(Bytes(64, 7));
    EXPECT_THAT(JwsDecode(token), StatusIs(absl::StatusCode::kInvalidArgument)) << header;
  }
}

TEST(JwsTest, DecodeRejectsOversizedInput) {
  const std::string huge = Base64UrlEncode(AsBytes(R"({"alg":"ES256"})")) + "." +
                           std::string(kMaxJwsBytes, 'A') + ".AA";
  EXPECT_THAT(JwsDecode(huge), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
}

TEST(JwsTest, EveryTruncationAndByteFlipFails) {
  for (const JwsAlg alg : {JwsAlg::kEs256, JwsAlg::kRs256}) {
    SCOPED_TRACE(std::string(JwsAlgName(alg)));
    ASSERT_OK_AND_ASSIGN(const std::string token,
                         JwsSign(KeyFor(alg), alg, json{{"typ", "JWT"}}, R"({"sub":"vm-1"})"));
    const auto decode_and_verify = [&](std::string_view candidate) {
      auto parts = JwsDecode(candidate);
      return parts.ok() ? JwsVerify(*parts, KeyFor(alg), kAllAlgs) : parts.status();
    };
    for (size_t n = 0; n < token.size(); ++n) {
      EXPECT_FALSE(decode_and_verify(std::string_view(token).substr(0, n)).ok()) << "length " << n;
    }
    for (size_t i = 0; i < token.size(); ++i) {
      std::string flipped = token;
      flipped[i] = flipped[i] == 'A' ? 'B' : 'A';
      // The last character of a segment may carry unused bits, so a change
      // there can decode to the same bytes. Such a token still verifies,
      // which is harmless: the signed bytes are unchanged.
      auto parts = JwsDecode(flipped);
      if (parts.ok() && parts->signing_input == token.substr(0, token.rfind('.')) &&
          Base64UrlEncode(parts->signature) == token.substr(token.rfind('.') + 1)) {
        continue;
      }
      const absl::Status status = decode_and_verify(flipped);
      EXPECT_FALSE(status.ok()) << "offset " << i;
    }
  }
}

TEST(JwsTest, VerifyRejectsWrongEcdsaSignatureSize) {
  ASSERT_OK_AND_ASSIGN(const std::string token,
                       JwsSign(KeyFor(JwsAlg::kEs256), JwsAlg::kEs256, nullptr, "x"));
  ASSERT_OK_AND_ASSIGN(JwsParts parts, JwsDecode(token));
  parts.signature.push_back(0);
  EXPECT_THAT(JwsVerify(parts, KeyFor(JwsAlg::kEs256), kAllAlgs),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("65 bytes")));
}

TEST(JwsVectorTest, VeraisonEarTokenVerifies) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const json jwk = json::parse(ToString(ReadVector("tokens/ear-pkey.json")), nullptr, false);
  ASSERT_FALSE(jwk.is_discarded());
  ASSERT_OK_AND_ASSIGN(const SslPtr<EVP_PKEY> key, PublicKeyFromJwk(jwk));
  ASSERT_OK_AND_ASSIGN(const JwsParts parts,
                       JwsDecode(Trim(ToString(ReadVector("tokens/ear-ok.jwt")))));
  EXPECT_EQ(parts.header["alg"], "ES256");
  EXPECT_OK(JwsVerify(parts, key.get(), kAllAlgs));
  const JwsAlg rsa_only[] = {JwsAlg::kRs256, JwsAlg::kPs256};
  EXPECT_THAT(JwsVerify(parts, key.get(), rsa_only), StatusIs(absl::StatusCode::kUnauthenticated));

  EXPECT_THAT(JwsDecode(Trim(ToString(ReadVector("tokens/ear-trailing-rubbish.jwt")))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 segments")));
}

TEST(JwsVectorTest, AzureAttestationTokenVerifiesWithX5cKey) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const json jwks =
      json::parse(ToString(ReadVector("tokens/maa-sharedeus-certs-2023.json")), nullptr, false);
  ASSERT_TRUE(jwks.is_object());
  ASSERT_OK_AND_ASSIGN(const JwsParts parts, JwsDecode(Trim(ToString(
                                                 ReadVector("tokens/maa-sgx-sharedeus-2023-09-26.jwt")))));
  ASSERT_TRUE(parts.header["kid"].is_string());
  const std::string kid = parts.header["kid"].get<std::string>();

  int verified = 0;
  for (const json& key : jwks["keys"]) {
    ASSERT_TRUE(key["x5c"].is_array());
    ASSERT_TRUE(key["x5c"][0].is_string());
    ASSERT_OK_AND_ASSIGN(const Bytes der, Base64Decode(key["x5c"][0].get<std::string>()));
    ASSERT_OK_AND_ASSIGN(const Certificate certificate, Certificate::FromDer(der));
    const absl::Status status = JwsVerify(parts, certificate.PublicKey(), kAllAlgs);
    if (key["kid"] == kid) {
      EXPECT_OK(status);
      ++verified;
    } else {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnauthenticated));
    }
  }
  EXPECT_EQ(verified, 1);
}

TEST(JwsVectorTest, RealTokensDecode) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const char* file : {"tokens/maa-azurecvm-sevsnp-sharedweu-2023-03-30.jwt",
                           "tokens/ita-tdx-2023-12-05.jwt",
                           "tokens/ita-sgx-amberpoc-2023-12-16.jwt"}) {
    SCOPED_TRACE(file);
    ASSERT_OK_AND_ASSIGN(const JwsParts parts, JwsDecode(Trim(ToString(ReadVector(file)))));
    EXPECT_TRUE(parts.header["alg"].is_string());
    const json claims = json::parse(parts.payload, nullptr, false);
    EXPECT_TRUE(claims.is_object());
  }
}

}  // namespace
}  // namespace vouch::crypto
