// Crash test of `vouch serve`: the server is killed with SIGKILL at random
// points while a client creates keys, rotates them and releases them, then
// restarted on the same data folder, many times over. Afterwards a fresh
// store must hold every key version the client saw acknowledged, each
// version's sealed key must still open, the audit log must verify (chain and
// signed heads), and SQLite's integrity check must pass.
//
// A second case kills the server while a client rotates the token signing
// key and sets attestation policies. Every stored signing key and policy
// must then have its audit record, and the JWKS must publish the current
// signing key.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "vouch/agent/http_client.h"
#include "vouch/agent/key_admin_client.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/broker/audit_head.h"
#include "vouch/broker/key_broker.h"
#include "vouch/broker/release_request.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/policy/attestation_policy.h"
#include "vouch/store/audit.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/token/issuer.h"

namespace vouch {
namespace {

using Json = nlohmann::json;

constexpr char kAdminToken[] = "crash-test-admin-token";
// The attestation service whose tokens the server trusts; never contacted.
constexpr char kAuthority[] = "https://crash-test-authority.invalid";
// Kills per run: 100 by default, or VOUCH_CRASH_TEST_KILLS (1 to 100000)
// for a longer run such as 300. The time budget is 50 seconds or half a
// second per kill, whichever is longer.
int Iterations() {
  const char* text = std::getenv("VOUCH_CRASH_TEST_KILLS");
  if (text == nullptr) {
    return 100;
  }
  const int kills = std::atoi(text);
  VOUCH_CHECK(kills >= 1 && kills <= 100000);
  return kills;
}
const int kIterations = Iterations();
const auto kTimeBudget =
    std::max<std::chrono::milliseconds>(std::chrono::seconds(50),
                                        std::chrono::milliseconds(500) * kIterations);

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vouch_crash_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    data_dir_ = dir_ + "/data";
    std::ofstream(dir_ + "/admin-token") << kAdminToken << "\n";

    guest_key_ = crypto::GenerateRsaKey(2048).value();
    ASSERT_OK_AND_ASSIGN(issuer_, token::TokenIssuer::Create(crypto::GenerateRsaKey(2048).value(),
                                                             {.issuer = kAuthority}));
    std::ofstream(dir_ + "/authority.jwks") << issuer_->Jwks().dump();
    Json jwk = crypto::PublicKeyToJwk(guest_key_.get()).value();
    jwk["kid"] = std::string(broker::kEphemeralKeyKid);
    const Json claims = {{"x-ms-attestation-type", "sevsnpvm"},
                         {"x-ms-runtime", {{"keys", Json::array({jwk})}}}};
    // The token outlives the test: its lifetime is the issuer's default.
    ASSERT_OK_AND_ASSIGN(token_, issuer_->Issue(claims, absl::Now()));
  }

