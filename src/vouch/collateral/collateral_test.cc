#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/time.h"
#include "vouch/collateral/cache.h"
#include "vouch/collateral/pcs_client.h"
#include "vouch/collateral/pcs_test_server.h"
#include "vouch/collateral/provider.h"
#include "vouch/base/file.h"
#include "vouch/dcap/collateral_set.h"
#include "vouch/dcap/quote_builder.h"
#include "vouch/dcap/verify.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::collateral {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kSet[] = "intel-collateral/2025-06-19_dcap-qvl/";
constexpr char kQuote[] = "tdx/dcapqvl-v4-b0c06f.dat";
constexpr char kTime[] = "2025-06-20T12:00:00Z";

std::string Pem(const char* file) { return ToString(ReadVector(file)); }

// PcsReplyFor serves the 2025-06-19 dcap-qvl collateral in Intel's PCS v4
// shape; anything else is 404.
PcsTestReply PcsReplyFor(const std::string& target) {
  const std::string tcb_chain = UrlEncode(Pem("intel-certs/intel_sgx_tcb_signing_2025-2032.pem") +
                                          Pem("intel-certs/intel_sgx_root_ca.pem"));
  if (target == "/tdx/certification/v4/tcb?fmspc=B0C06F000000") {
    return {200, {{"TCB-Info-Issuer-Chain", tcb_chain}}, Pem("intel-collateral/2025-06-19_dcap-qvl/tcbinfo_tdx.json")};
  }
  if (target == "/tdx/certification/v4/qe/identity") {
    return {200, {{"SGX-Enclave-Identity-Issuer-Chain", tcb_chain}},
            Pem("intel-collateral/2025-06-19_dcap-qvl/qeidentity_tdx.json")};
  }
  if (target == "/sgx/certification/v4/pckcrl?ca=platform&encoding=der") {
    return {200,
            {{"SGX-PCK-CRL-Issuer-Chain",
              UrlEncode(Pem("intel-certs/intel_sgx_pck_platform_ca.pem") +
                        Pem("intel-certs/intel_sgx_root_ca.pem"))}},
            Pem("intel-collateral/2025-06-19_dcap-qvl/pck_platform_crl.der")};
  }
  if (target == "/sgx/certification/v4/rootcacrl") {
    return {200, {}, HexEncode(ReadVector("intel-certs/intel_sgx_root_ca_crl_2025-03-20.der"))};
  }
  return {404, {}, "not found"};
}

class CollateralTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VOUCH_REQUIRE_VECTORS_OR_SKIP();
    char pattern[] = "/tmp/vouch-collateral-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    now_ = *ParseRfc3339(kTime);
    auto selector = dcap::SelectorForQuote(ReadVector(kQuote));
    ASSERT_OK(selector.status());
    selector_ = *selector;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  PcsClientOptions ClientOptions(const PcsTestServer& server) {
    PcsClientOptions options;
    options.base_url = server.Url();
    options.max_attempts = 3;
    options.request_timeout = absl::Seconds(5);
    options.sleep = [this](absl::Duration d) { sleeps_.push_back(d); };
    return options;
  }

  std::string CacheDir() const { return dir_ + "/cache"; }
  size_t CachedFiles() const {
    std::error_code error;
    if (!std::filesystem::exists(CacheDir(), error)) {
      return 0;
    }
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(CacheDir())) {
      ++n;
    }
    return n;
  }

  std::string dir_;
  absl::Time now_;
  dcap::QuoteSelector selector_;
  std::vector<absl::Duration> sleeps_;
};

