// Turning off core dumps in processes that hold key material.
#ifndef VOUCH_AGENT_CORE_DUMPS_H_
#define VOUCH_AGENT_CORE_DUMPS_H_

#include "absl/status/status.h"

namespace vouch::agent {

// DisableCoreDumps sets RLIMIT_CORE to 0 and marks the process not dumpable
// (prctl PR_SET_DUMPABLE), which also keeps other processes of the same user
// from attaching with ptrace or reading /proc/<pid>/mem. Call it at start-up,
// before any key is in memory.
absl::Status DisableCoreDumps();

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_CORE_DUMPS_H_
