// Tests of the AMD KDS client and the VCEK provider against a loopback KDS
// stand-in. Nothing here contacts AMD.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/collateral/kds_client.h"
#include "vouch/collateral/kds_test_server.h"
#include "vouch/collateral/vcek_provider.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/snp/certificates.h"
#include "vouch/snp/report.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::collateral {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kChainTarget[] = "/vcek/v1/Milan/cert_chain";

// DerSmallInteger encodes 0..255 as a DER INTEGER, as AMD's SPL extensions are.
Bytes DerSmallInteger(uint8_t value) {
  if (value < 0x80) {
    return {0x02, 0x01, value};
  }
  return {0x02, 0x02, 0x00, value};
}

// TestVcek is a VCEK issued by the simulated ASK, with its private key.
struct TestVcek {
  crypto::Certificate certificate;
  crypto::SslPtr<EVP_PKEY> key;
};

class KdsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/vouch-kds-sim-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    sim_dir_ = new std::string(pattern);
    absl::StatusOr<snp::SimulatedSnp> sim = snp::SimulatedSnp::LoadOrCreate(*sim_dir_);
    ASSERT_OK(sim.status());
    sim_ = new snp::SimulatedSnp(*std::move(sim));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*sim_dir_);
    delete sim_;
    delete sim_dir_;
  }

  void SetUp() override {
    char pattern[] = "/tmp/vouch-kds-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const Bytes report_data(64, 0x5A);
    ASSERT_OK_AND_ASSIGN(report_, sim_->GetReport(report_data));
    ASSERT_OK_AND_ASSIGN(parsed_, snp::ParseReport(report_));
    verify_options_.roots = {sim_->Root()};
    const std::vector<crypto::Certificate> certificates = sim_->Certificates();
    vcek_target_ = fmt::format("/vcek/v1/Milan/{}?blSPL=04&teeSPL=00&snpSPL=22&ucodeSPL=213",
                               HexEncode(parsed_.chip_id));
    kds_.AddDocument(vcek_target_, ToString(certificates[0].Der()));
    kds_.AddDocument(kChainTarget, certificates[1].Pem() + certificates[2].Pem());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  VcekProviderOptions ProviderOptions() const {
    VcekProviderOptions options;
    options.cache_dir = dir_ + "/cache";
    KdsClientOptions kds;
    kds.base_url = kds_.Url();
    options.kds = kds;
    return options;
  }

  size_t CachedVcekFiles() const {
    const std::filesystem::path amd = std::filesystem::path(dir_) / "cache" / "amd";
    std::error_code error;
    if (!std::filesystem::exists(amd, error)) {
      return 0;
    }
    size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(amd)) {
      count += entry.path().filename().string().rfind("vcek-", 0) == 0 ? 1 : 0;
    }
    return count;
  }

  // IssueVcek makes a VCEK under the simulated ASK for `chip_id` and the
  // given SPLs.
  static absl::StatusOr<TestVcek> IssueVcek(ByteSpan chip_id, uint8_t boot_loader, uint8_t tee,
                                            uint8_t snp_spl, uint8_t microcode) {
    VOUCH_ASSIGN_OR_RETURN(const Bytes ask_key_pem,
                           ReadFile(*sim_dir_ + "/" + snp::kSimulatedAskKeyFile));
    VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> ask_key,
                           crypto::PrivateKeyFromPem(ask_key_pem));
    TestVcek vcek;
    VOUCH_ASSIGN_OR_RETURN(vcek.key, crypto::GenerateEcKey("P-384"));
    crypto::CertificateSpec spec;
    spec.common_name = "SEV-VCEK";
    spec.organization = "vouch kds test";
    spec.issuer = sim_->Certificates()[1];
    spec.issuer_key = ask_key.get();
    spec.subject_key = vcek.key.get();
    spec.signature = crypto::SignatureScheme::kRsaPssSha384;
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    spec.extensions = {
        {std::string(snp::kOidBootLoaderSpl), DerSmallInteger(boot_loader)},
        {std::string(snp::kOidTeeSpl), DerSmallInteger(tee)},
        {std::string(snp::kOidSnpSpl), DerSmallInteger(snp_spl)},
        {std::string(snp::kOidMicrocodeSpl), DerSmallInteger(microcode)},
        {std::string(snp::kOidHardwareId), Bytes(chip_id.begin(), chip_id.end())},
    };
    VOUCH_ASSIGN_OR_RETURN(vcek.certificate, crypto::IssueCertificate(spec));
    return vcek;
  }

  // Resign replaces the signature of `report` with one by `key`.
  static absl::StatusOr<Bytes> Resign(const snp::AttestationReport& report, EVP_PKEY* key) {
    Bytes bytes = snp::SerializeReport(report);
    VOUCH_ASSIGN_OR_RETURN(const Bytes rs,
                           crypto::SignEcdsaRaw(key, crypto::HashAlg::kSha384,
                                                ByteSpan(bytes).first(snp::kSignedSize)));
    std::reverse_copy(rs.begin(), rs.begin() + 48, bytes.begin() + snp::kSignedSize);
    std::reverse_copy(rs.begin() + 48, rs.end(),
                      bytes.begin() + snp::kSignedSize + snp::kSignatureComponentSize);
    return bytes;
  }

  static std::string* sim_dir_;
  static snp::SimulatedSnp* sim_;
  std::string dir_;
  Bytes report_;
  snp::AttestationReport parsed_;
  snp::VerifyOptions verify_options_;
  std::string vcek_target_;
  KdsTestServer kds_;
};

