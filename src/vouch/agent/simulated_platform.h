// The "simulated-snp" platform: SEV-SNP version-3 reports signed by a test
// VCEK/ASK/ARK chain (snp::SimulatedSnp) kept under <data_dir>/simulated-snp.
// For build machines and demos only: servers accept these reports only when
// they are started with simulated evidence allowed.
#ifndef VOUCH_AGENT_SIMULATED_PLATFORM_H_
#define VOUCH_AGENT_SIMULATED_PLATFORM_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/agent/platform.h"

namespace vouch::agent {

inline constexpr std::string_view kSimulatedSnpName = "simulated-snp";

// OpenSimulatedSnp loads the test chain from <data_dir>/simulated-snp, or
// creates it there on first use.
absl::StatusOr<std::unique_ptr<Platform>> OpenSimulatedSnp(const PlatformOptions& options);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_SIMULATED_PLATFORM_H_
