// vouch audit: read and verify the audit log.
//
//   vouch audit list --server URL [--key NAME] [--since T] [--until T] [--outcome O]
//                    [--operation OP] [--limit N] [--json]
//   vouch audit verify (--server URL | --data DIR) [--jwks FILE]
//
// `verify` checks the hash chain of the whole log and the signature of every
// signed head, and names the first bad record. With --server it reads the
// log through GET /audit and the signing keys from GET /certs. With --data
// it opens the SQLite store of a data folder directly. It then derives the
// public signing key from the sealed token signing key (software key store
// only), unless --jwks names a JWKS file. The admin token comes from
// --admin-token-file or $VOUCH_ADMIN_TOKEN.
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "vouch/agent/http_client.h"
#include "vouch/agent/key_admin_client.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/broker/audit_head.h"
#include "vouch/cli/admin_token.h"
#include "vouch/cli/command.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/key_routes.h"
#include "vouch/server/service.h"
#include "vouch/server/signing_keys.h"
#include "vouch/store/sqlite_store.h"
#include "vouch/token/issuer.h"

namespace vouch::cli {
namespace {

constexpr size_t kMaxJwksBytes = 1 << 20;

struct AuditFlags {
  std::string server;
  std::string admin_token_file;
  std::string ca_cert;
  std::string client_cert;
  std::string client_key;
  std::string data_dir;
  std::string jwks_file;
  std::string key;
  std::string since;
  std::string until;
  std::string outcome;
  std::string operation;
  size_t limit = 100;
  bool json = false;
};

void PrintError(const absl::Status& status) {
  std::fprintf(stderr, "vouch audit: %s\n", std::string(status.message()).c_str());
}

// Query appends one percent-encoded name=value pair (only unreserved
// characters pass unencoded).
void AddQuery(std::string& path, const char* name, const std::string& value) {
  if (value.empty()) {
    return;
  }
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += name;
  path += '=';
  for (const char c : value) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    path += unreserved ? std::string(1, c)
                       : fmt::format("%{:02X}", static_cast<unsigned>(static_cast<uint8_t>(c)));
  }
}

absl::StatusOr<nlohmann::json> CallServer(const AuditFlags& flags, const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(SecretBytes token, ReadAdminCredential(flags.admin_token_file, flags.client_cert));
  agent::HttpClientOptions options;
  options.ca_bundle_path = flags.ca_cert;
  options.client_cert_path = flags.client_cert;
  options.client_key_path = flags.client_key;
  options.max_response_bytes = 256 << 20;
  const agent::HttpClient http(options);
  const agent::KeyAdminClient client(flags.server, http, std::move(token));
  return client.Call("GET", path);
}

absl::StatusOr<std::vector<store::AuditEvent>> EventsFromJson(const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.contains("value") || !answer["value"].is_array()) {
    return InvalidArgumentf("audit answer: want {{\"value\": [...]}}");
  }
  std::vector<store::AuditEvent> events;
  for (const nlohmann::json& record : answer["value"]) {
    VOUCH_ASSIGN_OR_RETURN(store::AuditEvent event, broker::AuditEventFromJson(record));
    events.push_back(std::move(event));
  }
  return events;
}

void PrintTable(const std::vector<store::AuditEvent>& events) {
  std::printf("%-8s %-27s %-10s %-26s %-8s %-40s %s\n", "SEQ", "TIME", "ACTOR", "OPERATION",
              "OUTCOME", "TARGET", "DETAIL");
  for (const store::AuditEvent& event : events) {
    const nlohmann::json json = broker::AuditEventToJson(event);
    std::string detail = event.detail;
    if (event.operation == broker::kAuditHeadOperation) {
      detail = "(signed head)";
    }
    std::printf("%-8lld %-27s %-10s %-26s %-8s %-40s %s\n",
                static_cast<long long>(event.sequence), json["time"].get<std::string>().c_str(),
                event.actor.c_str(), event.operation.c_str(), event.outcome.c_str(),
                event.target.c_str(), detail.c_str());
  }
}