std::string* KdsTest::sim_dir_ = nullptr;
snp::SimulatedSnp* KdsTest::sim_ = nullptr;

TEST_F(KdsTest, FirstReportFetchesAndCaches) {
  const VcekProvider provider(ProviderOptions());
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> found,
                       provider.FindCertificates(report_, {}, verify_options_));

  EXPECT_THAT(kds_.targets(), ElementsAre(vcek_target_, kChainTarget));
  ASSERT_THAT(found, SizeIs(3));
  EXPECT_EQ(found[0].Der(), sim_->Certificates()[0].Der());
  EXPECT_OK(snp::VerifyReport(report_, found, verify_options_).status());
  EXPECT_EQ(CachedVcekFiles(), 1u);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir_) / "cache" / "amd" /
                                      VcekProvider::CacheFileName("Milan", parsed_)));
}

TEST_F(KdsTest, SecondReportUsesCache) {
  ASSERT_OK(VcekProvider(ProviderOptions()).FindCertificates(report_, {}, verify_options_).status());
  ASSERT_THAT(kds_.targets(), SizeIs(2));

  // A new provider (as after a restart) and one without any KDS both read the cache.
  ASSERT_OK_AND_ASSIGN(
      const std::vector<crypto::Certificate> again,
      VcekProvider(ProviderOptions()).FindCertificates(report_, {}, verify_options_));
  VcekProviderOptions cache_only = ProviderOptions();
  cache_only.kds.reset();
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> cached,
                       VcekProvider(cache_only).FindCertificates(report_, {}, verify_options_));

  EXPECT_THAT(kds_.targets(), SizeIs(2));
  EXPECT_OK(snp::VerifyReport(report_, again, verify_options_).status());
  EXPECT_OK(snp::VerifyReport(report_, cached, verify_options_).status());
}

