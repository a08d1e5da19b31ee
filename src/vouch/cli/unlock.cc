// Placeholder until the unlock subcommand is built.
#include <cstdio>

#include "vouch/cli/command.h"

namespace vouch::cli {

Runner SetupUnlock(CLI::App& /*sub*/) {
  return [] {
    std::fprintf(stderr, "vouch unlock: not built yet\n");
    return kExitUsage;
  };
}

}  // namespace vouch::cli
