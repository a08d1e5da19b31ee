// Tests of AmdCrlProvider and KdsClient::FetchCrl against the loopback KDS
// stand-in, with CRLs signed by the simulated ARK. Nothing here contacts AMD.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/collateral/amd_crl_provider.h"
#include "vouch/collateral/kds_client.h"
#include "vouch/collateral/kds_test_server.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/keys.h"
#include "vouch/snp/revocation.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::collateral {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::vouch::testing::StatusIs;

constexpr char kCrlTarget[] = "/vcek/v1/Milan/crl";

// The simulated chain, made once per build folder (RSA-4096 key generation
// takes seconds).
std::string SimulatedDir() {
  return std::string(VOUCH_BINARY_DIR) + "/collateral_amd_crl_test_simulated";
}

crypto::SslPtr<EVP_PKEY> LoadKey(const char* file) {
  absl::StatusOr<Bytes> pem = ReadFile(SimulatedDir() + "/" + file);
  EXPECT_TRUE(pem.ok()) << pem.status();
  if (!pem.ok()) {
    return nullptr;
  }
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::PrivateKeyFromPem(*pem);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *std::move(key) : nullptr;
}

class AmdCrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(const snp::SimulatedSnp platform,
                         snp::SimulatedSnp::LoadOrCreate(SimulatedDir()));
    pool_ = platform.Certificates();
    ASSERT_OK_AND_ASSIGN(report_, platform.GetReport(Bytes(64, 0x5a)));
    options_.roots = {platform.Root()};
    options_.now = absl::Now();
    ark_key_ = LoadKey(snp::kSimulatedArkKeyFile);
    ask_key_ = LoadKey(snp::kSimulatedAskKeyFile);
    ASSERT_NE(ark_key_, nullptr);
    ASSERT_NE(ask_key_, nullptr);

    char pattern[] = "/tmp/vouch-amd-crl-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Crl issues a CRL of the simulated ARK (or signed by `key`, under the
  // ARK's name) valid from `this_update` for `valid_for`.
  crypto::Crl Crl(absl::Time this_update, absl::Duration valid_for, EVP_PKEY* key = nullptr,
                  std::vector<Bytes> revoked = {}) const {
    snp::AmdCrlSpec spec;
    spec.ark = &pool_[2];
    spec.ark_key = key != nullptr ? key : ark_key_.get();
    spec.this_update = this_update;
    spec.next_update = this_update + valid_for;
    spec.revoked_serials = std::move(revoked);
    absl::StatusOr<crypto::Crl> crl = snp::IssueAmdCrl(spec);
    EXPECT_TRUE(crl.ok()) << crl.status();
    return *std::move(crl);
  }
  crypto::Crl CurrentCrl() const { return Crl(absl::Now() - absl::Hours(1), absl::Hours(24)); }

  AmdCrlProviderOptions Options() const {
    AmdCrlProviderOptions options;
    options.cache_dir = dir_ + "/cache";
    KdsClientOptions kds;
    kds.base_url = kds_.Url();
    options.kds = kds;
    return options;
  }

  std::filesystem::path CachedFile() const {
    return std::filesystem::path(dir_) / "cache" / "amd" / "crl-vcek-Milan.der";
  }

  void Serve(int status, std::string body) {
    kds_.SetOverride([status, body](const std::string&) -> std::optional<PcsTestReply> {
      return PcsTestReply{status, {}, body};
    });
  }

  std::vector<crypto::Certificate> pool_;
  Bytes report_;
  snp::VerifyOptions options_;
  crypto::SslPtr<EVP_PKEY> ark_key_;
  crypto::SslPtr<EVP_PKEY> ask_key_;
  std::string dir_;
  KdsTestServer kds_;
};

TEST_F(AmdCrlTest, FileNameNamesKindAndProduct) {
  EXPECT_EQ(AmdCrlProvider::FileName("vcek", "Milan"), "crl-vcek-Milan.der");
  EXPECT_EQ(AmdCrlProvider::FileName("vlek", "Genoa"), "crl-vlek-Genoa.der");
}

