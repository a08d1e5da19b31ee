#include "vouch/base/mutex.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vouch {
namespace {

TEST(MutexTest, AwaitReturnsAtOnceWhenConditionHolds) {
  Mutex mu;
  MutexLock lock(&mu);
  EXPECT_TRUE(mu.AwaitWithTimeout([] { return true; }, absl::Seconds(30)));
}

TEST(MutexTest, AwaitTimesOutWhenConditionStaysFalse) {
  Mutex mu;
  MutexLock lock(&mu);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(mu.AwaitWithTimeout([] { return false; }, absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
}

TEST(MutexTest, AwaitWakesWhenAnotherThreadUnlocks) {
  Mutex mu;
  bool ready = false;
  std::thread setter([&] {
    absl::SleepFor(absl::Milliseconds(20));
    MutexLock lock(&mu);
    ready = true;
  });
  {
    MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithDeadline([&] { return ready; }, absl::Now() + absl::Seconds(30)));
    EXPECT_TRUE(ready);
  }
  setter.join();
}

TEST(MutexTest, LockSerialisesCounterUpdates) {
  Mutex mu;
  int counter = 0;
  const auto add = [&] {
    for (int i = 0; i < 10000; ++i) {
      MutexLock lock(&mu);
      ++counter;
    }
  };
  std::thread first(add);
  std::thread second(add);
  first.join();
  second.join();
  MutexLock lock(&mu);
  EXPECT_EQ(counter, 20000);
}

}  // namespace
}  // namespace vouch
