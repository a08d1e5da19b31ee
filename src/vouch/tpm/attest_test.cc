#include "vouch/tpm/attest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::tpm {
namespace {

using crypto::HashAlg;
using ::testing::HasSubstr;
using vouch::testing::StatusIs;

const Bytes kNonce = ToBytes("challenge");

PcrBank Sha256Bank(size_t count) {
  PcrBank bank{HashAlg::kSha256, {}};
  for (uint32_t i = 0; i < count; ++i) {
    bank.values[i] = crypto::Sha256(Bytes{static_cast<uint8_t>(i)});
  }
  return bank;
}

// BuildAttest marshals a TPMS_ATTEST quote of SHA-256 PCRs `pcrs` in `bank`.
Bytes BuildAttest(ByteSpan nonce, const std::vector<uint32_t>& pcrs, const PcrBank& bank) {
  TPMS_ATTEST attest{};
  attest.magic = TPM2_GENERATED_VALUE;
  attest.type = TPM2_ST_ATTEST_QUOTE;
  attest.qualifiedSigner.size = 4;
  std::memcpy(attest.qualifiedSigner.name, "name", 4);
  attest.extraData.size = static_cast<UINT16>(nonce.size());
  std::memcpy(attest.extraData.buffer, nonce.data(), nonce.size());
  attest.clockInfo.clock = 1234;
  attest.clockInfo.safe = 1;
  TPMS_QUOTE_INFO& quote = attest.attested.quote;
  quote.pcrSelect.count = 1;
  quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
  quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
  Bytes concatenated;
  for (uint32_t pcr : pcrs) {
    quote.pcrSelect.pcrSelections[0].pcrSelect[pcr / 8] |= static_cast<uint8_t>(1 << (pcr % 8));
  }
  for (uint32_t i = 0; i < 24; ++i) {
    if (std::find(pcrs.begin(), pcrs.end(), i) != pcrs.end()) {
      const Bytes& v = bank.values.at(i);
      concatenated.insert(concatenated.end(), v.begin(), v.end());
    }
  }
  const Bytes digest = crypto::Sha256(concatenated);
  quote.pcrDigest.size = static_cast<UINT16>(digest.size());
  std::memcpy(quote.pcrDigest.buffer, digest.data(), digest.size());
  Bytes out(sizeof(TPMS_ATTEST));
  size_t offset = 0;
  EXPECT_EQ(Tss2_MU_TPMS_ATTEST_Marshal(&attest, out.data(), out.size(), &offset),
            TSS2_RC_SUCCESS);
  out.resize(offset);
  return out;
}

Bytes SignRsa(EVP_PKEY* key, ByteSpan message, bool pss) {
  crypto::SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING), 1);
  if (pss) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
  }
  size_t size = 0;
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size, message.data(), message.size()), 1);
  Bytes sig(size);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &size, message.data(), message.size()), 1);
  sig.resize(size);
  return sig;
}

QuoteSignature RawRsassa(Bytes signature) {
  QuoteSignature out;
  out.signature = std::move(signature);
  return out;
}

Bytes MarshalSignature(const TPMT_SIGNATURE& sig) {
  Bytes out(sizeof(TPMT_SIGNATURE));
  size_t offset = 0;
  EXPECT_EQ(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out.data(), out.size(), &offset),
            TSS2_RC_SUCCESS);
  out.resize(offset);
  return out;
}

Bytes RsaTpmtSignature(TPM2_ALG_ID scheme, ByteSpan raw) {
  TPMT_SIGNATURE sig{};
  sig.sigAlg = scheme;
  TPMS_SIGNATURE_RSA& rsa = scheme == TPM2_ALG_RSASSA ? sig.signature.rsassa : sig.signature.rsapss;
  rsa.hash = TPM2_ALG_SHA256;
  rsa.sig.size = static_cast<UINT16>(raw.size());
  std::memcpy(rsa.sig.buffer, raw.data(), raw.size());
  return MarshalSignature(sig);
}

class QuoteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = crypto::GenerateRsaKey(2048).value().release();
    ec_ = crypto::GenerateEcKey("P-256").value().release();
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
  }
  static EVP_PKEY* rsa_;
  static EVP_PKEY* ec_;
};
EVP_PKEY* QuoteTest::rsa_ = nullptr;
EVP_PKEY* QuoteTest::ec_ = nullptr;

TEST_F(QuoteTest, VerifiesRsassaTpmtSignature) {
  const PcrBank bank = Sha256Bank(24);
  const Bytes attest = BuildAttest(kNonce, {0, 1, 7}, bank);
  ASSERT_OK_AND_ASSIGN(const QuoteSignature sig,
                       ParseSignature(RsaTpmtSignature(TPM2_ALG_RSASSA, SignRsa(rsa_, attest, false))));
  EXPECT_EQ(sig.scheme, SignatureScheme::kRsassa);
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified, VerifyQuote(attest, sig, rsa_, kNonce, {bank}));
  EXPECT_EQ(verified.attest.extra_data, kNonce);
  EXPECT_EQ(verified.attest.clock, 1234u);
  ASSERT_EQ(verified.quoted.size(), 1u);
  EXPECT_EQ(verified.quoted[0].values.size(), 3u);
  EXPECT_EQ(verified.quoted[0].values.count(7), 1u);
}

