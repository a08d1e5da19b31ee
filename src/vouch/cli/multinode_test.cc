// Several `vouch serve` processes share one PostgreSQL cluster on loopback:
// keys, rotations, the audit chain, token signing keys and nonces must be
// consistent across them, and a database outage must give 503 and heal
// without restarting the nodes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/cli/node_harness.h"
#include "vouch/store/audit.h"
#include "vouch/store/postgres_store.h"
#include "vouch/testing/postgres_cluster.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::PostgresCluster;

class MultiNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(cluster_, PostgresCluster::Start());
    ASSERT_OK_AND_ASSIGN(deployment_, Deployment::Make());
    ASSERT_OK_AND_ASSIGN(url_file_, deployment_.WriteUrlFile("primary", cluster_->Url()));
    // The first node creates the root key, the simulated chain and the
    // token signing key; the others start together afterwards.
    ASSERT_OK_AND_ASSIGN(node_a_, VouchNode::Start(deployment_, "a", url_file_));
    std::thread start_b([&] { node_b_ = VouchNode::Start(deployment_, "b", url_file_); });
    std::thread start_c([&] { node_c_ = VouchNode::Start(deployment_, "c", url_file_); });
    start_b.join();
    start_c.join();
    ASSERT_OK(node_b_.status());
    ASSERT_OK(node_c_.status());
  }

  VouchNode& a() { return *node_a_; }
  VouchNode& b() { return **node_b_; }
  VouchNode& c() { return **node_c_; }

  std::unique_ptr<store::PostgresStore> OpenStore() {
    store::PostgresStoreOptions options;
    options.conninfo = cluster_->ConnectionString();
    absl::StatusOr<std::unique_ptr<store::PostgresStore>> store =
        store::PostgresStore::Open(options);
    EXPECT_OK(store.status());
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::unique_ptr<PostgresCluster> cluster_;
  Deployment deployment_;
  std::string url_file_;
  std::unique_ptr<VouchNode> node_a_;
  absl::StatusOr<std::unique_ptr<VouchNode>> node_b_;
  absl::StatusOr<std::unique_ptr<VouchNode>> node_c_;
};

TEST_F(MultiNodeTest, KeyIsSharedAcrossNodes) {
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse created, a().CreateKey("shared-disk"));
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string kid = KidOf(created);
  ASSERT_FALSE(kid.empty()) << created.body;

  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse read, b().GetKey("shared-disk"));
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(KidOf(read), kid);

  // A token issued by node C is accepted by node B: one issuer, one key.
  ASSERT_OK_AND_ASSIGN(const std::string token, c().Attest(deployment_));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse released, b().Release("shared-disk", token));
  ASSERT_EQ(released.status, 200) << released.body << "\n" << b().Log();
  EXPECT_EQ(ReleasedKid(released), kid);
}

TEST_F(MultiNodeTest, RotationIsSeenByOtherNodes) {
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse first, a().CreateKey("rotated"));
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_OK_AND_ASSIGN(const std::string token, a().Attest(deployment_));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse before, b().Release("rotated", token));
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(ReleasedKid(before), KidOf(first));

  // Creating the key again on A makes a new version; B releases that one
  // at once, with no cache to expire.
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse second, a().CreateKey("rotated"));
  ASSERT_EQ(second.status, 200) << second.body;
  ASSERT_NE(KidOf(second), KidOf(first));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse after, b().Release("rotated", token));
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(ReleasedKid(after), KidOf(second));
}

TEST_F(MultiNodeTest, NodesShareTokenSigningKeys) {
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse jwks_a, a().Get("/certs"));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse jwks_b, b().Get("/certs"));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse jwks_c, c().Get("/certs"));
  ASSERT_EQ(jwks_a.status, 200);
  EXPECT_EQ(jwks_a.body, jwks_b.body);
  EXPECT_EQ(jwks_a.body, jwks_c.body);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> blobs, store->ListBlobNames());
  EXPECT_EQ(std::count(blobs.begin(), blobs.end(), "token-signing-key"), 1);
}

// KidOfToken returns the "kid" of a JWT's header, or "".
std::string KidOfToken(const std::string& token) {
  absl::StatusOr<Bytes> header = Base64UrlDecode(token.substr(0, token.find('.')));
  if (!header.ok()) {
    return "";
  }
  const nlohmann::json json = nlohmann::json::parse(ToString(*header), nullptr, false);
  return json.is_object() ? json.value("kid", "") : "";
}

