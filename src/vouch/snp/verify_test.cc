#include "vouch/snp/verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/snp_vectors.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::snp::testing::At;
using ::vouch::snp::testing::LoadPool;
using ::vouch::snp::testing::RealReport;
using ::vouch::snp::testing::RealReports;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

VerifyOptions OptionsAt(const char* time) {
  VerifyOptions options;
  options.now = At(time);
  return options;
}

TEST(VerifyReportTest, RealReportsVerify) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const RealReport& c : RealReports()) {
    SCOPED_TRACE(c.report);
    const std::vector<crypto::Certificate> pool = LoadPool({c.leaf, c.chain});
    ASSERT_OK_AND_ASSIGN(const VerifiedReport verified,
                         VerifyReport(ReadVector(c.report), pool, OptionsAt(c.time)));
    EXPECT_EQ(verified.product, c.product);
    EXPECT_EQ(verified.signing_key, c.vlek ? VerifiedReport::kVlek : VerifiedReport::kVcek);
    EXPECT_EQ(verified.report.vmpl, c.vmpl);
    EXPECT_EQ(verified.report.debug_allowed(), c.debug);
    EXPECT_FALSE(verified.simulated());
    EXPECT_EQ(verified.signer.SubjectCommonName(), c.vlek ? "SEV-VLEK" : "SEV-VCEK");
    EXPECT_EQ(verified.root.SubjectCommonName(), std::string("ARK-") + c.product);
  }
}

// With every real certificate in one pool, each report still finds its own
// leaf (several VCEKs, both VCEK and VLEK chains) by content.
TEST(VerifyReportTest, RealReportsPickTheirLeafFromOnePool) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  std::vector<std::string> files;
  for (const RealReport& c : RealReports()) {
    files.push_back(c.leaf);
    files.push_back(c.chain);
  }
  files.push_back("sev-snp/virtee-turin-vcek-only.der");
  files.push_back("amd-certs/turin_chain.pem");
  files.push_back("sev-snp/negative/test-vcek-invalid-legacy.der");
  const std::vector<crypto::Certificate> pool = LoadPool(files);
  for (const RealReport& c : RealReports()) {
    SCOPED_TRACE(c.report);
    ASSERT_OK_AND_ASSIGN(const VerifiedReport verified,
                         VerifyReport(ReadVector(c.report), pool, OptionsAt(c.time)));
    EXPECT_EQ(verified.product, c.product);
  }
}

TEST(VerifyReportTest, RejectsWrongVlek) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/negative/constellation-vlek-unrelated.pem",
                "amd-certs/milan_vlek_chain.pem"});
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/negative/constellation-vlek-report-v2-mismatched.bin"),
                           pool, OptionsAt("2024-01-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("signature: the report signature")));
}

TEST(VerifyReportTest, RejectsOutsideValidity) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/virtee-milan-vcek.der", "amd-certs/milan_chain.pem"});
  const Bytes report = ReadVector("sev-snp/virtee-milan-v2.bin");
  for (const char* time : {"2031-01-01T00:00:00Z", "2023-01-01T00:00:00Z"}) {
    EXPECT_THAT(VerifyReport(report, pool, OptionsAt(time)),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("validity of the VCEK")))
        << time;
  }
  // The VLEK lives one year only.
  const std::vector<crypto::Certificate> vlek_pool = LoadPool(
      {"sev-snp/trustee-aws-milan-vlek-v3-vlek.der", "amd-certs/milan_vlek_chain.pem"});
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/trustee-aws-milan-vlek-v3.bin"), vlek_pool,
                           OptionsAt("2026-01-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("validity of the VLEK")));
}

TEST(VerifyReportTest, RejectsVcekOfAnotherChip) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/gosevguest-milan-vcek.der", "amd-certs/milan_chain.pem"});
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/virtee-milan-v2.bin"), pool,
                           OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("hwID: chip_id")));
}

// trustee-milan-v2 and virtee-milan-v2 come from the same chip at the same
// TCB, so the VCEKs agree; a VCEK at another TCB fails the SPL check.
TEST(VerifyReportTest, RejectsVcekOfAnotherTcb) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(AttestationReport report,
                       ParseReport(ReadVector("sev-snp/virtee-milan-v2.bin")));
  report.reported_tcb.raw = TcbVersion::Encode(3, 0, 7, 115, 0, false);
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/virtee-milan-vcek.der", "amd-certs/milan_chain.pem"});
  EXPECT_THAT(VerifyReport(SerializeReport(report), pool, OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("tcb: reported_tcb.snp 7, want 8")));
}

