#include "vouch/dcap/pck.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/time.h"
#include "vouch/dcap/dcap_vectors.h"
#include "vouch/dcap/intel_root.h"
#include "vouch/dcap/quote.h"
#include "vouch/dcap/quote_builder.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

std::vector<crypto::Certificate> QuoteChain(const std::string& path) {
  absl::StatusOr<Quote> quote = ParseQuote(ReadVector(path));
  EXPECT_TRUE(quote.ok()) << quote.status();
  if (!quote.ok()) {
    return {};
  }
  absl::StatusOr<std::vector<crypto::Certificate>> chain =
      crypto::ParseCertificates(AsBytes(quote->qe.pck_chain_pem));
  EXPECT_TRUE(chain.ok()) << chain.status();
  return chain.ok() ? *chain : std::vector<crypto::Certificate>{};
}

absl::Time At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339); }

TEST(IntelRootPinTest, MatchesTheRootCertificate) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const auto root,
                       crypto::ParseCertificates(ReadVector("intel-certs/intel_sgx_root_ca.pem")));
  EXPECT_EQ(HexEncode(root[0].SpkiSha256()), kIntelSgxRootCaSpkiSha256Hex);
}

TEST(ReadPckExtensionsTest, ReadsEveryRealPckCertificate) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const testing::QuoteVector& v : testing::kProductionQuotes) {
    SCOPED_TRACE(std::string(v.path));
    const std::vector<crypto::Certificate> chain = QuoteChain(std::string(v.path));
    ASSERT_EQ(chain.size(), 3u);
    ASSERT_OK_AND_ASSIGN(const PckExtensions ext, ReadPckExtensions(chain[0]));
    EXPECT_EQ(HexEncode(ext.fmspc), v.fmspc);
    EXPECT_EQ(ext.ppid.size(), 16u);
    EXPECT_EQ(ext.pce_id.size(), 2u);
  }
}

TEST(ReadPckExtensionsTest, PlatformCaCertificateHasInstanceAndConfiguration) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto chain = QuoteChain("tdx/trustee-v4-50806f.dat");
  ASSERT_EQ(chain.size(), 3u);
  ASSERT_OK_AND_ASSIGN(const PckExtensions ext, ReadPckExtensions(chain[0]));
  EXPECT_EQ(ext.sgx_type, SgxType::kScalable);
  ASSERT_TRUE(ext.platform_instance_id.has_value());
  EXPECT_EQ(ext.platform_instance_id->size(), 16u);
  ASSERT_TRUE(ext.configuration.has_value());
}

TEST(ReadPckExtensionsTest, ProcessorCaCertificateHasNoInstance) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto chain = QuoteChain("sgx/dcapqvl-v3-00a067110000.dat");
  ASSERT_EQ(chain.size(), 3u);
  ASSERT_OK_AND_ASSIGN(const PckExtensions ext, ReadPckExtensions(chain[0]));
  EXPECT_FALSE(ext.platform_instance_id.has_value());
  EXPECT_EQ(HexEncode(ext.pce_id), "0000");
}

TEST(ReadPckExtensionsTest, ReadsCatalogedSgxTcb) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  // The PCK certificate certifies PCESVN 11 and CPUSVN 04040303ffff...,
  // older than the platform's current TCB (QE report CPUSVN 06060c0cffff...,
  // header PCE SVN 13): Intel issues it for the highest TCB level the raw
  // TCB reaches.
  ASSERT_OK_AND_ASSIGN(const Quote quote,
                       ParseQuote(ReadVector("sgx/trustee-occlum-v3-00606a.dat")));
  const auto chain = QuoteChain("sgx/trustee-occlum-v3-00606a.dat");
  ASSERT_OK_AND_ASSIGN(const PckExtensions ext, ReadPckExtensions(chain[0]));
  EXPECT_EQ(ext.pce_svn, 11);
  EXPECT_EQ(HexEncode(ext.cpu_svn).substr(0, 12), "04040303ffff");
  EXPECT_EQ(HexEncode(quote.qe.qe_report.cpu_svn).substr(0, 12), "06060c0cffff");
  EXPECT_EQ(quote.header.pce_svn, 13);
}

TEST(ReadPckExtensionsTest, RejectsCertificateWithoutExtension) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto chain = QuoteChain("tdx/trustee-v4-50806f.dat");
  EXPECT_THAT(ReadPckExtensions(chain[1]),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no SGX extension")));
}