// After a signing-key rotation on node A, restarted nodes load the new key,
// and a token signed before the rotation still releases on both nodes.
TEST_F(MultiNodeTest, SigningKeyRotationKeepsOldTokens) {
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse created, a().CreateKey("signed"));
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_OK_AND_ASSIGN(const std::string old_token, b().Attest(deployment_));
  const std::string old_kid = KidOfToken(old_token);
  ASSERT_FALSE(old_kid.empty());

  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse rotated,
                       a().Post("/signing-keys/rotate", "{}", /*admin=*/true));
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const nlohmann::json rotation = nlohmann::json::parse(rotated.body, nullptr, false);
  ASSERT_TRUE(rotation.is_object()) << rotated.body;
  const std::string new_kid = rotation.value("kid", "");
  ASSERT_NE(new_kid, old_kid);

  node_a_.reset();
  node_b_ = absl::StatusOr<std::unique_ptr<VouchNode>>(nullptr);
  ASSERT_OK_AND_ASSIGN(node_a_, VouchNode::Start(deployment_, "a-restarted", url_file_));
  node_b_ = VouchNode::Start(deployment_, "b-restarted", url_file_);
  ASSERT_OK(node_b_.status());

  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse jwks, b().Get("/certs"));
  ASSERT_EQ(jwks.status, 200);
  const nlohmann::json keys = nlohmann::json::parse(jwks.body, nullptr, false)["keys"];
  ASSERT_EQ(keys.size(), 2u) << jwks.body;
  EXPECT_EQ(keys[0].value("kid", ""), new_kid);
  EXPECT_EQ(keys[1].value("kid", ""), old_kid);

  for (VouchNode* node : {&a(), &b()}) {
    ASSERT_OK_AND_ASSIGN(const agent::HttpResponse released, node->Release("signed", old_token));
    EXPECT_EQ(released.status, 200) << released.body;
  }
  ASSERT_OK_AND_ASSIGN(const std::string new_token, b().Attest(deployment_));
  EXPECT_EQ(KidOfToken(new_token), new_kid);
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse released, a().Release("signed", new_token));
  EXPECT_EQ(released.status, 200) << released.body;
}

// A signing-key rotation on node A reaches running nodes without a
// restart: B (periodic reload every 30 s) through the first token with the
// new kid, D (every second) through its periodic reload.
TEST_F(MultiNodeTest, SigningKeyRotationReachesRunningNodes) {
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse created, a().CreateKey("followed"));
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VouchNode> d,
                       VouchNode::Start(deployment_, "d", url_file_,
                                        {"--signing-key-reload-seconds", "1"}));
  ASSERT_OK_AND_ASSIGN(const std::string old_token, b().Attest(deployment_));
  const std::string old_kid = KidOfToken(old_token);
  ASSERT_FALSE(old_kid.empty());

  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse rotated,
                       a().Post("/signing-keys/rotate", "{}", /*admin=*/true));
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const nlohmann::json rotation = nlohmann::json::parse(rotated.body, nullptr, false);
  ASSERT_TRUE(rotation.is_object()) << rotated.body;
  const std::string new_kid = rotation.value("kid", "");
  ASSERT_NE(new_kid, old_kid);

  // A swapped its keys in place, so its next token has the new kid, and B
  // releases that token at once.
  ASSERT_OK_AND_ASSIGN(const std::string new_token, a().Attest(deployment_));
  EXPECT_EQ(KidOfToken(new_token), new_kid);
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse released_at_b, b().Release("followed", new_token));
  EXPECT_EQ(released_at_b.status, 200) << released_at_b.body << "\n" << b().Log();
  ASSERT_OK_AND_ASSIGN(const std::string b_token, b().Attest(deployment_));
  EXPECT_EQ(KidOfToken(b_token), new_kid);

  // D lists the new and the previous key after its periodic reload.
  std::vector<std::string> kids;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    ASSERT_OK_AND_ASSIGN(const agent::HttpResponse jwks, d->Get("/certs"));
    ASSERT_EQ(jwks.status, 200);
    const nlohmann::json parsed = nlohmann::json::parse(jwks.body, nullptr, false);
    kids.clear();
    for (const nlohmann::json& key : parsed.value("keys", nlohmann::json::array())) {
      kids.push_back(key.value("kid", ""));
    }
    if (kids == std::vector<std::string>{new_kid, old_kid}) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(kids, (std::vector<std::string>{new_kid, old_kid})) << d->Log();
  ASSERT_OK_AND_ASSIGN(const std::string d_token, d->Attest(deployment_));
  EXPECT_EQ(KidOfToken(d_token), new_kid);

  // Tokens from before the rotation still release everywhere.
  for (VouchNode* node : {&a(), &b(), d.get()}) {
    ASSERT_OK_AND_ASSIGN(const agent::HttpResponse released, node->Release("followed", old_token));
    EXPECT_EQ(released.status, 200) << released.body;
  }
}

