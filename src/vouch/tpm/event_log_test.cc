#include "vouch/tpm/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <string_view>

#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"
#include "vouch/tpm/event_log_builder.h"

namespace vouch::tpm {
namespace {

using crypto::HashAlg;
using ::testing::HasSubstr;
using vouch::testing::StatusIs;

Bytes Unhex(std::string_view hex) { return HexDecode(hex).value(); }

Bytes ExtendOnce(HashAlg alg, Bytes start, ByteSpan data) {
  Bytes digest = crypto::Hash(alg, data);
  start.insert(start.end(), digest.begin(), digest.end());
  return crypto::Hash(alg, start);
}

EventLogBuilder SampleLog() {
  EventLogBuilder builder({HashAlg::kSha1, HashAlg::kSha256});
  builder.Measure(0, kEvSCrtmVersion, AsBytes("crtm"))
      .Measure(7, kEvEfiVariableDriverConfig, AsBytes("SecureBoot=1"))
      .Measure(4, kEvEfiBootServicesApplication, AsBytes("shim"))
      .Measure(0, kEvSeparator, Bytes(4, 0));
  return builder;
}

TEST(ParseEventLogTest, RoundTripsBuilderLog) {
  const EventLogBuilder builder = SampleLog();
  ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(builder.Build()));
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].event_type, kEvNoAction);
  ASSERT_EQ(events[0].digests.size(), 1u);
  EXPECT_EQ(events[0].digests[0].first, HashAlg::kSha1);
  for (size_t i = 1; i < events.size(); ++i) {
    const EventLogEntry& want = builder.Entries()[i - 1];
    EXPECT_EQ(events[i].register_index, want.register_index) << i;
    EXPECT_EQ(events[i].event_type, want.event_type) << i;
    EXPECT_EQ(events[i].digests, want.digests) << i;
    EXPECT_EQ(events[i].event_data, want.event_data) << i;
  }
}

TEST(ParseEventLogTest, StopsAtZeroAndOnesPadding) {
  for (uint8_t fill : {0x00, 0xFF}) {
    Bytes log = SampleLog().Build();
    log.insert(log.end(), 4096, fill);
    ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(log));
    EXPECT_EQ(events.size(), 5u) << int{fill};
  }
}

TEST(ParseEventLogTest, RejectsGarbageAfterPadding) {
  Bytes log = SampleLog().Build();
  log.insert(log.end(), 64, 0);
  log.push_back(1);
  EXPECT_THAT(ParseCryptoAgileEventLog(log), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseEventLogTest, RejectsEveryTruncation) {
  const Bytes good = SampleLog().Build();
  ASSERT_OK(ParseCryptoAgileEventLog(good).status());
  // Cutting exactly at an event boundary leaves a shorter valid log, so only
  // cuts inside an event must fail.
  std::vector<size_t> boundaries;
  {
    EventLogBuilder partial({HashAlg::kSha1, HashAlg::kSha256});
    boundaries.push_back(partial.Build().size());
    const EventLogBuilder full = SampleLog();
    for (const EventLogEntry& e : full.Entries()) {
      std::vector<Bytes> digests;
      for (const auto& d : e.digests) {
        digests.push_back(d.second);
      }
      partial.AddRaw(e.register_index, e.event_type, digests, e.event_data);
      boundaries.push_back(partial.Build().size());
    }
  }
  for (size_t n = 0; n < good.size(); ++n) {
    const auto result = ParseCryptoAgileEventLog(std::span(good).first(n));
    if (std::find(boundaries.begin(), boundaries.end(), n) != boundaries.end()) {
      EXPECT_OK(result.status()) << "length " << n;
      continue;
    }
    // A cut inside a header whose first bytes are zero looks like zero
    // padding after the last event, which the parser accepts by design. A
    // cut before the first boundary (inside the Spec ID event) has no last
    // event and must be rejected.
    const auto next = std::upper_bound(boundaries.begin(), boundaries.end(), n);
    if (next != boundaries.begin()) {
      const size_t last = *std::prev(next);
      if (n > last && n - last < 8 && IsAllZero(std::span(good).subspan(last, n - last))) {
        continue;
      }
    }
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument)) << "length " << n;
  }
}

