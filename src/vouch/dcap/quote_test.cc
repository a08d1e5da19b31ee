#include "vouch/dcap/quote.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/crypto/x509.h"
#include "vouch/dcap/dcap_vectors.h"
#include "vouch/dcap/quote_builder.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

void PutU16(Bytes& b, size_t offset, uint16_t v) {
  b[offset] = static_cast<uint8_t>(v);
  b[offset + 1] = static_cast<uint8_t>(v >> 8);
}

void PutU32(Bytes& b, size_t offset, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) {
    b[offset + i] = static_cast<uint8_t>(v >> (8 * i));
  }
}

TEST(ParseQuoteTest, ParsesEveryRealQuote) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const testing::QuoteVector& v : testing::kProductionQuotes) {
    SCOPED_TRACE(std::string(v.path));
    const Bytes data = ReadVector(std::string(v.path));
    ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(data));
    EXPECT_EQ(quote.header.version, v.version);
    EXPECT_EQ(quote.tee_type() == TeeType::kTdx, v.tdx);
    EXPECT_EQ(quote.td_body.has_value(), v.tdx);
    EXPECT_EQ(quote.sgx_body.has_value(), !v.tdx);
    EXPECT_EQ(quote.trailing_bytes, v.trailing_bytes);
    EXPECT_EQ(quote.raw.size() + quote.trailing_bytes, data.size());
    EXPECT_TRUE(quote.has_pck_chain());
    ASSERT_OK_AND_ASSIGN(const auto chain,
                         crypto::ParseCertificates(AsBytes(quote.qe.pck_chain_pem)));
    EXPECT_EQ(chain.size(), 3u);
    EXPECT_EQ(quote.qe.qe_report_raw.size(), kSgxReportBodySize);
    EXPECT_EQ(quote.qe.qe_auth_data.size(), v.tdx ? 32u : quote.qe.qe_auth_data.size());
    EXPECT_EQ(quote.certification_data_type, v.version == 3
                                                 ? CertificationDataType::kPckCertChain
                                                 : CertificationDataType::kQeReportCertificationData);
  }
}

TEST(ParseQuoteTest, VersionFiveBodyIsTdx15) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(ReadVector("tdx/gotdxguest-v5-90c06f.dat")));
  EXPECT_EQ(quote.body_type, BodyType::kTdx15);
  ASSERT_TRUE(quote.td_body->tee_tcb_svn2.has_value());
  ASSERT_TRUE(quote.td_body->mr_service_td.has_value());
  // tee_tcb_svn 0b010400..., tee_tcb_svn2 0d010400... (catalogued).
  EXPECT_EQ(quote.td_body->tee_tcb_svn[0], 0x0b);
  EXPECT_EQ((*quote.td_body->tee_tcb_svn2)[0], 0x0d);
  EXPECT_EQ(quote.signed_size, kQuoteHeaderSize + 6 + kTdx15ReportBodySize);
}

TEST(ParseQuoteTest, VersionFourTdxBodyHasNoTdx15Fields) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(ReadVector("tdx/trustee-v4-50806f.dat")));
  EXPECT_EQ(quote.body_type, BodyType::kTdx10);
  EXPECT_FALSE(quote.td_body->tee_tcb_svn2.has_value());
  EXPECT_EQ(quote.signed_size, kQuoteHeaderSize + kTdx10ReportBodySize);
  EXPECT_EQ(quote.td_body->tee_tcb_svn[0], 0x03);
}

TEST(ParseQuoteTest, GarbageTrailingBytesAreCountedAndDropped) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes data = ReadVector("tdx/gotdxguest-spr-e4-v4-50806f.dat");
  ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(data));
  EXPECT_EQ(quote.trailing_bytes, 39u);
  const std::string raw = ToString(quote.raw);
  EXPECT_EQ(raw.find("extra bytes"), std::string::npos);
}