TEST_F(KdsTest, CachedVcekStillVerifiedToRoot) {
  ASSERT_OK(VcekProvider(ProviderOptions()).FindCertificates(report_, {}, verify_options_).status());
  // Under the pinned AMD roots alone the cached simulated chain must fail.
  snp::VerifyOptions amd_only;
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> cached,
                       VcekProvider(ProviderOptions()).FindCertificates(report_, {}, amd_only));
  EXPECT_THAT(snp::VerifyReport(report_, cached, amd_only), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(KdsTest, OtherTcbFetchesAgain) {
  const VcekProvider provider(ProviderOptions());
  ASSERT_OK(provider.FindCertificates(report_, {}, verify_options_).status());

  ASSERT_OK_AND_ASSIGN(const TestVcek newer, IssueVcek(parsed_.chip_id, 5, 0, 23, 213));
  snp::AttestationReport changed = parsed_;
  changed.reported_tcb.raw = snp::TcbVersion::Encode(5, 0, 23, 213, 0, /*turin=*/false);
  ASSERT_OK_AND_ASSIGN(const Bytes changed_report, Resign(changed, newer.key.get()));
  const std::string newer_target =
      fmt::format("/vcek/v1/Milan/{}?blSPL=05&teeSPL=00&snpSPL=23&ucodeSPL=213",
                  HexEncode(parsed_.chip_id));
  kds_.AddDocument(newer_target, ToString(newer.certificate.Der()));

  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> found,
                       provider.FindCertificates(changed_report, {}, verify_options_));

  // The chain came from the cache: one new request, for the VCEK only.
  EXPECT_THAT(kds_.targets(), ElementsAre(vcek_target_, kChainTarget, newer_target));
  EXPECT_OK(snp::VerifyReport(changed_report, found, verify_options_).status());
  EXPECT_EQ(CachedVcekFiles(), 2u);
}

TEST_F(KdsTest, RequestVcekMakesNoLookup) {
  const VcekProvider provider(ProviderOptions());
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> found,
                       provider.FindCertificates(report_, sim_->Certificates(), verify_options_));
  EXPECT_THAT(found, IsEmpty());
  EXPECT_THAT(kds_.targets(), IsEmpty());
}

TEST_F(KdsTest, MaskedChipIdMakesNoRequest) {
  const VcekProvider provider(ProviderOptions());
  snp::AttestationReport zeros = parsed_;
  zeros.chip_id.fill(0);
  snp::AttestationReport flagged = parsed_;
  flagged.mask_chip_key = true;

  for (const snp::AttestationReport& report : {zeros, flagged}) {
    EXPECT_THAT(provider.FindCertificates(snp::SerializeReport(report), {}, verify_options_),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("send the VCEK with the evidence")));
  }
  EXPECT_THAT(kds_.targets(), IsEmpty());
}

TEST_F(KdsTest, VlekReportMakesNoRequest) {
  const VcekProvider provider(ProviderOptions());
  snp::AttestationReport vlek = parsed_;
  vlek.signing_key = snp::SigningKey::kVlek;
  EXPECT_THAT(provider.FindCertificates(snp::SerializeReport(vlek), {}, verify_options_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("VLEK")));
  EXPECT_THAT(kds_.targets(), IsEmpty());
}

TEST_F(KdsTest, RealVlekReportMakesNoRequest) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const VcekProvider provider(ProviderOptions());
  const Bytes report = ReadVector("sev-snp/trustee-aws-milan-vlek-v3.bin");
  EXPECT_THAT(provider.FindCertificates(report, {}, snp::VerifyOptions{}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("send the VLEK and its ASVK and ARK with the evidence")));
  EXPECT_THAT(kds_.targets(), IsEmpty());
}