TEST(VerifyReportTest, RejectsVlekReportWithVcekChainOnly) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/trustee-aws-milan-vlek-v3.bin");
  const std::vector<crypto::Certificate> vcek_only =
      LoadPool({"sev-snp/trustee-milan-v2-vcek.der", "amd-certs/milan_chain.pem"});
  EXPECT_THAT(VerifyReport(report, vcek_only, OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is a VLEK")));

  // The VLEK itself, but under the ASK chain: a VLEK must chain to an ASVK.
  const std::vector<crypto::Certificate> vlek_under_ask =
      LoadPool({"sev-snp/trustee-aws-milan-vlek-v3-vlek.der", "amd-certs/milan_chain.pem"});
  EXPECT_THAT(VerifyReport(report, vlek_under_ask, OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no ASVK certificate")));
}

TEST(VerifyReportTest, RejectsVcekReportUnderAsvkChain) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/trustee-milan-v2-vcek.der", "amd-certs/milan_vlek_chain.pem"});
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/trustee-milan-v2.bin"), pool,
                           OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no ASK certificate")));
}

TEST(VerifyReportTest, RejectsGenoaReportWithMilanChain) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/oak-genoa-vcek.der", "amd-certs/milan_chain.pem"});
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/oak-genoa-v5.bin"), pool,
                           OptionsAt("2026-01-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CN=SEV-Genoa")));
}

TEST(VerifyReportTest, RejectsWhenRootNotTrusted) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/trustee-milan-v2-vcek.der", "amd-certs/milan_chain.pem"});
  VerifyOptions options = OptionsAt("2025-06-01T00:00:00Z");
  options.roots.clear();
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/trustee-milan-v2.bin"), pool, options),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("root pin")));

  // Genoa's pin does not stand in for Milan's.
  options.roots = PinnedAmdRoots();
  std::erase_if(options.roots, [](const TrustedRoot& r) { return r.product == "Milan"; });
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/trustee-milan-v2.bin"), pool, options),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("root pin")));
}

TEST(VerifyReportTest, RejectsAskWithKeyOfOtherSize) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  // An ASK copy under AMD's exact name, with a key that is not RSA-4096, is
  // never tried, so a large key cannot make a request expensive.
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> key, crypto::GenerateRsaKey(2048));
  crypto::CertificateSpec spec;
  spec.common_name = "SEV-Milan";
  spec.organization = "Advanced Micro Devices";
  spec.organizational_unit = "Engineering";
  spec.country = "US";
  spec.state = "CA";
  spec.locality = "Santa Clara";
  spec.subject_key = key.get();
  spec.issuer_key = key.get();
  spec.serial = 1;
  spec.not_before = absl::FromUnixSeconds(0);
  spec.not_after = absl::FromUnixSeconds(4102444800);  // 2100-01-01
  spec.is_ca = true;
  spec.signature = crypto::SignatureScheme::kRsaPssSha384;
  ASSERT_OK_AND_ASSIGN(const crypto::Certificate fake_ask, crypto::IssueCertificate(spec));

  std::vector<crypto::Certificate> pool = LoadPool({"sev-snp/trustee-milan-v2-vcek.der"});
  pool.push_back(fake_ask);
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/trustee-milan-v2.bin"), pool,
                           OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("RSA-4096")));
}