TEST(ParseEventLogTest, RejectsSha1FormatLog) {
  // A SHA-1-only log (TCG 1.2 format) starts with a measuring event.
  Bytes log(32, 0);
  log[4] = 0x08;  // EV_S_CRTM_VERSION
  EXPECT_THAT(ParseCryptoAgileEventLog(log),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("crypto-agile")));
}

TEST(ParseEventLogTest, RejectsUnlistedDigestAlgorithm) {
  EventLogBuilder builder({HashAlg::kSha256});
  builder.Measure(0, kEvSeparator, Bytes(4, 0));
  Bytes log = builder.Build();
  // The event's hash_alg field sits 12 bytes into the event, after the Spec ID event.
  const size_t event_start = EventLogBuilder({HashAlg::kSha256}).Build().size();
  log[event_start + 12] = 0x0C;  // TPM_ALG_SHA384 is not in the Spec ID event.
  EXPECT_THAT(ParseCryptoAgileEventLog(log),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not in the spec id")));
}

TEST(ParseEventLogTest, RejectsWrongDigestSizeInSpecId) {
  Bytes log = EventLogBuilder({HashAlg::kSha256}).Build();
  // digest_size of the one algorithm: 32 bytes header + 16 + 4 + 4 + 4 + 2.
  log[32 + 16 + 4 + 4 + 4 + 2] = 31;
  EXPECT_THAT(ParseCryptoAgileEventLog(log),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("size 31")));
}

TEST(ReplayTest, ExtendsPerRegister) {
  const EventLogBuilder builder = SampleLog();
  ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(builder.Build()));
  ASSERT_OK_AND_ASSIGN(const ReplayResult result, Replay(events, {}));
  const Bytes zero(32, 0);
  EXPECT_EQ(result.values[7], ExtendOnce(HashAlg::kSha256, zero, AsBytes("SecureBoot=1")));
  EXPECT_EQ(result.values[0],
            ExtendOnce(HashAlg::kSha256, ExtendOnce(HashAlg::kSha256, zero, AsBytes("crtm")),
                       Bytes(4, 0)));
  EXPECT_TRUE(result.covered[0]);
  EXPECT_TRUE(result.covered[4]);
  EXPECT_TRUE(result.covered[7]);
  EXPECT_FALSE(result.covered[1]);
  EXPECT_EQ(result.values[1], zero);
  EXPECT_EQ(result.event_counts[0], 2u);
  EXPECT_FALSE(result.startup_locality.has_value());
}

TEST(ReplayTest, DrtmRegistersStartAtAllOnes) {
  ASSERT_OK_AND_ASSIGN(const ReplayResult result, Replay({}, {}));
  for (size_t i = 0; i < 24; ++i) {
    const bool drtm = i >= 17 && i <= 22;
    EXPECT_EQ(result.values[i], Bytes(32, drtm ? 0xFF : 0x00)) << i;
    EXPECT_FALSE(result.covered[i]) << i;
  }
}

TEST(ReplayTest, StartupLocalitySetsPcr0Start) {
  EventLogBuilder builder({HashAlg::kSha256});
  builder.StartupLocality(3).Measure(0, kEvSCrtmVersion, AsBytes("crtm"));
  ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(builder.Build()));
  ASSERT_OK_AND_ASSIGN(const ReplayResult result, Replay(events, {}));
  Bytes start(32, 0);
  start.back() = 3;
  EXPECT_EQ(result.values[0], ExtendOnce(HashAlg::kSha256, start, AsBytes("crtm")));
  EXPECT_EQ(result.startup_locality, 3);
  EXPECT_EQ(result.event_counts[0], 1u);
}