TEST_F(KdsTest, NoKdsUrlMakesNoRequest) {
  VcekProviderOptions options = ProviderOptions();
  options.kds.reset();
  EXPECT_THAT(VcekProvider(options).FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--kds-url")));
  EXPECT_THAT(kds_.targets(), IsEmpty());
}

TEST_F(KdsTest, NotFoundNamesProductChipAndTcb) {
  KdsTestServer empty;
  VcekProviderOptions options = ProviderOptions();
  options.kds->base_url = empty.Url();
  const absl::StatusOr<std::vector<crypto::Certificate>> found =
      VcekProvider(options).FindCertificates(report_, {}, verify_options_);
  EXPECT_THAT(found, StatusIs(absl::StatusCode::kNotFound, HasSubstr("product Milan")));
  EXPECT_THAT(found.status().message(), HasSubstr(HexEncode(parsed_.chip_id)));
  EXPECT_THAT(found.status().message(), HasSubstr("bl=4 tee=0 snp=22 ucode=213"));
  EXPECT_EQ(CachedVcekFiles(), 0u);
}

TEST_F(KdsTest, RateLimitWaitsForRetryAfter) {
  kds_.SetOverride([](const std::string&) -> std::optional<PcsTestReply> {
    return PcsTestReply{429, {{"Retry-After", "120"}}, "slow down"};
  });
  const VcekProvider provider(ProviderOptions());
  EXPECT_THAT(provider.FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("429")));
  // The second lookup inside the Retry-After window sends nothing.
  EXPECT_THAT(provider.FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not sent")));
  EXPECT_THAT(kds_.targets(), SizeIs(1));
}

TEST_F(KdsTest, OversizedBodyRejected) {
  kds_.SetOverride([](const std::string&) -> std::optional<PcsTestReply> {
    return PcsTestReply{200, {}, std::string(200 << 10, 'x')};
  });
  EXPECT_THAT(VcekProvider(ProviderOptions()).FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("over 65536 bytes")));
  EXPECT_EQ(CachedVcekFiles(), 0u);
}

TEST_F(KdsTest, GarbageDerRejected) {
  kds_.SetOverride([](const std::string&) -> std::optional<PcsTestReply> {
    return PcsTestReply{200, {}, "<html>maintenance</html>"};
  });
  EXPECT_THAT(VcekProvider(ProviderOptions()).FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a DER certificate")));
  EXPECT_EQ(CachedVcekFiles(), 0u);
}

TEST_F(KdsTest, ServerErrorIsUnavailable) {
  kds_.SetOverride([](const std::string&) -> std::optional<PcsTestReply> {
    return PcsTestReply{503, {}, "down"};
  });
  EXPECT_THAT(VcekProvider(ProviderOptions()).FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("status 503")));
  EXPECT_THAT(kds_.targets(), SizeIs(1));
}

