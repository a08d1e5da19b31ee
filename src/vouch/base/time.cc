#include "vouch/base/time.h"

#include "vouch/base/status.h"

namespace vouch {

absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, AbslView(text), &t, &error)) {
    return t;
  }
  if (absl::ParseTime("%Y-%m-%d", AbslView(text), absl::UTCTimeZone(), &t, &error)) {
    return t;
  }
  return InvalidArgumentf("time: invalid RFC 3339 timestamp \"{}\", want e.g. 2025-06-20T12:00:00Z",
                          text);
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace vouch