TEST(ReplayTest, NoActionNeverExtends) {
  EventLogBuilder builder({HashAlg::kSha256});
  builder.Measure(5, kEvNoAction, AsBytes("not measured"));
  ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(builder.Build()));
  ASSERT_OK_AND_ASSIGN(const ReplayResult result, Replay(events, {}));
  EXPECT_EQ(result.values[5], Bytes(32, 0));
  EXPECT_FALSE(result.covered[5]);
}

TEST(ReplayTest, RejectsMissingDigestAndBadRegister) {
  EventLogBuilder builder({HashAlg::kSha1});
  builder.Measure(0, kEvSeparator, Bytes(4, 0));
  ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(builder.Build()));
  EXPECT_THAT(Replay(events, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no SHA-256 digest")));

  EventLogBuilder high({HashAlg::kSha256});
  high.Measure(30, kEvSeparator, Bytes(4, 0));
  ASSERT_OK_AND_ASSIGN(const auto high_events, ParseCryptoAgileEventLog(high.Build()));
  EXPECT_THAT(Replay(high_events, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("register 30")));
}

TEST(ReplayTest, ExplicitInitialValues) {
  ReplayOptions options;
  options.register_count = 2;
  options.explicit_initial_values = {Bytes(32, 7), Bytes(32, 9)};
  ASSERT_OK_AND_ASSIGN(const ReplayResult result, Replay({}, options));
  EXPECT_EQ(result.values[1], Bytes(32, 9));
  options.explicit_initial_values.pop_back();
  EXPECT_THAT(Replay({}, options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CompareRegistersTest, ReportsMismatchWithCoverage) {
  ASSERT_OK_AND_ASSIGN(const ReplayResult result, Replay({}, {}));
  ASSERT_OK_AND_ASSIGN(const auto mismatches,
                       CompareRegisters(result, {{0, Bytes(32, 0)}, {3, Bytes(32, 1)}}));
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_EQ(mismatches[0].register_index, 3u);
  EXPECT_FALSE(mismatches[0].covered);
  EXPECT_THAT(CompareRegisters(result, {{24, Bytes(32, 0)}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// The COS-113 TD's CCEL replays to the RTMRs of its TDX quote.
TEST(CcelVectorTest, ReplaysRtmrsOfCos113Quote) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes log = vouch::testing::ReadVector("tdx/eventlog/gotdxguest-cos113-ccel_data.dat");
  ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(log));
  // 43 events after the Spec ID event, which the parser returns first.
  EXPECT_EQ(events.size(), 44u);
  ReplayOptions options;
  options.alg = HashAlg::kSha384;
  options.register_count = 5;
  options.initial_values = InitialValues::kZero;
  ASSERT_OK_AND_ASSIGN(const ReplayResult result, Replay(events, options));
  // RTMR0..3 at quote offset 48 (header) + 328 (TD report body).
  const Bytes quote = vouch::testing::ReadVector("tdx/gotdxguest-gcp-cos113-v4-00806f05.dat");
  for (size_t i = 0; i < 4; ++i) {
    const Bytes rtmr(quote.begin() + 376 + 48 * i, quote.begin() + 376 + 48 * (i + 1));
    EXPECT_EQ(HexEncode(result.values[i + 1]), HexEncode(rtmr)) << "RTMR" << i;
  }
  EXPECT_TRUE(result.covered[1]);
  EXPECT_TRUE(result.covered[2]);
  EXPECT_TRUE(result.covered[3]);
  EXPECT_FALSE(result.covered[4]);
  EXPECT_EQ(result.values[4], Unhex(std::string(96, '0')));
}

TEST(CcelVectorTest, RejectsEveryByteFlipInHeaders) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes log = vouch::testing::ReadVector("tdx/eventlog/gotdxguest-cos113-ccel_data.dat");
  // Flipping the high byte of the Spec ID event's size field must fail.
  Bytes bad = log;
  bad[31] ^= 0x80;
  EXPECT_THAT(ParseCryptoAgileEventLog(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::tpm