  void TearDown() override {
    StopServer();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // StartServer runs `vouch serve` with `extra_args` and waits for its port
  // file.
  bool StartServer(const std::vector<std::string>& extra_args = {}) {
    const std::string port_file = dir_ + "/port";
    std::filesystem::remove(port_file);
    pid_ = fork();
    if (pid_ == 0) {
      const std::string trust = std::string(kAuthority) + "=" + dir_ + "/authority.jwks";
      const std::string log = dir_ + "/serve.log";
      freopen(log.c_str(), "a", stderr);
      freopen(log.c_str(), "a", stdout);
      std::vector<std::string> args = {VOUCH_CLI_BINARY,  "serve",
                                       "--data-dir",      data_dir_,
                                       "--listen",        "127.0.0.1:0",
                                       "--port-file",     port_file,
                                       "--admin-token-file", dir_ + "/admin-token",
                                       "--trust-authority", trust};
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      std::vector<char*> argv;
      for (std::string& arg : args) {
        argv.push_back(arg.data());
      }
      argv.push_back(nullptr);
      execv(VOUCH_CLI_BINARY, argv.data());
      _exit(127);
    }
    for (int i = 0; i < 1000; ++i) {
      const std::string text = Slurp(port_file);
      if (!text.empty() && text.back() == '\n') {
        url_ = "http://127.0.0.1:" + text.substr(0, text.size() - 1);
        return true;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "vouch serve exited early:\n" << Slurp(dir_ + "/serve.log");
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "vouch serve did not write its port file in 10 s";
    return false;
  }

  void StopServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  Json Policy() const {
    return {{"version", "1.0.0"},
            {"anyOf",
             {{{"authority", kAuthority},
               {"allOf", {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}}}}}}}};
  }

  std::string dir_;
  std::string data_dir_;
  std::string url_;
  pid_t pid_ = -1;
  crypto::SslPtr<EVP_PKEY> guest_key_;
  std::optional<token::TokenIssuer> issuer_;
  std::string token_;
};

std::string VersionOf(const Json& metadata) {
  const std::string kid = metadata["key"]["kid"].get<std::string>();
  return kid.substr(kid.rfind('/') + 1);
}

TEST_F(CrashTest, KilledServerKeepsAcknowledgedVersions) {
  std::map<std::string, std::set<std::string>> acknowledged;  // name -> versions
  int acknowledged_releases = 0;
  int kills_during_work = 0;
  Json jwks;
  std::mt19937 random(12345);
  const auto start = std::chrono::steady_clock::now();
  agent::HttpClientOptions options;
  options.connect_timeout = absl::Seconds(1);
  options.total_timeout = absl::Seconds(5);
  const agent::HttpClient http(options);

  int iteration = 0;
  for (; iteration < kIterations && std::chrono::steady_clock::now() - start < kTimeBudget;
       ++iteration) {
    ASSERT_TRUE(StartServer());
    const agent::KeyAdminClient client(url_, http, SecretBytes(AsBytes(kAdminToken)));
    if (jwks.is_null()) {
      ASSERT_OK_AND_ASSIGN(jwks, client.Call("GET", "/certs"));
    }
    // Kill the server after a random delay, while the loop below is writing.
    const int delay_ms = std::uniform_int_distribution<int>(1, 60)(random);
    std::atomic<bool> killed = false;
    std::thread killer([this, delay_ms, &killed] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      kill(pid_, SIGKILL);
      killed = true;
    });

    for (int op = 0;; ++op) {
      const int kind = std::uniform_int_distribution<int>(0, 2)(random);
      absl::StatusOr<Json> answer;
      std::string name;
      if (kind == 0 || acknowledged.empty()) {
        name = fmt::format("key-{}-{}", iteration, op);
        const Json body = {{"kty", op % 3 == 0 ? "EC-HSM" : "oct-HSM"},
                           {"exportable", true},
                           {"release_policy", Policy()}};
        answer = client.Call("PUT", "/keys/" + name, body.dump());
      } else {
        auto it = acknowledged.begin();
        std::advance(it, std::uniform_int_distribution<size_t>(0, acknowledged.size() - 1)(random));
        name = it->first;
        if (kind == 1) {
          answer = client.Call("POST", "/keys/" + name + "/rotate", "{}");
        } else {
          const Json body = broker::ReleaseRequestToJson({token_, std::nullopt});
          answer = client.Call("POST", "/keys/" + name + "/release", body.dump());
        }
      }
      if (!answer.ok()) {
        break;  // the server is gone: this request is not acknowledged
      }
      if (kind == 2 && !acknowledged.empty() && answer->contains("value")) {
        ++acknowledged_releases;
      } else if (answer->contains("key")) {
        acknowledged[name].insert(VersionOf(*answer));
      }
    }
    killer.join();
    kills_during_work += killed ? 1 : 0;
    int status = 0;
    ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
    EXPECT_TRUE(WIFSIGNALED(status)) << "iteration " << iteration;
    pid_ = -1;
  }
  EXPECT_GE(iteration, kIterations) << "time budget ran out";
  EXPECT_EQ(kills_during_work, iteration);
  ASSERT_FALSE(acknowledged.empty());

