#include "vouch/base/bounded_cache.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace vouch {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

TEST(BoundedCacheTest, EvictsInInsertionOrder) {
  BoundedCache<std::string, int> cache(2);
  cache.Insert("a", 1);
  cache.Insert("b", 2);
  cache.Insert("a", 10);  // replacing keeps "a" oldest
  cache.Insert("c", 3);

  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Lookup("a", kNow).has_value());
  EXPECT_EQ(cache.Lookup("b", kNow), 2);
  EXPECT_EQ(cache.Lookup("c", kNow), 3);
}

TEST(BoundedCacheTest, ZeroCapacityKeepsOne) {
  BoundedCache<int, int> cache(0);
  EXPECT_EQ(cache.capacity(), 1u);
  cache.Insert(1, 1);
  cache.Insert(2, 2);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Lookup(2, kNow), 2);
}

TEST(BoundedCacheTest, ValidityWindowIncludesEnds) {
  BoundedCache<std::string, int> cache(4);
  const absl::Time not_before = kNow;
  const absl::Time not_after = kNow + absl::Hours(1);
  cache.Insert("k", 7, not_before, not_after);

  EXPECT_FALSE(cache.Lookup("k", not_before - absl::Seconds(1)).has_value());
  EXPECT_EQ(cache.Lookup("k", not_before), 7);
  EXPECT_EQ(cache.Lookup("k", not_after), 7);
  EXPECT_FALSE(cache.Lookup("k", not_after + absl::Seconds(1)).has_value());
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(BoundedCacheTest, ClearDropsEntriesKeepsCounts) {
  BoundedCache<std::string, int> cache(4);
  cache.Insert("a", 1);
  ASSERT_EQ(cache.Lookup("a", kNow), 1);
  cache.Clear();

  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Lookup("a", kNow).has_value());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  cache.Insert("b", 2);
  EXPECT_EQ(cache.Lookup("b", kNow), 2);
}

TEST(BoundedCacheTest, ConcurrentInsertStaysBounded) {
  BoundedCache<int, int> cache(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 1000; ++i) {
        cache.Insert(t * 1000 + i, i);
        cache.Lookup(t * 1000 + i, kNow);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(cache.size(), 16u);
  EXPECT_EQ(cache.hits() + cache.misses(), 4000u);
}

}  // namespace
}  // namespace vouch
