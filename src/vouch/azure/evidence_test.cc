#include "vouch/azure/evidence.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/time/time.h"
#include "vouch/base/time.h"
#include "vouch/crypto/x509.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::azure {
namespace {

using ::testing::HasSubstr;
using vouch::testing::ReadVector;
using vouch::testing::StatusIs;

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  return t;
}

AzureEvidence ReadEvidence(const std::string& name) {
  absl::StatusOr<AzureEvidence> evidence = ParseAzureEvidenceJson(ReadVector(name));
  EXPECT_OK(evidence.status()) << name;
  return evidence.ok() ? *std::move(evidence) : AzureEvidence{};
}

AzureVerifyOptions SnpOptions(Bytes nonce) {
  AzureVerifyOptions options;
  options.now = At("2025-10-20T00:00:00Z");
  options.expected_nonce = std::move(nonce);
  options.snp_certificates = crypto::ParseCertificates(ReadVector("amd-certs/milan_chain.pem")).value();
  return options;
}

AzureVerifyOptions TdxOptions(bool with_collateral) {
  AzureVerifyOptions options;
  options.now = At("2025-10-20T00:00:00Z");
  options.expected_nonce = ToBytes("challenge");
  if (!with_collateral) {
    return options;
  }
  dcap::QuoteCollateral collateral;
  const std::string dir = "intel-collateral/2025-10_automata/";
  const Bytes tcb = ReadVector(dir + "tcbinfo_tdx_00806f050000.json");
  const Bytes qe = ReadVector(dir + "qeidentity_td_qe.json");
  collateral.tcb_info_json.assign(tcb.begin(), tcb.end());
  collateral.qe_identity_json.assign(qe.begin(), qe.end());
  collateral.pck_crl = ReadVector(dir + "pck_platform_crl.der");
  collateral.root_ca_crl = ReadVector("intel-certs/intel_sgx_root_ca_crl_2025-03-20.der");
  for (const char* pem : {"intel-certs/intel_sgx_root_ca.pem",
                          "intel-certs/intel_sgx_tcb_signing_2025-2032.pem",
                          "intel-certs/intel_sgx_pck_platform_ca.pem"}) {
    auto certs = crypto::ParseCertificates(ReadVector(pem)).value();
    collateral.intel_certificates.insert(collateral.intel_certificates.end(), certs.begin(),
                                         certs.end());
  }
  options.tdx_collateral = std::move(collateral);
  return options;
}

const Bytes kChallenge = ToBytes("challenge");

TEST(AzureEvidenceTest, TrusteeSnpLayoutsVerify) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const struct {
    const char* file;
    const char* layout;
    Bytes nonce;
  } cases[] = {
      {"azure/trustee-az-snp-vtpm-evidence-v0.json", "trustee-az-snp-vtpm-v0", kChallenge},
      {"azure/trustee-az-snp-vtpm-evidence-v1.json", "trustee-az-snp-vtpm-v1", kChallenge},
      {"azure/trustee-az-snp-vtpm-evidence-v2.json", "trustee-az-snp-vtpm-v2",
       HexDecode("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338"
                 "748cd0fd9f5f819ef")
           .value()},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const AzureEvidence evidence = ReadEvidence(c.file);
    EXPECT_EQ(evidence.layout, c.layout);
    ASSERT_OK_AND_ASSIGN(const VerifiedAzureEvidence verified,
                         VerifyAzureEvidence(evidence, SnpOptions(c.nonce)));
    EXPECT_EQ(verified.type, HclReportType::kSnp);
    ASSERT_TRUE(verified.snp.has_value());
    EXPECT_EQ(verified.snp->product, "Milan");
    EXPECT_EQ(verified.quote.attest.extra_data, c.nonce);
    EXPECT_EQ(verified.quote.quoted[0].values.size(), 24u);

    EXPECT_THAT(VerifyAzureEvidence(evidence, SnpOptions(ToBytes("challengf"))),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("nonce")));
  }
}