TEST_F(AmdCrlTest, FetchesVerifiesAndCaches) {
  const crypto::Crl served = CurrentCrl();
  kds_.AddDocument(kCrlTarget, ToString(served.Der()));
  const AmdCrlProvider provider(Options());

  ASSERT_OK_AND_ASSIGN(const crypto::Crl first, provider.FindCrl(report_, pool_, options_));
  ASSERT_OK_AND_ASSIGN(const crypto::Crl second, provider.FindCrl(report_, pool_, options_));

  EXPECT_EQ(first.Der(), served.Der());
  EXPECT_EQ(second.Der(), served.Der());
  EXPECT_THAT(kds_.targets(), ElementsAre(kCrlTarget));
  ASSERT_OK_AND_ASSIGN(const Bytes cached, ReadFile(CachedFile().string()));
  EXPECT_EQ(cached, served.Der());

  // A new provider (a restarted server) reads the cache folder.
  const AmdCrlProvider restarted(Options());
  ASSERT_OK_AND_ASSIGN(const crypto::Crl third, restarted.FindCrl(report_, pool_, options_));
  EXPECT_EQ(third.Der(), served.Der());
  EXPECT_THAT(kds_.targets(), SizeIs(1));
}

TEST_F(AmdCrlTest, RefreshesCacheAfterNextUpdate) {
  const absl::Time now = absl::Now();
  const crypto::Crl old_crl = Crl(now - absl::Hours(1), absl::Hours(2));
  kds_.AddDocument(kCrlTarget, ToString(old_crl.Der()));
  const AmdCrlProvider provider(Options());
  ASSERT_OK(provider.FindCrl(report_, pool_, options_).status());

  // Three hours later the cached CRL is past its nextUpdate.
  const crypto::Crl new_crl = Crl(now + absl::Hours(2), absl::Hours(24));
  kds_.AddDocument(kCrlTarget, ToString(new_crl.Der()));
  options_.now = now + absl::Hours(3);
  ASSERT_OK_AND_ASSIGN(const crypto::Crl refreshed, provider.FindCrl(report_, pool_, options_));

  EXPECT_EQ(refreshed.Der(), new_crl.Der());
  EXPECT_THAT(kds_.targets(), ElementsAre(kCrlTarget, kCrlTarget));
  ASSERT_OK_AND_ASSIGN(const Bytes cached, ReadFile(CachedFile().string()));
  EXPECT_EQ(cached, new_crl.Der());
}

TEST_F(AmdCrlTest, RejectsCrlOfAnotherKey) {
  kds_.AddDocument(kCrlTarget,
                   ToString(Crl(absl::Now() - absl::Hours(1), absl::Hours(24), ask_key_.get())
                                .Der()));
  const AmdCrlProvider provider(Options());

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("is rejected and not cached: snp revocation: signature")));
  EXPECT_FALSE(std::filesystem::exists(CachedFile()));
}

TEST_F(AmdCrlTest, RejectsExpiredCrl) {
  kds_.AddDocument(kCrlTarget,
                   ToString(Crl(absl::Now() - absl::Hours(5), absl::Hours(2)).Der()));
  const AmdCrlProvider provider(Options());

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("nextUpdate")));
  EXPECT_FALSE(std::filesystem::exists(CachedFile()));
}

TEST_F(AmdCrlTest, RejectsGarbageBody) {
  Serve(200, "this is not a CRL");
  const AmdCrlProvider provider(Options());

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a CRL")));
  EXPECT_FALSE(std::filesystem::exists(CachedFile()));
}

TEST_F(AmdCrlTest, RejectsTruncatedCrl) {
  Bytes der = CurrentCrl().Der();
  der.resize(der.size() / 2);
  Serve(200, ToString(der));
  const AmdCrlProvider provider(Options());

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a CRL")));
}

TEST_F(AmdCrlTest, RejectsOversizedBody) {
  Serve(200, std::string(crypto::kMaxCrlBytes + 1, 'x'));
  const AmdCrlProvider provider(Options());

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(std::filesystem::exists(CachedFile()));
}