TEST_F(CollateralTest, FetchesPcsCollateralThatVerifiesTheQuote) {
  PcsTestServer server(PcsReplyFor);
  const PcsClient client(ClientOptions(server));
  ASSERT_OK_AND_ASSIGN(const dcap::QuoteCollateral collateral,
                       client.FetchQuoteCollateral(dcap::TeeType::kTdx, selector_.fmspc,
                                                   "Intel SGX PCK Platform CA"));
  EXPECT_EQ(collateral.tcb_info_issuer_chain.size(), 2u);
  EXPECT_EQ(collateral.pck_crl_issuer_chain.size(), 2u);
  EXPECT_FALSE(collateral.root_ca_crl.empty());

  dcap::VerifyOptions options;
  options.now = now_;
  ASSERT_OK_AND_ASSIGN(const dcap::VerifiedQuote verified,
                       dcap::VerifyQuote(ReadVector(kQuote), collateral, options));
  EXPECT_EQ(verified.tcb.status, dcap::TcbStatus::kUpToDate);
  EXPECT_THAT(server.targets(),
              ElementsAre("/tdx/certification/v4/tcb?fmspc=B0C06F000000",
                          "/tdx/certification/v4/qe/identity",
                          "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
                          "/sgx/certification/v4/rootcacrl"));
  EXPECT_THAT(sleeps_, IsEmpty());
}

