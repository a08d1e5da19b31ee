// vouch policy: set, show and try attestation policies.
//
//   vouch policy set  --server URL --kind KIND POLICY_FILE
//   vouch policy get  --server URL --kind KIND [--json]
//   vouch policy test --kind KIND --policy FILE [--collateral DIR] [--at TIME] EVIDENCE...
//
// `set` sends the file as it is: policy text, or a signed JWS (required by a
// server in isolated mode). `test` verifies each evidence file offline as
// `vouch verify` does, evaluates the policy on its claims without issuing a
// token, and prints every rule with whether it fired and why.
//
// Exit status: 0 when every evidence file is permitted (or set/get worked),
// 1 when one is denied or the server refused, 2 for usage and I/O errors
// and for policies that do not parse or fail during evaluation.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/agent/http_client.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/cli/admin_token.h"
#include "vouch/cli/command.h"
#include "vouch/cli/verify.h"
#include "vouch/policy/attestation_policy.h"
#include "vouch/server/attestation_policies.h"

namespace vouch::cli {
namespace {

constexpr size_t kMaxPolicyFileBytes = 256 * 1024;

struct PolicyFlags {
  std::string server;
  std::string kind;
  std::string admin_token_file;
  std::string ca_cert;
  std::string client_cert;
  std::string client_key;
  std::string policy_file;
  bool json = false;
  // test only
  std::vector<std::string> evidence;
  std::vector<std::string> collateral;
  std::string at;
  bool allow_debug = false;
  uint32_t max_vmpl = 0;
};

void PrintError(std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "vouch policy: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               std::string(status.message()).c_str());
}

std::string PolicyUrl(const PolicyFlags& flags) {
  std::string base = flags.server;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + "/policies/" + flags.kind;
}

// SendPolicyRequest sends GET or PUT /policies/{kind} with the admin token
// and returns the JSON response, or an error with the server's message.
absl::StatusOr<nlohmann::json> SendPolicyRequest(const PolicyFlags& flags, std::string_view method,
                                                 std::string_view body,
                                                 std::string_view content_type) {
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes token, ReadAdminCredential(flags.admin_token_file, flags.client_cert));
  agent::HttpClientOptions options;
  options.ca_bundle_path = flags.ca_cert;
  options.client_cert_path = flags.client_cert;
  options.client_key_path = flags.client_key;
  const agent::HttpClient http(options);
  agent::HttpHeaders headers = AdminHeaders(token);
  if (!content_type.empty()) {
    headers.emplace_back("Content-Type", std::string(content_type));
  }
  VOUCH_ASSIGN_OR_RETURN(const agent::HttpResponse response,
                         http.Send(method, PolicyUrl(flags), body, headers));
  const nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
  if (response.status != 200) {
    std::string message = response.body.substr(0, 512);
    if (json.is_object() && json.contains("error") && json["error"].is_object()) {
      message = json["error"].value("message", message);
    }
    return absl::FailedPreconditionError(
        fmt::format("server responded HTTP {}: {}", response.status, message));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError("server responded HTTP 200 without a JSON object");
  }
  return json;
}

int RunSet(const PolicyFlags& flags) {
  absl::StatusOr<Bytes> text = ReadFile(flags.policy_file, kMaxPolicyFileBytes);
  if (!text.ok()) {
    PrintError("read policy", text.status());
    return kExitUsage;
  }
  const std::string body = ToString(*text);
  // A compact JWS never contains '=' or ';', which every policy text has.
  const bool is_jws = body.find_first_of("=;") == std::string::npos;
  absl::StatusOr<nlohmann::json> answer =
      SendPolicyRequest(flags, "PUT", body, is_jws ? "application/jose" : "text/plain");
  if (!answer.ok()) {
    PrintError("set", answer.status());
    return answer.status().code() == absl::StatusCode::kFailedPrecondition ? kExitRejected
                                                                           : kExitUsage;
  }
  std::printf("policy for %s set\nx-ms-policy-hash: %s\n", flags.kind.c_str(),
              answer->value("x-ms-policy-hash", "").c_str());
  return kExitOk;
}

int RunGet(const PolicyFlags& flags) {
  absl::StatusOr<nlohmann::json> answer = SendPolicyRequest(flags, "GET", "", "");
  if (!answer.ok()) {
    PrintError("get", answer.status());
    return answer.status().code() == absl::StatusCode::kFailedPrecondition ? kExitRejected
                                                                           : kExitUsage;
  }
  if (flags.json) {
    std::printf("%s\n", answer->dump(2).c_str());
    return kExitOk;
  }
  std::printf("// kind: %s%s\n// x-ms-policy-hash: %s\n%s", flags.kind.c_str(),
              answer->value("default", false) ? " (default policy)" : "",
              answer->value("x-ms-policy-hash", "").c_str(), answer->value("policy", "").c_str());
  return kExitOk;
}

void PrintEvaluation(const policy::Evaluation& evaluation) {
  for (const policy::RuleTrace& rule : evaluation.trace) {
    std::printf("  %s rule %zu (line %d): %s\n    %s: %s\n",
                std::string(policy::SectionName(rule.section)).c_str(), rule.index,
                rule.position.line, rule.text.c_str(), rule.fired ? "FIRED" : "not fired",
                rule.detail.c_str());
  }
  std::printf("  result: %s: %s\n", evaluation.permitted ? "PERMIT" : "DENY",
              evaluation.reason.c_str());
  if (evaluation.permitted) {
    std::printf("  issued claims: %s\n", evaluation.issued.dump().c_str());
  }
}

// LoadPolicyForTest parses the policy and applies the checks of PUT
// /policies/{kind}, so a policy that passes here is accepted by a server.
absl::StatusOr<policy::AttestationPolicy> LoadPolicyForTest(const PolicyFlags& flags) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes text, ReadFile(flags.policy_file, kMaxPolicyFileBytes));
  VOUCH_ASSIGN_OR_RETURN(policy::AttestationPolicy parsed,
                         policy::AttestationPolicy::Parse(ToString(text)));
  VOUCH_RETURN_IF_ERROR(parsed.CheckSupported());
  const auto known = policy::KnownClaims(flags.kind);
  if (known.has_value()) {
    VOUCH_RETURN_IF_ERROR(parsed.CheckClaimTypes(*known));
  }
  return parsed;
}