TEST_F(QuoteTest, VerifiesRsapss) {
  const PcrBank bank = Sha256Bank(24);
  const Bytes attest = BuildAttest(kNonce, {0}, bank);
  ASSERT_OK_AND_ASSIGN(const QuoteSignature sig,
                       ParseSignature(RsaTpmtSignature(TPM2_ALG_RSAPSS, SignRsa(rsa_, attest, true))));
  EXPECT_OK(VerifyQuote(attest, sig, rsa_, kNonce, {bank}).status());
  QuoteSignature as_pkcs1 = sig;
  as_pkcs1.scheme = SignatureScheme::kRsassa;
  EXPECT_THAT(VerifyQuote(attest, as_pkcs1, rsa_, kNonce, {bank}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

TEST_F(QuoteTest, VerifiesEcdsa) {
  const PcrBank bank = Sha256Bank(24);
  const Bytes attest = BuildAttest(kNonce, {0, 23}, bank);
  ASSERT_OK_AND_ASSIGN(const Bytes rs, crypto::SignEcdsaRaw(ec_, HashAlg::kSha256, attest));
  TPMT_SIGNATURE tpmt{};
  tpmt.sigAlg = TPM2_ALG_ECDSA;
  tpmt.signature.ecdsa.hash = TPM2_ALG_SHA256;
  tpmt.signature.ecdsa.signatureR.size = 32;
  std::memcpy(tpmt.signature.ecdsa.signatureR.buffer, rs.data(), 32);
  tpmt.signature.ecdsa.signatureS.size = 32;
  std::memcpy(tpmt.signature.ecdsa.signatureS.buffer, rs.data() + 32, 32);
  ASSERT_OK_AND_ASSIGN(const QuoteSignature sig, ParseSignature(MarshalSignature(tpmt)));
  EXPECT_OK(VerifyQuote(attest, sig, ec_, kNonce, {bank}).status());
  EXPECT_THAT(VerifyQuote(attest, sig, rsa_, kNonce, {bank}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(QuoteTest, RejectsWrongNonce) {
  const PcrBank bank = Sha256Bank(24);
  const Bytes attest = BuildAttest(kNonce, {0}, bank);
  const QuoteSignature sig = RawRsassa(SignRsa(rsa_, attest, false));
  EXPECT_THAT(VerifyQuote(attest, sig, rsa_, ToBytes("challengf"), {bank}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("nonce")));
  EXPECT_THAT(VerifyQuote(attest, sig, rsa_, ToBytes("challenge!"), {bank}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("nonce")));
}

TEST_F(QuoteTest, IgnoresUnselectedPcrsAndChecksSelected) {
  const PcrBank bank = Sha256Bank(24);
  const Bytes attest = BuildAttest(kNonce, {0, 1}, bank);
  const QuoteSignature sig = RawRsassa(SignRsa(rsa_, attest, false));
  PcrBank changed = bank;
  changed.values[5] = Bytes(32, 0xAA);
  EXPECT_OK(VerifyQuote(attest, sig, rsa_, kNonce, {changed}).status());
  changed.values[1] = Bytes(32, 0xAA);
  EXPECT_THAT(VerifyQuote(attest, sig, rsa_, kNonce, {changed}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("pcrDigest")));
  PcrBank missing = bank;
  missing.values.erase(1);
  EXPECT_THAT(VerifyQuote(attest, sig, rsa_, kNonce, {missing}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PCR 1")));
}

TEST_F(QuoteTest, RejectsWrongTypeAndMagic) {
  const PcrBank bank = Sha256Bank(24);
  Bytes attest = BuildAttest(kNonce, {0}, bank);
  Bytes bad_magic = attest;
  bad_magic[0] = 0xFE;
  EXPECT_THAT(ParseQuoteAttest(bad_magic), StatusIs(absl::StatusCode::kInvalidArgument));
  Bytes trailing = attest;
  trailing.push_back(0);
  EXPECT_THAT(ParseQuoteAttest(trailing),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trailing")));
  TPMS_ATTEST certify{};
  certify.magic = TPM2_GENERATED_VALUE;
  certify.type = TPM2_ST_ATTEST_CERTIFY;
  Bytes out(sizeof(TPMS_ATTEST));
  size_t offset = 0;
  ASSERT_EQ(Tss2_MU_TPMS_ATTEST_Marshal(&certify, out.data(), out.size(), &offset),
            TSS2_RC_SUCCESS);
  out.resize(offset);
  EXPECT_THAT(ParseQuoteAttest(out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("TPM_ST_ATTEST_QUOTE")));
}

TEST_F(QuoteTest, RejectsEveryTruncation) {
  const Bytes attest = BuildAttest(kNonce, {0}, Sha256Bank(24));
  for (size_t n = 0; n < attest.size(); ++n) {
    EXPECT_THAT(ParseQuoteAttest(std::span(attest).first(n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
}

TEST_F(QuoteTest, StripsTpm2bSize) {
  const Bytes attest = BuildAttest(kNonce, {0}, Sha256Bank(24));
  Bytes tpm2b{static_cast<uint8_t>(attest.size() >> 8), static_cast<uint8_t>(attest.size())};
  tpm2b.insert(tpm2b.end(), attest.begin(), attest.end());
  ASSERT_OK_AND_ASSIGN(const ByteSpan stripped, StripTpm2bAttest(tpm2b));
  EXPECT_EQ(Bytes(stripped.begin(), stripped.end()), attest);
  ASSERT_OK_AND_ASSIGN(const ByteSpan same, StripTpm2bAttest(attest));
  EXPECT_EQ(same.size(), attest.size());
  EXPECT_THAT(StripTpm2bAttest(ToBytes("xyz")), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SignatureTest, RejectsUnsupportedScheme) {
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_HMAC;
  sig.signature.hmac.hashAlg = TPM2_ALG_SHA256;
  Bytes out(sizeof(TPMT_SIGNATURE));
  size_t offset = 0;
  ASSERT_EQ(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out.data(), out.size(), &offset),
            TSS2_RC_SUCCESS);
  out.resize(offset);
  EXPECT_THAT(ParseSignature(out), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The azure-cvm-tooling vTPM quote: RSASSA-PKCS1-v1_5 SHA-256 over TPMS_ATTEST
// with the AK read from handle 0x81000003, nonce "challenge".
struct AzureQuote {
  Bytes message;
  QuoteSignature signature;
  PcrBank bank;
};

AzureQuote ReadAzureQuote(const std::string& name) {
  const Bytes raw = vouch::testing::ReadVector(name);
  const auto json = nlohmann::json::parse(raw.begin(), raw.end());
  AzureQuote quote;
  quote.message = HexDecode(json["message"].get<std::string>()).value();
  quote.signature.signature = HexDecode(json["signature"].get<std::string>()).value();
  uint32_t index = 0;
  for (const auto& pcr : json["pcrs"]) {
    quote.bank.values[index++] = HexDecode(pcr.get<std::string>()).value();
  }
  return quote;
}

TEST(AzureVectorTest, AzCvmToolingQuoteVerifies) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const AzureQuote quote = ReadAzureQuote("azure/azcvmtooling-vtpm-quote.json");
  ASSERT_OK_AND_ASSIGN(auto ak, crypto::PublicKeyFromPem(
                                    vouch::testing::ReadVector("azure/azcvmtooling-akpub.pem")));
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                       VerifyQuote(quote.message, quote.signature, ak.get(), kNonce, {quote.bank}));
  ASSERT_EQ(verified.attest.pcr_selections.size(), 1u);
  EXPECT_EQ(verified.attest.pcr_selections[0].pcrs.size(), 24u);

  EXPECT_THAT(VerifyQuote(quote.message, quote.signature, ak.get(), Bytes{1, 2, 3, 4}, {quote.bank}),
              StatusIs(absl::StatusCode::kUnauthenticated));
  QuoteSignature reversed = quote.signature;
  std::reverse(reversed.signature.begin(), reversed.signature.end());
  EXPECT_THAT(VerifyQuote(quote.message, reversed, ak.get(), kNonce, {quote.bank}),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AzureVectorTest, AzCvmToolingBincodeMatchesJson) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  // bincode: u64 length + signature, u64 length + message, u64 count + 32-byte PCRs.
  const Bytes bin = vouch::testing::ReadVector("azure/azcvmtooling-vtpm-quote.bincode");
  const AzureQuote quote = ReadAzureQuote("azure/azcvmtooling-vtpm-quote.json");
  ASSERT_GE(bin.size(), 8u + 256u + 8u + 122u);
  EXPECT_EQ(Bytes(bin.begin() + 8, bin.begin() + 8 + 256), quote.signature.signature);
  EXPECT_EQ(Bytes(bin.begin() + 272, bin.begin() + 272 + 122), quote.message);
}

TEST(AzureVectorTest, EveryByteFlipInMessageIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const AzureQuote quote = ReadAzureQuote("azure/azcvmtooling-vtpm-quote.json");
  ASSERT_OK_AND_ASSIGN(auto ak, crypto::PublicKeyFromPem(
                                    vouch::testing::ReadVector("azure/azcvmtooling-akpub.pem")));
  for (size_t i = 0; i < quote.message.size(); ++i) {
    Bytes flipped = quote.message;
    flipped[i] ^= 0x01;
    EXPECT_FALSE(VerifyQuote(flipped, quote.signature, ak.get(), kNonce, {quote.bank}).ok())
        << "byte " << i;
  }
}

}  // namespace
}  // namespace vouch::tpm
