// The unlock flow against a fake vouch server on 127.0.0.1. The fake server
// reads the agent's requests as the contract defines them: it verifies the
// simulated report with snp::VerifyReport, checks the REPORT_DATA binding,
// wraps the key to the ephemeral JWK from the runtime data, and signs the
// release with broker::SignReleaseResponse.
#include "vouch/agent/unlock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "vouch/agent/attest_client.h"
#include "vouch/agent/luks.h"
#include "vouch/agent/platform.h"
#include "vouch/agent/test_http_server.h"
#include "vouch/agent/test_support.h"
#include "vouch/base/bytes.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

constexpr uint64_t kImageBytes = 20 << 20;

std::string JwtPart(const json& value) { return Base64UrlEncode(AsBytes(value.dump())); }

// FakeVouchServer serves /attest/SevSnpVm, /keys/<name>/release and /certs
// for one key. Its token is unsigned: the agent only reads it for display
// and passes it back, as with the real server.
class FakeVouchServer {
 public:
  FakeVouchServer(SecretBytes key, std::vector<snp::TrustedRoot> roots)
      : key_(std::move(key)), roots_(std::move(roots)) {
    signing_key_ = *crypto::GenerateEcKey("P-256");
    server_ = std::make_unique<TestHttpServer>(
        [this](const TestHttpRequest& request) { return Handle(request); });
  }

  std::string Url() const { return server_->Url(); }

  // Mutators for failure cases.
  void DenyRelease(std::string message) {
    std::lock_guard<std::mutex> lock(mu_);
    deny_release_ = std::move(message);
  }
  void SignReleaseWithOtherKey() {
    std::lock_guard<std::mutex> lock(mu_);
    other_signer_ = true;
  }
  // FailAttests makes the next `count` attestations answer 503.
  void FailAttests(int count) {
    std::lock_guard<std::mutex> lock(mu_);
    failing_attests_ = count;
  }
  // SetKeyTags puts `tags` into response.key.tags of the release.
  void SetKeyTags(json tags) {
    std::lock_guard<std::mutex> lock(mu_);
    tags_ = std::move(tags);
  }

  std::vector<std::string> Targets() {
    std::lock_guard<std::mutex> lock(mu_);
    return targets_;
  }
  json LastAttestRequest() {
    std::lock_guard<std::mutex> lock(mu_);
    return attest_request_;
  }

 private:
  static TestHttpReply Error(int status, std::string_view code, std::string_view message) {
    return {status, "application/json",
            json{{"error", {{"code", code}, {"message", message}}}}.dump()};
  }

  TestHttpReply Handle(const TestHttpRequest& request) {
    std::lock_guard<std::mutex> lock(mu_);
    targets_.push_back(request.method + " " + request.target);
    if (request.method == "POST" && request.target == "/attest/SevSnpVm") {
      if (failing_attests_ > 0) {
        --failing_attests_;
        return Error(503, "ServiceUnavailable", "starting up");
      }
      return Attest(request.body);
    }
    if (request.method == "POST" && request.target == "/keys/disk/release") {
      return Release(request.body);
    }
    if (request.method == "GET" && request.target == "/certs") {
      json jwk = *crypto::PublicKeyToJwk(signing_key_.get());
      jwk["kid"] = *crypto::JwkThumbprint(signing_key_.get());
      return {200, "application/json", json{{"keys", json::array({jwk})}}.dump()};
    }
    return Error(404, "NotFound", "no route for " + request.target);
  }

