// InvalidTokenAuditLimiter bounds the audit rows written for key releases
// denied because the attestation token did not validate.
//
// Anyone who can reach the server can send such requests, so without a bound
// they grow the audit log as fast as the network allows. The limiter counts
// denials in fixed windows (one minute by default): each key name gets at most
// `max_rows_per_key` rows per window, and all keys together at most
// `max_rows_total`. Denials over either limit are counted, and the count is
// returned once as a summary after the key's window has ended, for the caller
// to write as one row before the next row for that key.
//
// Memory is bounded too: at most `max_tracked_keys` key names are tracked.
// Denials for further names share one window under the empty name until the
// tracked windows end, and its summary comes with the next denial of any
// name. Windows that ended are dropped when the table is full, and their
// suppressed counts are returned as summaries then.
//
// NOTE: suppressed counts live in memory only. A count whose key gets no
// further audit record is lost at shutdown.
//
// Thread-safe: every method takes an internal mutex.
#ifndef VOUCH_BROKER_AUDIT_LIMITER_H_
#define VOUCH_BROKER_AUDIT_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

#include "vouch/base/mutex.h"

namespace vouch::broker {

struct InvalidTokenAuditLimits {
  absl::Duration window = absl::Minutes(1);
  int max_rows_per_key = 20;   // denial rows per key name per window
  int max_rows_total = 200;    // denial rows per window over all key names
  size_t max_tracked_keys = 1024;
};

// SuppressedDenials is the number of denials left out of the audit log for
// one key name in one window. `key` is empty for the names beyond
// max_tracked_keys.
struct SuppressedDenials {
  std::string key;
  int64_t count = 0;
  absl::Time window_start;
  absl::Time window_end;
};

// AuditDecision lists the audit records for one denial, in order: each
// summary, then the denial's own record when `write_row` is true.
struct AuditDecision {
  bool write_row = false;
  std::vector<SuppressedDenials> summaries;
};

class InvalidTokenAuditLimiter {
 public:
  explicit InvalidTokenAuditLimiter(InvalidTokenAuditLimits limits = {}) : limits_(limits) {}

  // AdmitDenial counts one denied release of key `key` at `now` and decides
  // whether its row is written.
  AuditDecision AdmitDenial(std::string_view key, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // TakeEndedSummary returns the suppressed denials of `key` when its window
  // ended by `now`, and clears them. The caller writes the summary before
  // its next row for that key.
  std::optional<SuppressedDenials> TakeEndedSummary(std::string_view key, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Window {
    absl::Time start;
    int rows = 0;
    int64_t suppressed = 0;
  };

  bool Ended(const Window& window, absl::Time now) const {
    return now >= window.start + limits_.window;
  }
  SuppressedDenials Summary(std::string_view key, const Window& window) const;
  // WindowFor returns the window of `key`, tracking the name when there is
  // room. Dropping ended windows adds their summaries to `summaries`.
  Window& WindowFor(std::string_view key, absl::Time now, std::vector<SuppressedDenials>& summaries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const InvalidTokenAuditLimits limits_;
  Mutex mu_;
  std::map<std::string, Window, std::less<>> windows_ ABSL_GUARDED_BY(mu_);
  Window untracked_ ABSL_GUARDED_BY(mu_);
  Window total_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vouch::broker

#endif  // VOUCH_BROKER_AUDIT_LIMITER_H_