TEST(ParseQuoteTest, SgxQuoteReadsReportFields) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const Quote quote,
                       ParseQuote(ReadVector("sgx/trustee-occlum-v3-00606a.dat")));
  EXPECT_EQ(quote.header.qe_svn, 8);
  EXPECT_EQ(quote.header.pce_svn, 13);
  // Occlum's report data starts with "test".
  EXPECT_EQ(ToString(ByteSpan(quote.sgx_body->report_data).first(4)), "test");
  EXPECT_EQ(quote.qe.qe_report.isv_svn, 8);
}

TEST(ParseQuoteTest, RejectsEveryTruncationOfRealQuotes) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const testing::QuoteVector& v : testing::kProductionQuotes) {
    const Bytes data = ReadVector(std::string(v.path));
    ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(data));
    for (size_t n = 0; n < quote.raw.size(); ++n) {
      ASSERT_THAT(ParseQuote(ByteSpan(data).first(n)),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << v.path << " length " << n;
    }
  }
}

TEST(ParseQuoteTest, RejectsEveryFlipOfLengthFields) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes data = ReadVector("tdx/trustee-v5-90c06f.dat");
  // The v5 body descriptor, signature data size and the type 6 header.
  for (const size_t offset : {48u, 49u, 50u, 51u, 52u, 53u, 702u, 703u, 704u, 705u}) {
    Bytes bad = data;
    bad[offset] ^= 0x01;
    EXPECT_THAT(ParseQuote(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << offset;
  }
}

TEST(ParseQuoteTest, RejectsUnknownVersion) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("tdx/trustee-v4-50806f.dat");
  PutU16(data, 0, 6);
  EXPECT_THAT(ParseQuote(data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version 6")));
}

TEST(ParseQuoteTest, RejectsEcdsa384KeyType) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("tdx/trustee-v4-50806f.dat");
  PutU16(data, 2, 3);
  EXPECT_THAT(ParseQuote(data), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("attestation_key_type 3")));
}

TEST(ParseQuoteTest, RejectsTdxTeeTypeInVersionThree) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("sgx/trustee-occlum-v3-00606a.dat");
  PutU32(data, 4, kTeeTypeTdxValue);
  EXPECT_THAT(ParseQuote(data), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("version 3 is SGX only")));
}

TEST(ParseQuoteTest, RejectsUnknownTeeType) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("tdx/trustee-v4-50806f.dat");
  PutU32(data, 4, 0x80);
  EXPECT_THAT(ParseQuote(data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tee_type 0x80")));
}

TEST(ParseQuoteTest, RejectsOtherQeVendor) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("tdx/trustee-v4-50806f.dat");
  data[12] ^= 0xff;
  EXPECT_THAT(ParseQuote(data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("qe_vendor_id")));
}

TEST(ParseQuoteTest, RejectsV5BodyTypeThatDisagreesWithTeeType) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("tdx/trustee-v5-90c06f.dat");
  PutU16(data, 48, 1);
  EXPECT_THAT(ParseQuote(data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("body type 1")));
}

TEST(ParseQuoteTest, RejectsV5BodyReadWithTdx10Size) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("tdx/trustee-v5-90c06f.dat");
  PutU16(data, 48, 2);  // claims a TDX 1.0 body, but the size says 648
  EXPECT_THAT(ParseQuote(data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("body size 648 at offset 0x32, want 584")));
}

