// vouch dr status|promote: show or end the read-only disaster-recovery mode
// of a vouch node (see server/dr_mode.h).
//
//   vouch dr status  --server URL
//   vouch dr promote --server URL [--admin-token-file FILE]
//
// promote requests that the node promote its PostgreSQL standby (pg_promote) and
// accept key changes. The admin token comes from --admin-token-file or
// $VOUCH_ADMIN_TOKEN, never from a flag value.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "nlohmann/json.hpp"
#include "vouch/agent/http_client.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/cli/admin_token.h"
#include "vouch/cli/command.h"

namespace vouch::cli {
namespace {

struct DrFlags {
  std::string server;
  std::string admin_token_file;
  std::string ca_cert;
  std::string client_cert;
  std::string client_key;
};

std::string BaseUrl(std::string url) {
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url;
}

// PrintAnswer prints the node's JSON response and maps the HTTP status to the
// exit status.
int PrintAnswer(std::string_view action, const absl::StatusOr<agent::HttpResponse>& response) {
  if (!response.ok()) {
    std::fprintf(stderr, "vouch dr %.*s: %s\n", static_cast<int>(action.size()), action.data(),
                 std::string(response.status().message()).c_str());
    return kExitRejected;
  }
  if (response->status != 200) {
    std::fprintf(stderr, "vouch dr %.*s: the server returned HTTP %ld: %s\n",
                 static_cast<int>(action.size()), action.data(), response->status,
                 response->body.c_str());
    return kExitRejected;
  }
  const nlohmann::json status = nlohmann::json::parse(response->body, nullptr, false);
  std::printf("%s\n", status.is_discarded() ? response->body.c_str() : status.dump(2).c_str());
  return kExitOk;
}

int RunStatus(const DrFlags& flags) {
  agent::HttpClientOptions options;
  options.ca_bundle_path = flags.ca_cert;
  options.client_cert_path = flags.client_cert;
  options.client_key_path = flags.client_key;
  const agent::HttpClient http(options);
  return PrintAnswer("status", http.Get(BaseUrl(flags.server) + "/dr/status"));
}

int RunPromote(const DrFlags& flags) {
  absl::StatusOr<SecretBytes> token = ReadAdminCredential(flags.admin_token_file, flags.client_cert);
  if (!token.ok()) {
    std::fprintf(stderr, "vouch dr promote: %s\n", std::string(token.status().message()).c_str());
    return kExitUsage;
  }
  agent::HttpClientOptions options;
  options.ca_bundle_path = flags.ca_cert;
  options.client_cert_path = flags.client_cert;
  options.client_key_path = flags.client_key;
  // pg_promote waits up to 30 s on the server side.
  options.total_timeout = absl::Seconds(45);
  const agent::HttpClient http(options);
  agent::HttpHeaders headers = AdminHeaders(*token);
  const int code =
      PrintAnswer("promote", http.PostJson(BaseUrl(flags.server) + "/dr/promote", "{}", headers));
  for (auto& header : headers) {
    SecureWipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(header.second.data()),
                                  header.second.size()));
  }
  return code;
}

void AddServerFlags(CLI::App& app, DrFlags& flags) {
  app.add_option("--server", flags.server, "Base URL of the vouch node, e.g. https://dr-1:8443")
      ->required();
  app.add_option("--ca-cert", flags.ca_cert, "PEM file of CAs that the server's TLS chain must "
                                             "reach (default: the system trust store)");
  app.add_option("--client-cert", flags.client_cert,
                 "PEM client certificate for mutual TLS; its roles come from the server's --roles")
      ->check(CLI::ExistingFile);
  app.add_option("--client-key", flags.client_key, "PEM private key of --client-cert")
      ->check(CLI::ExistingFile);
}

}  // namespace

Runner SetupDr(CLI::App& sub) {
  auto flags = std::make_shared<DrFlags>();
  auto selected = std::make_shared<Runner>();
  sub.require_subcommand(1);

  CLI::App* status = sub.add_subcommand("status", "Show whether a node is read-only and why");
  AddServerFlags(*status, *flags);
  status->callback([flags, selected] { *selected = [flags] { return RunStatus(*flags); }; });

  CLI::App* promote = sub.add_subcommand(
      "promote",
      "Promote a disaster-recovery node: promote its PostgreSQL standby and accept key changes");
  AddServerFlags(*promote, *flags);
  promote->add_option("--admin-token-file", flags->admin_token_file,
                      "File with the admin bearer token (default: $VOUCH_ADMIN_TOKEN)");
  promote->callback([flags, selected] { *selected = [flags] { return RunPromote(*flags); }; });

  return [selected] { return (*selected)(); };
}

}  // namespace vouch::cli