TEST(VerifyReportTest, RejectsEmptyPool) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  EXPECT_THAT(VerifyReport(ReadVector("sev-snp/trustee-milan-v2.bin"), {},
                           OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is a VCEK")));
}

TEST(VerifyReportTest, RejectsUnsignedReport) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(AttestationReport report,
                       ParseReport(ReadVector("sev-snp/trustee-milan-v2.bin")));
  report.signing_key = SigningKey::kNone;
  const std::vector<crypto::Certificate> pool =
      LoadPool({"sev-snp/trustee-milan-v2-vcek.der", "amd-certs/milan_chain.pem"});
  EXPECT_THAT(VerifyReport(SerializeReport(report), pool, OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signing_key 7")));
}

// The hand-made VCEKs parse (raw and OCTET STRING-wrapped hwID) but AMD's
// ASK did not sign them.
TEST(VerifyEndorsementChainTest, RejectsForgedVceks) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> chain = LoadPool({"amd-certs/milan_chain.pem"});
  for (const char* file : {"sev-snp/negative/test-vcek-invalid-legacy.der",
                           "sev-snp/negative/test-vcek-invalid-new.der"}) {
    SCOPED_TRACE(file);
    const std::vector<crypto::Certificate> leaf = LoadPool({file});
    ASSERT_EQ(leaf.size(), 1U);
    EXPECT_OK(ReadEndorsementKeyExtensions(leaf[0]).status());
    EXPECT_THAT(VerifyEndorsementChain(leaf[0], chain, OptionsAt("2025-06-01T00:00:00Z")),
                StatusIs(absl::StatusCode::kUnauthenticated,
                         HasSubstr("signature of the VCEK by the ASK")));
  }
}

TEST(VerifyEndorsementChainTest, AcceptsTurinVcek) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> leaf = LoadPool({"sev-snp/virtee-turin-vcek-only.der"});
  ASSERT_EQ(leaf.size(), 1U);
  ASSERT_OK_AND_ASSIGN(const VerifiedChain chain,
                       VerifyEndorsementChain(leaf[0], LoadPool({"amd-certs/turin_chain.pem"}),
                                              OptionsAt("2025-06-01T00:00:00Z")));
  EXPECT_EQ(chain.product, "Turin");
  EXPECT_EQ(chain.leaf_kind, AmdCertKind::kVcek);
  EXPECT_EQ(chain.intermediate.SubjectCommonName(), "SEV-Turin");

  // Milan's chain does not hold the Turin VCEK's issuer.
  EXPECT_THAT(VerifyEndorsementChain(leaf[0], LoadPool({"amd-certs/milan_chain.pem"}),
                                     OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(VerifyEndorsementChainTest, AcceptsEveryAmdChainWithItsLeaf) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const RealReport& c : RealReports()) {
    SCOPED_TRACE(c.leaf);
    const std::vector<crypto::Certificate> leaf = LoadPool({c.leaf});
    ASSERT_EQ(leaf.size(), 1U);
    ASSERT_OK_AND_ASSIGN(const VerifiedChain chain,
                         VerifyEndorsementChain(leaf[0], LoadPool({c.chain}), OptionsAt(c.time)));
    EXPECT_EQ(chain.product, c.product);
    EXPECT_EQ(chain.leaf_kind, c.vlek ? AmdCertKind::kVlek : AmdCertKind::kVcek);
  }
}

TEST(VerifyEndorsementChainTest, RejectsNonLeaf) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> chain = LoadPool({"amd-certs/milan_chain.pem"});
  ASSERT_EQ(chain.size(), 2U);
  EXPECT_THAT(VerifyEndorsementChain(chain[0], chain, OptionsAt("2025-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want a VCEK or VLEK")));
}

// Every single-byte change of a real report, and every truncation, fails
// verification without crashing. The pool is parsed once per report.
TEST(VerifyReportTest, RejectsEveryByteFlipAndTruncation) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const RealReport& c : RealReports()) {
    SCOPED_TRACE(c.report);
    const std::vector<crypto::Certificate> pool = LoadPool({c.leaf, c.chain});
    const VerifyOptions options = OptionsAt(c.time);
    const Bytes good = ReadVector(c.report);
    ASSERT_OK(VerifyReport(good, pool, options).status());
    size_t accepted = 0;
    for (size_t i = 0; i < good.size(); ++i) {
      Bytes flipped = good;
      flipped[i] ^= 0xFF;
      if (VerifyReport(flipped, pool, options).ok()) {
        ADD_FAILURE() << "flipped byte at " << i << " still verifies";
        ++accepted;
      }
    }
    EXPECT_EQ(accepted, 0U);
    for (size_t n = 0; n < good.size(); ++n) {
      EXPECT_THAT(VerifyReport(ByteSpan(good).first(n), pool, options),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << "length " << n;
    }
  }
}

}  // namespace
}  // namespace vouch::snp
