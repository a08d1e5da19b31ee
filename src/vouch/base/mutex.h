// A mutex with the part of absl::Mutex's interface that vouch uses (Lock,
// Unlock, AwaitWithDeadline, AwaitWithTimeout), built on std::mutex.
//
// Debian 12 ships Abseil built without ThreadSanitizer, so TSan does not see
// the happens-before order that an absl::Mutex creates. It then reports
// every access guarded by an absl::Mutex as a data race. std::mutex and
// std::condition_variable are pthread calls, which TSan intercepts. This
// class keeps absl's names and thread-safety annotations, so clang's
// -Wthread-safety still checks the ABSL_GUARDED_BY fields.
#ifndef VOUCH_BASE_MUTEX_H_
#define VOUCH_BASE_MUTEX_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vouch {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }

  // Unlocks and wakes every thread in AwaitWithDeadline, so each one
  // evaluates its condition again, as absl::Mutex does on release.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    const bool wake = waiters_ > 0;
    mu_.unlock();
    if (wake) {
      changed_.notify_all();
    }
  }

  // Blocks until `condition` returns true or `deadline` passes, and returns
  // the condition's last value. The caller must hold the mutex. It is
  // released while waiting and held again on return. `condition` runs with
  // the mutex held, once at the start and after every Unlock by another
  // thread (and after spurious wake-ups).
  bool AwaitWithDeadline(absl::FunctionRef<bool()> condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    ++waiters_;
    bool result = condition();
    while (!result) {
      if (deadline == absl::InfiniteFuture()) {
        changed_.wait(lock);
      } else if (changed_.wait_until(lock, absl::ToChronoTime(deadline)) ==
                 std::cv_status::timeout) {
        result = condition();
        break;
      }
      result = condition();
    }
    --waiters_;
    // The caller's MutexLock still owns the mutex and unlocks it.
    lock.release();
    return result;
  }

  bool AwaitWithTimeout(absl::FunctionRef<bool()> condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitWithDeadline(condition, absl::Now() + timeout);
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  // Threads inside AwaitWithDeadline. Guarded by mu_.
  int waiters_ = 0;
};

// Holds a Mutex for the enclosing scope, like absl::MutexLock.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace vouch

#endif  // VOUCH_BASE_MUTEX_H_