  ASSERT_OK_AND_ASSIGN(auto store, store::SqliteStore::Open(data_dir_ + "/vouch.db"));
  EXPECT_OK(store->CheckIntegrity());
  ASSERT_OK_AND_ASSIGN(auto keystore,
                       keystore::SoftwareKeyStore::OpenOrCreate(data_dir_ + "/root.key"));
  size_t versions_checked = 0;
  for (const auto& [name, versions] : acknowledged) {
    for (const std::string& version : versions) {
      ASSERT_OK_AND_ASSIGN(const store::KeyRecord record, store->GetKey(name, version));
      EXPECT_OK(keystore
                    ->WrapForRelease(record.sealed_key, broker::KeyLabel(name, version),
                                     guest_key_.get(), crypto::HashAlg::kSha256)
                    .status())
          << name << " " << version;
    }
    // Versions committed but not acknowledged must be whole too.
    ASSERT_OK_AND_ASSIGN(const auto stored, store->ListKeyVersions(name));
    for (const store::KeyRecord& listed : stored) {
      ASSERT_OK_AND_ASSIGN(const store::KeyRecord record, store->GetKey(name, listed.version));
      EXPECT_OK(keystore
                    ->WrapForRelease(record.sealed_key, broker::KeyLabel(name, listed.version),
                                     guest_key_.get(), crypto::HashAlg::kSha256)
                    .status());
      ++versions_checked;
    }
  }

  ASSERT_OK_AND_ASSIGN(const auto events, store->ReadAudit(store::kAllAuditEvents));
  ASSERT_OK_AND_ASSIGN(const broker::AuditLogReport report, broker::VerifyAuditLog(events, jwks));
  int granted = 0;
  for (const store::AuditEvent& event : events) {
    granted += event.operation == "key.release" && event.outcome == "granted" ? 1 : 0;
  }
  EXPECT_GE(granted, acknowledged_releases);
  std::printf("%d iterations, %zu keys, %zu versions checked, %d releases, %lld audit records\n",
              iteration, acknowledged.size(), versions_checked, acknowledged_releases,
              static_cast<long long>(report.records));
}

// Kills per run of KilledServerKeepsRotationsAndPoliciesAudited.
constexpr int kSettingsKills = 60;
constexpr char kPolicyKind[] = "SevSnpVm";

// SettingsPolicy returns a valid attestation policy whose text, and so its
// hash, differs for each `n`.
std::string SettingsPolicy(int n) {
  return fmt::format(R"(version=1.0;
authorizationrules {{
  => permit();
}};
issuancerules {{
  => issue(type="policy-name", value="crash-{}");
}};)",
                     n);
}

// KidsOf returns the kids of a JWKS.
std::set<std::string> KidsOf(const Json& jwks) {
  std::set<std::string> kids;
  for (const Json& key : jwks["keys"]) {
    kids.insert(key["kid"].get<std::string>());
  }
  return kids;
}

