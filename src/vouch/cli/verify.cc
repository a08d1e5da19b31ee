// Placeholder until the verify subcommand is built.
#include <cstdio>

#include "vouch/cli/command.h"

namespace vouch::cli {

Runner SetupVerify(CLI::App& /*sub*/) {
  return [] {
    std::fprintf(stderr, "vouch verify: not built yet\n");
    return kExitUsage;
  };
}

}  // namespace vouch::cli
