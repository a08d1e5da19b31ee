#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/time.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace vouch::token {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

constexpr char kIssuerUrl[] = "https://vouch.test";
const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

// Each key is generated on first use and kept for the rest of the test
// binary, because RSA generation is slow.
EVP_PKEY* SharedRsaKey(int index) {
  if (index == 0) {
    static EVP_PKEY* key = crypto::GenerateRsaKey(2048).value().release();
    return key;
  }
  static EVP_PKEY* other_key = crypto::GenerateRsaKey(2048).value().release();
  return other_key;
}

crypto::SslPtr<EVP_PKEY> CopyKey(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return crypto::SslPtr<EVP_PKEY>(key);
}

TokenIssuer MakeIssuer(crypto::SslPtr<EVP_PKEY> key, std::string url = kIssuerUrl) {
  absl::StatusOr<TokenIssuer> issuer =
      TokenIssuer::Create(std::move(key), TokenIssuerOptions{.issuer = std::move(url)});
  EXPECT_TRUE(issuer.ok()) << issuer.status();
  return *std::move(issuer);
}

std::string B64(std::string_view text) { return Base64UrlEncode(AsBytes(text)); }

// Compact builds a compact JWS from raw parts without signing.
std::string Compact(const Json& header, const Json& payload, std::string_view signature) {
  return B64(header.dump()) + "." + B64(payload.dump()) + "." + B64(signature);
}

Json ValidClaims(const TokenIssuer& issuer) {
  return Json{{"iss", issuer.issuer()},
              {"iat", absl::ToUnixSeconds(kNow)},
              {"nbf", absl::ToUnixSeconds(kNow)},
              {"exp", absl::ToUnixSeconds(kNow + absl::Minutes(5))}};
}

// SignWith signs `claims` with `key` under a chosen header, as an attacker
// holding that key would.
std::string SignWith(EVP_PKEY* key, crypto::JwsAlg alg, const Json& header, const Json& claims) {
  absl::StatusOr<std::string> jws = crypto::JwsSign(key, alg, header, claims.dump());
  EXPECT_TRUE(jws.ok()) << jws.status();
  return *jws;
}

class TokenTest : public ::testing::Test {
 protected:
  TokenTest()
      : issuer_(MakeIssuer(CopyKey(SharedRsaKey(0)))),
        validator_(TokenValidator::ForIssuer(issuer_).value()) {}

  std::string Issue(Json claims = Json::object()) {
    absl::StatusOr<std::string> token = issuer_.Issue(std::move(claims), kNow);
    EXPECT_TRUE(token.ok()) << token.status();
    return *token;
  }

  Json HeaderWith(Json extra) {
    Json header = {{"kid", issuer_.kid()}, {"typ", "JWT"}};
    if (extra.is_object()) {  // HeaderWith({}) passes null
      header.update(extra);
    }
    return header;
  }

  TokenIssuer issuer_;
  TokenValidator validator_;
};