int RunList(const AuditFlags& flags) {
  std::string path = "/audit";
  AddQuery(path, "key", flags.key);
  AddQuery(path, "since", flags.since);
  AddQuery(path, "until", flags.until);
  AddQuery(path, "outcome", flags.outcome);
  AddQuery(path, "operation", flags.operation);
  AddQuery(path, "limit", std::to_string(flags.limit));
  absl::StatusOr<nlohmann::json> answer = CallServer(flags, path);
  if (!answer.ok()) {
    PrintError(answer.status());
    return kExitRejected;
  }
  if (flags.json) {
    std::printf("%s\n", (*answer)["value"].dump(2).c_str());
    return kExitOk;
  }
  absl::StatusOr<std::vector<store::AuditEvent>> events = EventsFromJson(*answer);
  if (!events.ok()) {
    PrintError(events.status());
    return kExitRejected;
  }
  PrintTable(*events);
  return kExitOk;
}

absl::StatusOr<nlohmann::json> ReadJwksFile(const std::string& file) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes text, ReadFile(file, kMaxJwksBytes));
  return policy::ParseStrictJson(ToString(text), "JWKS file " + file);
}

// LocalJwks derives the JWKS of the token signing key sealed in the data
// folder's store with the software key store's root key, followed by the
// keys that rotations retired (server/signing_keys.h), which signed older
// audit heads.
absl::StatusOr<nlohmann::json> LocalJwks(const std::string& dir, store::Store& store) {
  const std::string root_key = dir + "/" + server::kRootKeyFile;
  struct stat info {};
  if (stat(root_key.c_str(), &info) != 0) {
    return FailedPreconditionf("{} not found: pass --jwks FILE (the server's /certs)", root_key);
  }
  VOUCH_ASSIGN_OR_RETURN(auto keystore, keystore::SoftwareKeyStore::OpenOrCreate(root_key));
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> blob, store.GetBlob(server::kSigningKeyBlob));
  if (!blob.has_value()) {
    return FailedPreconditionf("no token signing key in {}: pass --jwks FILE", dir);
  }
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, keystore->Unseal(*blob, server::kSigningKeyBlob));
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> key, crypto::PrivateKeyFromPem(pem.Expose()));
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, token::SigningAlgForKey(key.get()));
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json jwk, token::PublicJwk(key.get(), alg));
  nlohmann::json keys = nlohmann::json::array({std::move(jwk)});
  VOUCH_ASSIGN_OR_RETURN(const std::vector<server::PreviousSigningKey> previous,
                         server::LoadPreviousSigningKeys(store));
  for (const server::PreviousSigningKey& retired : previous) {
    VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg retired_alg,
                           token::SigningAlgForKey(retired.public_key.get()));
    VOUCH_ASSIGN_OR_RETURN(nlohmann::json retired_jwk,
                           token::PublicJwk(retired.public_key.get(), retired_alg));
    keys.push_back(std::move(retired_jwk));
  }
  return nlohmann::json{{"keys", std::move(keys)}};
}

absl::StatusOr<broker::AuditLogReport> Verify(const AuditFlags& flags) {
  std::vector<store::AuditEvent> events;
  nlohmann::json jwks;
  if (!flags.jwks_file.empty()) {
    VOUCH_ASSIGN_OR_RETURN(jwks, ReadJwksFile(flags.jwks_file));
  }
  if (!flags.server.empty()) {
    VOUCH_ASSIGN_OR_RETURN(
        const nlohmann::json answer,
        CallServer(flags, fmt::format("/audit?limit={}", server::kMaxAuditRecordsPerRequest)));
    VOUCH_ASSIGN_OR_RETURN(events, EventsFromJson(answer));
    if (jwks.is_null()) {
      VOUCH_ASSIGN_OR_RETURN(jwks, CallServer(flags, "/certs"));
    }
  } else {
    VOUCH_ASSIGN_OR_RETURN(auto store,
                           store::SqliteStore::Open(flags.data_dir + "/" + server::kDatabaseFile));
    VOUCH_RETURN_IF_ERROR(store->CheckIntegrity());
    VOUCH_ASSIGN_OR_RETURN(events, store->ReadAudit(store::kAllAuditEvents));
    if (jwks.is_null()) {
      VOUCH_ASSIGN_OR_RETURN(jwks, LocalJwks(flags.data_dir, *store));
    }
  }
  return broker::VerifyAuditLog(events, jwks);
}

