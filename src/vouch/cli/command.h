// The subcommand table of the `vouch` binary.
//
// Each subcommand lives in its own file as a setup function: it adds its
// options to the CLI11 subcommand and returns the function that runs it once
// the command line has been parsed. The function returns the exit status.
#ifndef VOUCH_CLI_COMMAND_H_
#define VOUCH_CLI_COMMAND_H_

#include <CLI/CLI.hpp>

#include <functional>

namespace vouch::cli {

// Exit statuses shared by the subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;  // Evidence or request rejected, or a step failed.
inline constexpr int kExitUsage = 2;     // Usage or I/O error.

using Runner = std::function<int()>;

Runner SetupServe(CLI::App& sub);
Runner SetupVerify(CLI::App& sub);
Runner SetupUnlock(CLI::App& sub);
Runner SetupKeys(CLI::App& sub);
Runner SetupAudit(CLI::App& sub);
Runner SetupCheck(CLI::App& sub);
Runner SetupSeal(CLI::App& sub);  // seal.cc
Runner SetupUnseal(CLI::App& sub);  // seal.cc
Runner SetupPolicy(CLI::App& sub);  // policy.cc
Runner SetupCollateral(CLI::App& sub);  // collateral.cc
Runner SetupDr(CLI::App& sub);  // dr.cc
Runner SetupBackup(CLI::App& sub);  // backup.cc
Runner SetupTpm(CLI::App& sub);  // tpm.cc

}  // namespace vouch::cli

#endif  // VOUCH_CLI_COMMAND_H_
