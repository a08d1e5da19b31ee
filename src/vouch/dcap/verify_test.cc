#include "vouch/dcap/verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/dcap/dcap_vectors.h"
#include "vouch/dcap/quote_builder.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

absl::Time At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339); }

VerifyOptions OptionsAt(std::string_view rfc3339) {
  VerifyOptions options;
  options.now = At(rfc3339);
  return options;
}

TEST(VerifyQuoteSignaturesTest, VerifiesEveryRealQuote) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const testing::QuoteVector& v : testing::kProductionQuotes) {
    SCOPED_TRACE(std::string(v.path));
    ASSERT_OK_AND_ASSIGN(const AuthenticQuote authentic,
                         VerifyQuoteSignatures(ReadVector(std::string(v.path)), {},
                                               OptionsAt(v.valid_at)));
    EXPECT_EQ(HexEncode(authentic.pck_extensions.fmspc), v.fmspc);
    const PlatformTcb platform = PlatformTcbOf(authentic);
    EXPECT_EQ(platform.tee_type == TeeType::kTdx, v.tdx);
    EXPECT_EQ(platform.fmspc, authentic.pck_extensions.fmspc);
    EXPECT_EQ(platform.qe_mrsigner.size(), 32u);
    EXPECT_EQ(platform.mr_signer_seam.size(), v.tdx ? 48u : 0u);
  }
}

TEST(VerifyQuoteSignaturesTest, RejectsNonProductionRoot) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  EXPECT_THAT(VerifyQuoteSignatures(ReadVector(std::string(testing::kNonProductionRootQuote.path)),
                                    {}, OptionsAt(testing::kNonProductionRootQuote.valid_at)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not the pinned Intel SGX Root CA")));
}

TEST(VerifyQuoteSignaturesTest, RejectsExpiredPckCertificate) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  EXPECT_THAT(VerifyQuoteSignatures(ReadVector("tdx/trustee-v4-50806f.dat"), {},
                                    OptionsAt("2030-03-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("validity")));
}

// SignedRegion is a byte range that a signature or the QE binding covers.
struct SignedRegion {
  std::string name;
  size_t begin;
  size_t end;
};

std::vector<SignedRegion> SignedRegions(const Quote& quote) {
  const size_t signature_data = quote.signed_size + 4;
  const size_t attestation_key = signature_data + kEcdsa256SignatureSize;
  const size_t qe_report = attestation_key + kEcdsa256KeySize + (quote.header.version == 3 ? 0 : 6);
  const size_t qe_signature = qe_report + kSgxReportBodySize;
  const size_t qe_auth = qe_signature + kEcdsa256SignatureSize + 2;
  return {
      {"header and body", 0, quote.signed_size},
      {"quote signature", signature_data, attestation_key},
      {"attestation key", attestation_key, attestation_key + kEcdsa256KeySize},
      {"qe report", qe_report, qe_signature},
      {"qe report signature", qe_signature, qe_signature + kEcdsa256SignatureSize},
      {"qe auth data", qe_auth, qe_auth + quote.qe.qe_auth_data.size()},
  };
}

// Every real quote, with one bit flipped at a time across its signed
// regions, must be rejected as malformed or unauthenticated. Each flip costs
// a full verification (about 1 ms of CPU on the build machine), so every
// byte is flipped in the first version-3 and version-5 quotes and every 31st
// byte in the others.
TEST(VerifyQuoteSignaturesTest, RejectsByteFlipsInSignedRegions) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  bool dense_done[6] = {};
  size_t checked = 0;
  for (const testing::QuoteVector& v : testing::kProductionQuotes) {
    const Bytes data = ReadVector(std::string(v.path));
    ASSERT_OK_AND_ASSIGN(const Quote quote, ParseQuote(data));
    const bool dense = v.version != 4 && !dense_done[v.version];
    dense_done[v.version] = true;
    const size_t stride = dense ? 1 : 31;
    const VerifyOptions options = OptionsAt(v.valid_at);
    for (const SignedRegion& region : SignedRegions(quote)) {
      ASSERT_LE(region.end, quote.raw.size());
      for (size_t i = region.begin; i < region.end; i += stride) {
        Bytes bad = data;
        bad[i] ^= static_cast<uint8_t>(1u << (i % 8));
        ASSERT_THAT(VerifyQuoteSignatures(bad, {}, options),
                    AnyOf(StatusIs(absl::StatusCode::kUnauthenticated),
                          StatusIs(absl::StatusCode::kInvalidArgument)))
            << v.path << " " << region.name << " offset " << i;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 2000u);
}

TEST(VerifyQuoteSignaturesTest, IgnoresTrailingBytes) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes data = ReadVector("tdx/zkdcap-gcp-v4-00806f05-padded.dat");
  data.back() ^= 0xff;  // inside the zero padding, outside every signature
  ASSERT_OK_AND_ASSIGN(const AuthenticQuote authentic,
                       VerifyQuoteSignatures(data, {}, OptionsAt("2025-02-01T00:00:00Z")));
  EXPECT_EQ(authentic.quote.trailing_bytes, 3065u);
}

TEST(VerifyQuoteSignaturesTest, RejectsEveryTruncation) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes data = ReadVector("tdx/gotdxguest-v5-90c06f.dat");
  const VerifyOptions options = OptionsAt("2026-02-20T00:00:00Z");
  for (size_t n = 0; n < data.size(); ++n) {
    ASSERT_THAT(VerifyQuoteSignatures(ByteSpan(data).first(n), {}, options),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
}

// ---- Built quotes: steps and cases the vectors lack ----

class BuiltQuoteVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TestPckChain> chain = testing::MakeTestPckChain();
    ASSERT_TRUE(chain.ok()) << chain.status();
    chain_ = *std::move(chain);
    options_.now = absl::FromUnixSeconds(1750000000);  // 2025-06-15
    options_.trusted_root_spki_sha256 = {chain_.RootSpkiSha256()};
  }

  absl::StatusOr<AuthenticQuote> Verify(const testing::QuoteSpec& spec,
                                        const QuoteCollateral& collateral = {}) {
    VOUCH_ASSIGN_OR_RETURN(const testing::BuiltQuote built, testing::BuildQuote(spec, chain_));
    return VerifyQuoteSignatures(built.quote, collateral, options_);
  }

  testing::TestPckChain chain_;
  VerifyOptions options_;
};

TEST_F(BuiltQuoteVerifyTest, VerifiesTdx15VersionFive) {
  testing::QuoteSpec spec;
  spec.version = 5;
  spec.body_type = 3;
  spec.body = Bytes(kTdx15ReportBodySize, 0x01);
  ASSERT_OK_AND_ASSIGN(const AuthenticQuote authentic, Verify(spec));
  EXPECT_EQ(authentic.quote.body_type, BodyType::kTdx15);
}

TEST_F(BuiltQuoteVerifyTest, RejectsTestRootByDefault) {
  options_.trusted_root_spki_sha256 = {PckChainOptions::IntelSgxRootCaSpkiSha256()};
  EXPECT_THAT(Verify({}), StatusIs(absl::StatusCode::kUnauthenticated,
                                   HasSubstr("not the pinned Intel SGX Root CA")));
}

TEST_F(BuiltQuoteVerifyTest, RejectsUnboundQeReport) {
  testing::QuoteSpec spec;
  spec.bind_qe_report = false;
  EXPECT_THAT(Verify(spec), StatusIs(absl::StatusCode::kUnauthenticated,
                                     HasSubstr("qe report data: bytes 0..31")));
}

TEST_F(BuiltQuoteVerifyTest, RejectsNonZeroUpperQeReportData) {
  testing::QuoteSpec spec;
  spec.qe_report_data_tail_byte = 1;
  EXPECT_THAT(Verify(spec), StatusIs(absl::StatusCode::kUnauthenticated,
                                     HasSubstr("bytes 32..63 are 01")));
}

TEST_F(BuiltQuoteVerifyTest, EncryptedPpidWithoutPckCertificateFails) {
  testing::QuoteSpec spec;
  spec.pck_data_type = 3;
  EXPECT_THAT(Verify(spec), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("encrypted PPID")));
}

TEST_F(BuiltQuoteVerifyTest, EncryptedPpidUsesPckCertificateAndCollateralCas) {
  testing::QuoteSpec spec;
  spec.version = 5;
  spec.body_type = 3;
  spec.body = Bytes(kTdx15ReportBodySize, 0);
  spec.pck_data_type = 3;
  options_.pck_certificates = {chain_.pck};
  QuoteCollateral collateral;
  collateral.pck_crl_issuer_chain = {chain_.ca, chain_.root};
  ASSERT_OK_AND_ASSIGN(const AuthenticQuote authentic, Verify(spec, collateral));
  EXPECT_EQ(authentic.pck_chain.pck.Der(), chain_.pck.Der());
}

TEST_F(BuiltQuoteVerifyTest, EncryptedPpidRejectsOtherPlatformsPck) {
  ASSERT_OK_AND_ASSIGN(const testing::TestPckChain other, testing::MakeTestPckChain());
  testing::QuoteSpec spec;
  spec.pck_data_type = 3;
  options_.pck_certificates = {other.pck};
  QuoteCollateral collateral;
  collateral.pck_crl_issuer_chain = {chain_.ca, chain_.root};
  EXPECT_THAT(Verify(spec, collateral), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 HasSubstr("none of the 1 PCK certificates")));
}