int RunVerify(const AuditFlags& flags) {
  if (flags.server.empty() == flags.data_dir.empty()) {
    PrintError(InvalidArgumentf("give exactly one of --server URL and --data DIR"));
    return kExitUsage;
  }
  absl::StatusOr<broker::AuditLogReport> report = Verify(flags);
  if (!report.ok()) {
    PrintError(report.status());
    return report.status().code() == absl::StatusCode::kDataLoss ? kExitRejected : kExitUsage;
  }
  std::printf("audit log verified: %lld records, %lld signed heads\n",
              static_cast<long long>(report->records), static_cast<long long>(report->heads));
  if (report->heads == 0) {
    std::printf("no signed head yet: removing the newest records would not be detected\n");
    return kExitOk;
  }
  std::printf("last signed head: record %lld; %lld records after it are not signed yet\n",
              static_cast<long long>(report->last_signed_sequence),
              static_cast<long long>(report->records - report->last_signed_sequence));
  std::printf("keep this head to detect a later truncation:\n%s\n", report->last_head.c_str());
  return kExitOk;
}

void AddServerFlags(CLI::App& app, AuditFlags& flags) {
  app.add_option("--server", flags.server,
                 "Base URL of the vouch server, e.g. http://127.0.0.1:8443");
  app.add_option("--admin-token-file", flags.admin_token_file,
                 "File with the admin bearer token (default: $VOUCH_ADMIN_TOKEN)")
      ->check(CLI::ExistingFile);
  app.add_option("--ca-cert", flags.ca_cert,
                 "PEM CA bundle that the server's TLS certificate chains to")
      ->check(CLI::ExistingFile);
  app.add_option("--client-cert", flags.client_cert,
                 "PEM client certificate for mutual TLS; its roles come from the server's --roles")
      ->check(CLI::ExistingFile);
  app.add_option("--client-key", flags.client_key, "PEM private key of --client-cert")
      ->check(CLI::ExistingFile);
}

}  // namespace

Runner SetupAudit(CLI::App& sub) {
  auto flags = std::make_shared<AuditFlags>();
  sub.require_subcommand(1);

  CLI::App* list_cmd = sub.add_subcommand("list", "List audit records, oldest first");
  AddServerFlags(*list_cmd, *flags);
  list_cmd->get_option("--server")->required();
  list_cmd->add_option("--key", flags->key, "Only records of this key name");
  list_cmd->add_option("--since", flags->since, "Only records at or after this RFC 3339 time");
  list_cmd->add_option("--until", flags->until, "Only records before this RFC 3339 time");
  list_cmd->add_option("--outcome", flags->outcome, "Only this outcome: ok, granted, denied, error");
  list_cmd->add_option("--operation", flags->operation, "Only this operation, e.g. key.release");
  list_cmd->add_option("--limit", flags->limit, "Newest records to show (default 100)")
      ->check(CLI::Range(size_t{1}, server::kMaxAuditRecordsPerRequest));
  list_cmd->add_flag("--json", flags->json, "Print the records as JSON");

  CLI::App* verify_cmd =
      sub.add_subcommand("verify", "Check the hash chain and signed heads of the whole log");
  AddServerFlags(*verify_cmd, *flags);
  verify_cmd->add_option("--data", flags->data_dir, "Data folder of a vouch server (offline)")
      ->check(CLI::ExistingDirectory);
  verify_cmd->add_option("--jwks", flags->jwks_file, "JWKS file with the head signing key")
      ->check(CLI::ExistingFile);

  return [flags, list_cmd, verify_cmd] {
    if (list_cmd->parsed()) {
      return RunList(*flags);
    }
    if (verify_cmd->parsed()) {
      return RunVerify(*flags);
    }
    return kExitUsage;
  };
}

}  // namespace vouch::cli