  TestHttpReply Attest(const std::string& body) {
    attest_request_ = json::parse(body, nullptr, false);
    const json& request = attest_request_;
    const absl::StatusOr<Bytes> report_json = Base64UrlDecode(request["report"].get<std::string>());
    const json report = json::parse(ToString(*report_json), nullptr, false);
    const Bytes raw_report = *Base64UrlDecode(report["SnpReport"].get<std::string>());
    const Bytes chain = *Base64UrlDecode(report["VcekCertChain"].get<std::string>());
    const Bytes runtime = *Base64UrlDecode(request["runtimeData"]["data"].get<std::string>());

    absl::StatusOr<std::vector<crypto::Certificate>> certificates =
        crypto::ParseCertificates(chain);
    if (!certificates.ok()) {
      return Error(400, "InvalidRequest", std::string(certificates.status().message()));
    }
    snp::VerifyOptions options;
    options.roots = roots_;
    absl::StatusOr<snp::VerifiedReport> verified =
        snp::VerifyReport(raw_report, *certificates, options);
    if (!verified.ok()) {
      return Error(400, "InvalidRequest", std::string(verified.status().message()));
    }
    const Bytes digest = crypto::Sha256(runtime);
    if (!std::equal(digest.begin(), digest.end(), verified->report.report_data.begin())) {
      return Error(400, "InvalidRequest", "report_data does not match SHA-256(runtime data)");
    }
    runtime_ = json::parse(ToString(runtime), nullptr, false);

    const json header = {{"alg", "none"}, {"typ", "JWT"}};
    const json claims = {{"iss", Url()},
                         {"exp", 1893456000},  // 2030-01-01T00:00:00Z
                         {"x-vouch-simulated", true},
                         {"x-ms-runtime", runtime_}};
    token_ = JwtPart(header) + "." + JwtPart(claims) + ".";
    return {200, "application/json", json{{"token", token_}}.dump()};
  }

  TestHttpReply Release(const std::string& body) {
    const json request = json::parse(body, nullptr, false);
    if (!request.is_object() || request.value("target", "") != token_ ||
        request.value("enc", "") != "CKM_RSA_AES_KEY_WRAP") {
      return Error(400, "InvalidRequest", "release request does not carry the token and enc");
    }
    if (!deny_release_.empty()) {
      return Error(403, "AccessDenied", deny_release_);
    }
    const json& jwk = runtime_["keys"][0];
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> target = crypto::PublicKeyFromJwk(jwk);
    if (!target.ok()) {
      return Error(400, "InvalidRequest", std::string(target.status().message()));
    }

    broker::ReleasedKey released;
    released.kid = Url() + "/keys/disk/3";
    released.target_kid = jwk["kid"].get<std::string>();
    released.wrapped = *crypto::RsaAesKeyWrap(target->get(), crypto::HashAlg::kSha1, key_.Expose());
    released.created = absl::FromUnixSeconds(1764800000);
    released.updated = released.created;
    released.release_policy = R"({"version":"1.0.0","anyOf":[]})";

    crypto::SslPtr<EVP_PKEY> other;
    EVP_PKEY* signer = signing_key_.get();
    if (other_signer_) {
      other = *crypto::GenerateEcKey("P-256");
      signer = other.get();
    }
    json payload = broker::BuildReleasePayload(released);
    if (!tags_.is_null()) {
      payload["response"]["key"]["tags"] = tags_;
    }
    const json value = *broker::SignReleaseResponse(signer, payload);
    return {200, "application/json", value.dump()};
  }

  SecretBytes key_;
  std::vector<snp::TrustedRoot> roots_;
  crypto::SslPtr<EVP_PKEY> signing_key_;

  std::mutex mu_;
  std::string token_;
  json runtime_;
  json attest_request_;
  std::string deny_release_;
  bool other_signer_ = false;
  int failing_attests_ = 0;
  json tags_;
  std::vector<std::string> targets_;
  std::unique_ptr<TestHttpServer> server_;  // Last: stops before the members above go.
};

// UnlockTest shares one simulated chain (two RSA-4096 keys take seconds).
class UnlockTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_dir_ = new ScopedTempDir(); }
  static void TearDownTestSuite() {
    delete shared_dir_;
    shared_dir_ = nullptr;
  }

  void SetUp() override {
    PlatformOptions options;
    options.data_dir = shared_dir_->File("data");
    ASSERT_OK_AND_ASSIGN(platform_, OpenPlatform("simulated-snp", options));
    ASSERT_OK_AND_ASSIGN(const snp::SimulatedSnp simulated,
                         snp::SimulatedSnp::LoadOrCreate(options.data_dir + "/simulated-snp"));
    roots_ = {simulated.Root()};

    image_ = dir_.File("disk.img");
    ASSERT_OK(CreateImageFile(image_, kImageBytes));
    ASSERT_OK(FormatLuks2(image_, key_));
  }

  UnlockOptions Options(const FakeVouchServer& server) const {
    UnlockOptions options;
    options.server_url = server.Url();
    options.key_name = "disk";
    options.volume_path = image_;
    options.mapped_name = "vouch-unlock-test";
    return options;
  }

  static ScopedTempDir* shared_dir_;
  ScopedTempDir dir_;
  SecretBytes key_ = crypto::RandomSecret(32);
  std::unique_ptr<Platform> platform_;
  std::vector<snp::TrustedRoot> roots_;
  std::string image_;
};
ScopedTempDir* UnlockTest::shared_dir_ = nullptr;

