#include "vouch/dcap/verify_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/base/time.h"
#include "vouch/dcap/dcap_vectors.h"
#include "vouch/dcap/quote.h"
#include "vouch/dcap/quote_builder.h"
#include "vouch/dcap/verify.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kQuote[] = "tdx/trustee-v4-50806f.dat";
constexpr char kValidTime[] = "2023-07-01T01:00:00Z";

VerifyOptions OptionsAt(absl::Time now) {
  VerifyOptions options;
  options.now = now;
  return options;
}

absl::Time ValidTime() { return *ParseRfc3339(kValidTime); }

TEST(QuoteVerifyCacheTest, SecondVerifyHitsBothCaches) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  QuoteVerifyCaches& caches = SharedQuoteVerifyCaches();
  caches.Clear();
  const Bytes quote = ReadVector(kQuote);

  ASSERT_OK_AND_ASSIGN(const AuthenticQuote first,
                       VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())));
  EXPECT_EQ(caches.pck_chains.size(), 1u);
  EXPECT_EQ(caches.qe_reports.size(), 1u);

  const uint64_t chain_hits = caches.pck_chains.hits();
  const uint64_t qe_hits = caches.qe_reports.hits();
  ASSERT_OK_AND_ASSIGN(const AuthenticQuote second,
                       VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())));
  EXPECT_EQ(caches.pck_chains.hits(), chain_hits + 1);
  EXPECT_EQ(caches.qe_reports.hits(), qe_hits + 1);
  EXPECT_EQ(second.pck_chain.pck.Der(), first.pck_chain.pck.Der());
  EXPECT_EQ(second.pck_extensions.fmspc, first.pck_extensions.fmspc);
  EXPECT_EQ(second.pck_extensions.pce_svn, first.pck_extensions.pce_svn);
}

TEST(QuoteVerifyCacheTest, HitStillChecksQuoteSignature) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes quote = ReadVector(kQuote);
  ASSERT_OK(VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())).status());

  quote[kQuoteHeaderSize] ^= 0x01;  // a byte of the signed body
  EXPECT_THAT(VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("quote signature by the attestation key does not verify")));
}

TEST(QuoteVerifyCacheTest, TamperedQeReportMissesAndFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  QuoteVerifyCaches& caches = SharedQuoteVerifyCaches();
  const Bytes original = ReadVector(kQuote);
  ASSERT_OK(VerifyQuoteSignatures(original, {}, OptionsAt(ValidTime())).status());
  ASSERT_OK_AND_ASSIGN(const Quote parsed, ParseQuote(original));

  // The QE report follows the quote signature and the attestation key.
  Bytes quote = original;
  const size_t qe_report = parsed.signed_size + 4 + kEcdsa256SignatureSize + kEcdsa256KeySize + 6;
  quote[qe_report + 10] ^= 0x01;
  const uint64_t qe_hits = caches.qe_reports.hits();
  EXPECT_THAT(VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("qe report signature")));
  EXPECT_EQ(caches.qe_reports.hits(), qe_hits);
}

TEST(QuoteVerifyCacheTest, ExpiredChainMissesAndFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  QuoteVerifyCaches& caches = SharedQuoteVerifyCaches();
  const Bytes quote = ReadVector(kQuote);
  ASSERT_OK(VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())).status());

  const uint64_t chain_hits = caches.pck_chains.hits();
  EXPECT_THAT(VerifyQuoteSignatures(quote, {}, OptionsAt(*ParseRfc3339("2030-03-01T00:00:00Z"))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("validity")));
  EXPECT_EQ(caches.pck_chains.hits(), chain_hits);
}

TEST(QuoteVerifyCacheTest, OtherRootsMissAndFail) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  QuoteVerifyCaches& caches = SharedQuoteVerifyCaches();
  const Bytes quote = ReadVector(kQuote);
  ASSERT_OK(VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())).status());

  ASSERT_OK_AND_ASSIGN(const testing::TestPckChain test_chain, testing::MakeTestPckChain());
  VerifyOptions options = OptionsAt(ValidTime());
  options.trusted_root_spki_sha256 = {test_chain.RootSpkiSha256()};
  const uint64_t chain_hits = caches.pck_chains.hits();
  EXPECT_THAT(VerifyQuoteSignatures(quote, {}, options),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not the pinned Intel SGX Root CA")));
  EXPECT_EQ(caches.pck_chains.hits(), chain_hits);
}

TEST(QuoteVerifyCacheTest, FailedQuoteInsertsNothing) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  QuoteVerifyCaches& caches = SharedQuoteVerifyCaches();
  caches.Clear();
  Bytes quote = ReadVector(kQuote);
  quote[kQuoteHeaderSize] ^= 0x01;
  EXPECT_THAT(VerifyQuoteSignatures(quote, {}, OptionsAt(ValidTime())),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(caches.pck_chains.size(), 0u);
  EXPECT_EQ(caches.qe_reports.size(), 0u);
}

TEST(BoundedCacheTest, EvictsOldestAtCapacity) {
  BoundedCache<int> cache(2);
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  cache.Insert("a", 1);
  cache.Insert("b", 2);
  cache.Insert("c", 3);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Lookup("a", now).has_value());
  EXPECT_EQ(cache.Lookup("b", now), 2);
  EXPECT_EQ(cache.Lookup("c", now), 3);
}

TEST(BoundedCacheTest, LookupOutsideWindowMisses) {
  BoundedCache<int> cache(4);
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  const absl::Time end = start + absl::Hours(1);
  cache.Insert("a", 1, start, end);
  EXPECT_FALSE(cache.Lookup("a", start - absl::Seconds(1)).has_value());
  EXPECT_TRUE(cache.Lookup("a", end).has_value());
  EXPECT_FALSE(cache.Lookup("a", end + absl::Seconds(1)).has_value());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
}

}  // namespace
}  // namespace vouch::dcap