TEST_F(TokenTest, IssueThenValidate) {
  const std::string token = Issue({{"x-ms-attestation-type", "sevsnpvm"}, {"nonce", "n1"}});
  ASSERT_OK_AND_ASSIGN(const Json claims, validator_.Validate(token, kNow));
  EXPECT_EQ(claims["iss"], kIssuerUrl);
  EXPECT_EQ(claims["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(claims["nonce"], "n1");
  EXPECT_EQ(claims["x-ms-ver"], "1.0");
  EXPECT_EQ(claims["iat"], absl::ToUnixSeconds(kNow));
  EXPECT_EQ(claims["nbf"], absl::ToUnixSeconds(kNow));
  EXPECT_EQ(claims["exp"], absl::ToUnixSeconds(kNow) + 300);
  ASSERT_TRUE(claims["jti"].is_string());
  EXPECT_EQ(claims["jti"].get<std::string>().size(), 64u);
}

TEST_F(TokenTest, JtiDiffersPerToken) {
  const Json a = validator_.Validate(Issue(), kNow).value();
  const Json b = validator_.Validate(Issue(), kNow).value();
  EXPECT_NE(a["jti"], b["jti"]);
}

TEST_F(TokenTest, HeaderHasOnlyAlgKidTyp) {
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(Issue()));
  EXPECT_EQ(parts.header, (Json{{"alg", "RS256"}, {"kid", issuer_.kid()}, {"typ", "JWT"}}));
}

TEST_F(TokenTest, KidIsJwkThumbprint) {
  ASSERT_OK_AND_ASSIGN(const std::string thumbprint, crypto::JwkThumbprint(SharedRsaKey(0)));
  EXPECT_EQ(issuer_.kid(), thumbprint);
}

TEST_F(TokenTest, JwksPublishesPublicKeyOnly) {
  const Json jwks = issuer_.Jwks();
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const Json& key = jwks["keys"][0];
  EXPECT_EQ(key["kty"], "RSA");
  EXPECT_EQ(key["kid"], issuer_.kid());
  EXPECT_EQ(key["use"], "sig");
  EXPECT_EQ(key["alg"], "RS256");
  EXPECT_TRUE(key.contains("n"));
  EXPECT_TRUE(key.contains("e"));
  EXPECT_FALSE(key.contains("d"));
  EXPECT_FALSE(key.contains("p"));
}

TEST_F(TokenTest, OpenIdConfiguration) {
  const Json config = issuer_.OpenIdConfiguration();
  EXPECT_EQ(config["issuer"], kIssuerUrl);
  EXPECT_EQ(config["jwks_uri"], "https://vouch.test/certs");
  EXPECT_EQ(config["id_token_signing_alg_values_supported"], Json::array({"RS256"}));
  EXPECT_TRUE(config["claims_supported"].is_array());
}

TEST_F(TokenTest, IssueRejectsReservedClaims) {
  for (const std::string_view name : kIssuedClaims) {
    EXPECT_THAT(issuer_.Issue(Json{{std::string(name), 1}}, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("set by the issuer")))
        << name;
  }
  EXPECT_THAT(issuer_.Issue(Json::array(), kNow), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokenIssuerTest, CreateRejectsBadOptions) {
  EXPECT_THAT(TokenIssuer::Create(CopyKey(SharedRsaKey(0)), {.issuer = "vouch.test"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an http(s) URL")));
  EXPECT_THAT(TokenIssuer::Create(CopyKey(SharedRsaKey(0)),
                                  {.issuer = kIssuerUrl, .lifetime = absl::ZeroDuration()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be positive")));
  EXPECT_THAT(TokenIssuer::Create(nullptr, {.issuer = kIssuerUrl}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokenIssuerTest, CreateNormalizesTrailingSlash) {
  const TokenIssuer issuer = MakeIssuer(CopyKey(SharedRsaKey(0)), "https://vouch.test/");
  EXPECT_EQ(issuer.issuer(), kIssuerUrl);
  EXPECT_EQ(issuer.OpenIdConfiguration()["jwks_uri"], "https://vouch.test/certs");
}

struct EcCase {
  std::string curve;
  std::string alg;
};

class EcTokenTest : public ::testing::TestWithParam<EcCase> {};

TEST_P(EcTokenTest, IssueThenValidate) {
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> key, crypto::GenerateEcKey(GetParam().curve));
  const TokenIssuer issuer = MakeIssuer(std::move(key));
  EXPECT_EQ(crypto::JwsAlgName(issuer.alg()), GetParam().alg);
  ASSERT_OK_AND_ASSIGN(const TokenValidator validator, TokenValidator::ForIssuer(issuer));
  ASSERT_OK_AND_ASSIGN(const std::string token, issuer.Issue(Json{{"a", 1}}, kNow));
  ASSERT_OK_AND_ASSIGN(const Json claims, validator.Validate(token, kNow));
  EXPECT_EQ(claims["a"], 1);
  EXPECT_EQ(issuer.Jwks()["keys"][0]["kty"], "EC");
  EXPECT_EQ(issuer.Jwks()["keys"][0]["alg"], GetParam().alg);
}

INSTANTIATE_TEST_SUITE_P(Curves, EcTokenTest,
                         ::testing::Values(EcCase{"P-256", "ES256"}, EcCase{"P-384", "ES384"}));

TEST(TokenIssuerTest, RejectsP521Key) {
  ASSERT_OK_AND_ASSIGN(crypto::SslPtr<EVP_PKEY> key, crypto::GenerateEcKey("P-521"));
  EXPECT_THAT(TokenIssuer::Create(std::move(key), {.issuer = kIssuerUrl}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("P-521")));
}

TEST_F(TokenTest, PreviousKeyStillValidates) {
  const TokenIssuer old_issuer = MakeIssuer(CopyKey(SharedRsaKey(1)));
  ASSERT_OK_AND_ASSIGN(const std::string old_token, old_issuer.Issue(Json::object(), kNow));
  ASSERT_OK(issuer_.AddPreviousKey(SharedRsaKey(1)));
  ASSERT_OK(issuer_.AddPreviousKey(SharedRsaKey(1)));  // adding twice keeps one entry
  EXPECT_EQ(issuer_.Jwks()["keys"].size(), 2u);
  EXPECT_EQ(issuer_.Jwks()["keys"][0]["kid"], issuer_.kid());

  ASSERT_OK_AND_ASSIGN(const TokenValidator validator, TokenValidator::ForIssuer(issuer_));
  EXPECT_OK(validator.Validate(old_token, kNow).status());
  EXPECT_OK(validator.Validate(Issue(), kNow).status());
}

TEST_F(TokenTest, RejectsAlgNone) {
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string token = Compact(HeaderWith({{"alg", alg}}), ValidClaims(issuer_), "");
    EXPECT_THAT(validator_.Validate(token, kNow),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("never accepted")))
        << alg;
  }
}

TEST_F(TokenTest, RejectsNonStringAlg) {
  const std::string token = Compact(HeaderWith({{"alg", 5}}), ValidClaims(issuer_), "sig");
  EXPECT_THAT(validator_.Validate(token, kNow), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenTest, RejectsHs256WithPublicKeyAsSecret) {
  ASSERT_OK_AND_ASSIGN(const std::string public_pem, crypto::PublicKeyToPem(SharedRsaKey(0)));
  const std::string signing_input =
      B64(HeaderWith({{"alg", "HS256"}}).dump()) + "." + B64(ValidClaims(issuer_).dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  ASSERT_NE(HMAC(EVP_sha256(), public_pem.data(), static_cast<int>(public_pem.size()),
                 AsBytes(signing_input).data(), signing_input.size(), mac, &mac_size),
            nullptr);
  const std::string token = signing_input + "." + Base64UrlEncode(ByteSpan(mac, mac_size));
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("\"HS256\" is never")));
}

TEST_F(TokenTest, RejectsKeyNotInJwks) {
  // The attacker reuses the trusted kid but signs with its own key.
  const std::string same_kid =
      SignWith(SharedRsaKey(1), crypto::JwsAlg::kRs256, HeaderWith({}), ValidClaims(issuer_));
  EXPECT_THAT(validator_.Validate(same_kid, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));

  const std::string other_kid = SignWith(SharedRsaKey(1), crypto::JwsAlg::kRs256,
                                         HeaderWith({{"kid", "attacker"}}), ValidClaims(issuer_));
  EXPECT_THAT(validator_.Validate(other_kid, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("is not in the JWKS")));
}

TEST_F(TokenTest, RejectsUnknownIssuer) {
  const TokenIssuer other = MakeIssuer(CopyKey(SharedRsaKey(1)), "https://attacker.test");
  ASSERT_OK_AND_ASSIGN(const std::string token, other.Issue(Json::object(), kNow));
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("issuer \"https://attacker.test\" is not a trusted authority")));
}

TEST_F(TokenTest, RejectsTokenWithoutIssuer) {
  Json claims = ValidClaims(issuer_);
  claims.erase("iss");
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({}), claims);
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no iss")));
}

TEST_F(TokenTest, RejectsEmbeddedJwk) {
  ASSERT_OK_AND_ASSIGN(const Json attacker_jwk, crypto::PublicKeyToJwk(SharedRsaKey(1)));
  const std::string token = SignWith(SharedRsaKey(1), crypto::JwsAlg::kRs256,
                                     HeaderWith({{"jwk", attacker_jwk}}), ValidClaims(issuer_));
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("\"jwk\" is not accepted")));
}

TEST_F(TokenTest, RejectsKeyLocationHeaders) {
  for (const char* member : {"x5u", "x5c", "crit"}) {
    const Json value = std::string(member) == "x5c" ? Json::array({"MIIB"}) : Json("x");
    const std::string token = SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256,
                                       HeaderWith({{member, value}}), ValidClaims(issuer_));
    EXPECT_THAT(validator_.Validate(token, kNow),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("is not accepted")))
        << member;
  }
}

