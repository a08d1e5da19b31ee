#include "vouch/agent/core_dumps.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "vouch/base/status.h"

namespace vouch::agent {

absl::Status DisableCoreDumps() {
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) {
    return Internalf("setrlimit(RLIMIT_CORE, 0): {}", std::strerror(errno));
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return Internalf("prctl(PR_SET_DUMPABLE, 0): {}", std::strerror(errno));
  }
  return absl::OkStatus();
}

}  // namespace vouch::agent
