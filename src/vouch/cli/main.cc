// vouch: attestation service, key broker and guest agent in one binary.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>

#include "vouch/cli/command.h"

namespace {

struct Command {
  const char* name;
  const char* description;
  vouch::cli::Runner (*setup)(CLI::App& sub);
};

constexpr Command kCommands[] = {
    {"serve", "Run the attestation service and key broker", vouch::cli::SetupServe},
    {"verify", "Verify attestation evidence offline and print its claims", vouch::cli::SetupVerify},
    {"unlock", "Attest this VM, release a key and open a LUKS2 volume", vouch::cli::SetupUnlock},
    {"keys", "Manage keys on a vouch server", vouch::cli::SetupKeys},
    {"audit", "List and verify the audit log", vouch::cli::SetupAudit},
    {"check", "Check that this VM is confidential and can attest", vouch::cli::SetupCheck},
    {"seal", "Encrypt a file for a key that only an attested VM can obtain", vouch::cli::SetupSeal},
    {"unseal", "Attest this VM and decrypt a file made by vouch seal", vouch::cli::SetupUnseal},
    {"policy", "Set, show and test attestation policies", vouch::cli::SetupPolicy},
    {"collateral", "Import and show cached Intel SGX/TDX collateral", vouch::cli::SetupCollateral},
    {"dr", "Show or end the read-only disaster-recovery mode of a node", vouch::cli::SetupDr},
    {"backup", "Create or restore an encrypted backup with M-of-N key shares",
     vouch::cli::SetupBackup},
    {"tpm", "Enroll this machine's TPM and attest with TPM quotes", vouch::cli::SetupTpm},
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("vouch: attestation service, key broker and guest agent for confidential computing");
  app.require_subcommand(1);
  app.set_version_flag("--version", "vouch 0.1.0");

  std::map<const CLI::App*, vouch::cli::Runner> runners;
  for (const Command& command : kCommands) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    runners[sub] = command.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? vouch::cli::kExitOk : vouch::cli::kExitUsage;
  }

  for (const auto& [sub, run] : runners) {
    if (sub->parsed()) {
      return run();
    }
  }
  return vouch::cli::kExitUsage;
}
