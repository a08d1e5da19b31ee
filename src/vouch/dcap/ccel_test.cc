#include "vouch/dcap/ccel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "vouch/crypto/hash.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"
#include "vouch/tpm/event_log.h"
#include "vouch/tpm/event_log_builder.h"

namespace vouch::dcap {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kCcel[] = "tdx/eventlog/gotdxguest-cos113-ccel_data.dat";
constexpr char kQuote[] = "tdx/gotdxguest-gcp-cos113-v4-00806f05.dat";

TdReportBody QuotedBody() {
  absl::StatusOr<Quote> quote = ParseQuote(ReadVector(kQuote));
  EXPECT_OK(quote.status());
  return quote.ok() && quote->td_body.has_value() ? *quote->td_body : TdReportBody();
}

TEST(CcelTest, RealLogReplaysToQuoteRtmrs) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const CcelReplay replay, VerifyCcel(ReadVector(kCcel), QuotedBody()));
  // The Spec ID event and 43 measurement events.
  EXPECT_EQ(replay.event_count, 44u);
  size_t verified = 0;
  for (size_t rtmr = 0; rtmr < kRtmrCount; ++rtmr) {
    if (replay.coverage[rtmr] == RtmrCoverage::kVerified) {
      ++verified;
      EXPECT_GT(replay.event_counts[rtmr], 0u) << "RTMR" << rtmr;
    } else {
      EXPECT_EQ(replay.event_counts[rtmr], 0u) << "RTMR" << rtmr;
    }
  }
  EXPECT_GE(verified, 3u);
  EXPECT_EQ(replay.coverage[0], RtmrCoverage::kVerified);
  EXPECT_EQ(CcelClaims(replay)["x-vouch-tdx-eventlog-rtmrs"]["rtmr0"], "verified");
}

TEST(CcelTest, TamperedDigestNamesRtmr) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes log = ReadVector(kCcel);
  ASSERT_OK_AND_ASSIGN(const std::vector<tpm::EventLogEntry> events,
                       tpm::ParseCryptoAgileEventLog(log));
  // Flip one bit of the SHA-384 digest of the first RTMR1 event (CCEL index 2).
  const auto event = std::find_if(events.begin(), events.end(), [](const tpm::EventLogEntry& e) {
    return e.register_index == 2 && e.event_type != tpm::kEvNoAction;
  });
  ASSERT_NE(event, events.end());
  const Bytes* digest = event->Digest(crypto::HashAlg::kSha384);
  ASSERT_NE(digest, nullptr);
  const auto at = std::search(log.begin(), log.end(), digest->begin(), digest->end());
  ASSERT_NE(at, log.end());
  Bytes tampered = log;
  tampered[static_cast<size_t>(at - log.begin())] ^= 1;
  EXPECT_THAT(VerifyCcel(tampered, QuotedBody()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("RTMR1"), HasSubstr("but the quote has"))));
}

TEST(CcelTest, QuoteWithOtherRtmrFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  TdReportBody body = QuotedBody();
  body.rtmr[2][0] ^= 0x80;
  EXPECT_THAT(VerifyCcel(ReadVector(kCcel), body),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("RTMR2")));
}

TEST(CcelTest, TruncatedLogIsInvalid) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes log = ReadVector(kCcel);
  ASSERT_OK_AND_ASSIGN(const std::vector<tpm::EventLogEntry> events,
                       tpm::ParseCryptoAgileEventLog(log));
  // Cut inside the last event's data, where no zero tail can hide the cut.
  const Bytes& last_data = events.back().event_data;
  ASSERT_FALSE(last_data.empty());
  const auto at = std::search(log.begin(), log.end(), last_data.begin(), last_data.end());
  ASSERT_NE(at, log.end());
  const Bytes cut(log.begin(), at + 1);
  EXPECT_THAT(VerifyCcel(cut, QuotedBody()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CcelTest, RegisterWithoutEventsIsNotCovered) {
  tpm::EventLogBuilder builder({crypto::HashAlg::kSha384});
  builder.SpecIdRegister(1);
  builder.Measure(1, tpm::kEvEfiAction, AsBytes("rtmr0 event"));
  const Bytes log = builder.Build();

  TdReportBody body;
  const Bytes digest = crypto::Hash(crypto::HashAlg::kSha384, AsBytes("rtmr0 event"));
  // RTMR0 = SHA-384(48 zero bytes || digest).
  Bytes extend(2 * kRtmrSize, 0);
  std::copy(digest.begin(), digest.end(), extend.begin() + kRtmrSize);
  const Bytes rtmr0 = crypto::Hash(crypto::HashAlg::kSha384, extend);
  std::copy(rtmr0.begin(), rtmr0.end(), body.rtmr[0].begin());
  // RTMR2 contains a value that no event in the log explains.
  body.rtmr[2].fill(0x42);

  ASSERT_OK_AND_ASSIGN(const CcelReplay replay, VerifyCcel(log, body));
  EXPECT_EQ(replay.coverage[0], RtmrCoverage::kVerified);
  EXPECT_EQ(replay.coverage[1], RtmrCoverage::kNotCovered);
  EXPECT_EQ(replay.coverage[2], RtmrCoverage::kNotCovered);
  EXPECT_EQ(replay.coverage[3], RtmrCoverage::kNotCovered);
  const nlohmann::json claims = CcelClaims(replay)["x-vouch-tdx-eventlog-rtmrs"];
  EXPECT_EQ(claims["rtmr0"], "verified");
  EXPECT_EQ(claims["rtmr2"], "not covered");
}

TEST(CcelTest, RejectsEventForUnknownRegister) {
  tpm::EventLogBuilder builder({crypto::HashAlg::kSha384});
  builder.SpecIdRegister(1);
  builder.Measure(5, tpm::kEvEfiAction, AsBytes("beyond RTMR3"));
  EXPECT_THAT(VerifyCcel(builder.Build(), TdReportBody()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CcelTest, RejectsLogWithoutSha384) {
  tpm::EventLogBuilder builder({crypto::HashAlg::kSha256});
  builder.SpecIdRegister(1);
  builder.Measure(1, tpm::kEvEfiAction, AsBytes("sha-256 only"));
  EXPECT_THAT(VerifyCcel(builder.Build(), TdReportBody()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::dcap