TEST(AzureEvidenceTest, TrusteeSnpWithoutAskArkFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const AzureEvidence evidence = ReadEvidence("azure/trustee-az-snp-vtpm-evidence-v1.json");
  AzureVerifyOptions options = SnpOptions(kChallenge);
  options.snp_certificates.clear();
  EXPECT_THAT(VerifyAzureEvidence(evidence, options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("SEV-SNP")));
}

TEST(AzureEvidenceTest, SeparateTrusteeSnpFilesVerify) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes quote_json = ReadVector("azure/trustee-az-snp-tpm-quote-v1.json");
  nlohmann::json doc = {
      {"hcl_report", Base64UrlEncode(ReadVector("azure/trustee-az-snp-hcl-report.bin"))},
      {"tpm_quote", nlohmann::json::parse(quote_json.begin(), quote_json.end())},
      {"vcek_chain", ToString(ReadVector("azure/trustee-az-snp-vcek-chain.pem"))},
  };
  ASSERT_OK_AND_ASSIGN(const AzureEvidence evidence, ParseAzureEvidence(doc));
  EXPECT_EQ(evidence.layout, "vouch");
  AzureVerifyOptions options = SnpOptions(kChallenge);
  options.snp_certificates.clear();
  EXPECT_OK(VerifyAzureEvidence(evidence, options).status());
}

TEST(AzureEvidenceTest, TrusteeTdxLayoutsVerifySignaturesAndBody) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const char* file : {"azure/trustee-az-tdx-vtpm-evidence-v0.json",
                           "azure/trustee-az-tdx-vtpm-evidence-v1.json"}) {
    SCOPED_TRACE(file);
    const AzureEvidence evidence = ReadEvidence(file);
    ASSERT_OK_AND_ASSIGN(const VerifiedAzureEvidence verified,
                         VerifyAzureEvidence(evidence, TdxOptions(false)));
    EXPECT_EQ(verified.type, HclReportType::kTdx);
    EXPECT_TRUE(verified.td_quote.has_value());
    EXPECT_FALSE(verified.td_tcb.has_value());
  }
}

TEST(AzureEvidenceTest, TrusteeTdxTcbIsOutOfDate) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const AzureEvidence evidence = ReadEvidence("azure/trustee-az-tdx-vtpm-evidence-v1.json");
  ASSERT_OK_AND_ASSIGN(const VerifiedAzureEvidence verified,
                       VerifyAzureEvidence(evidence, TdxOptions(true)));
  ASSERT_TRUE(verified.td_tcb.has_value());
  EXPECT_EQ(verified.td_tcb->status, dcap::TcbStatus::kOutOfDate);
}

TEST(AzureEvidenceTest, TdxWithoutQuoteIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  AzureEvidence evidence = ReadEvidence("azure/trustee-az-tdx-vtpm-evidence-v1.json");
  evidence.td_quote.clear();
  EXPECT_THAT(VerifyAzureEvidence(evidence, TdxOptions(false)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("td_quote")));
}

TEST(AzureEvidenceTest, TdQuoteFromAnotherTdIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  AzureEvidence evidence = ReadEvidence("azure/trustee-az-tdx-vtpm-evidence-v1.json");
  // The HCL report of another Azure TD: its TDREPORT differs from the quote.
  evidence.hcl_report = ReadVector("azure/constellation-azure-tdx-hclreport.bin");
  EXPECT_THAT(VerifyAzureEvidence(evidence, TdxOptions(false)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("differs")));
}

