#include "vouch/server/attestation_policies.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/jws.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/status_mapping.h"

namespace vouch::server {
namespace {

constexpr std::array<const char*, 5> kKinds = {kSevSnpVmKind, kTdxVmKind, kSgxEnclaveKind,
                                               kAzureGuestKind, kTpmKind};

// The default policy of every kind: permit all evidence that verified and
// issue nothing, so tokens carry the incoming claims unchanged.
constexpr char kDefaultPolicy[] =
    "version=1.0;\n"
    "authorizationrules {\n"
    "  => permit();\n"
    "};\n"
    "issuancerules {\n"
    "};\n";

// Claims that a policy must not issue: the token's own claims and the
// marker that selects the simulated issuer.
constexpr std::array<const char*, 9> kReservedClaims = {
    "iss", "iat", "nbf", "exp", "jti", "x-ms-ver", "x-ms-policy-hash", "x-vouch-simulated",
    "aud"};

constexpr char kPolicyHashClaim[] = "x-ms-policy-hash";

}  // namespace

const std::vector<std::string>& SevSnpVmClaimTypes() {
  static const auto* claims = new std::vector<std::string>{
      "x-ms-attestation-type",
      "x-ms-sevsnpvm-launchmeasurement",
      "x-ms-sevsnpvm-hostdata",
      "x-ms-sevsnpvm-reportdata",
      "x-ms-sevsnpvm-vmpl",
      "x-ms-sevsnpvm-is-debuggable",
      "x-ms-sevsnpvm-migration-allowed",
      "x-ms-sevsnpvm-smt-allowed",
      "x-ms-sevsnpvm-bootloader-svn",
      "x-ms-sevsnpvm-tee-svn",
      "x-ms-sevsnpvm-snpfw-svn",
      "x-ms-sevsnpvm-microcode-svn",
      "x-ms-sevsnpvm-guestsvn",
      "x-ms-sevsnpvm-familyId",
      "x-ms-sevsnpvm-imageId",
      "x-ms-sevsnpvm-idkeydigest",
      "x-ms-sevsnpvm-authorkeydigest",
      "x-ms-sevsnpvm-reportid",
      "x-vouch-sevsnpvm-chipid",
      "x-vouch-sevsnpvm-policy",
      "x-vouch-sevsnpvm-product",
      "x-vouch-sevsnpvm-report-version",
      "x-vouch-sevsnpvm-signing-key",
      "x-vouch-sevsnpvm-fmc-svn",
      "x-vouch-sevsnpvm-csp-id",
      "x-ms-runtime",
      "nonce",
      "x-vouch-simulated",
  };
  return *claims;
}

namespace {

absl::Status CheckKind(std::string_view kind) {
  for (const char* known : kKinds) {
    if (kind == known) {
      return absl::OkStatus();
    }
  }
  return NotFoundf("unknown evidence kind {:?}, want SevSnpVm, TdxVm, SgxEnclave or AzureGuest",
                   kind);
}

absl::Status CheckIssuedTypes(const policy::AttestationPolicy& policy) {
  for (const policy::Rule& rule : policy.rules()) {
    if (rule.action.kind != policy::Action::Kind::kIssue) {
      continue;
    }
    for (const char* reserved : kReservedClaims) {
      if (rule.action.type == reserved) {
        return InvalidArgumentf("attestation policy {}:{}: issue() of {:?} is not allowed: the "
                                "service sets that claim itself",
                                rule.action.position.line, rule.action.position.column, reserved);
      }
    }
  }
  return absl::OkStatus();
}

// LooksLikeJws is true for a compact serialization: three base64url segments
// and nothing else. Policy text always contains '=' or ';', so it never
// matches.
bool LooksLikeJws(std::string_view body) {
  size_t dots = 0;
  for (const char c : body) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return false;
    }
  }
  return dots == 2;
}

// PolicyFromPayload reads {"AttestationPolicy": base64url(policy text)}, the
// payload Azure Attestation defines for policy JWS.
absl::StatusOr<std::string> PolicyFromPayload(std::string_view payload) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json json,
                         policy::ParseStrictJson(payload, "policy JWS payload"));
  if (!json.is_object() || json.size() != 1 || !json.contains("AttestationPolicy") ||
      !json["AttestationPolicy"].is_string()) {
    return InvalidArgumentf(
        "policy JWS payload: want exactly {{\"AttestationPolicy\": base64url(policy)}}");
  }
  absl::StatusOr<Bytes> text = Base64UrlDecode(json["AttestationPolicy"].get<std::string>());
  if (!text.ok()) {
    return InvalidArgumentf("policy JWS payload: AttestationPolicy is not base64url");
  }
  return ToString(*text);
}