// Releases and key creations from all three nodes at once append to one
// audit chain that verifies end to end.
TEST_F(MultiNodeTest, ConcurrentAuditFromAllNodesKeepsOneChain) {
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse created, a().CreateKey("busy"));
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_OK_AND_ASSIGN(const std::string token, a().Attest(deployment_));

  constexpr int kPerNode = 15;
  std::atomic<int> granted = 0;
  std::vector<std::thread> threads;
  for (VouchNode* node : {&a(), &b(), &c()}) {
    threads.emplace_back([&, node] {
      for (int i = 0; i < kPerNode; ++i) {
        absl::StatusOr<agent::HttpResponse> released = node->Release("busy", token);
        if (released.ok() && released->status == 200) {
          ++granted;
        }
        if (i % 5 == 0) {
          (void)node->CreateKey("busy");
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(granted, 3 * kPerNode);

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_OK(store::VerifyAuditChain(*store));
  store::AuditQuery query;
  query.operation = "key.release";
  query.limit = 1000;
  ASSERT_OK_AND_ASSIGN(const std::vector<store::AuditEvent> releases, store->QueryAudit(query));
  EXPECT_GE(releases.size(), 3u * kPerNode);
}

// The nonce challenge endpoint is not in this build, so two store handles
// (as two nodes hold) race to consume the same nonces directly, from two
// threads each. A barrier starts all four threads on each nonce together, so
// every nonce is raced.
TEST_F(MultiNodeTest, NonceIsConsumedOnceAcrossNodesStores) {
  constexpr int kNonces = 50;
  auto first = OpenStore();
  auto second = OpenStore();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const auto nonce = [](int i) { return Bytes{1, 2, 3, 4, 5, 6, 7, static_cast<uint8_t>(i)}; };
  for (int i = 0; i < kNonces; ++i) {
    ASSERT_OK(first->PutNonce(nonce(i), absl::Now() + absl::Minutes(1)));
  }

  std::atomic<int> consumed = 0;
  std::barrier round(4);
  const auto consume_all = [&](store::PostgresStore& store) {
    for (int i = 0; i < kNonces; ++i) {
      round.arrive_and_wait();
      consumed += store.ConsumeNonce(nonce(i), absl::Now()).ok() ? 1 : 0;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { consume_all(t % 2 == 0 ? *first : *second); });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(consumed, kNonces);
}

TEST_F(MultiNodeTest, DatabaseOutageGives503AndHeals) {
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse created, a().CreateKey("outage"));
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_OK_AND_ASSIGN(const std::string token, a().Attest(deployment_));

  ASSERT_OK(cluster_->Stop());
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse down_get, a().GetKey("outage"));
  EXPECT_EQ(down_get.status, 503) << down_get.body;
  EXPECT_THAT(down_get.body, HasSubstr("database unavailable"));
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse down_release, b().Release("outage", token));
  EXPECT_EQ(down_release.status, 503) << down_release.body;
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse down_create, c().CreateKey("outage"));
  EXPECT_EQ(down_create.status, 503) << down_create.body;

  ASSERT_OK(cluster_->Restart());
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse up_get, a().GetKey("outage"));
  EXPECT_EQ(up_get.status, 200) << up_get.body;
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse up_release, b().Release("outage", token));
  EXPECT_EQ(up_release.status, 200) << up_release.body;
  ASSERT_OK_AND_ASSIGN(const agent::HttpResponse up_create, c().CreateKey("outage"));
  EXPECT_EQ(up_create.status, 200) << up_create.body;
  // No password or connection string in the logs.
  EXPECT_THAT(a().Log(), ::testing::Not(HasSubstr("postgresql://")));
}

}  // namespace
}  // namespace vouch::cli::testing