// Byte flips in the signed or bound regions: the HCL header, the SEV-SNP
// report's signed part, the runtime data, the TPM quote message and signature.
TEST(AzureEvidenceTest, ByteFlipsAreRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const AzureEvidence good = ReadEvidence("azure/trustee-az-snp-vtpm-evidence-v1.json");
  const AzureVerifyOptions options = SnpOptions(kChallenge);
  ASSERT_OK_AND_ASSIGN(const HclReport hcl, ParseHclReport(good.hcl_report));
  const size_t runtime_end = kHclRuntimeDataOffset + hcl.runtime_data.size();
  for (size_t i = 0; i < runtime_end; i += 53) {
    AzureEvidence bad = good;
    bad.hcl_report[i] ^= 0x04;
    EXPECT_FALSE(VerifyAzureEvidence(bad, options).ok()) << "hcl byte " << i;
  }
  for (size_t i = 0; i < good.tpm_quote.message.size(); i += 3) {
    AzureEvidence bad = good;
    bad.tpm_quote.message[i] ^= 0x01;
    EXPECT_FALSE(VerifyAzureEvidence(bad, options).ok()) << "message byte " << i;
  }
  for (size_t i = 0; i < good.tpm_quote.signature.size(); i += 37) {
    AzureEvidence bad = good;
    bad.tpm_quote.signature[i] ^= 0x01;
    EXPECT_THAT(VerifyAzureEvidence(bad, options), StatusIs(absl::StatusCode::kUnauthenticated))
        << "signature byte " << i;
  }
  for (size_t pcr : {0, 7, 23}) {
    AzureEvidence bad = good;
    bad.tpm_quote.pcrs[pcr][0] ^= 0x01;
    EXPECT_THAT(VerifyAzureEvidence(bad, options),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("pcrDigest")))
        << "pcr " << pcr;
  }
}

TEST(AzureEvidenceTest, TdxByteFlipsAreRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const AzureEvidence good = ReadEvidence("azure/trustee-az-tdx-vtpm-evidence-v1.json");
  const AzureVerifyOptions options = TdxOptions(false);
  ASSERT_OK_AND_ASSIGN(const HclReport hcl, ParseHclReport(good.hcl_report));
  // TDREPORT fields the quote repeats (REPORTDATA, TEE_TCB_INFO, TDINFO) and
  // the runtime data.
  std::vector<size_t> offsets;
  for (size_t i = 128; i < 192; i += 5) offsets.push_back(kHclHeaderSize + i);
  for (size_t i = 264; i < 384; i += 7) offsets.push_back(kHclHeaderSize + i);
  for (size_t i = 512; i < 912; i += 11) offsets.push_back(kHclHeaderSize + i);
  for (size_t i = 0; i < hcl.runtime_data.size(); i += 19) {
    offsets.push_back(kHclRuntimeDataOffset + i);
  }
  for (size_t offset : offsets) {
    AzureEvidence bad = good;
    bad.hcl_report[offset] ^= 0x02;
    EXPECT_FALSE(VerifyAzureEvidence(bad, options).ok()) << "hcl byte " << offset;
  }
  for (size_t i = 48; i < 48 + 584; i += 9) {
    AzureEvidence bad = good;
    bad.td_quote[i] ^= 0x02;
    EXPECT_FALSE(VerifyAzureEvidence(bad, options).ok()) << "td quote byte " << i;
  }
}

TEST(AzureEvidenceTest, RoundTripsVouchLayout) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const AzureEvidence evidence = ReadEvidence("azure/trustee-az-tdx-vtpm-evidence-v0.json");
  ASSERT_OK_AND_ASSIGN(const AzureEvidence again, ParseAzureEvidence(ToVouchJson(evidence)));
  EXPECT_EQ(again.hcl_report, evidence.hcl_report);
  EXPECT_EQ(again.td_quote, evidence.td_quote);
  EXPECT_EQ(again.tpm_quote.pcrs, evidence.tpm_quote.pcrs);
  EXPECT_OK(VerifyAzureEvidence(again, TdxOptions(false)).status());
}

TEST(AzureEvidenceTest, RejectsMalformedJson) {
  EXPECT_THAT(ParseAzureEvidenceJson(AsBytes("{")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAzureEvidenceJson(AsBytes("{\"hcl_report\":\"AA\"}")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAzureEvidence({{"hcl_report", "AA"},
                                  {"tpm_quote", {{"signature", "00"}, {"message", "00"}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pcrs")));
  EXPECT_THAT(ParseAzureEvidence({{"hcl_report", {1, 2, 300}},
                                  {"tpm_quote",
                                   {{"signature", "00"}, {"message", "00"}, {"pcrs", {}}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::azure
