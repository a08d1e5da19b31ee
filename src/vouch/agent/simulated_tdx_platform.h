// The "simulated-tdx" platform: version-4 TDX quotes signed through a test
// PCK chain (dcap::SimulatedTdx) kept under <data_dir>/simulated-tdx.
// For build machines and demos only: servers accept these quotes only when
// they are started with simulated evidence allowed.
#ifndef VOUCH_AGENT_SIMULATED_TDX_PLATFORM_H_
#define VOUCH_AGENT_SIMULATED_TDX_PLATFORM_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/agent/platform.h"

namespace vouch::agent {

inline constexpr std::string_view kSimulatedTdxName = "simulated-tdx";

// OpenSimulatedTdx loads the test PKI from <data_dir>/simulated-tdx, or
// creates it there on first use. Its evidence has kind "tdx".
absl::StatusOr<std::unique_ptr<Platform>> OpenSimulatedTdx(const PlatformOptions& options);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_SIMULATED_TDX_PLATFORM_H_