// UnsignedJwsPayload returns the payload of a JWS with "alg": "none" and an
// empty signature, or nullopt when the header names another algorithm.
absl::StatusOr<std::optional<std::string>> UnsignedJwsPayload(std::string_view compact) {
  const size_t first = compact.find('.');
  const size_t second = compact.find('.', first + 1);
  absl::StatusOr<Bytes> header_bytes = Base64UrlDecode(compact.substr(0, first));
  if (!header_bytes.ok()) {
    return InvalidArgumentf("policy JWS: header is not base64url");
  }
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json header,
                         policy::ParseStrictJson(ToString(*header_bytes), "policy JWS header"));
  if (!header.is_object() || policy::StringOr(header, "alg") != "none") {
    return std::optional<std::string>();
  }
  if (second + 1 != compact.size()) {
    return InvalidArgumentf("policy JWS: alg none with a non-empty signature");
  }
  absl::StatusOr<Bytes> payload = Base64UrlDecode(compact.substr(first + 1, second - first - 1));
  if (!payload.ok()) {
    return InvalidArgumentf("policy JWS: payload is not base64url");
  }
  return std::optional<std::string>(ToString(*payload));
}

// CheckPolicyContentType accepts no Content-Type, text/plain (policy text)
// and application/jose (a JWS).
std::optional<HttpResponse> CheckPolicyContentType(const HttpRequest& request) {
  const std::optional<std::string> type = request.Header("content-type");
  if (!type.has_value()) {
    return std::nullopt;
  }
  const std::string media_type = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(AbslView(std::string_view(*type).substr(0, type->find(';')))));
  if (media_type == "text/plain" || media_type == "application/jose") {
    return std::nullopt;
  }
  return ErrorResponseFor(415, fmt::format("Content-Type {:?} is not supported, want text/plain "
                                           "(policy text) or application/jose (signed policy)",
                                           *type));
}

nlohmann::json RecordJson(const PolicyRecord& record) {
  return {{"kind", record.kind},
          {"policy", record.text},
          {kPolicyHashClaim, record.policy_hash},
          {"default", record.is_default}};
}

}  // namespace

void RegisterKnownClaims(std::string_view kind, const std::vector<std::string>& claim_types) {
  policy::RegisterKnownClaims(kind, claim_types);
}

AttestationPolicies::AttestationPolicies(store::Store& store, AttestationPoliciesOptions options)
    : store_(store), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<AttestationPolicies>> AttestationPolicies::Load(
    store::Store& store, AttestationPoliciesOptions options) {
  if (options.isolated && options.signing_certificates.empty()) {
    return InvalidArgumentf(
        "isolated mode needs at least one policy-signing certificate (--policy-signing-cert)");
  }
  RegisterKnownClaims(kSevSnpVmKind, SevSnpVmClaimTypes());
  std::unique_ptr<AttestationPolicies> policies(
      new AttestationPolicies(store, std::move(options)));
  for (const char* kind : kKinds) {
    const std::string blob = std::string(kPolicyBlobPrefix) + kind;
    VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> stored, store.GetBlob(blob));
    const std::string text = stored.has_value() ? ToString(*stored) : kDefaultPolicy;
    absl::StatusOr<policy::AttestationPolicy> parsed = policy::AttestationPolicy::Parse(text);
    if (!parsed.ok()) {
      return Prefix(fmt::format("stored attestation policy {}", blob), parsed.status());
    }
    Current current;
    current.policy = std::make_shared<const policy::AttestationPolicy>(*std::move(parsed));
    current.record = {kind, text, policy::PolicyHash(text), !stored.has_value()};
    MutexLock lock(&policies->mutex_);
    policies->current_[kind] = std::move(current);
  }
  return policies;
}

absl::StatusOr<AttestationPolicies::Current> AttestationPolicies::Lookup(
    std::string_view kind) const {
  VOUCH_RETURN_IF_ERROR(CheckKind(kind));
  MutexLock lock(&mutex_);
  const auto it = current_.find(kind);
  if (it == current_.end()) {
    return Internalf("attestation policy for {} was not loaded", kind);
  }
  return it->second;
}

absl::StatusOr<policy::Evaluation> AttestationPolicies::Explain(
    std::string_view kind, const nlohmann::json& incoming_claims) const {
  VOUCH_ASSIGN_OR_RETURN(const Current current, Lookup(kind));
  absl::StatusOr<policy::Evaluation> evaluation = current.policy->Evaluate(incoming_claims);
  if (!evaluation.ok()) {
    return Prefix(fmt::format("attestation policy for {}", kind), evaluation.status());
  }
  return evaluation;
}

absl::StatusOr<nlohmann::json> AttestationPolicies::Apply(
    std::string_view kind, const nlohmann::json& incoming_claims) const {
  VOUCH_ASSIGN_OR_RETURN(const Current current, Lookup(kind));
  absl::StatusOr<policy::Evaluation> evaluation = current.policy->Evaluate(incoming_claims);
  if (!evaluation.ok()) {
    return Prefix(fmt::format("attestation policy for {}", kind), evaluation.status());
  }
  if (!evaluation->permitted) {
    return PermissionDeniedf("attestation policy for {}: {}", kind, evaluation->reason);
  }
  nlohmann::json claims = incoming_claims;
  for (const auto& [type, value] : evaluation->issued.items()) {
    const auto existing = claims.find(type);
    if (existing != claims.end() && *existing != value) {
      return FailedPreconditionf(
          "attestation policy for {}: issues claim {} with a value other than the evidence's",
          kind, type);
    }
    claims[type] = value;
  }
  claims[kPolicyHashClaim] = current.record.policy_hash;
  return claims;
}

