#include "vouch/azure/hcl_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/azure/hcl_report_builder.h"
#include "vouch/crypto/keys.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::azure {
namespace {

using ::testing::HasSubstr;
using vouch::testing::StatusIs;

struct HclVector {
  std::string file;
  HclReportType type;
  bool secure_boot;
  // The 2023-03 report's HCLAkPub has key_ops ["encrypt"] and no HCLEkPub
  // exists, so its AK does not fit an attestation key.
  bool ak_fits;
};

const HclVector kVectors[] = {
    {"azure/trustee-az-snp-hcl-report.bin", HclReportType::kSnp, true, true},
    {"azure/trustee-az-tdx-hcl-report.bin", HclReportType::kTdx, true, true},
    {"azure/azcvmtooling-hcl-report-snp-2048.bin", HclReportType::kSnp, true, false},
    {"azure/azcvmtooling-hcl-report-tdx.bin", HclReportType::kTdx, false, true},
    {"azure/constellation-azure-tdx-hclreport.bin", HclReportType::kTdx, true, true},
};

TEST(HclReportVectorTest, EveryVectorParsesAndBinds) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const HclVector& v : kVectors) {
    SCOPED_TRACE(v.file);
    const Bytes raw = vouch::testing::ReadVector(v.file);
    ASSERT_OK_AND_ASSIGN(const HclReport report, ParseHclReport(raw));
    EXPECT_EQ(report.report_type, v.type);
    EXPECT_EQ(report.hash_alg, crypto::HashAlg::kSha256);
    EXPECT_EQ(report.hardware_report.size(),
              v.type == HclReportType::kSnp ? kHclHardwareReportSize : kTdReportSize);
    ASSERT_OK_AND_ASSIGN(const BoundRuntimeClaims claims, VerifyRuntimeDataBinding(report));
    EXPECT_EQ(claims.claims["vm-configuration"]["secure-boot"], v.secure_boot);
    if (!v.ak_fits) {
      EXPECT_THAT(AttestationKey(claims),
                  StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("encrypt")));
      continue;
    }
    ASSERT_OK_AND_ASSIGN(EVP_PKEY* ak, AttestationKey(claims));
    EXPECT_TRUE(crypto::IsRsaKey(ak));
    EXPECT_NE(claims.Key(kHclEkKid), nullptr);
  }
}

TEST(HclReportVectorTest, EveryRuntimeDataFlipBreaksBinding) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes raw = vouch::testing::ReadVector("azure/trustee-az-snp-hcl-report.bin");
  ASSERT_OK_AND_ASSIGN(const HclReport good, ParseHclReport(raw));
  for (size_t i = 0; i < good.runtime_data.size(); i += 7) {
    Bytes flipped = raw;
    flipped[kHclRuntimeDataOffset + i] ^= 0x01;
    ASSERT_OK_AND_ASSIGN(const HclReport report, ParseHclReport(flipped));
    EXPECT_THAT(VerifyRuntimeDataBinding(report), StatusIs(absl::StatusCode::kUnauthenticated))
        << "byte " << i;
  }
  // REPORT_DATA of the SNP report (hardware offset 0x50).
  for (size_t i = 0; i < 32; ++i) {
    Bytes flipped = raw;
    flipped[kHclHeaderSize + 0x50 + i] ^= 0x80;
    ASSERT_OK_AND_ASSIGN(const HclReport report, ParseHclReport(flipped));
    EXPECT_THAT(VerifyRuntimeDataBinding(report), StatusIs(absl::StatusCode::kUnauthenticated))
        << "report_data byte " << i;
  }
}