TEST(ReadPckExtensionsTest, RejectsMalformedExtensions) {
  testing::TestPckOptions base;
  const Bytes good = testing::SgxExtensionDer(base);
  struct Case {
    std::string name;
    Bytes der;
    std::string message;
  };
  Bytes short_fmspc = good;
  // FMSPC is the 4th entry: find its OCTET STRING of length 6 and shorten the claim.
  const Bytes fmspc_tlv = {0x04, 0x06, 0x00, 0x80, 0x6f, 0x05, 0x00, 0x00};
  auto it = std::search(short_fmspc.begin(), short_fmspc.end(), fmspc_tlv.begin(), fmspc_tlv.end());
  ASSERT_NE(it, short_fmspc.end());
  *(it + 1) = 0x05;
  *(it + 7) = 0x05;  // keep the total length: turn the last byte into a stray tag
  const std::vector<Case> cases = {
      {"not a sequence", Bytes{0x04, 0x01, 0x00}, "not one DER SEQUENCE"},
      {"trailing byte", [&] {
         Bytes b = good;
         b.push_back(0);
         return b;
       }(), "not one DER SEQUENCE"},
      {"empty sequence", Bytes{0x30, 0x00}, "is missing"},
      {"short fmspc", short_fmspc, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    testing::TestPckOptions options;
    options.extension_der = c.der;
    ASSERT_OK_AND_ASSIGN(const testing::TestPckChain chain, testing::MakeTestPckChain(options));
    EXPECT_THAT(ReadPckExtensions(chain.pck),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST(ReadPckExtensionsTest, ReadsBuiltExtension) {
  testing::TestPckOptions options;
  options.sgx_tcb_components[0] = 200;
  options.sgx_tcb_components[15] = 7;
  options.pce_svn = 300;
  ASSERT_OK_AND_ASSIGN(const testing::TestPckChain chain, testing::MakeTestPckChain(options));
  ASSERT_OK_AND_ASSIGN(const PckExtensions ext, ReadPckExtensions(chain.pck));
  EXPECT_EQ(ext.sgx_tcb_components[0], 200);
  EXPECT_EQ(ext.sgx_tcb_components[15], 7);
  EXPECT_EQ(ext.pce_svn, 300);
  EXPECT_EQ(HexEncode(ext.fmspc), "00806f050000");
}

TEST(VerifyPckChainTest, VerifiesEveryRealChain) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const testing::QuoteVector& v : testing::kProductionQuotes) {
    SCOPED_TRACE(std::string(v.path));
    PckChainOptions options;
    options.now = At(v.valid_at);
    ASSERT_OK_AND_ASSIGN(const PckChain chain,
                         VerifyPckChain(QuoteChain(std::string(v.path)), options));
    EXPECT_EQ(chain.ca_kind, v.path == "sgx/dcapqvl-v3-00a067110000.dat" ? PckCaKind::kProcessor
                                                                         : PckCaKind::kPlatform);
  }
}

TEST(VerifyPckChainTest, RejectsNonProductionRoot) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  PckChainOptions options;
  options.now = At(testing::kNonProductionRootQuote.valid_at);
  EXPECT_THAT(
      VerifyPckChain(QuoteChain(std::string(testing::kNonProductionRootQuote.path)), options),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr("not the pinned Intel SGX Root CA")));
}

TEST(VerifyPckChainTest, NonProductionChainVerifiesOnlyWhenItsRootIsTrusted) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const auto sample_root,
                       crypto::ParseCertificates(
                           ReadVector("sgx/negative/intel-qvl-sample-nonprod-root.pem")));
  PckChainOptions options;
  options.now = At(testing::kNonProductionRootQuote.valid_at);
  options.trusted_root_spki_sha256 = {sample_root[0].SpkiSha256()};
  EXPECT_OK(
      VerifyPckChain(QuoteChain(std::string(testing::kNonProductionRootQuote.path)), options));
}

TEST(VerifyPckChainTest, RejectsExpiredPck) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  PckChainOptions options;
  options.now = At("2031-01-01T00:00:00Z");  // PCK valid 2023-02-07..2030-02-07
  EXPECT_THAT(VerifyPckChain(QuoteChain("tdx/trustee-v4-50806f.dat"), options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("validity of the PCK certificate")));
}

TEST(VerifyPckChainTest, RejectsWrongOrderAndCount) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  auto chain = QuoteChain("tdx/trustee-v4-50806f.dat");
  PckChainOptions options;
  options.now = At("2023-07-01T01:00:00Z");
  std::swap(chain[0], chain[1]);
  EXPECT_THAT(VerifyPckChain(chain, options), StatusIs(absl::StatusCode::kUnauthenticated));
  chain.pop_back();
  EXPECT_THAT(VerifyPckChain(chain, options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(VerifyPckChainTest, RejectsLeafFromOtherChain) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  auto chain = QuoteChain("tdx/trustee-v4-50806f.dat");
  const auto other = QuoteChain("sgx/dcapqvl-v3-00a067110000.dat");  // Processor CA leaf
  chain[0] = other[0];
  PckChainOptions options;
  options.now = At("2025-06-20T12:00:00Z");
  EXPECT_THAT(VerifyPckChain(chain, options),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("issuer")));
}

TEST(VerifyPckChainTest, TestChainVerifiesWithItsRootTrusted) {
  ASSERT_OK_AND_ASSIGN(const testing::TestPckChain chain, testing::MakeTestPckChain());
  PckChainOptions options;
  options.now = absl::FromUnixSeconds(1750000000);
  EXPECT_THAT(VerifyPckChain(chain.Certificates(), options),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not the pinned")));
  options.trusted_root_spki_sha256 = {chain.RootSpkiSha256()};
  EXPECT_OK(VerifyPckChain(chain.Certificates(), options));
}

TEST(VerifyPckChainTest, RejectsCaAsLeaf) {
  ASSERT_OK_AND_ASSIGN(const testing::TestPckChain chain, testing::MakeTestPckChain());
  PckChainOptions options;
  options.now = absl::FromUnixSeconds(1750000000);
  options.trusted_root_spki_sha256 = {chain.RootSpkiSha256()};
  // A PCK CA placed as leaf under the root: wrong CN first.
  EXPECT_THAT(VerifyPckChain({chain.ca, chain.root, chain.root}, options),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace vouch::dcap
