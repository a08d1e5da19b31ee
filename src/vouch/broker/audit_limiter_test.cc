#include "vouch/broker/audit_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace vouch::broker {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

int CountWrites(InvalidTokenAuditLimiter& limiter, std::string_view key, int denials,
                absl::Time now) {
  int writes = 0;
  for (int i = 0; i < denials; ++i) {
    const AuditDecision decision = limiter.AdmitDenial(key, now);
    EXPECT_TRUE(decision.summaries.empty());
    writes += decision.write_row ? 1 : 0;
  }
  return writes;
}

TEST(InvalidTokenAuditLimiterTest, LimitsRowsPerKey) {
  InvalidTokenAuditLimiter limiter({.max_rows_per_key = 3, .max_rows_total = 100});
  EXPECT_EQ(CountWrites(limiter, "disk", 10, kStart), 3);
  EXPECT_EQ(CountWrites(limiter, "other", 10, kStart + absl::Seconds(30)), 3);
}

TEST(InvalidTokenAuditLimiterTest, SummarizesAfterWindowEnds) {
  InvalidTokenAuditLimiter limiter({.max_rows_per_key = 3, .max_rows_total = 100});
  CountWrites(limiter, "disk", 10, kStart);

  // Within the window there is nothing to report yet.
  EXPECT_FALSE(limiter.TakeEndedSummary("disk", kStart + absl::Seconds(59)).has_value());

  const AuditDecision decision = limiter.AdmitDenial("disk", kStart + absl::Seconds(60));
  EXPECT_TRUE(decision.write_row);
  ASSERT_EQ(decision.summaries.size(), 1u);
  EXPECT_EQ(decision.summaries[0].key, "disk");
  EXPECT_EQ(decision.summaries[0].count, 7);
  EXPECT_EQ(decision.summaries[0].window_start, kStart);
  EXPECT_EQ(decision.summaries[0].window_end, kStart + absl::Minutes(1));
}

TEST(InvalidTokenAuditLimiterTest, TakeEndedSummaryReturnsCountOnce) {
  InvalidTokenAuditLimiter limiter({.max_rows_per_key = 2, .max_rows_total = 100});
  CountWrites(limiter, "disk", 5, kStart);
  const absl::Time later = kStart + absl::Minutes(2);
  const std::optional<SuppressedDenials> summary = limiter.TakeEndedSummary("disk", later);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->count, 3);
  EXPECT_FALSE(limiter.TakeEndedSummary("disk", later).has_value());
  EXPECT_FALSE(limiter.TakeEndedSummary("never-denied", later).has_value());

  // The key starts a fresh window afterwards.
  EXPECT_EQ(CountWrites(limiter, "disk", 5, later), 2);
}

TEST(InvalidTokenAuditLimiterTest, LimitsRowsOverAllKeys) {
  InvalidTokenAuditLimiter limiter({.max_rows_per_key = 2, .max_rows_total = 5});
  int writes = 0;
  for (int i = 0; i < 20; ++i) {
    writes += CountWrites(limiter, "key-" + std::to_string(i), 2, kStart);
  }
  EXPECT_EQ(writes, 5);

  // The total budget renews with the next window.
  EXPECT_TRUE(limiter.AdmitDenial("key-0", kStart + absl::Minutes(1)).write_row);
}

TEST(InvalidTokenAuditLimiterTest, UntrackedKeysShareOneWindow) {
  InvalidTokenAuditLimiter limiter(
      {.max_rows_per_key = 2, .max_rows_total = 1000, .max_tracked_keys = 2});
  EXPECT_EQ(CountWrites(limiter, "a", 1, kStart), 1);
  EXPECT_EQ(CountWrites(limiter, "b", 1, kStart), 1);
  // "c", "d" and "e" are past the table size, so they share one budget of 2.
  EXPECT_EQ(CountWrites(limiter, "c", 3, kStart) + CountWrites(limiter, "d", 3, kStart) +
                CountWrites(limiter, "e", 3, kStart),
            2);

  const AuditDecision decision = limiter.AdmitDenial("c", kStart + absl::Minutes(1));
  EXPECT_TRUE(decision.write_row);
  ASSERT_EQ(decision.summaries.size(), 1u);
  EXPECT_EQ(decision.summaries[0].key, "");
  EXPECT_EQ(decision.summaries[0].count, 7);
}

TEST(InvalidTokenAuditLimiterTest, FullTableDropsEndedWindowsWithSummaries) {
  InvalidTokenAuditLimiter limiter(
      {.max_rows_per_key = 1, .max_rows_total = 1000, .max_tracked_keys = 2});
  CountWrites(limiter, "a", 4, kStart);
  CountWrites(limiter, "b", 1, kStart);

  const AuditDecision decision = limiter.AdmitDenial("c", kStart + absl::Minutes(1));
  EXPECT_TRUE(decision.write_row);
  ASSERT_EQ(decision.summaries.size(), 1u);
  EXPECT_EQ(decision.summaries[0].key, "a");
  EXPECT_EQ(decision.summaries[0].count, 3);
  // "c" took a tracked slot, so it has its own budget.
  EXPECT_FALSE(limiter.AdmitDenial("c", kStart + absl::Minutes(1)).write_row);
  EXPECT_TRUE(limiter.AdmitDenial("d", kStart + absl::Minutes(1)).write_row);
}

TEST(InvalidTokenAuditLimiterTest, ConcurrentDenialsKeepTheLimit) {
  InvalidTokenAuditLimiter limiter({.max_rows_per_key = 20, .max_rows_total = 1000});
  std::atomic<int> writes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.AdmitDenial("disk", kStart).write_row) {
          writes.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(writes.load(), 20);
  const std::optional<SuppressedDenials> summary =
      limiter.TakeEndedSummary("disk", kStart + absl::Minutes(1));
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->count, 8 * 500 - 20);
}

}  // namespace
}  // namespace vouch::broker