TEST(HclReportVectorTest, RejectsEveryTruncation) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes raw = vouch::testing::ReadVector("azure/trustee-az-tdx-hcl-report.bin");
  ASSERT_OK_AND_ASSIGN(const HclReport good, ParseHclReport(raw));
  const size_t end = kHclRuntimeDataOffset + good.runtime_data.size();
  for (size_t n = 0; n < end; n += 3) {
    EXPECT_THAT(ParseHclReport(std::span(raw).first(n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
  // Without the zero padding the report still parses.
  EXPECT_OK(ParseHclReport(std::span(raw).first(end)).status());
}

TEST(HclReportVectorTest, RejectsMismatchedReportType) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes snp = vouch::testing::ReadVector("azure/trustee-az-snp-hcl-report.bin");
  snp[kHclHeaderSize + kHclHardwareReportSize + 8] = 4;  // report_type = TDX
  EXPECT_THAT(ParseHclReport(snp),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a TDREPORT")));
  Bytes tdx = vouch::testing::ReadVector("azure/trustee-az-tdx-hcl-report.bin");
  tdx[kHclHeaderSize + kHclHardwareReportSize + 8] = 2;  // report_type = SEV-SNP
  EXPECT_THAT(ParseHclReport(tdx),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("SEV-SNP")));
  tdx[kHclHeaderSize + kHclHardwareReportSize + 8] = 3;  // VBS
  EXPECT_THAT(ParseHclReport(tdx), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HclReportVectorTest, RejectsHeaderDamage) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes raw = vouch::testing::ReadVector("azure/trustee-az-snp-hcl-report.bin");
  const struct {
    size_t offset;
    uint8_t value;
    const char* want;
  } cases[] = {
      {0, 'X', "signature"},
      {4, 9, "version"},
      {8, 0xFF, "report_size"},
      {16, 1, "status"},
      {20, 1, "reserved"},
      {kHclHeaderSize + kHclHardwareReportSize + 0, 0xFF, "data_size"},
      {kHclHeaderSize + kHclHardwareReportSize + 4, 2, "version"},
      {kHclHeaderSize + kHclHardwareReportSize + 12, 7, "hash_type"},
      {kHclHeaderSize + kHclHardwareReportSize + 16, 0xFF, "data_size"},
      {2599, 1, "after report_size"},
  };
  for (const auto& c : cases) {
    Bytes bad = raw;
    bad[c.offset] = c.value;
    EXPECT_THAT(ParseHclReport(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.want)))
        << "offset " << c.offset;
  }
}

TEST(HclReportBuilderTest, BuildsBoundReport) {
  ASSERT_OK_AND_ASSIGN(auto ak, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(const std::string runtime,
                       RuntimeClaimsJson(ak.get(), nullptr, true, Bytes(64, 0xAB)));
  Bytes td_report(kTdReportSize, 0);
  td_report[0] = 0x81;
  const Bytes report_data = RuntimeReportData(crypto::HashAlg::kSha384, AsBytes(runtime));
  std::copy(report_data.begin(), report_data.end(), td_report.begin() + 128);
  const Bytes hcl = BuildHclReport(HclReportType::kTdx, td_report, AsBytes(runtime),
                                   crypto::HashAlg::kSha384);
  ASSERT_OK_AND_ASSIGN(const HclReport report, ParseHclReport(hcl));
  EXPECT_EQ(report.hash_alg, crypto::HashAlg::kSha384);
  ASSERT_OK_AND_ASSIGN(const BoundRuntimeClaims claims, VerifyRuntimeDataBinding(report));
  std::string want_user_data;
  for (int i = 0; i < 64; ++i) {
    want_user_data += "AB";
  }
  EXPECT_EQ(claims.claims["user-data"], want_user_data);
  ASSERT_OK(AttestationKey(claims).status());
}

TEST(AttestationKeyTest, RejectsKeysThatDoNotFit) {
  ASSERT_OK_AND_ASSIGN(auto ak, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(const std::string runtime,
                       RuntimeClaimsJson(ak.get(), nullptr, true, Bytes(64, 0)));
  auto json = nlohmann::json::parse(runtime);

  const auto bind = [](const nlohmann::json& claims) {
    const std::string text = claims.dump();
    Bytes td_report(kTdReportSize, 0);
    td_report[0] = 0x81;
    const Bytes report_data = RuntimeReportData(crypto::HashAlg::kSha256, AsBytes(text));
    std::copy(report_data.begin(), report_data.end(), td_report.begin() + 128);
    HclReport report = ParseHclReport(BuildHclReport(HclReportType::kTdx, td_report,
                                                     AsBytes(text)))
                           .value();
    return VerifyRuntimeDataBinding(report);
  };

  nlohmann::json encrypting = json;
  encrypting["keys"][0]["key_ops"] = {"sign", "encrypt"};
  ASSERT_OK_AND_ASSIGN(const BoundRuntimeClaims bad_ops, bind(encrypting));
  EXPECT_THAT(AttestationKey(bad_ops), StatusIs(absl::StatusCode::kPermissionDenied));

  nlohmann::json enc_use = json;
  enc_use["keys"][0]["use"] = "enc";
  ASSERT_OK_AND_ASSIGN(const BoundRuntimeClaims bad_use, bind(enc_use));
  EXPECT_THAT(AttestationKey(bad_use), StatusIs(absl::StatusCode::kPermissionDenied));

  nlohmann::json no_ak = json;
  no_ak["keys"][0]["kid"] = "Other";
  ASSERT_OK_AND_ASSIGN(const BoundRuntimeClaims missing, bind(no_ak));
  EXPECT_THAT(AttestationKey(missing), StatusIs(absl::StatusCode::kInvalidArgument));

  nlohmann::json twice = json;
  twice["keys"].push_back(json["keys"][0]);
  EXPECT_THAT(bind(twice), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

}  // namespace
}  // namespace vouch::azure
