#include "vouch/snp/simulated.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/snp/appraisal.h"
#include "vouch/snp/claims.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

// The chain is created once per build folder and reused: RSA-4096 key
// generation takes seconds, and CTest runs each test in its own process.
std::string SharedDir() { return std::string(VOUCH_BINARY_DIR) + "/snp_test_simulated"; }

const SimulatedSnp& Shared() {
  static const SimulatedSnp* snp = [] {
    absl::StatusOr<SimulatedSnp> loaded = SimulatedSnp::LoadOrCreate(SharedDir());
    VOUCH_CHECK(loaded.ok());
    return new SimulatedSnp(*std::move(loaded));
  }();
  return *snp;
}

Bytes ReportData(uint8_t fill) { return Bytes(64, fill); }

VerifyOptions TrustingSimulated() {
  VerifyOptions options;
  options.roots.push_back(Shared().Root());
  return options;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(SimulatedSnpTest, CreatesThenReloads) {
  char dir_template[] = "/tmp/vouch-snp-simulated-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = std::string(dir_template) + "/chain";
  ASSERT_OK_AND_ASSIGN(const SimulatedSnp created, SimulatedSnp::LoadOrCreate(dir));
  EXPECT_EQ(ModeOf(dir), 0700U);
  for (const char* key : {kSimulatedArkKeyFile, kSimulatedAskKeyFile, kSimulatedVcekKeyFile}) {
    EXPECT_EQ(ModeOf(dir + "/" + key), 0600U) << key;
  }
  ASSERT_OK_AND_ASSIGN(const SimulatedSnp reloaded, SimulatedSnp::LoadOrCreate(dir));
  EXPECT_EQ(reloaded.Root().spki_sha256, created.Root().spki_sha256);
  EXPECT_EQ(reloaded.Root().product, "simulated");
  ASSERT_EQ(reloaded.Certificates().size(), 3U);
  EXPECT_EQ(reloaded.Certificates()[0].Der(), created.Certificates()[0].Der());
  EXPECT_EQ(created.Certificates()[0].SubjectCommonName(), "SEV-VCEK");
  EXPECT_EQ(created.Certificates()[1].SubjectCommonName(), "SEV-Simulated");
  EXPECT_EQ(created.Certificates()[2].SubjectCommonName(), "ARK-Simulated");

  // A report from the first object verifies with the second one's chain.
  ASSERT_OK_AND_ASSIGN(const Bytes report, created.GetReport(ReportData(7)));
  VerifyOptions options;
  options.roots.push_back(reloaded.Root());
  EXPECT_OK(VerifyReport(report, reloaded.Certificates(), options).status());
  std::filesystem::remove_all(dir_template);
}

TEST(SimulatedSnpTest, ReportVerifiesWhenRootTrusted) {
  const Bytes data = ReportData(0x5A);
  ASSERT_OK_AND_ASSIGN(const Bytes report, Shared().GetReport(data));
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified,
                       VerifyReport(report, Shared().Certificates(), TrustingSimulated()));
  EXPECT_TRUE(verified.simulated());
  EXPECT_EQ(verified.product, "simulated");
  EXPECT_EQ(verified.report.version, 3U);
  EXPECT_EQ(verified.report.policy, 0x30000U);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), verified.report.report_data.begin()));
  EXPECT_EQ(verified.report.measurement, SimulatedSnp::SimulatedMeasurement());
  EXPECT_EQ(verified.report.reported_tcb.snp, kSimulatedSnpSpl);
  EXPECT_OK(Appraise(verified, {}));
  const nlohmann::json claims = SnpClaims(verified);
  EXPECT_EQ(claims["x-vouch-simulated"], true);
  EXPECT_EQ(claims["x-vouch-sevsnpvm-product"], "simulated");
}

