#include "vouch/snp/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"
#include "vouch/snp/report_builder.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::snp::testing::SnpReportBuilder;
using ::vouch::testing::StatusIs;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(ParseReportTest, AcceptsBuiltVersion3) {
  const Bytes bytes = SnpReportBuilder().Build();
  ASSERT_OK_AND_ASSIGN(const AttestationReport report, ParseReport(bytes));
  EXPECT_EQ(report.version, 3U);
  EXPECT_EQ(report.policy, 0x30000U);
  EXPECT_EQ(report.cpuid_fam_id, kZen3Zen4CpuidFamily);
  EXPECT_EQ(report.reported_tcb.boot_loader, 3);
  EXPECT_EQ(report.reported_tcb.snp, 8);
  EXPECT_EQ(report.reported_tcb.microcode, 115);
  EXPECT_FALSE(report.is_turin());
  EXPECT_EQ(report.hardware_id().size(), 64U);
  EXPECT_EQ(report.signed_bytes().size(), kSignedSize);
  EXPECT_EQ(report.raw, bytes);
  EXPECT_FALSE(report.launch_mit_vector.has_value());
}

TEST(ParseReportTest, RoundTripsThroughSerialize) {
  const Bytes bytes = SnpReportBuilder().Version(5).Build();
  ASSERT_OK_AND_ASSIGN(const AttestationReport report, ParseReport(bytes));
  EXPECT_EQ(SerializeReport(report), bytes);
  EXPECT_EQ(report.launch_mit_vector, 1U);
  EXPECT_EQ(report.current_mit_vector, 1U);
}

TEST(ParseReportTest, RejectsWrongLength) {
  Bytes bytes = SnpReportBuilder().Build();
  bytes.push_back(0);
  EXPECT_THAT(ParseReport(bytes), StatusIs(kInvalid, HasSubstr("length 1185 bytes, want 1184")));
}

TEST(ParseReportTest, RejectsEveryTruncation) {
  const Bytes good = SnpReportBuilder().Build();
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_THAT(ParseReport(ByteSpan(good).first(n)), StatusIs(kInvalid)) << "length " << n;
  }
}

TEST(ParseReportTest, RejectsUnknownVersions) {
  for (const uint32_t version : {0U, 1U, 4U, 6U, 0xFFFFFFFFU}) {
    EXPECT_THAT(ParseReport(SnpReportBuilder().Version(version).Build()),
                StatusIs(kInvalid, HasSubstr("want 2, 3 or 5")))
        << "version " << version;
  }
}

TEST(ParseReportTest, RejectsBadSignatureAlgo) {
  EXPECT_THAT(ParseReport(SnpReportBuilder().SignatureAlgo(2).Build()),
              StatusIs(kInvalid, HasSubstr("signature_algo 2, want 1")));
  EXPECT_THAT(ParseReport(SnpReportBuilder().SignatureAlgo(0).Build()),
              StatusIs(kInvalid, HasSubstr("signature_algo 0")));
}

TEST(ParseReportTest, RejectsReservedSigningKey) {
  Bytes bytes = SnpReportBuilder().Build();
  bytes[0x48] = 2 << 2;
  EXPECT_THAT(ParseReport(bytes), StatusIs(kInvalid, HasSubstr("signing_key 2 is reserved")));
}

TEST(ParseReportTest, AcceptsSigningKeyNone) {
  Bytes bytes = SnpReportBuilder().Build();
  bytes[0x48] = 7 << 2;
  ASSERT_OK_AND_ASSIGN(const AttestationReport report, ParseReport(bytes));
  EXPECT_EQ(report.signing_key, SigningKey::kNone);
}

TEST(ParseReportTest, RejectsReservedKeyInfoBits) {
  Bytes bytes = SnpReportBuilder().Build();
  bytes[0x48] = 0x20;
  EXPECT_THAT(ParseReport(bytes), StatusIs(kInvalid, HasSubstr("bits 31:5")));
}

// Offsets of every byte that Table 22 reserves, by report version.
struct ReservedCase {
  uint32_t version;
  size_t begin;
  size_t end;
  std::string expected;
};

TEST(ParseReportTest, RejectsNonZeroReserved) {
  const ReservedCase cases[] = {
      {2, 0x04C, 0x050, "0x04C"},           {3, 0x04C, 0x050, "0x04C"},
      {2, 0x188, 0x1A0, "0x188..0x19F"},    {3, 0x18B, 0x1A0, "0x18B..0x19F"},
      {5, 0x18B, 0x1A0, "0x18B..0x19F"},    {3, 0x1EB, 0x1EC, "0x1EB"},
      {3, 0x1EF, 0x1F0, "0x1EF"},           {2, 0x1F8, 0x2A0, "0x1F8..0x29F"},
      {3, 0x1F8, 0x2A0, "0x1F8..0x29F"},    {5, 0x208, 0x2A0, "0x208..0x29F"},
  };
  for (const ReservedCase& c : cases) {
    for (size_t offset = c.begin; offset < c.end; ++offset) {
      Bytes bytes = SnpReportBuilder().Version(c.version).Build();
      bytes[offset] = 0x01;
      EXPECT_THAT(ParseReport(bytes), StatusIs(kInvalid, HasSubstr(c.expected)))
          << "version " << c.version << " offset " << offset;
    }
  }
}

