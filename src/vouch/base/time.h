// Verification time: parsing and printing RFC 3339 timestamps.
#ifndef VOUCH_BASE_TIME_H_
#define VOUCH_BASE_TIME_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vouch {

// ParseRfc3339 reads "2025-06-20T12:00:00Z" or with an offset ("+02:00")
// and optional fractional seconds. A bare date ("2025-06-20") means midnight UTC.
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);

// FormatRfc3339 writes UTC with second precision: "2025-06-20T12:00:00Z".
std::string FormatRfc3339(absl::Time t);

}  // namespace vouch

#endif  // VOUCH_BASE_TIME_H_