TEST_F(TokenTest, RejectsJkuOutsideIssuer) {
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256,
               HeaderWith({{"jku", "https://attacker.test/certs"}}), ValidClaims(issuer_));
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("jku")));
}

TEST_F(TokenTest, AcceptsJkuAtIssuerCerts) {
  // Azure Attestation tokens carry jku <issuer>/certs. It is never fetched.
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256,
               HeaderWith({{"jku", "https://vouch.test/certs"}}), ValidClaims(issuer_));
  EXPECT_OK(validator_.Validate(token, kNow).status());
}

TEST_F(TokenTest, RejectsMissingKid) {
  Json header = HeaderWith({});
  header.erase("kid");
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, header, ValidClaims(issuer_));
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no kid")));
}

TEST_F(TokenTest, RejectsWrongTyp) {
  const std::string token = SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256,
                                     HeaderWith({{"typ", "JWE"}}), ValidClaims(issuer_));
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("typ")));
}

TEST_F(TokenTest, RejectsAlgOutsideAllowList) {
  ASSERT_OK_AND_ASSIGN(
      const TokenValidator es_only,
      TokenValidator::ForIssuer(issuer_, {.allowed_algs = {crypto::JwsAlg::kEs256}}));
  EXPECT_THAT(es_only.Validate(Issue(), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not allowed")));
}

TEST_F(TokenTest, RejectsAlgThatDoesNotMatchKey) {
  // The trusted JWK names alg RS256, so a token claiming PS256 for it is rejected.
  const std::string token = SignWith(SharedRsaKey(0), crypto::JwsAlg::kPs256, HeaderWith({}),
                                     ValidClaims(issuer_));
  EXPECT_THAT(validator_.Validate(token, kNow), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenTest, RejectsExpired) {
  const std::string token = Issue();
  EXPECT_OK(validator_.Validate(token, kNow + absl::Minutes(5) + absl::Seconds(59)).status());
  EXPECT_THAT(validator_.Validate(token, kNow + absl::Minutes(5) + absl::Seconds(61)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired at")));
}

TEST_F(TokenTest, RejectsNotYetValid) {
  const std::string token = Issue();
  EXPECT_OK(validator_.Validate(token, kNow - absl::Seconds(59)).status());
  EXPECT_THAT(validator_.Validate(token, kNow - absl::Seconds(61)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not valid before")));
}

TEST_F(TokenTest, RejectsMissingExp) {
  Json claims = ValidClaims(issuer_);
  claims.erase("exp");
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({}), claims);
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing exp")));
}

TEST_F(TokenTest, RejectsNonNumericExp) {
  Json claims = ValidClaims(issuer_);
  claims["exp"] = "never";
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({}), claims);
  EXPECT_THAT(validator_.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("exp must be a number")));
}

TEST_F(TokenTest, RejectsTamperedPayload) {
  const std::string token = Issue({{"x-ms-sevsnpvm-vmpl", 1}});
  const size_t first_dot = token.find('.');
  const size_t second_dot = token.find('.', first_dot + 1);
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(token));
  Json claims = Json::parse(parts.payload);
  claims["x-ms-sevsnpvm-vmpl"] = 0;
  const std::string tampered = token.substr(0, first_dot + 1) + B64(claims.dump()) +
                               token.substr(second_dot);
  EXPECT_THAT(validator_.Validate(tampered, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

TEST_F(TokenTest, RejectsEverySignatureByteFlip) {
  const std::string token = Issue();
  const size_t signature_start = token.rfind('.') + 1;
  for (size_t i = signature_start; i < token.size(); i += 7) {
    std::string flipped = token;
    flipped[i] = flipped[i] == 'A' ? 'B' : 'A';
    EXPECT_THAT(validator_.Validate(flipped, kNow), StatusIs(absl::StatusCode::kUnauthenticated))
        << "offset " << i;
  }
}

TEST_F(TokenTest, RejectsEveryTruncation) {
  const std::string token = Issue();
  for (size_t n = 0; n < token.size(); ++n) {
    EXPECT_THAT(validator_.Validate(token.substr(0, n), kNow),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "length " << n;
  }
}

TEST_F(TokenTest, RejectsWrongSegmentCount) {
  const std::string token = Issue();
  const std::string two = token.substr(0, token.rfind('.'));
  EXPECT_THAT(validator_.Validate(two, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("2 segments, want 3")));
  EXPECT_THAT(validator_.Validate(token + ".e30", kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("4 segments, want 3")));
  EXPECT_THAT(validator_.Validate("", kNow), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenTest, RejectsOversizedToken) {
  ASSERT_OK_AND_ASSIGN(const TokenValidator small,
                       TokenValidator::ForIssuer(issuer_, {.max_token_bytes = 100}));
  EXPECT_THAT(small.Validate(Issue(), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("limit 100")));
  // The token is one byte over the limit and its payload is under it, so only
  // the size check of the whole token rejects it.
  const std::string token = Issue();
  ASSERT_OK_AND_ASSIGN(const TokenValidator one_short,
                       TokenValidator::ForIssuer(issuer_, {.max_token_bytes = token.size() - 1}));
  EXPECT_THAT(one_short.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("token: " + std::to_string(token.size()) + " bytes, limit")));
}

TEST_F(TokenTest, TrustedIssuerWithTrailingSlash) {
  ASSERT_OK_AND_ASSIGN(const TokenValidator validator,
                       TokenValidator::Create({{"https://vouch.test/", issuer_.Jwks()}}));
  EXPECT_OK(validator.Validate(Issue(), kNow).status());
  EXPECT_EQ(validator.Issuers(), std::vector<std::string>{kIssuerUrl});
}

TEST(TokenValidatorTest, CreateRejectsBadConfiguration) {
  EXPECT_THAT(TokenValidator::Create({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TokenValidator::Create({{kIssuerUrl, Json::object()}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want {\"keys\"")));
  EXPECT_THAT(TokenValidator::Create({{kIssuerUrl, Json{{"keys", Json::array()}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no signature keys")));

  ASSERT_OK_AND_ASSIGN(Json jwk, PublicJwk(SharedRsaKey(0), crypto::JwsAlg::kRs256));
  EXPECT_THAT(
      TokenValidator::Create({{kIssuerUrl, Json{{"keys", Json::array({jwk, jwk})}}}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("appears twice")));
  EXPECT_THAT(TokenValidator::Create({{kIssuerUrl, Json{{"keys", Json::array({jwk})}}},
                                      {kIssuerUrl, Json{{"keys", Json::array({jwk})}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("appears twice")));

  Json no_kid = jwk;
  no_kid.erase("kid");
  EXPECT_THAT(TokenValidator::Create({{kIssuerUrl, Json{{"keys", Json::array({no_kid})}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing kid")));

  const Json oct = {{"kty", "oct"}, {"kid", "k"}, {"k", "c2VjcmV0"}};
  EXPECT_THAT(TokenValidator::Create({{kIssuerUrl, Json{{"keys", Json::array({oct})}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want RSA or EC")));

  Json private_jwk = jwk;
  private_jwk["d"] = "AQAB";
  EXPECT_OK(TokenValidator::Create({{kIssuerUrl, Json{{"keys", Json::array({private_jwk})}}}})
                .status());  // only the public members are read
}

TEST(TokenValidatorTest, IgnoresEncryptionKeys) {
  ASSERT_OK_AND_ASSIGN(Json sig, PublicJwk(SharedRsaKey(0), crypto::JwsAlg::kRs256));
  ASSERT_OK_AND_ASSIGN(Json enc, crypto::PublicKeyToJwk(SharedRsaKey(1)));
  enc["kid"] = "enc";
  enc["use"] = "enc";
  EXPECT_OK(TokenValidator::Create({{kIssuerUrl, Json{{"keys", Json::array({enc, sig})}}}})
                .status());
}

// A real Microsoft Azure Attestation token (SGX, sharedeus, RS256, with
// jku <issuer>/certs) verifies against the published JWKS, whose keys carry
// only x5c certificates.
TEST(TokenValidatorTest, ValidatesRealAzureAttestationToken) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Json jwks =
      Json::parse(ToString(::vouch::testing::ReadVector("tokens/maa-sharedeus-certs-2023.json")));
  std::string jwt = ToString(::vouch::testing::ReadVector("tokens/maa-sgx-sharedeus-2023-09-26.jwt"));
  while (!jwt.empty() && (jwt.back() == '\n' || jwt.back() == '\r' || jwt.back() == ' ')) {
    jwt.pop_back();
  }
  ASSERT_OK_AND_ASSIGN(
      const TokenValidator validator,
      TokenValidator::Create({{"https://sharedeus.eus.attest.azure.net", jwks}}));

  ASSERT_OK_AND_ASSIGN(const absl::Time during, ParseRfc3339("2023-09-26T15:00:00Z"));
  ASSERT_OK_AND_ASSIGN(const Json claims, validator.Validate(jwt, during));
  EXPECT_EQ(claims["x-ms-attestation-type"], "sgx");
  EXPECT_EQ(claims["iss"], "https://sharedeus.eus.attest.azure.net");

  ASSERT_OK_AND_ASSIGN(const absl::Time after, ParseRfc3339("2023-09-27T00:00:00Z"));
  EXPECT_THAT(validator.Validate(jwt, after),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));

  ASSERT_OK_AND_ASSIGN(const TokenValidator other,
                       TokenValidator::Create({{"https://sharedweu.weu.attest.azure.net", jwks}}));
  EXPECT_THAT(other.Validate(jwt, during),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not a trusted authority")));
}

// ValidatorWithAudiences returns a validator of `issuer` that expects `audiences`.
TokenValidator ValidatorWithAudiences(const TokenIssuer& issuer,
                                      std::vector<std::string> audiences) {
  TokenValidatorOptions options;
  options.audiences = std::move(audiences);
  return TokenValidator::ForIssuer(issuer, options).value();
}

TEST_F(TokenTest, RejectsWrongAudience) {
  const TokenValidator validator = ValidatorWithAudiences(issuer_, {"https://vouch.test/keys"});
  Json claims = ValidClaims(issuer_);
  claims["aud"] = "https://other.test";
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({{"alg", "RS256"}}), claims);
  EXPECT_THAT(validator.Validate(token, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("want one of https://vouch.test/keys")));

  claims["aud"] = 5;
  const std::string number_aud =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({{"alg", "RS256"}}), claims);
  EXPECT_THAT(validator.Validate(number_aud, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("aud is 5")));
}

TEST_F(TokenTest, AcceptsAudienceInArray) {
  const TokenValidator validator =
      ValidatorWithAudiences(issuer_, {"https://vouch.test/keys", "vouch"});
  Json claims = ValidClaims(issuer_);
  claims["aud"] = {"https://other.test", "vouch"};
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({{"alg", "RS256"}}), claims);
  EXPECT_OK(validator.Validate(token, kNow).status());

  claims["aud"] = "https://vouch.test/keys";
  const std::string string_aud =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({{"alg", "RS256"}}), claims);
  EXPECT_OK(validator.Validate(string_aud, kNow).status());

  claims["aud"] = {"https://other.test"};
  const std::string no_match =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({{"alg", "RS256"}}), claims);
  EXPECT_THAT(validator.Validate(no_match, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("does not contain")));
}

TEST_F(TokenTest, MissingAudienceRejectedWhenRequired) {
  const TokenValidator validator = ValidatorWithAudiences(issuer_, {"vouch"});
  EXPECT_THAT(validator.Validate(Issue(), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing aud, want one of vouch")));
  // Without an expected audience, "aud" is not read.
  Json claims = ValidClaims(issuer_);
  claims["aud"] = "anything";
  const std::string token =
      SignWith(SharedRsaKey(0), crypto::JwsAlg::kRs256, HeaderWith({{"alg", "RS256"}}), claims);
  EXPECT_OK(validator_.Validate(token, kNow).status());
  EXPECT_OK(validator_.Validate(Issue(), kNow).status());
}

}  // namespace
}  // namespace vouch::token