TEST_F(AmdCrlTest, KdsDownNotRetriedAtOnce) {
  Serve(503, "");
  const AmdCrlProvider provider(Options());

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(kds_.targets(), SizeIs(1));
}

TEST_F(AmdCrlTest, RetriesAfterRetryInterval) {
  Serve(503, "");
  AmdCrlProviderOptions options = Options();
  options.retry_interval = absl::ZeroDuration();
  const AmdCrlProvider provider(options);
  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kUnavailable));

  kds_.SetOverride(nullptr);
  kds_.AddDocument(kCrlTarget, ToString(CurrentCrl().Der()));
  EXPECT_OK(provider.FindCrl(report_, pool_, options_).status());
  EXPECT_THAT(kds_.targets(), SizeIs(2));
}

TEST_F(AmdCrlTest, NotFoundWithoutSources) {
  AmdCrlProviderOptions options;
  const AmdCrlProvider provider(options);

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no KDS URL is set")));
  EXPECT_THAT(kds_.targets(), IsEmpty());
}

TEST_F(AmdCrlTest, Kds404IsNotFound) {
  const AmdCrlProvider provider(Options());

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("404")));
}

TEST_F(AmdCrlTest, CollateralFolderComesFirst) {
  const crypto::Crl local = CurrentCrl();
  const std::filesystem::path amd = std::filesystem::path(dir_) / "collateral" / "amd";
  std::filesystem::create_directories(amd);
  ASSERT_OK(WriteFileAtomic((amd / "crl-vcek-Milan.der").string(), local.Der()));
  AmdCrlProviderOptions options = Options();
  options.collateral_dir = dir_ + "/collateral";
  const AmdCrlProvider provider(options);

  ASSERT_OK_AND_ASSIGN(const crypto::Crl found, provider.FindCrl(report_, pool_, options_));

  EXPECT_EQ(found.Der(), local.Der());
  EXPECT_THAT(kds_.targets(), IsEmpty());
}

TEST_F(AmdCrlTest, CrlOfAnotherChainIsNotFound) {
  // The pool has no ARK named like the CRL's issuer: the CRL is for another
  // chain of the same product name.
  kds_.AddDocument(kCrlTarget, ToString(CurrentCrl().Der()));
  const AmdCrlProvider provider(Options());
  const std::vector<crypto::Certificate> leaf_only = {pool_[0]};

  EXPECT_THAT(provider.FindCrl(report_, leaf_only, options_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not a trusted ARK")));
  EXPECT_FALSE(std::filesystem::exists(CachedFile()));
}

TEST_F(AmdCrlTest, UntrustedArkRejected) {
  kds_.AddDocument(kCrlTarget, ToString(CurrentCrl().Der()));
  const AmdCrlProvider provider(Options());
  options_.roots = snp::PinnedAmdRoots();  // not the simulated root

  EXPECT_THAT(provider.FindCrl(report_, pool_, options_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no trusted root pins")));
}

TEST_F(AmdCrlTest, LoadAmdCrlsReadsFileAndFolder) {
  const std::filesystem::path folder = std::filesystem::path(dir_) / "crls";
  std::filesystem::create_directories(folder);
  ASSERT_OK(WriteFileAtomic((folder / "a.der").string(), CurrentCrl().Der()));
  ASSERT_OK(WriteFileAtomic((folder / "b.pem").string(),
                            AsBytes("-----BEGIN X509 CRL-----\n" +
                                    std::string("not base64") + "\n-----END X509 CRL-----\n")));

  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Crl> from_file,
                       LoadAmdCrls((folder / "a.der").string()));
  EXPECT_THAT(from_file, SizeIs(1));
  EXPECT_THAT(LoadAmdCrls(folder.string()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("b.pem")));
  std::filesystem::remove(folder / "b.pem");
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Crl> from_folder, LoadAmdCrls(folder.string()));
  EXPECT_THAT(from_folder, SizeIs(1));
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Crl> none, LoadAmdCrls(""));
  EXPECT_THAT(none, IsEmpty());
  EXPECT_THAT(LoadAmdCrls((folder / "missing.der").string()),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace vouch::collateral