TEST(ParseQuoteTest, RejectsNonZeroReservedInSgxBody) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("sgx/trustee-occlum-v3-00606a.dat");
  data[48 + 20] = 1;  // reserved1 of the report body
  EXPECT_THAT(ParseQuote(data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reserved1")));
}

TEST(ParseQuoteTest, RejectsInputOverLimit) {
  EXPECT_THAT(ParseQuote(Bytes(kMaxQuoteInputBytes + 1, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
  // A real quote padded past the limit would parse without the limit,
  // because trailing bytes are allowed.
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes padded = ReadVector("tdx/trustee-v4-50806f.dat");
  padded.resize(kMaxQuoteInputBytes + 1, 0);
  EXPECT_THAT(ParseQuote(padded),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
}

// ---- Quotes built with a test chain: the cases the vectors lack ----

class BuiltQuoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TestPckChain> chain = testing::MakeTestPckChain();
    ASSERT_TRUE(chain.ok()) << chain.status();
    chain_ = *std::move(chain);
  }
  testing::TestPckChain chain_;
};

TEST_F(BuiltQuoteTest, ParsesVersionFiveTdx15WithEncryptedPpid) {
  testing::QuoteSpec spec;
  spec.version = 5;
  spec.body_type = 3;
  spec.body = Bytes(kTdx15ReportBodySize, 0x42);
  spec.pck_data_type = 3;
  ASSERT_OK_AND_ASSIGN(const testing::BuiltQuote built, testing::BuildQuote(spec, chain_));
  ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(built.quote));
  EXPECT_EQ(quote.body_type, BodyType::kTdx15);
  EXPECT_FALSE(quote.has_pck_chain());
  ASSERT_TRUE(quote.qe.encrypted_ppid.has_value());
  EXPECT_EQ(quote.qe.encrypted_ppid->pce_svn, 13);
  EXPECT_EQ(quote.qe.encrypted_ppid->encrypted_ppid.size(), kEncryptedPpidSize);
  EXPECT_EQ(quote.td_body->mr_service_td->at(0), 0x42);
}

TEST_F(BuiltQuoteTest, ParsesVersionFiveSgx) {
  testing::QuoteSpec spec;
  spec.version = 5;
  spec.tee_type = kTeeTypeSgxValue;
  spec.body_type = 1;
  spec.body = Bytes(kSgxReportBodySize, 0);
  ASSERT_OK_AND_ASSIGN(const testing::BuiltQuote built, testing::BuildQuote(spec, chain_));
  ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(built.quote));
  EXPECT_EQ(quote.body_type, BodyType::kSgx);
  EXPECT_TRUE(quote.sgx_body.has_value());
}

TEST_F(BuiltQuoteTest, ParsesVersionThreeWithEncryptedPpid) {
  testing::QuoteSpec spec;
  spec.version = 3;
  spec.tee_type = kTeeTypeSgxValue;
  spec.body = Bytes(kSgxReportBodySize, 0);
  spec.pck_data_type = 3;
  ASSERT_OK_AND_ASSIGN(const testing::BuiltQuote built, testing::BuildQuote(spec, chain_));
  ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(built.quote));
  EXPECT_EQ(quote.certification_data_type, CertificationDataType::kEncryptedPpidRsa3072);
  EXPECT_FALSE(quote.has_pck_chain());
}

TEST_F(BuiltQuoteTest, RejectsUnknownPckDataType) {
  testing::QuoteSpec spec;
  spec.pck_data_type = 2;
  ASSERT_OK_AND_ASSIGN(const testing::BuiltQuote built, testing::BuildQuote(spec, chain_));
  EXPECT_THAT(ParseQuote(built.quote),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data type 2")));
}

TEST_F(BuiltQuoteTest, RejectsEveryTruncationOfV5EncryptedPpid) {
  testing::QuoteSpec spec;
  spec.version = 5;
  spec.body_type = 3;
  spec.body = Bytes(kTdx15ReportBodySize, 0);
  spec.pck_data_type = 3;
  ASSERT_OK_AND_ASSIGN(const testing::BuiltQuote built, testing::BuildQuote(spec, chain_));
  for (size_t n = 0; n < built.quote.size(); ++n) {
    ASSERT_THAT(ParseQuote(ByteSpan(built.quote).first(n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
}

TEST_F(BuiltQuoteTest, AcceptsZeroPaddingAfterQuote) {
  testing::QuoteSpec spec;
  spec.trailing = Bytes(100, 0);
  ASSERT_OK_AND_ASSIGN(const testing::BuiltQuote built, testing::BuildQuote(spec, chain_));
  ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(built.quote));
  EXPECT_EQ(quote.trailing_bytes, 100u);
}

}  // namespace
}  // namespace vouch::dcap
