// No real Turin report with its VCEK exists in the vectors. This test issues
// a Turin-shaped chain under a test root instead: CNs "ARK-Turin",
// "SEV-Turin" and "SEV-VCEK", an 8-byte hwID and an fmcSPL. It signs reports
// with a Turin CPUID to run the Turin paths of VerifyReport end to end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/claims.h"
#include "vouch/snp/report_builder.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::snp::testing::SnpReportBuilder;
using ::vouch::testing::StatusIs;

const Bytes kTurinHardwareId = {0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d};

// DER INTEGER of a value below 0x80, as the SPL extensions carry it.
Bytes SmallInteger(uint8_t value) { return {0x02, 0x01, value}; }

struct TurinChain {
  crypto::SslPtr<EVP_PKEY> vcek_key;
  std::vector<crypto::Certificate> certificates;  // VCEK, ASK, ARK
  TrustedRoot root;
};

absl::StatusOr<TurinChain> IssueTurinChain() {
  TurinChain chain;
  // AMD's CA keys are RSA-4096, and the verifier accepts no other size.
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> ark_key, crypto::GenerateRsaKey(4096));
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> ask_key, crypto::GenerateRsaKey(4096));
  VOUCH_ASSIGN_OR_RETURN(chain.vcek_key, crypto::GenerateEcKey("P-384"));

  crypto::CertificateSpec spec;
  spec.signature = crypto::SignatureScheme::kRsaPssSha384;
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24);
  spec.is_ca = true;
  spec.common_name = "ARK-Turin";
  spec.subject_key = ark_key.get();
  spec.issuer_key = ark_key.get();
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate ark, crypto::IssueCertificate(spec));

  spec.common_name = "SEV-Turin";
  spec.issuer = ark;
  spec.subject_key = ask_key.get();
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate ask, crypto::IssueCertificate(spec));

  spec.common_name = "SEV-VCEK";
  spec.issuer = ask;
  spec.subject_key = chain.vcek_key.get();
  spec.issuer_key = ask_key.get();
  spec.is_ca = false;
  spec.extensions = {
      {std::string(kOidProductName), {0x16, 0x05, 'T', 'u', 'r', 'i', 'n'}},
      {std::string(kOidBootLoaderSpl), SmallInteger(1)},
      {std::string(kOidTeeSpl), SmallInteger(2)},
      {std::string(kOidSnpSpl), SmallInteger(3)},
      {std::string(kOidMicrocodeSpl), SmallInteger(9)},
      {std::string(kOidFmcSpl), SmallInteger(4)},
      {std::string(kOidHardwareId), kTurinHardwareId},
  };
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate vcek, crypto::IssueCertificate(spec));

  chain.certificates = {vcek, ask, ark};
  chain.root = TrustedRoot{"Turin", ark.SpkiSha256()};
  return chain;
}

SnpReportBuilder TurinReport() {
  SnpReportBuilder builder;
  builder.Cpuid(kTurinCpuidFamily, 0x02, 0x00)
      .ReportedTcbRaw(TcbVersion::Encode(/*boot_loader=*/1, /*tee=*/2, /*snp=*/3,
                                         /*microcode=*/9, /*fmc=*/4, /*turin=*/true));
  AttestationReport& report = builder.mutable_report();
  report.chip_id.fill(0);
  std::copy(kTurinHardwareId.begin(), kTurinHardwareId.end(), report.chip_id.begin());
  return builder;
}

absl::StatusOr<Bytes> Sign(const SnpReportBuilder& builder, EVP_PKEY* key) {
  Bytes bytes = builder.Build();
  VOUCH_ASSIGN_OR_RETURN(const Bytes rs, crypto::SignEcdsaRaw(key, crypto::HashAlg::kSha384,
                                                              ByteSpan(bytes).first(kSignedSize)));
  std::reverse_copy(rs.begin(), rs.begin() + 48, bytes.begin() + kSignedSize);
  std::reverse_copy(rs.begin() + 48, rs.end(), bytes.begin() + kSignedSize + 72);
  return bytes;
}

VerifyOptions Trusting(const TurinChain& chain) {
  VerifyOptions options;
  options.roots = {chain.root};
  return options;
}

TEST(TurinVerifyTest, AcceptsTurinLayout) {
  ASSERT_OK_AND_ASSIGN(const TurinChain chain, IssueTurinChain());
  ASSERT_OK_AND_ASSIGN(const Bytes report, Sign(TurinReport(), chain.vcek_key.get()));
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified,
                       VerifyReport(report, chain.certificates, Trusting(chain)));
  EXPECT_EQ(verified.product, "Turin");
  EXPECT_TRUE(verified.report.is_turin());
  EXPECT_EQ(verified.report.reported_tcb.fmc, 4);
  const nlohmann::json claims = SnpClaims(verified);
  EXPECT_EQ(claims["x-vouch-sevsnpvm-fmc-svn"], 4);
  EXPECT_EQ(claims["x-ms-sevsnpvm-snpfw-svn"], 3);
  EXPECT_EQ(claims["x-vouch-sevsnpvm-chipid"], "1e550a8ee5cf9f4d");
}

TEST(TurinVerifyTest, RejectsFmcMismatch) {
  ASSERT_OK_AND_ASSIGN(const TurinChain chain, IssueTurinChain());
  SnpReportBuilder builder = TurinReport();
  builder.ReportedTcbRaw(TcbVersion::Encode(1, 2, 3, 9, /*fmc=*/5, /*turin=*/true));
  ASSERT_OK_AND_ASSIGN(const Bytes report, Sign(builder, chain.vcek_key.get()));
  EXPECT_THAT(VerifyReport(report, chain.certificates, Trusting(chain)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("reported_tcb.fmc 5, want 4")));
}

TEST(TurinVerifyTest, RejectsChipIdTail) {
  ASSERT_OK_AND_ASSIGN(const TurinChain chain, IssueTurinChain());
  SnpReportBuilder builder = TurinReport();
  builder.mutable_report().chip_id[8] = 1;
  ASSERT_OK_AND_ASSIGN(const Bytes report, Sign(builder, chain.vcek_key.get()));
  EXPECT_THAT(VerifyReport(report, chain.certificates, Trusting(chain)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("bytes 8..63")));
}

// A Milan CPUID under the Turin chain: without the Turin layout the whole
// 64-byte chip id is compared, and it cannot match the 8-byte hwID.
TEST(TurinVerifyTest, RejectsMilanCpuid) {
  ASSERT_OK_AND_ASSIGN(const TurinChain chain, IssueTurinChain());
  SnpReportBuilder builder = TurinReport();
  builder.Cpuid(kZen3Zen4CpuidFamily, 0x01, 0x01)
      .ReportedTcbRaw(TcbVersion::Encode(1, 2, 3, 9, 0, /*turin=*/false));
  ASSERT_OK_AND_ASSIGN(const Bytes report, Sign(builder, chain.vcek_key.get()));
  EXPECT_THAT(VerifyReport(report, chain.certificates, Trusting(chain)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("hwID: chip_id")));
}

}  // namespace
}  // namespace vouch::snp