absl::StatusOr<PolicyRecord> AttestationPolicies::Get(std::string_view kind) const {
  VOUCH_ASSIGN_OR_RETURN(const Current current, Lookup(kind));
  return current.record;
}

absl::StatusOr<std::string> AttestationPolicies::PolicyTextFromBody(std::string_view body) const {
  if (!LooksLikeJws(body)) {
    if (options_.isolated) {
      return Unauthenticatedf(
          "isolated mode: the policy must be a JWS signed by a policy-signing certificate, not "
          "policy text");
    }
    return std::string(body);
  }
  VOUCH_ASSIGN_OR_RETURN(const std::optional<std::string> unsigned_payload,
                         UnsignedJwsPayload(body));
  if (unsigned_payload.has_value()) {
    if (options_.isolated) {
      return Unauthenticatedf("isolated mode: the policy JWS is unsigned (alg none)");
    }
    return PolicyFromPayload(*unsigned_payload);
  }
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsParts parts, crypto::JwsDecode(body));
  constexpr std::array<crypto::JwsAlg, 4> kAllowed = {
      crypto::JwsAlg::kRs256, crypto::JwsAlg::kPs256, crypto::JwsAlg::kEs256,
      crypto::JwsAlg::kEs384};
  for (const crypto::Certificate& certificate : options_.signing_certificates) {
    if (crypto::JwsVerify(parts, certificate.PublicKey(), kAllowed).ok()) {
      return PolicyFromPayload(parts.payload);
    }
  }
  return Unauthenticatedf(
      "policy JWS is not signed by any of the {} configured policy-signing certificates",
      options_.signing_certificates.size());
}

absl::StatusOr<PolicyRecord> AttestationPolicies::Set(std::string_view kind,
                                                      std::string_view body) {
  VOUCH_RETURN_IF_ERROR(CheckKind(kind));
  VOUCH_ASSIGN_OR_RETURN(const std::string text, PolicyTextFromBody(body));
  VOUCH_ASSIGN_OR_RETURN(policy::AttestationPolicy parsed, policy::AttestationPolicy::Parse(text));
  VOUCH_RETURN_IF_ERROR(parsed.CheckSupported());
  VOUCH_RETURN_IF_ERROR(CheckIssuedTypes(parsed));
  const std::optional<std::set<std::string, std::less<>>> known = policy::KnownClaims(kind);
  if (!known.has_value()) {
    return FailedPreconditionf("no claim types are registered for {} evidence, so its policy "
                               "cannot be checked; this server does not attest {} yet",
                               kind, kind);
  }
  VOUCH_RETURN_IF_ERROR(parsed.CheckClaimTypes(*known));

  Current current;
  current.policy = std::make_shared<const policy::AttestationPolicy>(std::move(parsed));
  current.record = {std::string(kind), text, policy::PolicyHash(text), false};
  store::AuditEvent event;
  event.actor = "admin";
  event.operation = "attestation-policy.set";
  event.target = "policies/" + std::string(kind);
  event.outcome = "ok";
  event.detail = fmt::format("{}={}", kPolicyHashClaim, current.record.policy_hash);
  MutexLock write_lock(&write_mutex_);
  // The policy blob and its audit record are one transaction, so a crash
  // leaves both or neither.
  VOUCH_RETURN_IF_ERROR(store_.WriteBlobs(
      {{std::string(kPolicyBlobPrefix) + std::string(kind), ToBytes(text)}}, &event));
  {
    MutexLock lock(&mutex_);
    current_[std::string(kind)] = current;
  }
  return current.record;
}

absl::Status AttestationPolicies::AddRoutes(Router& router, const HandlerWrapper& admin) {
  VOUCH_RETURN_IF_ERROR(router.Add(
      "PUT", "/policies/{kind}",
      admin([this](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
        if (std::optional<HttpResponse> rejected = CheckPolicyContentType(request)) {
          return *std::move(rejected);
        }
        VOUCH_ASSIGN_OR_RETURN(const PolicyRecord record,
                               Set(request.Param("kind"), request.body));
        return JsonResponse(200, RecordJson(record));
      })));
  return router.Add("GET", "/policies/{kind}",
                    admin([this](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
                      VOUCH_ASSIGN_OR_RETURN(const PolicyRecord record,
                                             Get(request.Param("kind")));
                      return JsonResponse(200, RecordJson(record));
                    }));
}

}  // namespace vouch::server