TEST_F(UnlockTest, FullFlowOpensVolume) {
  FakeVouchServer server(key_.Clone(), roots_);
  std::vector<std::string> lines;
  const auto progress = [&](UnlockStep step, std::string_view message) {
    lines.push_back(std::string(UnlockStepName(step)) + ": " + std::string(message));
  };

  HttpClient http;
  ASSERT_OK_AND_ASSIGN(const UnlockResult result,
                       RunUnlock(*platform_, http, Options(server), progress));
  EXPECT_EQ(result.token_issuer, server.Url());
  EXPECT_EQ(result.key_version, "3");
  EXPECT_EQ(result.key_kid, server.Url() + "/keys/disk/3");
  EXPECT_EQ(result.open.keyslot, 0);

  ASSERT_EQ(lines.size(), 6u);
  EXPECT_THAT(lines[0], HasSubstr("ephemeral key: RSA-3072 key made"));
  EXPECT_THAT(lines[1], HasSubstr("evidence: simulated-snp snp report of 1184 bytes"));
  EXPECT_THAT(lines[2], HasSubstr("attest: token issued by " + server.Url() +
                                  " (expires 2030-01-01T00:00:00Z)"));
  EXPECT_THAT(lines[3], HasSubstr("release: key disk version 3 released (wrapped with "
                                  "CKM_RSA_AES_KEY_WRAP"));
  EXPECT_THAT(lines[4], HasSubstr("unwrap: 256-bit key unwrapped"));
  EXPECT_THAT(lines[5], HasSubstr("unlock: keyslot 0 opened"));

  EXPECT_THAT(server.Targets(), ::testing::ElementsAre("POST /attest/SevSnpVm",
                                                       "POST /keys/disk/release", "GET /certs"));
}

TEST_F(UnlockTest, AttestRequestHasContractShape) {
  FakeVouchServer server(key_.Clone(), roots_);
  HttpClient http;
  ASSERT_OK(RunUnlock(*platform_, http, Options(server), nullptr).status());

  const json request = server.LastAttestRequest();
  ASSERT_TRUE(request.is_object());
  EXPECT_TRUE(request["report"].is_string());
  EXPECT_EQ(request["runtimeData"]["dataType"], "JSON");
  EXPECT_FALSE(request.contains("nonce"));

  const Bytes runtime = *Base64UrlDecode(request["runtimeData"]["data"].get<std::string>());
  const json runtime_json = json::parse(ToString(runtime));
  ASSERT_EQ(runtime_json["keys"].size(), 1u);
  const json& jwk = runtime_json["keys"][0];
  EXPECT_EQ(jwk["kty"], "RSA");
  EXPECT_EQ(jwk["kid"], "TpmEphemeralEncryptionKey");
  EXPECT_EQ(jwk["key_ops"], json::array({"encrypt"}));
  EXPECT_FALSE(jwk.contains("d"));
  // RSA-3072: a 384-byte modulus is 512 base64url characters.
  EXPECT_EQ(jwk["n"].get<std::string>().size(), 512u);

  const json report = json::parse(ToString(*Base64UrlDecode(request["report"].get<std::string>())));
  EXPECT_EQ(Base64UrlDecode(report["SnpReport"].get<std::string>())->size(), 1184u);
  const std::string chain = ToString(*Base64UrlDecode(report["VcekCertChain"].get<std::string>()));
  EXPECT_THAT(chain, HasSubstr("-----BEGIN CERTIFICATE-----"));
}

TEST_F(UnlockTest, ReleaseDeniedNamesStepAndServerMessage) {
  FakeVouchServer server(key_.Clone(), roots_);
  server.DenyRelease("release policy: claim x-ms-sevsnpvm-vmpl equals 0, found 2");
  HttpClient http;
  EXPECT_THAT(RunUnlock(*platform_, http, Options(server), nullptr),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("release: POST " + server.Url() +
                                 "/keys/disk/release: HTTP 403 AccessDenied: release policy: "
                                 "claim x-ms-sevsnpvm-vmpl equals 0, found 2")));
}