TEST_F(CrashTest, KilledServerKeepsRotationsAndPoliciesAudited) {
  const std::vector<std::string> args = {"--signing-key-type", "ec-p256"};
  std::set<std::string> acknowledged_kids;
  std::set<std::string> acknowledged_policy_hashes;
  std::string first_kid;
  std::mt19937 random(6789);
  agent::HttpClientOptions options;
  options.connect_timeout = absl::Seconds(1);
  options.total_timeout = absl::Seconds(5);
  const agent::HttpClient http(options);
  const std::string auth = std::string("Bearer ") + kAdminToken;
  int policy_number = 0;
  int rotations = 0;
  int policy_sets = 0;

  for (int iteration = 0; iteration < kSettingsKills; ++iteration) {
    ASSERT_TRUE(StartServer(args));
    const agent::KeyAdminClient client(url_, http, SecretBytes(AsBytes(kAdminToken)));
    if (first_kid.empty()) {
      ASSERT_OK_AND_ASSIGN(const Json jwks, client.Call("GET", "/certs"));
      ASSERT_EQ(jwks["keys"].size(), 1u);
      first_kid = jwks["keys"][0]["kid"].get<std::string>();
    }
    const int delay_ms = std::uniform_int_distribution<int>(1, 80)(random);
    std::atomic<bool> killed = false;
    std::thread killer([this, delay_ms, &killed] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      kill(pid_, SIGKILL);
      killed = true;
    });

    for (;;) {
      if (std::uniform_int_distribution<int>(0, 1)(random) == 0) {
        const absl::StatusOr<Json> rotated = client.Call("POST", "/signing-keys/rotate", "{}");
        if (!rotated.ok()) {
          break;  // the server is gone: this rotation is not acknowledged
        }
        acknowledged_kids.insert((*rotated)["kid"].get<std::string>());
        ++rotations;
      } else {
        const std::string policy = SettingsPolicy(++policy_number);
        const absl::StatusOr<agent::HttpResponse> set =
            http.Send("PUT", url_ + "/policies/" + kPolicyKind, policy,
                      {{"Authorization", auth}, {"Content-Type", "text/plain"}});
        if (!set.ok()) {
          break;
        }
        ASSERT_EQ(set->status, 200) << set->body;
        acknowledged_policy_hashes.insert(policy::PolicyHash(policy));
        ++policy_sets;
      }
    }
    killer.join();
    ASSERT_TRUE(killed);
    ASSERT_EQ(waitpid(pid_, nullptr, 0), pid_);
    pid_ = -1;
  }
  ASSERT_GT(rotations, 0);
  ASSERT_GT(policy_sets, 0);

  // The rotation records form one chain from the first key: each names the
  // kid it replaced, which is the kid of the record before it.
  ASSERT_OK_AND_ASSIGN(auto store, store::SqliteStore::Open(data_dir_ + "/vouch.db"));
  EXPECT_OK(store->CheckIntegrity());
  ASSERT_OK_AND_ASSIGN(const auto events, store->ReadAudit(store::kAllAuditEvents));
  EXPECT_OK(store::VerifyAuditChain(events));
  std::string chain_kid = first_kid;
  std::string replaced_kid;
  std::set<std::string> audited_kids;
  std::string last_policy_hash;
  std::set<std::string> audited_policy_hashes;
  for (const store::AuditEvent& event : events) {
    if (event.operation == "token.signing-key.rotate") {
      EXPECT_EQ(event.detail, "previous kid " + chain_kid) << "sequence " << event.sequence;
      replaced_kid = chain_kid;
      chain_kid = event.target.substr(event.target.rfind('/') + 1);
      audited_kids.insert(chain_kid);
    } else if (event.operation == "attestation-policy.set") {
      last_policy_hash = event.detail.substr(event.detail.find('=') + 1);
      audited_policy_hashes.insert(last_policy_hash);
    }
  }
  for (const std::string& kid : acknowledged_kids) {
    EXPECT_TRUE(audited_kids.contains(kid)) << "rotation to " << kid << " has no audit record";
  }
  for (const std::string& hash : acknowledged_policy_hashes) {
    EXPECT_TRUE(audited_policy_hashes.contains(hash)) << "policy " << hash << " not audited";
  }

  // The stored policy is the one of the last policy record.
  ASSERT_OK_AND_ASSIGN(const std::optional<Bytes> policy_blob,
                       store->GetBlob(std::string("attestation-policy.") + kPolicyKind));
  ASSERT_TRUE(policy_blob.has_value());
  EXPECT_EQ(policy::PolicyHash(ToString(*policy_blob)), last_policy_hash);

  // A restarted server publishes exactly the key of the last rotation record
  // and the one retired key it replaced: a stored key without its record
  // would show as a third kid.
  ASSERT_TRUE(StartServer(args));
  const agent::KeyAdminClient client(url_, http, SecretBytes(AsBytes(kAdminToken)));
  ASSERT_OK_AND_ASSIGN(const Json jwks, client.Call("GET", "/certs"));
  const std::set<std::string> expected_kids =
      replaced_kid.empty() ? std::set<std::string>{chain_kid}
                           : std::set<std::string>{chain_kid, replaced_kid};
  EXPECT_EQ(KidsOf(jwks), expected_kids) << jwks.dump();
  StopServer();
  std::printf("%d kills, %d rotations and %d policy sets acknowledged, %zu rotations and %zu "
              "policy sets audited\n",
              kSettingsKills, rotations, policy_sets, audited_kids.size(),
              audited_policy_hashes.size());
}

}  // namespace
}  // namespace vouch