TEST_F(CollateralTest, ProviderCachesAndRespectsNextUpdate) {
  PcsTestServer server(PcsReplyFor);
  ProviderOptions options;
  options.cache_dir = CacheDir();
  options.pcs = ClientOptions(server);
  ASSERT_OK_AND_ASSIGN(auto provider, CollateralProvider::Create(options));

  ASSERT_OK_AND_ASSIGN(const ProvidedCollateral first, provider->Get(selector_, now_));
  EXPECT_THAT(first.source, HasSubstr("pcs"));
  EXPECT_EQ(server.targets().size(), 4u);
  EXPECT_GT(CachedFiles(), 4u);

  ASSERT_OK_AND_ASSIGN(const ProvidedCollateral second, provider->Get(selector_, now_));
  EXPECT_THAT(second.source, HasSubstr("cache"));
  EXPECT_EQ(server.targets().size(), 4u);
  EXPECT_EQ(second.collateral.tcb_info_json, first.collateral.tcb_info_json);

  // After the TCB info's nextUpdate (2025-07-19) the cache is a miss, so
  // the four documents are fetched again. They have expired, too.
  EXPECT_THAT(provider->Get(selector_, *ParseRfc3339("2025-07-25T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(server.targets().size(), 8u);
}

TEST_F(CollateralTest, RequestAndFolderComeBeforeCacheAndService) {
  PcsTestServer server(PcsReplyFor);
  ProviderOptions options;
  options.collateral_dirs = {::vouch::testing::VectorsDir() + "/" + kSet};
  options.cache_dir = CacheDir();
  options.pcs = ClientOptions(server);
  ASSERT_OK_AND_ASSIGN(auto provider, CollateralProvider::Create(options));
  ASSERT_OK_AND_ASSIGN(const ProvidedCollateral folder, provider->Get(selector_, now_));
  EXPECT_EQ(folder.source, "folder");

  dcap::QuoteCollateral request;
  request.tcb_info_json = "{}";
  request.qe_identity_json = "{}";
  ASSERT_OK_AND_ASSIGN(const ProvidedCollateral from_request,
                       provider->Get(selector_, now_, &request));
  EXPECT_EQ(from_request.source, "request");
  EXPECT_THAT(server.targets(), IsEmpty());
}

TEST_F(CollateralTest, RetriesTooManyRequestsHonouringRetryAfter) {
  std::atomic<int> calls{0};
  PcsTestServer server([&](const std::string& target) {
    if (calls++ == 0) {
      return PcsTestReply{429, {{"Retry-After", "7"}}, "slow down"};
    }
    return PcsReplyFor(target);
  });
  const PcsClient client(ClientOptions(server));
  ASSERT_OK(client.FetchTcbInfo(dcap::TeeType::kTdx, selector_.fmspc).status());
  EXPECT_EQ(server.targets().size(), 2u);
  EXPECT_THAT(sleeps_, ElementsAre(absl::Seconds(7)));
}

TEST_F(CollateralTest, RetriesServerErrorsWithExponentialBackoff) {
  PcsTestServer server([](const std::string&) { return PcsTestReply{503, {}, "down"}; });
  PcsClientOptions options = ClientOptions(server);
  options.max_attempts = 4;
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Milliseconds(300);
  const PcsClient client(options);
  EXPECT_THAT(client.FetchQeIdentity(dcap::TeeType::kTdx),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  EXPECT_EQ(server.targets().size(), 4u);
  EXPECT_THAT(sleeps_, ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                                   absl::Milliseconds(300)));
}

TEST_F(CollateralTest, NotFoundIsNotRetried) {
  PcsTestServer server([](const std::string&) { return PcsTestReply{404, {}, "no such fmspc"}; });
  const PcsClient client(ClientOptions(server));
  EXPECT_THAT(client.FetchTcbInfo(dcap::TeeType::kTdx, selector_.fmspc),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(server.targets().size(), 1u);
  EXPECT_THAT(sleeps_, IsEmpty());
}

TEST_F(CollateralTest, OtherClientErrorsAreNotRetried) {
  PcsTestServer server([](const std::string&) { return PcsTestReply{400, {}, "bad"}; });
  const PcsClient client(ClientOptions(server));
  EXPECT_THAT(client.FetchRootCaCrl(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(server.targets().size(), 1u);
}

TEST_F(CollateralTest, TimeoutsAreRetried) {
  PcsTestServer server([](const std::string& target) {
    PcsTestReply reply = PcsReplyFor(target);
    reply.delay = absl::Milliseconds(600);
    return reply;
  });
  PcsClientOptions options = ClientOptions(server);
  options.max_attempts = 2;
  options.request_timeout = absl::Milliseconds(150);
  const PcsClient client(options);
  EXPECT_THAT(client.FetchRootCaCrl(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(CollateralTest, ErrorsAndGarbageAreNeverCached) {
  for (const PcsTestReply& bad : {PcsTestReply{500, {}, "{\"error\":\"internal\"}"},
                                  PcsTestReply{200, {}, "garbage body"},
                                  PcsTestReply{404, {}, "{}"}}) {
    PcsTestServer server([&](const std::string& target) {
      if (target.find("/qe/identity") != std::string::npos) {
        return bad;
      }
      return PcsReplyFor(target);
    });
    ProviderOptions options;
    options.cache_dir = CacheDir();
    options.pcs = ClientOptions(server);
    ASSERT_OK_AND_ASSIGN(auto provider, CollateralProvider::Create(options));
    EXPECT_FALSE(provider->Get(selector_, now_).ok()) << bad.status;
    EXPECT_EQ(CachedFiles(), 0u) << bad.status;
  }
}

TEST_F(CollateralTest, GarbageTcbInfoBodyIsInvalid) {
  PcsTestServer server([](const std::string&) {
    return PcsTestReply{200, {{"TCB-Info-Issuer-Chain", "x"}}, "<html>maintenance</html>"};
  });
  const PcsClient client(ClientOptions(server));
  EXPECT_THAT(client.FetchTcbInfo(dcap::TeeType::kTdx, selector_.fmspc),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(CollateralTest, FetchedCollateralWithBadSignatureIsNotCached) {
  PcsTestServer server([](const std::string& target) {
    PcsTestReply reply = PcsReplyFor(target);
    if (target.find("/tcb?") != std::string::npos) {
      reply.body.replace(reply.body.find("\"tcbEvaluationDataNumber\":17"), 28,
                         "\"tcbEvaluationDataNumber\":18");
    }
    return reply;
  });
  ProviderOptions options;
  options.cache_dir = CacheDir();
  options.pcs = ClientOptions(server);
  ASSERT_OK_AND_ASSIGN(auto provider, CollateralProvider::Create(options));
  EXPECT_THAT(provider->Get(selector_, now_), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(CachedFiles(), 0u);
}

TEST_F(CollateralTest, CacheStoreRejectsUnparsedParts) {
  const CollateralCache cache(CacheDir());
  dcap::QuoteCollateral collateral;
  collateral.tcb_info_json = "{\"error\":\"x\"}";
  EXPECT_THAT(cache.Store(collateral), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(CachedFiles(), 0u);
  EXPECT_THAT(cache.Lookup(selector_, now_), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CollateralTest, CacheKeepsNewerDocument) {
  const CollateralCache cache(CacheDir());
  dcap::CollateralSet october;
  ASSERT_OK(october.AddDirectory(::vouch::testing::VectorsDir() +
                                 "/intel-collateral/2025-10_automata"));
  dcap::CollateralSet june;
  ASSERT_OK(june.AddDirectory(::vouch::testing::VectorsDir() +
                              "/intel-collateral/2025-06_automata"));
  ASSERT_OK(cache.StoreSet(october));
  ASSERT_OK(cache.StoreSet(june));
  ASSERT_OK_AND_ASSIGN(const dcap::CollateralSet loaded, cache.Load());
  bool found = false;
  for (const auto& entry : loaded.tcb_infos()) {
    if (HexEncode(entry.parsed.fmspc) == "00806f050000") {
      EXPECT_EQ(entry.parsed.issue_date_text, "2025-10-19T17:48:50Z");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(UrlDecodeTest, DecodesEscapes) {
  EXPECT_EQ(*UrlDecode("-----BEGIN%20CERTIFICATE-----%0AAB%2Bc"), "-----BEGIN CERTIFICATE-----\nAB+c");
  EXPECT_THAT(UrlDecode("abc%2"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(UrlDecode("abc%zz"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Quotes with an encrypted PPID (certification data type 3), under a test
// PCK chain: the PCK certificate comes from folders, the cache or PCS.
class PckCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vouch-pck-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ASSERT_OK_AND_ASSIGN(chain_, dcap::testing::MakeTestPckChain());
    dcap::testing::QuoteSpec spec;
    spec.pck_data_type = 3;
    ASSERT_OK_AND_ASSIGN(const dcap::testing::BuiltQuote built,
                         dcap::testing::BuildQuote(spec, chain_));
    quote_ = built.quote;
    absl::StatusOr<dcap::Quote> parsed = dcap::ParseQuote(quote_);
    ASSERT_OK(parsed.status());
    const std::optional<dcap::EncryptedPpid>& ppid = parsed->qe.encrypted_ppid;
    ASSERT_TRUE(ppid.has_value());
    ppid_hex_ = HexEncode(ppid.value().encrypted_ppid);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  ProviderOptions Options(const PcsTestServer* server) const {
    ProviderOptions options;
    options.cache_dir = dir_ + "/cache";
    options.trusted_root_spki_sha256 = {chain_.RootSpkiSha256()};
    if (server != nullptr) {
      PcsClientOptions pcs;
      pcs.base_url = server->Url();
      pcs.max_attempts = 1;
      options.pcs = pcs;
    }
    return options;
  }

  // Reply serves `pck` with the test chain's CA and root as issuer chain.
  PcsTestReply Reply(const std::string& target, const crypto::Certificate& pck) const {
    if (target.rfind("/sgx/certification/v4/pckcert?", 0) != 0) {
      return {404, {}, "not found"};
    }
    return {200,
            {{"SGX-PCK-Certificate-Issuer-Chain", UrlEncode(chain_.ca.Pem() + chain_.root.Pem())}},
            pck.Pem()};
  }

  std::string dir_;
  dcap::testing::TestPckChain chain_;
  Bytes quote_;
  std::string ppid_hex_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(PckCertificateTest, FetchesFromPcsThenServesFromCache) {
  PcsTestServer server([this](const std::string& target) { return Reply(target, chain_.pck); });
  ASSERT_OK_AND_ASSIGN(const auto provider, CollateralProvider::Create(Options(&server)));

  ASSERT_OK_AND_ASSIGN(const ProvidedPckCertificates fetched,
                       provider->GetPckCertificates(quote_, now_));
  EXPECT_EQ(fetched.source, "pcs " + server.Url());
  ASSERT_EQ(fetched.certificates.size(), 3u);
  EXPECT_EQ(fetched.certificates.front().Der(), chain_.pck.Der());
  ASSERT_EQ(server.targets().size(), 1u);
  EXPECT_EQ(server.targets()[0], "/sgx/certification/v4/pckcert?encrypted_ppid=" + ppid_hex_ +
                                     "&cpusvn=01010101010101010101010101010101"
                                     "&pcesvn=0d00&pceid=0000");  // PCE SVN 13, little-endian

  ASSERT_OK_AND_ASSIGN(const ProvidedPckCertificates cached,
                       provider->GetPckCertificates(quote_, now_));
  EXPECT_EQ(cached.source, "cache " + dir_ + "/cache");
  EXPECT_EQ(server.targets().size(), 1u);

  // The chain from the provider completes the quote's verification.
  dcap::VerifyOptions options;
  options.now = now_;
  options.trusted_root_spki_sha256 = {chain_.RootSpkiSha256()};
  options.pck_certificates = cached.certificates;
  EXPECT_OK(dcap::VerifyQuoteSignatures(quote_, {}, options).status());
}

TEST_F(PckCertificateTest, OtherPlatformsPckIsRejected) {
  ASSERT_OK_AND_ASSIGN(const dcap::testing::TestPckChain other, dcap::testing::MakeTestPckChain());
  PcsTestServer server([this, &other](const std::string& target) {
    return Reply(target, other.pck);
  });
  ASSERT_OK_AND_ASSIGN(const auto provider, CollateralProvider::Create(Options(&server)));
  EXPECT_THAT(provider->GetPckCertificates(quote_, now_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("pck certificate from pcs")));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cache"));
}

TEST_F(PckCertificateTest, PckUnderUntrustedRootIsRejected) {
  PcsTestServer server([this](const std::string& target) { return Reply(target, chain_.pck); });
  ProviderOptions options = Options(&server);
  options.trusted_root_spki_sha256.clear();  // Intel's root only
  ASSERT_OK_AND_ASSIGN(const auto provider, CollateralProvider::Create(options));
  EXPECT_THAT(provider->GetPckCertificates(quote_, now_),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not the pinned Intel SGX Root CA")));
}

TEST_F(PckCertificateTest, FolderComesFirst) {
  std::filesystem::create_directories(dir_ + "/folder");
  ASSERT_OK(WriteFileAtomic(dir_ + "/folder/pck.pem", AsBytes(chain_.Pem())));
  PcsTestServer server([this](const std::string& target) { return Reply(target, chain_.pck); });
  ProviderOptions options = Options(&server);
  options.collateral_dirs = {dir_ + "/folder"};
  ASSERT_OK_AND_ASSIGN(const auto provider, CollateralProvider::Create(options));
  ASSERT_OK_AND_ASSIGN(const ProvidedPckCertificates found,
                       provider->GetPckCertificates(quote_, now_));
  EXPECT_EQ(found.source, "folder");
  EXPECT_THAT(server.targets(), IsEmpty());
}

TEST_F(PckCertificateTest, NoSourceIsNotFound) {
  ASSERT_OK_AND_ASSIGN(const auto provider, CollateralProvider::Create(Options(nullptr)));
  EXPECT_THAT(provider->GetPckCertificates(quote_, now_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no collateral service")));
}

TEST_F(PckCertificateTest, QuoteWithChainIsInvalidArgument) {
  dcap::testing::QuoteSpec spec;
  ASSERT_OK_AND_ASSIGN(const dcap::testing::BuiltQuote built,
                       dcap::testing::BuildQuote(spec, chain_));
  ASSERT_OK_AND_ASSIGN(const auto provider, CollateralProvider::Create(Options(nullptr)));
  EXPECT_THAT(provider->GetPckCertificates(built.quote, now_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("carries its PCK")));
}

}  // namespace
}  // namespace vouch::collateral