TEST_F(KdsTest, OtherChipVcekRejectedNotCached) {
  Bytes other_chip(64, 0x77);
  ASSERT_OK_AND_ASSIGN(const TestVcek other, IssueVcek(other_chip, 4, 0, 22, 213));
  kds_.AddDocument(vcek_target_, ToString(other.certificate.Der()));
  const VcekProvider provider(ProviderOptions());

  EXPECT_THAT(provider.FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not cached")));
  EXPECT_EQ(CachedVcekFiles(), 0u);
  // Nothing was cached, so the next lookup sends a new KDS request.
  EXPECT_THAT(provider.FindCertificates(report_, {}, verify_options_),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(kds_.targets(), ElementsAre(vcek_target_, vcek_target_));
}

TEST_F(KdsTest, UntrustedChainRejectedNotCached) {
  // The right chip and TCB, but the chain ends at a root that is not trusted.
  snp::VerifyOptions amd_only;
  EXPECT_THAT(VcekProvider(ProviderOptions()).FindCertificates(report_, {}, amd_only),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not cached")));
  EXPECT_EQ(CachedVcekFiles(), 0u);
}

TEST_F(KdsTest, RealGenoaVcekFromStandIn) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/oak-genoa-v5.bin");
  ASSERT_OK_AND_ASSIGN(const snp::AttestationReport parsed, snp::ParseReport(report));
  const std::string target = VcekRequestTarget("Genoa", parsed);
  kds_.AddDocument(target, ToString(ReadVector("sev-snp/oak-genoa-vcek.der")));
  kds_.AddDocument("/vcek/v1/Genoa/cert_chain", ToString(ReadVector("amd-certs/genoa_chain.pem")));
  snp::VerifyOptions options;
  options.now = *ParseRfc3339("2026-01-01T00:00:00Z");

  // The product comes from the report's CPUID (family 19h, model 1xh).
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> found,
                       VcekProvider(ProviderOptions()).FindCertificates(report, {}, options));

  EXPECT_THAT(kds_.targets(), ElementsAre(target, "/vcek/v1/Genoa/cert_chain"));
  EXPECT_THAT(target, HasSubstr("/vcek/v1/Genoa/" + HexEncode(parsed.chip_id) + "?blSPL="));
  ASSERT_OK_AND_ASSIGN(const snp::VerifiedReport verified,
                       snp::VerifyReport(report, found, options));
  EXPECT_EQ(verified.product, "Genoa");
}

TEST_F(KdsTest, VersionTwoReportNeedsProduct) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  ASSERT_OK_AND_ASSIGN(const snp::AttestationReport parsed, snp::ParseReport(report));
  snp::VerifyOptions options;
  options.now = *ParseRfc3339("2025-06-01T00:00:00Z");
  EXPECT_THAT(VcekProvider(ProviderOptions()).FindCertificates(report, {}, options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--kds-product")));
  EXPECT_THAT(kds_.targets(), IsEmpty());

  const std::string target = VcekRequestTarget("Milan", parsed);
  kds_.AddDocument(target, ToString(ReadVector("sev-snp/gosevguest-milan-vcek.der")));
  kds_.AddDocument(kChainTarget, ToString(ReadVector("amd-certs/milan_chain.pem")));
  VcekProviderOptions with_product = ProviderOptions();
  with_product.product = "Milan";
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> found,
                       VcekProvider(with_product).FindCertificates(report, {}, options));
  EXPECT_OK(snp::VerifyReport(report, found, options).status());
  EXPECT_THAT(kds_.targets(), ElementsAre(target, kChainTarget));
}

TEST(KdsTargetTest, TurinUsesEightByteHwidAndFmc) {
  snp::AttestationReport report;
  report.version = 3;
  report.cpuid_fam_id = snp::kTurinCpuidFamily;
  report.cpuid_mod_id = 0x02;
  for (size_t i = 0; i < report.chip_id.size(); ++i) {
    report.chip_id[i] = static_cast<uint8_t>(i < 8 ? 0xA0 + i : 0);
  }
  report.reported_tcb = snp::TcbVersion::Decode(
      snp::TcbVersion::Encode(3, 0, 5, 72, 1, /*turin=*/true), /*turin=*/true);
  ASSERT_OK_AND_ASSIGN(const std::string product, KdsProductForReport(report, ""));
  EXPECT_EQ(product, "Turin");
  EXPECT_EQ(VcekRequestTarget(product, report),
            "/vcek/v1/Turin/a0a1a2a3a4a5a6a7?fmcSPL=01&blSPL=03&teeSPL=00&snpSPL=05&ucodeSPL=72");
}

TEST(KdsTargetTest, ProductFromCpuid) {
  snp::AttestationReport report;
  report.version = 3;
  report.cpuid_fam_id = snp::kZen3Zen4CpuidFamily;
  report.cpuid_mod_id = 0x01;
  EXPECT_EQ(KdsProductForReport(report, "").value_or(""), "Milan");
  report.cpuid_mod_id = 0x11;
  EXPECT_EQ(KdsProductForReport(report, "").value_or(""), "Genoa");
  report.cpuid_mod_id = 0xA0;
  EXPECT_EQ(KdsProductForReport(report, "").value_or(""), "Genoa");
  EXPECT_EQ(KdsProductForReport(report, "Milan").value_or(""), "Milan");
  report.cpuid_mod_id = 0x50;
  EXPECT_THAT(KdsProductForReport(report, ""), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace vouch::collateral
