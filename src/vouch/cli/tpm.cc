// vouch tpm enroll|attest: generic TPM 2.0 attestation of this machine
// against a vouch server (agent/tpm_enrollment.h, server/tpm_attestation.h).
//
//   vouch tpm enroll --server URL [--tpm-tcti CONF] [--ca-cert FILE]
//   vouch tpm attest --server URL [--tpm-tcti CONF] [--event-log FILE] [--ca-cert FILE]
//
// enroll prints the enrolled AK name. attest prints the token; the AK at
// handle 0x81000003 must be enrolled. Exit status: 0 on success, 1 when
// the TPM or the server rejected a step, 2 for usage errors.
#include <cstdio>
#include <memory>
#include <string>

#include "vouch/agent/http_client.h"
#include "vouch/agent/tpm_enrollment.h"
#include "vouch/base/status.h"
#include "vouch/cli/command.h"
#include "vouch/tpm/credential.h"
#include "vouch/tpm/tpm_client.h"

namespace vouch::cli {
namespace {

struct TpmFlags {
  std::string server;
  std::string tcti = "device:/dev/tpmrm0";
  std::string event_log;
  std::string ca_cert;
};

int Fail(std::string_view action, const absl::Status& status) {
  std::fprintf(stderr, "vouch tpm %.*s: %s\n", static_cast<int>(action.size()), action.data(),
               std::string(status.message()).c_str());
  return kExitRejected;
}

int Run(std::string_view action, const TpmFlags& flags) {
  if (!flags.server.starts_with("http://") && !flags.server.starts_with("https://")) {
    std::fprintf(stderr, "vouch tpm %.*s: --server %s: want an http:// or https:// URL\n",
                 static_cast<int>(action.size()), action.data(), flags.server.c_str());
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<tpm::TpmClient>> tpm = tpm::TpmClient::Open(flags.tcti);
  if (!tpm.ok()) {
    return Fail(action, tpm.status());
  }
  agent::HttpClientOptions http_options;
  http_options.ca_bundle_path = flags.ca_cert;
  const agent::HttpClient http(http_options);
  agent::TpmEnrollmentOptions options;
  options.event_log_path = flags.event_log;

  if (action == "enroll") {
    absl::StatusOr<std::string> ak_name = agent::EnrollTpmAk(http, flags.server, **tpm, options);
    if (!ak_name.ok()) {
      return Fail(action, ak_name.status());
    }
    std::printf("enrolled AK %s\n", ak_name->c_str());
    return kExitOk;
  }

  // The AK's name is nameAlg || hash of its public area, as the server
  // computed it at enrollment.
  absl::StatusOr<Bytes> ak_area = (*tpm)->ReadPublicArea(options.ak_handle);
  if (!ak_area.ok()) {
    return Fail(action, Prefix("read the AK (run vouch tpm enroll first)", ak_area.status()));
  }
  absl::StatusOr<tpm::ObjectPublic> ak = tpm::ParsePublicArea(*ak_area);
  if (!ak.ok()) {
    return Fail(action, ak.status());
  }
  absl::StatusOr<std::string> token =
      agent::AttestTpm(http, flags.server, **tpm, HexEncode(ak->name), options);
  if (!token.ok()) {
    return Fail(action, token.status());
  }
  std::printf("%s\n", token->c_str());
  return kExitOk;
}

void AddFlags(CLI::App& app, TpmFlags& flags) {
  app.add_option("--server", flags.server, "Base URL of the vouch server, e.g. https://vouch:8443")
      ->required();
  app.add_option("--tpm-tcti", flags.tcti,
                 "tpm2-tss TCTI of the TPM, e.g. swtpm:host=127.0.0.1,port=2321")
      ->capture_default_str();
  app.add_option("--ca-cert", flags.ca_cert,
                 "PEM CA bundle that the server's TLS certificate chains to")
      ->check(CLI::ExistingFile);
}

}  // namespace

Runner SetupTpm(CLI::App& sub) {
  auto flags = std::make_shared<TpmFlags>();
  auto selected = std::make_shared<Runner>();
  sub.require_subcommand(1);

  CLI::App* enroll = sub.add_subcommand(
      "enroll",
      "Enroll this TPM's attestation key: EK certificate from NV, credential activation");
  AddFlags(*enroll, *flags);
  enroll->callback([flags, selected] { *selected = [flags] { return Run("enroll", *flags); }; });

  CLI::App* attest = sub.add_subcommand(
      "attest", "Quote PCRs 0-23 with the enrolled attestation key and print the token");
  AddFlags(*attest, *flags);
  attest->add_option("--event-log", flags->event_log,
                     "TCG event log to send, e.g. "
                     "/sys/kernel/security/tpm0/binary_bios_measurements (default: none)");
  attest->callback([flags, selected] { *selected = [flags] { return Run("attest", *flags); }; });

  return [selected] { return (*selected)(); };
}

}  // namespace vouch::cli
