// A bounded, thread-safe map from a key to a value that is valid within a
// time window, for caches of verification results.
//
// When the cache is full, Insert evicts entries in insertion order, oldest
// first. Replacing the value of a key already present keeps that key's place
// in the order. Lookup outside the entry's window is a miss but leaves the
// entry in place, so it can still hit for a time inside the window.
#ifndef VOUCH_BASE_BOUNDED_CACHE_H_
#define VOUCH_BASE_BOUNDED_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "vouch/base/mutex.h"

namespace vouch {

template <typename Key, typename Value, typename Hash = std::hash<Key>>
class BoundedCache {
 public:
  // A capacity of 0 is treated as 1.
  explicit BoundedCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

  BoundedCache(const BoundedCache&) = delete;
  BoundedCache& operator=(const BoundedCache&) = delete;

  // Returns a copy of the value under `key` when `now` is inside its window
  // (both ends included), and counts a hit or a miss.
  std::optional<Value> Lookup(const Key& key, absl::Time now) {
    MutexLock lock(&mu_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || now < it->second.not_before || now > it->second.not_after) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    return it->second.value;
  }

  // Stores `value` under `key`, valid from `not_before` to `not_after`.
  void Insert(const Key& key, Value value, absl::Time not_before = absl::InfinitePast(),
              absl::Time not_after = absl::InfiniteFuture()) {
    MutexLock lock(&mu_);
    const auto it = entries_.find(key);
    if (it != entries_.end()) {
      it->second = Entry{std::move(value), not_before, not_after};
      return;
    }
    while (entries_.size() >= capacity_ && !insertion_order_.empty()) {
      entries_.erase(insertion_order_.front());
      insertion_order_.pop_front();
    }
    entries_.emplace(key, Entry{std::move(value), not_before, not_after});
    insertion_order_.push_back(key);
  }

  // Drops every entry. The hit and miss counts are kept.
  void Clear() {
    MutexLock lock(&mu_);
    entries_.clear();
    insertion_order_.clear();
  }

  size_t capacity() const { return capacity_; }

  size_t size() const {
    MutexLock lock(&mu_);
    return entries_.size();
  }

  uint64_t hits() const {
    MutexLock lock(&mu_);
    return hits_;
  }

  uint64_t misses() const {
    MutexLock lock(&mu_);
    return misses_;
  }

 private:
  struct Entry {
    Value value;
    absl::Time not_before;
    absl::Time not_after;
  };

  const size_t capacity_;
  mutable Mutex mu_;
  std::unordered_map<Key, Entry, Hash> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<Key> insertion_order_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vouch

#endif  // VOUCH_BASE_BOUNDED_CACHE_H_
