// Placeholder until the keys subcommand is built.
#include <cstdio>

#include "vouch/cli/command.h"

namespace vouch::cli {

Runner SetupKeys(CLI::App& /*sub*/) {
  return [] {
    std::fprintf(stderr, "vouch keys: not built yet\n");
    return kExitUsage;
  };
}

}  // namespace vouch::cli