TEST(ParseReportTest, RejectsNonZeroSignatureReserved) {
  for (size_t offset = 0x330; offset < kReportSize; ++offset) {
    Bytes bytes = SnpReportBuilder().Build();
    bytes[offset] = 0x80;
    EXPECT_THAT(ParseReport(bytes), StatusIs(kInvalid, HasSubstr("signature reserved area")))
        << "offset " << offset;
  }
}

TEST(ParseReportTest, Version2HasNoCpuid) {
  ASSERT_OK_AND_ASSIGN(const AttestationReport report,
                       ParseReport(SnpReportBuilder().Version(2).Build()));
  EXPECT_FALSE(report.cpuid_fam_id.has_value());
  EXPECT_FALSE(report.is_turin());
}

TEST(ParseReportTest, DecodesTurinTcbLayout) {
  SnpReportBuilder builder;
  builder.Cpuid(kTurinCpuidFamily, 0x02, 0x00)
      .ReportedTcbRaw(TcbVersion::Encode(/*boot_loader=*/1, /*tee=*/2, /*snp=*/3,
                                         /*microcode=*/9, /*fmc=*/4, /*turin=*/true));
  ASSERT_OK_AND_ASSIGN(const AttestationReport report, ParseReport(builder.Build()));
  EXPECT_TRUE(report.is_turin());
  EXPECT_EQ(report.reported_tcb.fmc, 4);
  EXPECT_EQ(report.reported_tcb.boot_loader, 1);
  EXPECT_EQ(report.reported_tcb.tee, 2);
  EXPECT_EQ(report.reported_tcb.snp, 3);
  EXPECT_EQ(report.reported_tcb.microcode, 9);
  EXPECT_EQ(report.hardware_id().size(), 8U);
}

TEST(ParseReportTest, ParsesPolicyAndKeyBits) {
  SnpReportBuilder builder;
  builder.Policy(0xB0000).Vmpl(2);
  builder.mutable_report().mask_chip_key = true;
  builder.mutable_report().author_key_en = true;
  builder.mutable_report().signing_key = SigningKey::kVlek;
  ASSERT_OK_AND_ASSIGN(const AttestationReport report, ParseReport(builder.Build()));
  EXPECT_TRUE(report.debug_allowed());
  EXPECT_TRUE(report.smt_allowed());
  EXPECT_FALSE(report.migrate_ma_allowed());
  EXPECT_EQ(report.vmpl, 2U);
  EXPECT_TRUE(report.mask_chip_key);
  EXPECT_TRUE(report.author_key_en);
  EXPECT_EQ(report.signing_key, SigningKey::kVlek);
}

// Expected values come from the vectors catalogue's independent check.
struct RealReportCase {
  const char* file;
  uint32_t version;
  uint64_t policy;
  uint32_t vmpl;
  uint8_t boot_loader, tee, snp, microcode;
  SigningKey signing_key;
};

TEST(ParseReportTest, ParsesRealReports) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const RealReportCase cases[] = {
      {"sev-snp/gosevguest-milan-v2.bin", 2, 0xB0000, 0, 2, 0, 5, 68, SigningKey::kVcek},
      {"sev-snp/virtee-milan-v2.bin", 2, 0x30000, 0, 3, 0, 8, 115, SigningKey::kVcek},
      {"sev-snp/trustee-milan-v2.bin", 2, 0x3001F, 0, 3, 0, 8, 115, SigningKey::kVcek},
      {"sev-snp/trustee-aws-milan-vlek-v3.bin", 3, 0x30000, 1, 4, 0, 24, 217, SigningKey::kVlek},
      {"sev-snp/constellation-azure-milan-v2.bin", 2, 0x3001F, 0, 2, 0, 6, 93, SigningKey::kVcek},
      {"sev-snp/oak-genoa-v5.bin", 5, 0x30000, 0, 10, 0, 25, 84, SigningKey::kVcek},
  };
  for (const RealReportCase& c : cases) {
    SCOPED_TRACE(c.file);
    ASSERT_OK_AND_ASSIGN(const AttestationReport report,
                         ParseReport(vouch::testing::ReadVector(c.file)));
    EXPECT_EQ(report.version, c.version);
    EXPECT_EQ(report.policy, c.policy);
    EXPECT_EQ(report.vmpl, c.vmpl);
    EXPECT_EQ(report.reported_tcb.boot_loader, c.boot_loader);
    EXPECT_EQ(report.reported_tcb.tee, c.tee);
    EXPECT_EQ(report.reported_tcb.snp, c.snp);
    EXPECT_EQ(report.reported_tcb.microcode, c.microcode);
    EXPECT_EQ(report.signing_key, c.signing_key);
    EXPECT_EQ(SerializeReport(report), report.raw);
  }
}

TEST(ParseReportTest, ParsesVersion5MitigationVectors) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const AttestationReport report,
                       ParseReport(vouch::testing::ReadVector("sev-snp/oak-genoa-v5.bin")));
  EXPECT_EQ(report.cpuid_fam_id, 0x19);
  EXPECT_EQ(report.cpuid_mod_id, 0x11);
  EXPECT_EQ(report.cpuid_step, 0x01);
  EXPECT_EQ(report.launch_mit_vector, 1U);
  EXPECT_EQ(report.current_mit_vector, 1U);
  EXPECT_EQ(report.current_major, 1);
  EXPECT_EQ(report.current_minor, 55);
  EXPECT_EQ(report.current_build, 43);
}

}  // namespace
}  // namespace vouch::snp
