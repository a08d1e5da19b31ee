#include "vouch/server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "vouch/base/file.h"
#include "vouch/server/admin_auth.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::server {
namespace {

using ::testing::HasSubstr;
using vouch::testing::StatusIs;

// SHA-256("test-admin-token").
const std::string kTokenHash = HashAdminToken("test-admin-token");

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/vouch_server_config_" + std::to_string(getpid()) + "_" + name;
}

Config ValidConfig() {
  Config config;
  config.data_dir = "/tmp/vouch-data";
  return config;
}

TEST(ParseListenAddressTest, ParsesIpv4AndIpv6) {
  ASSERT_OK_AND_ASSIGN(const ListenAddress v4, ParseListenAddress("127.0.0.1:8443"));
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 8443);
  ASSERT_OK_AND_ASSIGN(const ListenAddress v6, ParseListenAddress("[::1]:0"));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
}

TEST(ParseListenAddressTest, RejectsMalformed) {
  for (const char* text : {"127.0.0.1", "127.0.0.1:", ":80", "::1:80", "[::1]80", "[::1]",
                           "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x"}) {
    EXPECT_THAT(ParseListenAddress(text), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
}

TEST(MergeConfigJsonTest, SetsEveryMember) {
  Config config;
  const nlohmann::json json = {{"listen", "127.0.0.1:9000"},
                               {"data_dir", "/d"},
                               {"tls_cert", "/c.pem"},
                               {"tls_key", "/k.pem"},
                               {"admin_token_sha256", kTokenHash},
                               {"issuer", "https://vouch.test"},
                               {"token_lifetime_seconds", 60},
                               {"allow_simulated_snp", true},
                               {"allow_debug", true},
                               {"max_vmpl", 2},
                               {"collateral_dir", "/col"},
                               {"threads", 3},
                               {"max_body_bytes", 2048},
                               {"io_timeout_seconds", 5},
                               {"max_connections", 7}};
  ASSERT_OK(MergeConfigJson(json, config));

  EXPECT_EQ(config.listen, "127.0.0.1:9000");
  EXPECT_EQ(config.data_dir, "/d");
  EXPECT_EQ(config.tls_cert_file, "/c.pem");
  EXPECT_EQ(config.tls_key_file, "/k.pem");
  EXPECT_EQ(config.admin_token_sha256, kTokenHash);
  EXPECT_EQ(config.issuer, "https://vouch.test");
  EXPECT_EQ(config.token_lifetime, absl::Seconds(60));
  EXPECT_TRUE(config.allow_simulated_snp);
  EXPECT_TRUE(config.allow_debug);
  EXPECT_EQ(config.max_vmpl, 2u);
  EXPECT_EQ(config.collateral_dir, "/col");
  EXPECT_EQ(config.threads, 3);
  EXPECT_EQ(config.max_body_bytes, 2048u);
  EXPECT_EQ(config.io_timeout, absl::Seconds(5));
  EXPECT_EQ(config.max_connections, 7);
}

TEST(MergeConfigJsonTest, RejectsUnknownMembersAndWrongTypes) {
  Config config;
  EXPECT_THAT(MergeConfigJson({{"allow_simulated", true}}, config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown member")));
  EXPECT_THAT(MergeConfigJson({{"allow_debug", "yes"}}, config),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MergeConfigJson({{"threads", -1}}, config),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MergeConfigJson({{"max_vmpl", 4}}, config),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MergeConfigJson({{"listen", 8443}}, config),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MergeConfigJson(nlohmann::json::array(), config),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MergeConfigJsonTest, ReadsTrustedAuthorities) {
  Config config;
  ASSERT_OK(MergeConfigJson(nlohmann::json::parse(R"({"trusted_authorities": [
      {"issuer": "https://a.example.test", "jwks_file": "/etc/vouch/a.json"}]})"),
                            config));
  ASSERT_EQ(config.trusted_authorities.size(), 1u);
  EXPECT_EQ(config.trusted_authorities[0].issuer, "https://a.example.test");
  EXPECT_EQ(config.trusted_authorities[0].jwks_file, "/etc/vouch/a.json");

  for (const char* bad : {R"({"trusted_authorities": {}})",
                          R"({"trusted_authorities": [{"issuer": "x"}]})",
                          R"({"trusted_authorities": [{"issuer": 1, "jwks_file": "f"}]})",
                          R"({"trusted_authorities": [{"issuer": "x", "jwks_file": "f", "y": 1}]})"}) {
    Config other;
    EXPECT_THAT(MergeConfigJson(nlohmann::json::parse(bad), other),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trusted_authorities")))
        << bad;
  }
}

TEST(ParseTrustedAuthorityTest, SplitsAtFirstEquals) {
  ASSERT_OK_AND_ASSIGN(const TrustedAuthorityFile trusted,
                       ParseTrustedAuthority("https://a.example.test=/etc/a=b.json"));
  EXPECT_EQ(trusted.issuer, "https://a.example.test");
  EXPECT_EQ(trusted.jwks_file, "/etc/a=b.json");
  for (const char* bad : {"https://a.example.test", "=file", "https://a.example.test="}) {
    EXPECT_THAT(ParseTrustedAuthority(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(LoadConfigFileTest, ReadsFileAndRejectsInvalidJson) {
  const std::string path = TempPath("config.json");
  ASSERT_OK(WriteFileAtomic(path, AsBytes(R"({"data_dir": "/x", "threads": 4})")));
  ASSERT_OK_AND_ASSIGN(const Config config, LoadConfigFile(path));
  EXPECT_EQ(config.data_dir, "/x");
  EXPECT_EQ(config.threads, 4);
  EXPECT_EQ(config.listen, "127.0.0.1:8443");

  ASSERT_OK(WriteFileAtomic(path, AsBytes(R"({"data_dir": )")));
  EXPECT_THAT(LoadConfigFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid JSON")));
  unlink(path.c_str());
}

TEST(LoadConfigFileTest, HashesAdminTokenFile) {
  const std::string token_path = TempPath("token");
  ASSERT_OK(WriteFileAtomic(token_path, AsBytes("test-admin-token\n"), 0600));
  Config config;
  ASSERT_OK(MergeConfigJson({{"admin_token_file", token_path}}, config));
  EXPECT_EQ(config.admin_token_sha256, kTokenHash);

  ASSERT_OK(WriteFileAtomic(token_path, AsBytes(" \n"), 0600));
  EXPECT_THAT(ReadAdminTokenFile(token_path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  unlink(token_path.c_str());
}

TEST(ValidateConfigTest, AcceptsDefaultsWithDataDir) {
  EXPECT_OK(ValidateConfig(ValidConfig()));
  EXPECT_THAT(ValidateConfig(Config()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data folder")));
}

TEST(ValidateConfigTest, RejectsOutOfRangeValues) {
  std::vector<Config> bad(7, ValidConfig());
  bad[0].admin_token_sha256 = "abc";
  bad[1].admin_token_sha256 = std::string(64, 'G');
  bad[2].tls_cert_file = "/c.pem";
  bad[3].token_lifetime = absl::Seconds(1);
  bad[4].threads = 0;
  bad[5].max_body_bytes = 10;
  bad[6].listen = "nowhere";
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_THAT(ValidateConfig(bad[i]), StatusIs(absl::StatusCode::kInvalidArgument)) << i;
  }
}

TEST(ToHttpServerOptionsTest, CopiesTransportSettings) {
  Config config = ValidConfig();
  config.listen = "[::1]:1234";
  config.threads = 3;
  config.max_body_bytes = 5000;
  ASSERT_OK_AND_ASSIGN(const HttpServerOptions options, ToHttpServerOptions(config));
  EXPECT_EQ(options.host, "::1");
  EXPECT_EQ(options.port, 1234);
  EXPECT_EQ(options.num_threads, 3);
  EXPECT_EQ(options.max_body_bytes, 5000u);
}

TEST(DescribeConfigTest, OmitsAdminHash) {
  Config config = ValidConfig();
  config.admin_token_sha256 = kTokenHash;
  const std::string description = DescribeConfig(config);
  EXPECT_THAT(description, HasSubstr("admin_token=set"));
  EXPECT_THAT(description, ::testing::Not(HasSubstr(kTokenHash)));
}

HttpRequest WithAuthorization(const std::string& value) {
  HttpRequest request;
  request.headers["authorization"] = value;
  return request;
}

TEST(CheckAdminBearerTest, AcceptsMatchingToken) {
  EXPECT_OK(CheckAdminBearer(WithAuthorization("Bearer test-admin-token"), kTokenHash));
  EXPECT_OK(CheckAdminBearer(WithAuthorization("bearer test-admin-token"), kTokenHash));
}

TEST(CheckAdminBearerTest, RejectsMissingWrongOrUnconfigured) {
  EXPECT_THAT(CheckAdminBearer(HttpRequest(), kTokenHash),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing")));
  EXPECT_THAT(CheckAdminBearer(WithAuthorization("Basic dXNlcjpwYXNz"), kTokenHash),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not a Bearer")));
  EXPECT_THAT(CheckAdminBearer(WithAuthorization("Bearer "), kTokenHash),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(CheckAdminBearer(WithAuthorization("Bearer wrong"), kTokenHash),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("invalid")));
  EXPECT_THAT(CheckAdminBearer(WithAuthorization("Bearer test-admin-token"), ""),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no admin token")));
}

}  // namespace
}  // namespace vouch::server
