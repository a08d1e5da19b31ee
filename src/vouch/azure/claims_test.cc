#include "vouch/azure/claims.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/time/time.h"
#include "vouch/crypto/x509.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"
#include "vouch/tpm/event_log_builder.h"

namespace vouch::azure {
namespace {

using vouch::testing::ReadVector;

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  return t;
}

Bytes SecureBootVariable(uint8_t value) {
  Bytes data = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
                0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};
  const std::u16string name = u"SecureBoot";
  const uint64_t name_length = name.size();
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<uint8_t>(name_length >> (8 * i)));
  for (int i = 0; i < 8; ++i) data.push_back(i == 0 ? 1 : 0);
  for (char16_t c : name) {
    data.push_back(static_cast<uint8_t>(c));
    data.push_back(static_cast<uint8_t>(c >> 8));
  }
  data.push_back(value);
  return data;
}

TEST(SecureBootTest, ReadsVariableFromPcr7) {
  tpm::EventLogBuilder log({crypto::HashAlg::kSha256});
  log.Measure(7, tpm::kEvEfiVariableDriverConfig, SecureBootVariable(1));
  EXPECT_EQ(SecureBootFromEventLog(log.Entries()), true);

  tpm::EventLogBuilder off({crypto::HashAlg::kSha256});
  off.Measure(7, tpm::kEvEfiVariableDriverConfig, SecureBootVariable(0));
  EXPECT_EQ(SecureBootFromEventLog(off.Entries()), false);

  tpm::EventLogBuilder elsewhere({crypto::HashAlg::kSha256});
  elsewhere.Measure(1, tpm::kEvEfiVariableDriverConfig, SecureBootVariable(1));
  EXPECT_EQ(SecureBootFromEventLog(elsewhere.Entries()), std::nullopt);

  Bytes other_name = SecureBootVariable(1);
  other_name[32] = 'X';
  tpm::EventLogBuilder other({crypto::HashAlg::kSha256});
  other.Measure(7, tpm::kEvEfiVariableDriverConfig, other_name);
  EXPECT_EQ(SecureBootFromEventLog(other.Entries()), std::nullopt);
}

TEST(AzureClaimsTest, SnpEvidenceClaims) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const AzureEvidence evidence,
                       ParseAzureEvidenceJson(ReadVector("azure/trustee-az-snp-vtpm-evidence-v1.json")));
  AzureVerifyOptions options;
  options.now = At("2025-10-20T00:00:00Z");
  options.expected_nonce = ToBytes("challenge");
  options.snp_certificates = crypto::ParseCertificates(ReadVector("amd-certs/milan_chain.pem")).value();
  ASSERT_OK_AND_ASSIGN(const VerifiedAzureEvidence verified, VerifyAzureEvidence(evidence, options));
  const nlohmann::json claims = AzureClaims(verified);
  EXPECT_EQ(claims["x-ms-attestation-type"], "azurevm");
  EXPECT_EQ(claims["x-ms-azurevm-vmid"], "26F8BC30-774E-4290-8E7A-535F3B672AEE");
  EXPECT_EQ(claims["x-ms-azurevm-attested-pcrs"].size(), 24u);
  EXPECT_EQ(claims["x-vouch-azurevm-configured-secureboot"], true);
  EXPECT_FALSE(claims.contains("secureboot"));
  const nlohmann::json& tee = claims["x-ms-isolation-tee"];
  EXPECT_EQ(tee["x-ms-attestation-type"], "sevsnpvm");
  EXPECT_EQ(tee["x-ms-compliance-status"], "azure-compliant-cvm");
  EXPECT_EQ(tee["x-ms-sevsnpvm-is-debuggable"], false);
  EXPECT_EQ(tee["x-ms-runtime"]["keys"][0]["kid"], "HCLAkPub");
  EXPECT_EQ(claims["x-ms-runtime"]["keys"].size(), 2u);

  const nlohmann::json with_client = AzureClaims(verified, nlohmann::json{{"keys", {}}});
  EXPECT_EQ(with_client["x-ms-runtime"], (nlohmann::json{{"keys", {}}}));
}

TEST(AzureClaimsTest, TdxEvidenceClaimsWithoutCollateral) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const AzureEvidence evidence,
                       ParseAzureEvidenceJson(ReadVector("azure/trustee-az-tdx-vtpm-evidence-v1.json")));
  AzureVerifyOptions options;
  options.now = At("2025-10-20T00:00:00Z");
  options.expected_nonce = ToBytes("challenge");
  ASSERT_OK_AND_ASSIGN(const VerifiedAzureEvidence verified, VerifyAzureEvidence(evidence, options));
  const nlohmann::json claims = AzureClaims(verified);
  const nlohmann::json& tee = claims["x-ms-isolation-tee"];
  EXPECT_EQ(tee["x-ms-attestation-type"], "tdxvm");
  EXPECT_EQ(tee["x-ms-compliance-status"], "azure-compliant-cvm");
  EXPECT_EQ(tee["x-vouch-tdx-tcb-evaluated"], false);
  EXPECT_FALSE(tee.contains("attester_tcb_status"));
  EXPECT_TRUE(tee.contains("tdx_mrtd"));
}

}  // namespace
}  // namespace vouch::azure
