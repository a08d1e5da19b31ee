// Placeholder until the serve subcommand is built.
#include <cstdio>

#include "vouch/cli/command.h"

namespace vouch::cli {

Runner SetupServe(CLI::App& /*sub*/) {
  return [] {
    std::fprintf(stderr, "vouch serve: not built yet\n");
    return kExitUsage;
  };
}

}  // namespace vouch::cli
