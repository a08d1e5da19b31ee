#include "vouch/base/status.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace vouch {

absl::Status Prefix(std::string_view prefix, const absl::Status& status) {
  if (status.ok()) {
    return status;
  }
  return absl::Status(status.code(), fmt::format("{}: {}", prefix, StdView(status.message())));
}

namespace internal {

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "vouch: internal check failed: %s at %s:%d\n", condition, file, line);
  std::abort();
}

}  // namespace internal
}  // namespace vouch