TEST_F(UnlockTest, ReleaseSignedByUnknownKeyRejected) {
  FakeVouchServer server(key_.Clone(), roots_);
  server.SignReleaseWithOtherKey();
  HttpClient http;
  EXPECT_THAT(RunUnlock(*platform_, http, Options(server), nullptr),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("release: ")));
}

TEST_F(UnlockTest, WrongKeyFailsAtUnlockStep) {
  FakeVouchServer server(crypto::RandomSecret(32), roots_);
  HttpClient http;
  EXPECT_THAT(
      RunUnlock(*platform_, http, Options(server), nullptr),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("unlock: luks2: " + image_ + ": the key did not open any keyslot")));
}

TEST_F(UnlockTest, AttestRejectedWithoutSimulatedRoot) {
  FakeVouchServer server(key_.Clone(), snp::PinnedAmdRoots());
  HttpClient http;
  EXPECT_THAT(RunUnlock(*platform_, http, Options(server), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("attest: POST " + server.Url() +
                                 "/attest/SevSnpVm: HTTP 400 InvalidRequest")));
}

TEST_F(UnlockTest, ServerDownFailsAtAttest) {
  std::string url;
  {
    TestHttpServer closed([](const TestHttpRequest&) { return TestHttpReply{}; });
    url = closed.Url();
  }
  UnlockOptions options;
  options.server_url = url;
  options.key_name = "disk";
  options.volume_path = image_;
  HttpClient http;
  EXPECT_THAT(RunUnlock(*platform_, http, options, nullptr),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("attest: POST " + url)));
}

// FakeClock advances only when the retry loop sleeps.
struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1764800000);
  std::vector<absl::Duration> sleeps;

  RetryOptions Retry(absl::Duration retry_for) {
    RetryOptions retry;
    retry.retry_for = retry_for;
    retry.initial_backoff = absl::Seconds(1);
    retry.max_backoff = absl::Seconds(4);
    retry.sleep = [this](absl::Duration d) {
      sleeps.push_back(d);
      now += d;
    };
    retry.now = [this] { return now; };
    return retry;
  }
};

TEST_F(UnlockTest, RetryGivesUpAfterRetryFor) {
  std::string url;
  {
    TestHttpServer closed([](const TestHttpRequest&) { return TestHttpReply{}; });
    url = closed.Url();
  }
  UnlockOptions options;
  options.server_url = url;
  options.key_name = "disk";
  options.volume_path = image_;
  HttpClient http;
  FakeClock clock;
  int retries = 0;
  EXPECT_THAT(
      RunUnlockWithRetry(*platform_, http, options, clock.Retry(absl::Seconds(10)), nullptr,
                         [&](int, const absl::Status&, absl::Duration) { ++retries; }),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("gave up after 5 attempts in 10s")));
  EXPECT_EQ(retries, 4);
  EXPECT_EQ(clock.sleeps, (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2),
                                                        absl::Seconds(4), absl::Seconds(3)}));
}

TEST_F(UnlockTest, RetrySucceedsOnceServerIsUp) {
  FakeVouchServer server(key_.Clone(), roots_);
  server.FailAttests(2);
  HttpClient http;
  FakeClock clock;
  ASSERT_OK_AND_ASSIGN(const UnlockResult result,
                       RunUnlockWithRetry(*platform_, http, Options(server),
                                          clock.Retry(absl::Minutes(1)), nullptr));
  EXPECT_EQ(result.open.keyslot, 0);
  EXPECT_EQ(clock.sleeps.size(), 2u);
}

