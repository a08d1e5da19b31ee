#include "vouch/broker/audit_limiter.h"

#include <utility>

namespace vouch::broker {

AuditDecision InvalidTokenAuditLimiter::AdmitDenial(std::string_view key, absl::Time now) {
  MutexLock lock(&mu_);
  AuditDecision decision;
  // The untracked window is reported by whichever denial comes after it, as
  // its names may never come back.
  if (Ended(untracked_, now) && untracked_.suppressed > 0) {
    decision.summaries.push_back(Summary("", untracked_));
    untracked_ = Window{.start = now};
  }
  Window& window = WindowFor(key, now, decision.summaries);
  if (Ended(window, now)) {
    if (window.suppressed > 0) {
      decision.summaries.push_back(Summary(&window == &untracked_ ? "" : key, window));
    }
    window = Window{.start = now};
  }
  if (Ended(total_, now)) {
    total_ = Window{.start = now};
  }

  if (window.rows < limits_.max_rows_per_key && total_.rows < limits_.max_rows_total) {
    ++window.rows;
    ++total_.rows;
    decision.write_row = true;
  } else {
    ++window.suppressed;
  }
  return decision;
}

std::optional<SuppressedDenials> InvalidTokenAuditLimiter::TakeEndedSummary(std::string_view key,
                                                                             absl::Time now) {
  MutexLock lock(&mu_);
  const auto it = windows_.find(key);
  if (it == windows_.end() || !Ended(it->second, now)) {
    return std::nullopt;
  }
  std::optional<SuppressedDenials> summary;
  if (it->second.suppressed > 0) {
    summary = Summary(key, it->second);
  }
  windows_.erase(it);
  return summary;
}

SuppressedDenials InvalidTokenAuditLimiter::Summary(std::string_view key,
                                                    const Window& window) const {
  return SuppressedDenials{.key = std::string(key),
                           .count = window.suppressed,
                           .window_start = window.start,
                           .window_end = window.start + limits_.window};
}

InvalidTokenAuditLimiter::Window& InvalidTokenAuditLimiter::WindowFor(
    std::string_view key, absl::Time now, std::vector<SuppressedDenials>& summaries) {
  if (const auto it = windows_.find(key); it != windows_.end()) {
    return it->second;
  }
  if (windows_.size() >= limits_.max_tracked_keys) {
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (!Ended(it->second, now)) {
        ++it;
        continue;
      }
      if (it->second.suppressed > 0) {
        summaries.push_back(Summary(it->first, it->second));
      }
      it = windows_.erase(it);
    }
  }
  if (windows_.size() >= limits_.max_tracked_keys) {
    // Untracked names are not stored, so their shared summary names no key.
    return untracked_;
  }
  return windows_.emplace(std::string(key), Window{.start = now}).first->second;
}

}  // namespace vouch::broker