TEST(SimulatedSnpTest, ReportRejectedByDefaultRoots) {
  ASSERT_OK_AND_ASSIGN(const Bytes report, Shared().GetReport(ReportData(1)));
  EXPECT_THAT(VerifyReport(report, Shared().Certificates(), VerifyOptions{}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("root pin")));
}

TEST(SimulatedSnpTest, ReportsRequestedVmpl) {
  ASSERT_OK_AND_ASSIGN(const Bytes report, Shared().GetReport(ReportData(2), 2));
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified,
                       VerifyReport(report, Shared().Certificates(), TrustingSimulated()));
  EXPECT_EQ(verified.report.vmpl, 2U);
  EXPECT_THAT(Appraise(verified, {}), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(SimulatedSnpTest, RejectsBadArguments) {
  EXPECT_THAT(Shared().GetReport(Bytes(63)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Shared().GetReport(Bytes(65)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Shared().GetReport(ReportData(0), 4), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SimulatedSnpTest, ChangedReportFailsSignature) {
  ASSERT_OK_AND_ASSIGN(Bytes report, Shared().GetReport(ReportData(3)));
  report[0x50] ^= 1;  // REPORT_DATA
  EXPECT_THAT(VerifyReport(report, Shared().Certificates(), TrustingSimulated()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> LoadSharedKey(const char* file) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes pem, ReadFile(SharedDir() + "/" + file));
  return crypto::PrivateKeyFromPem(pem);
}

// Re-signs `report` with the simulated VCEK after a test changed it.
absl::StatusOr<Bytes> Resign(const AttestationReport& report) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> key, LoadSharedKey(kSimulatedVcekKeyFile));
  Bytes bytes = SerializeReport(report);
  VOUCH_ASSIGN_OR_RETURN(const Bytes rs, crypto::SignEcdsaRaw(key.get(), crypto::HashAlg::kSha384,
                                                              ByteSpan(bytes).first(kSignedSize)));
  std::fill(bytes.begin() + kSignedSize, bytes.end(), 0);
  std::reverse_copy(rs.begin(), rs.begin() + 48, bytes.begin() + kSignedSize);
  std::reverse_copy(rs.begin() + 48, rs.end(), bytes.begin() + kSignedSize + 72);
  return bytes;
}

TEST(SimulatedSnpTest, RejectsCpuidOfAnotherProduct) {
  ASSERT_OK_AND_ASSIGN(const Bytes original, Shared().GetReport(ReportData(4)));
  ASSERT_OK_AND_ASSIGN(AttestationReport report, ParseReport(original));
  ASSERT_OK_AND_ASSIGN(const Bytes resigned, Resign(report));
  EXPECT_OK(VerifyReport(resigned, Shared().Certificates(), TrustingSimulated()).status());

  report.cpuid_mod_id = 0x11;  // a Genoa model
  ASSERT_OK_AND_ASSIGN(const Bytes genoa, Resign(report));
  EXPECT_THAT(VerifyReport(genoa, Shared().Certificates(), TrustingSimulated()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("product: report cpuid")));
}

TEST(SimulatedSnpTest, RejectsVlekUnderAsk) {
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> ask_key, LoadSharedKey(kSimulatedAskKeyFile));
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> vlek_key, crypto::GenerateEcKey("P-384"));
  const std::vector<crypto::Certificate> chain = Shared().Certificates();
  crypto::CertificateSpec spec;
  spec.common_name = "SEV-VLEK";
  spec.issuer = chain[1];  // the ASK
  spec.subject_key = vlek_key.get();
  spec.issuer_key = ask_key.get();
  spec.signature = crypto::SignatureScheme::kRsaPssSha384;
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24);
  ASSERT_OK_AND_ASSIGN(const crypto::Certificate vlek, crypto::IssueCertificate(spec));
  EXPECT_THAT(VerifyEndorsementChain(vlek, chain, TrustingSimulated()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("the VLEK is issued by an ASK")));
}

}  // namespace
}  // namespace vouch::snp