TEST_F(UnlockTest, NoRetryAfterPolicyDenial) {
  FakeVouchServer server(key_.Clone(), roots_);
  server.DenyRelease("policy says no");
  HttpClient http;
  FakeClock clock;
  EXPECT_THAT(RunUnlockWithRetry(*platform_, http, Options(server),
                                 clock.Retry(absl::Minutes(1)), nullptr),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(clock.sleeps.empty());
}

TEST_F(UnlockTest, VolumeUuidChecked) {
  FakeVouchServer server(key_.Clone(), roots_);
  ASSERT_OK_AND_ASSIGN(const Luks2Header header, ReadLuks2Header(image_));
  UnlockOptions options = Options(server);
  options.volume_uuid = header.uuid;
  std::string last;
  HttpClient http;
  ASSERT_OK_AND_ASSIGN(
      const UnlockResult result,
      RunUnlock(*platform_, http, options,
                [&](UnlockStep, std::string_view message) { last = std::string(message); }));
  EXPECT_EQ(result.volume_uuid, header.uuid);
  EXPECT_THAT(last, HasSubstr("header checked, volume UUID " + header.uuid));

  options.volume_uuid = "11111111-2222-3333-4444-555555555555";
  EXPECT_THAT(RunUnlock(*platform_, http, options, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("unlock: luks2: " + image_ + ": volume UUID " + header.uuid +
                                 ", but the key is for volume 11111111-")));
}

TEST_F(UnlockTest, KeyTagSetsExpectedUuid) {
  FakeVouchServer server(key_.Clone(), roots_);
  server.SetKeyTags({{"luks2-uuid", "11111111-2222-3333-4444-555555555555"}});
  HttpClient http;
  EXPECT_THAT(RunUnlock(*platform_, http, Options(server), nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("but the key is for volume 11111111-")));

  ASSERT_OK_AND_ASSIGN(const Luks2Header header, ReadLuks2Header(image_));
  server.SetKeyTags({{"luks2-uuid", header.uuid}});
  ASSERT_OK_AND_ASSIGN(const UnlockResult result, RunUnlock(*platform_, http, Options(server), nullptr));
  EXPECT_EQ(result.volume_uuid, header.uuid);

  UnlockOptions options = Options(server);
  options.volume_uuid = "11111111-2222-3333-4444-555555555555";
  EXPECT_THAT(RunUnlock(*platform_, http, options, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("the key's tag luks2-uuid names volume " + header.uuid)));
}

TEST(RuntimeDataTest, ReportDataIsSha256ThenZeros) {
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> key, crypto::GenerateRsaKey(2048));
  ASSERT_OK_AND_ASSIGN(const RuntimeData runtime, MakeRuntimeData(key.get()));
  const Bytes digest = crypto::Sha256(AsBytes(runtime.json));
  ASSERT_EQ(runtime.report_data.size(), kReportDataBytes);
  EXPECT_EQ(Bytes(runtime.report_data.begin(), runtime.report_data.begin() + 32), digest);
  EXPECT_TRUE(IsAllZero(ByteSpan(runtime.report_data).subspan(32)));
  EXPECT_EQ(runtime.report_data, ReportDataFor(AsBytes(runtime.json)));
}

TEST(RuntimeDataTest, RejectsEcKey) {
  ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> key, crypto::GenerateEcKey("P-256"));
  EXPECT_THAT(MakeRuntimeData(key.get()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be RSA")));
}

TEST(AttestRequestTest, RawReportWithoutCertificatesAndNonce) {
  Evidence evidence;
  evidence.kind = "snp";
  evidence.report = Bytes(1184, 0x5a);
  ASSERT_OK_AND_ASSIGN(const std::string body,
                       BuildSnpAttestRequest(evidence, R"({"keys":[]})", "n-1"));
  const json request = json::parse(body);
  EXPECT_EQ(*Base64UrlDecode(request["report"].get<std::string>()), evidence.report);
  EXPECT_EQ(ToString(*Base64UrlDecode(request["runtimeData"]["data"].get<std::string>())),
            R"({"keys":[]})");
  EXPECT_EQ(request["nonce"], "n-1");
}

TEST(AttestRequestTest, RejectsOtherEvidenceKinds) {
  Evidence evidence;
  evidence.kind = "tdx";
  EXPECT_THAT(BuildSnpAttestRequest(evidence, "{}", std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want snp")));
}

TEST(SummarizeTokenTest, ReadsIssuerExpiryAndSimulatedClaim) {
  const std::string jwt =
      JwtPart({{"alg", "ES256"}}) + "." +
      JwtPart({{"iss", "http://127.0.0.1:9"}, {"exp", 1764806400}, {"x-vouch-simulated", true}}) +
      ".c2ln";
  ASSERT_OK_AND_ASSIGN(const TokenSummary summary, SummarizeToken(jwt));
  EXPECT_EQ(summary.issuer, "http://127.0.0.1:9");
  EXPECT_EQ(summary.expires, absl::FromUnixSeconds(1764806400));
  EXPECT_TRUE(summary.simulated);
}

TEST(SummarizeTokenTest, RejectsMalformedTokens) {
  EXPECT_THAT(SummarizeToken("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SummarizeToken("a.!!!.c"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SummarizeToken("a." + Base64UrlEncode(AsBytes("[1]")) + ".c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
}

}  // namespace
}  // namespace vouch::agent