TEST_F(BuiltQuoteVerifyTest, EncryptedPpidWithoutCaInCollateralFails) {
  testing::QuoteSpec spec;
  spec.pck_data_type = 3;
  options_.pck_certificates = {chain_.pck};
  EXPECT_THAT(Verify(spec), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("no PCK CA certificate")));
}

TEST_F(BuiltQuoteVerifyTest, RejectsChangedBody) {
  ASSERT_OK_AND_ASSIGN(testing::BuiltQuote built, testing::BuildQuote({}, chain_));
  ASSERT_OK(VerifyQuoteSignatures(built.quote, {}, options_));
  built.quote[kQuoteHeaderSize] ^= 1;
  EXPECT_THAT(VerifyQuoteSignatures(built.quote, {}, options_),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("quote signature by the attestation key does not verify")));
}

TEST_F(BuiltQuoteVerifyTest, RejectsQeReportSignedByOtherPck) {
  // Same certificates, but another PCK key signs the QE report.
  ASSERT_OK_AND_ASSIGN(testing::TestPckChain other, testing::MakeTestPckChain());
  other.root = chain_.root;
  other.ca = chain_.ca;
  other.pck = chain_.pck;
  ASSERT_OK_AND_ASSIGN(const testing::BuiltQuote built, testing::BuildQuote({}, other));
  EXPECT_THAT(VerifyQuoteSignatures(built.quote, {}, options_),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("qe report signature by the PCK key does not verify")));
}

}  // namespace
}  // namespace vouch::dcap