int RunTest(const PolicyFlags& flags) {
  // The server registers the SevSnpVm claim types when it loads its
  // policies; the test command registers the same list through the server.
  server::RegisterKnownClaims(server::kSevSnpVmKind, server::SevSnpVmClaimTypes());
  absl::StatusOr<policy::AttestationPolicy> parsed = LoadPolicyForTest(flags);
  if (!parsed.ok()) {
    PrintError(flags.policy_file, parsed.status());
    return kExitUsage;
  }
  absl::Time now = absl::Now();
  if (!flags.at.empty()) {
    absl::StatusOr<absl::Time> at = ParseRfc3339(flags.at);
    if (!at.ok()) {
      PrintError("--at", at.status());
      return kExitUsage;
    }
    now = *at;
  }

  int exit_status = kExitOk;
  for (const std::string& file : flags.evidence) {
    const EvidenceInput input = {file, flags.collateral, now,
                                 {.allow_debug = flags.allow_debug, .max_vmpl = flags.max_vmpl}};
    EvidenceFailure failure;
    const absl::StatusOr<VerifiedEvidence> evidence = VerifyEvidenceFile(input, failure);
    if (!evidence.ok()) {
      PrintError(fmt::format("{}: {}", file, failure.step), evidence.status());
      return failure.exit_status;
    }
    if (evidence->kind != flags.kind) {
      PrintError(file, InvalidArgumentf("evidence is {}, but --kind is {}", evidence->kind,
                                        flags.kind));
      return kExitUsage;
    }
    std::printf("%s: %s\n", file.c_str(), evidence->summary.c_str());
    const absl::StatusOr<policy::Evaluation> evaluation = parsed->Evaluate(evidence->claims);
    if (!evaluation.ok()) {
      // An evaluation error is a fault of the policy (such as comparing a
      // number claim with a string), not of the evidence.
      PrintError(file, evaluation.status());
      exit_status = kExitUsage;
      continue;
    }
    PrintEvaluation(*evaluation);
    if (!evaluation->permitted && exit_status == kExitOk) {
      exit_status = kExitRejected;
    }
  }
  return exit_status;
}

void AddServerFlags(CLI::App& app, PolicyFlags& flags) {
  app.add_option("--server", flags.server,
                 "Base URL of the vouch server, e.g. http://127.0.0.1:8443")
      ->required();
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

void AddKindFlag(CLI::App& app, PolicyFlags& flags) {
  app.add_option("--kind", flags.kind, "Evidence kind: SevSnpVm, TdxVm, SgxEnclave or AzureGuest")
      ->required()
      ->check(CLI::IsMember({"SevSnpVm", "TdxVm", "SgxEnclave", "AzureGuest"}));
}

}  // namespace

Runner SetupPolicy(CLI::App& sub) {
  auto flags = std::make_shared<PolicyFlags>();
  sub.require_subcommand(1);

  CLI::App* set = sub.add_subcommand("set", "Set the attestation policy of an evidence kind");
  AddServerFlags(*set, *flags);
  AddKindFlag(*set, *flags);
  set->add_option("POLICY_FILE", flags->policy_file,
                  "Policy text, or a JWS signed by a policy-signing certificate")
      ->required()
      ->check(CLI::ExistingFile);

  CLI::App* get = sub.add_subcommand("get", "Print the attestation policy of an evidence kind");
  AddServerFlags(*get, *flags);
  AddKindFlag(*get, *flags);
  get->add_flag("--json", flags->json, "Print the server's JSON answer");

  CLI::App* test = sub.add_subcommand(
      "test", "Evaluate a policy on recorded evidence without issuing anything");
  AddKindFlag(*test, *flags);
  test->add_option("--policy", flags->policy_file, "Policy text file")
      ->required()
      ->check(CLI::ExistingFile);
  test->add_option("--collateral", flags->collateral,
                   "Folder (or file) with the VCEK or VLEK and the AMD ASK/ASVK and ARK "
                   "certificates; repeatable (default: the folder holding each evidence file)");
  test->add_option("--at", flags->at,
                   "Verification time, RFC 3339 such as 2025-06-01T00:00:00Z (default: now)");
  test->add_flag("--allow-debug", flags->allow_debug,
                 "Accept a guest whose policy allows debugging");
  test->add_option("--max-vmpl", flags->max_vmpl, "Highest VMPL accepted, 0 to 3 (default: 0)")
      ->check(CLI::Range(0, 3));
  test->add_option("EVIDENCE", flags->evidence, "Evidence files: raw SEV-SNP attestation reports")
      ->required();

  return [flags, set, get, test] {
    if (set->parsed()) {
      return RunSet(*flags);
    }
    if (get->parsed()) {
      return RunGet(*flags);
    }
    if (test->parsed()) {
      return RunTest(*flags);
    }
    return kExitUsage;
  };
}

}  // namespace vouch::cli
