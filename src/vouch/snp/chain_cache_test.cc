#include "vouch/snp/chain_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/snp_vectors.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::vouch::snp::testing::At;
using ::vouch::snp::testing::LoadPool;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kReport[] = "sev-snp/virtee-milan-v2.bin";
constexpr char kVcek[] = "sev-snp/virtee-milan-vcek.der";
constexpr char kChain[] = "amd-certs/milan_chain.pem";
constexpr char kValidTime[] = "2025-06-01T00:00:00Z";

VerifyOptions OptionsAt(absl::Time now) {
  VerifyOptions options;
  options.now = now;
  return options;
}

// The counters of SharedChainCache() before a test step, to compare after it.
struct Counts {
  uint64_t hits;
  uint64_t misses;
};

Counts SharedCounts() { return {SharedChainCache().hits(), SharedChainCache().misses()}; }

// WithFlippedSignatureByte returns a copy of `certificate` with one byte of its signature
// flipped (the last byte of the DER is the signature's last byte).
crypto::Certificate WithFlippedSignatureByte(const crypto::Certificate& certificate) {
  Bytes der = certificate.Der();
  der.back() ^= 0x01;
  absl::StatusOr<crypto::Certificate> tampered = crypto::Certificate::FromDer(der);
  EXPECT_TRUE(tampered.ok()) << tampered.status();
  return tampered.ok() ? *tampered : certificate;
}

TEST(ChainCacheTest, SecondVerifyHits) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  SharedChainCache().Clear();
  const std::vector<crypto::Certificate> pool = LoadPool({kVcek, kChain});
  const Bytes report = ReadVector(kReport);

  const Counts before = SharedCounts();
  ASSERT_OK_AND_ASSIGN(const VerifiedReport first, VerifyReport(report, pool, OptionsAt(At(kValidTime))));
  EXPECT_EQ(SharedChainCache().misses(), before.misses + 1);
  EXPECT_EQ(SharedChainCache().hits(), before.hits);
  EXPECT_EQ(SharedChainCache().size(), 1u);

  ASSERT_OK_AND_ASSIGN(const VerifiedReport second,
                       VerifyReport(report, pool, OptionsAt(At(kValidTime))));
  EXPECT_EQ(SharedChainCache().hits(), before.hits + 1);
  EXPECT_EQ(second.product, first.product);
  EXPECT_EQ(second.signer.Der(), first.signer.Der());
  EXPECT_EQ(second.intermediate.Der(), first.intermediate.Der());
  EXPECT_EQ(second.root.Der(), first.root.Der());
}

TEST(ChainCacheTest, HitStillChecksReportSignature) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool = LoadPool({kVcek, kChain});
  Bytes report = ReadVector(kReport);
  ASSERT_OK(VerifyReport(report, pool, OptionsAt(At(kValidTime))).status());

  report[0x2A0] ^= 0x01;  // the first byte of the signature's R
  EXPECT_THAT(VerifyReport(report, pool, OptionsAt(At(kValidTime))),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(ChainCacheTest, TamperedIntermediateMissesAndFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool = LoadPool({kVcek, kChain});
  const Bytes report = ReadVector(kReport);
  ASSERT_OK(VerifyReport(report, pool, OptionsAt(At(kValidTime))).status());

  std::vector<crypto::Certificate> tampered_pool;
  for (const crypto::Certificate& certificate : pool) {
    const bool is_ask = certificate.SubjectCommonName() == "SEV-Milan";
    tampered_pool.push_back(is_ask ? WithFlippedSignatureByte(certificate) : certificate);
  }
  const Counts before = SharedCounts();
  EXPECT_THAT(VerifyReport(report, tampered_pool, OptionsAt(At(kValidTime))),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(SharedChainCache().hits(), before.hits);
  EXPECT_EQ(SharedChainCache().misses(), before.misses + 1);
}

TEST(ChainCacheTest, ExpiredChainMissesAndFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool = LoadPool({kVcek, kChain});
  const Bytes report = ReadVector(kReport);
  ASSERT_OK(VerifyReport(report, pool, OptionsAt(At(kValidTime))).status());

  absl::Time earliest_not_after = absl::InfiniteFuture();
  for (const crypto::Certificate& certificate : pool) {
    earliest_not_after = std::min(earliest_not_after, certificate.NotAfter());
  }
  const Counts before = SharedCounts();
  EXPECT_THAT(VerifyReport(report, pool, OptionsAt(earliest_not_after + absl::Seconds(1))),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(SharedChainCache().hits(), before.hits);
}

TEST(ChainCacheTest, OtherRootsMissAndFail) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool = LoadPool({kVcek, kChain});
  const Bytes report = ReadVector(kReport);
  ASSERT_OK(VerifyReport(report, pool, OptionsAt(At(kValidTime))).status());

  VerifyOptions no_roots = OptionsAt(At(kValidTime));
  no_roots.roots.clear();
  const Counts before = SharedCounts();
  EXPECT_THAT(VerifyReport(report, pool, no_roots), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(SharedChainCache().hits(), before.hits);
}

TEST(ChainCacheTest, ClearDropsEntries) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> pool = LoadPool({kVcek, kChain});
  ASSERT_OK(VerifyReport(ReadVector(kReport), pool, OptionsAt(At(kValidTime))).status());
  EXPECT_GE(SharedChainCache().size(), 1u);
  SharedChainCache().Clear();
  EXPECT_EQ(SharedChainCache().size(), 0u);
}

TEST(ChainCacheTest, EvictsOldestAtCapacity) {
  ChainCache cache(2);
  VerifiedChain chain;
  chain.product = "Milan";
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  const absl::Time end = start + absl::Hours(24);
  cache.Insert("a", chain, start, end);
  cache.Insert("b", chain, start, end);
  cache.Insert("c", chain, start, end);

  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Lookup("a", start).has_value());
  EXPECT_TRUE(cache.Lookup("b", start).has_value());
  EXPECT_TRUE(cache.Lookup("c", start).has_value());
}

TEST(ChainCacheTest, LookupOutsideWindowMisses) {
  ChainCache cache;
  VerifiedChain chain;
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  const absl::Time end = start + absl::Hours(24);
  cache.Insert("a", chain, start, end);

  EXPECT_FALSE(cache.Lookup("a", start - absl::Seconds(1)).has_value());
  EXPECT_TRUE(cache.Lookup("a", start).has_value());
  EXPECT_TRUE(cache.Lookup("a", end).has_value());
  EXPECT_FALSE(cache.Lookup("a", end + absl::Seconds(1)).has_value());
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 2u);
}

}  // namespace
}  // namespace vouch::snp
