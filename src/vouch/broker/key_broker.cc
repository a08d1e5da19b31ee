#include "vouch/broker/key_broker.h"

#include <optional>
#include <utility>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/random.h"
#include "vouch/policy/release_policy.h"
#include "vouch/policy/strict_json.h"
#include "vouch/token/issuer.h"

namespace vouch::broker {
namespace {

using Json = nlohmann::json;

// IsSimulated treats any value of the claim other than false as simulated,
// so a malformed marker cannot turn simulated evidence into real evidence.
bool IsSimulated(const Json& claims) {
  const auto it = claims.find(std::string(kSimulatedClaim));
  return it != claims.end() && !(it->is_boolean() && !it->get<bool>());
}

// EvaluateForSimulated grants a token for simulated evidence only when the
// policy grants its claims and denies the same claims without the marker.
// A policy that ignores the marker, or only allows it in one branch of an
// anyOf, would release the key to a simulated guest otherwise.
absl::Status EvaluateForSimulated(const policy::ReleasePolicy& release_policy, const Json& claims,
                                  std::string_view issuer) {
  VOUCH_RETURN_IF_ERROR(release_policy.Evaluate(claims, issuer));
  Json without_marker = claims;
  without_marker.erase(std::string(kSimulatedClaim));
  const absl::Status status = release_policy.Evaluate(without_marker, issuer);
  if (status.ok()) {
    return PermissionDeniedf(
        "release policy: the token has {} set, and simulated evidence needs a policy that "
        "requires {}; this policy grants the same claims without it",
        kSimulatedClaim, kSimulatedClaim);
  }
  if (status.code() != absl::StatusCode::kPermissionDenied) {
    return status;
  }
  return absl::OkStatus();
}

// CutAuditDetail cuts `detail` to kMaxAuditDetailBytes at a UTF-8 character
// boundary and appends a marker with the original size.
std::string CutAuditDetail(std::string detail) {
  if (detail.size() <= kMaxAuditDetailBytes) {
    return detail;
  }
  const size_t original_size = detail.size();
  size_t end = kMaxAuditDetailBytes;
  // Continuation bytes of a UTF-8 sequence have the form 10xxxxxx.
  while (end > 0 && (static_cast<unsigned char>(detail[end]) & 0xC0) == 0x80) {
    --end;
  }
  detail.resize(end);
  detail += fmt::format("... [cut, {} bytes in all]", original_size);
  return detail;
}

std::string TokenActor(const Json& claims) {
  const auto jti = claims.find("jti");
  if (jti != claims.end() && jti->is_string()) {
    return "token:" + jti->get<std::string>().substr(0, 128);
  }
  return "token";
}

// ReleaseAuditContext names the token's issuer and evidence kind
// (x-ms-attestation-type) for the audit record of a release decision.
std::string ReleaseAuditContext(const Json& claims) {
  const std::string issuer = policy::StringOr(claims, "iss", "(none)");
  const std::string evidence = policy::StringOr(claims, "x-ms-attestation-type", "(unknown)");
  return fmt::format("issuer {} evidence {}{}", issuer.substr(0, 256), evidence.substr(0, 64),
                     IsSimulated(claims) ? " (simulated)" : "");
}

// TargetKeyIfUsable returns the RSA key of one JWK from x-ms-runtime.keys,
// or nullptr when the JWK is not a usable encryption key.
crypto::SslPtr<EVP_PKEY> TargetKeyIfUsable(const Json& jwk) {
  if (!jwk.is_object() || policy::StringOr(jwk, "kty") != "RSA") {
    return nullptr;
  }
  if (jwk.contains("use") && jwk["use"] != "enc") {
    return nullptr;
  }
  if (jwk.contains("key_ops")) {
    const Json& ops = jwk["key_ops"];
    if (!ops.is_array() || std::find(ops.begin(), ops.end(), "encrypt") == ops.end()) {
      return nullptr;
    }
  }
  Json members = {{"kty", "RSA"}};
  for (const char* name : {"n", "e"}) {
    if (jwk.contains(name)) {
      members[name] = jwk[name];
    }
  }
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::PublicKeyFromJwk(members);
  if (!key.ok() || EVP_PKEY_get_bits(key->get()) < kMinTargetRsaBits) {
    return nullptr;
  }
  return *std::move(key);
}

}  // namespace

std::string KeyLabel(std::string_view name, std::string_view version) {
  return fmt::format("key:{}:{}", name, version);
}

std::string KeyId(std::string_view base_url, std::string_view name, std::string_view version) {
  return fmt::format("{}/keys/{}/{}", token::NormalizeIssuer(base_url), name, version);
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> FindTargetKey(const nlohmann::json& claims,
                                                       std::string* kid) {
  const auto runtime = claims.find("x-ms-runtime");
  const Json* keys = nullptr;
  if (runtime != claims.end() && runtime->is_object() && runtime->contains("keys") &&
      (*runtime)["keys"].is_array()) {
    keys = &(*runtime)["keys"];
  }
  if (keys == nullptr) {
    return InvalidArgumentf("token: x-ms-runtime.keys is missing");
  }
  for (const bool want_ephemeral_kid : {true, false}) {
    for (const Json& jwk : *keys) {
      const bool has_ephemeral_kid = jwk.is_object() && policy::StringOr(jwk, "kid") == kEphemeralKeyKid;
      if (want_ephemeral_kid && !has_ephemeral_kid) {
        continue;
      }
      crypto::SslPtr<EVP_PKEY> key = TargetKeyIfUsable(jwk);
      if (key != nullptr) {
        *kid = policy::StringOr(jwk, "kid");
        return key;
      }
    }
  }
  return InvalidArgumentf("token: x-ms-runtime.keys holds no RSA encryption key of {} bits or "
                          "more",
                          kMinTargetRsaBits);
}

absl::StatusOr<std::unique_ptr<KeyBroker>> KeyBroker::Create(KeyBrokerDeps deps,
                                                             InvalidTokenAuditLimits audit_limits) {
  if (deps.key_source != nullptr) {
    const ReleaseKeys keys = deps.key_source->Current();
    deps.validator = keys.validator;
    deps.signing_key = keys.signing_key;
  }
  if (deps.store == nullptr || deps.keystore == nullptr || deps.validator == nullptr ||
      deps.signing_key == nullptr) {
    return InvalidArgumentf("key broker: store, keystore, validator and signing key are required");
  }
  if (deps.recovery_days < kMinRecoveryDays || deps.recovery_days > kMaxRecoveryDays) {
    return InvalidArgumentf("key broker: recovery period {} days, want {} to {}",
                            deps.recovery_days, kMinRecoveryDays, kMaxRecoveryDays);
  }
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, token::SigningAlgForKey(deps.signing_key));
  VOUCH_ASSIGN_OR_RETURN(Json jwk, token::PublicJwk(deps.signing_key, alg));
  if (deps.key_source != nullptr) {
    // Borrowed from one set of the source, which may go away on its next change.
    deps.validator = nullptr;
    deps.signing_key = nullptr;
  }
  std::unique_ptr<KeyBroker> broker(new KeyBroker(deps, audit_limits));
  broker->jwks_ = Json{{"keys", Json::array({std::move(jwk)})}};
  return broker;
}

absl::StatusOr<nlohmann::json> KeyBroker::Release(std::string_view name, std::string_view version,
                                                  const ReleaseRequest& request,
                                                  std::string_view base_url, absl::Time now) {
  // Malformed names and versions are rejected before anything is audited, so
  // the target of every audit record is short.
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(name));
  if (!version.empty()) {
    VOUCH_RETURN_IF_ERROR(store::ValidateKeyVersion(version));
  }
  const std::string requested = fmt::format("keys/{}/{}", name, version.empty() ? "latest" : version);

  // The token comes first, so that callers without a valid token learn
  // nothing about which keys exist.
  ReleaseKeys keys = CurrentKeys();
  absl::StatusOr<Json> claims = keys.validator->Validate(request.target, now);
  if (!claims.ok() && deps_.key_source != nullptr) {
    // The token may be signed by a key that another node rotated in after
    // this node last read the signing keys.
    if (std::optional<ReleaseKeys> reloaded =
            deps_.key_source->ReloadForToken(request.target, keys)) {
      keys = *std::move(reloaded);
      claims = keys.validator->Validate(request.target, now);
    }
  }
  if (!claims.ok()) {
    AuditInvalidToken(name, requested, claims.status(), now);
    return claims.status();
  }
  const std::string actor = TokenActor(*claims);
  const std::string context = ReleaseAuditContext(*claims);

  absl::StatusOr<store::KeyRecord> record = deps_.store->GetKey(name, version);
  if (!record.ok()) {
    AuditRelease(name, actor, requested, "denied",
                 fmt::format("{}: {}", context, record.status().ToString()), now)
        .IgnoreError();
    return record.status();
  }
  const std::string target = fmt::format("keys/{}/{}", record->name, record->version);

  absl::StatusOr<Json> response =
      ReleaseVerified(*record, *claims, request, base_url, keys.signing_key);
  if (!response.ok()) {
    AuditRelease(name, actor, target, "denied",
                 fmt::format("{}: {}", context, response.status().ToString()), now)
        .IgnoreError();
    return response.status();
  }
  // A release that cannot be audited does not happen.
  const absl::Status audited = AuditRelease(
      name, actor, target, "granted",
      fmt::format("{} enc {}: release policy statement for authority {} satisfied", context,
                  EncName(request.enc), policy::StringOr(*claims, "iss")),
      now);
  if (!audited.ok()) {
    return Unavailablef("key release: audit log write failed, key not released: {}",
                        audited.message());
  }
  return response;
}

absl::StatusOr<nlohmann::json> KeyBroker::ReleaseVerified(const store::KeyRecord& record,
                                                          const nlohmann::json& claims,
                                                          const ReleaseRequest& request,
                                                          std::string_view base_url,
                                                          EVP_PKEY* signing_key) {
  if (!record.enabled) {
    return PermissionDeniedf("key {} version {} is disabled", record.name, record.version);
  }
  if (record.release_policy.empty()) {
    return PermissionDeniedf("key {} version {} has no release policy, so it is never released",
                             record.name, record.version);
  }
  if (!record.exportable) {
    return PermissionDeniedf("key {} version {} is not exportable", record.name, record.version);
  }
  absl::StatusOr<policy::ReleasePolicy> release_policy =
      policy::ReleasePolicy::Parse(record.release_policy);
  if (!release_policy.ok()) {
    return Internalf("key {} version {}: stored release policy is invalid: {}", record.name,
                     record.version, release_policy.status().message());
  }

  const std::string issuer = policy::StringOr(claims, "iss");
  VOUCH_RETURN_IF_ERROR(IsSimulated(claims)
                            ? EvaluateForSimulated(*release_policy, claims, issuer)
                            : release_policy->Evaluate(claims, issuer));

  std::string target_kid;
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> target, FindTargetKey(claims, &target_kid));
  ReleasedKey released;
  VOUCH_ASSIGN_OR_RETURN(
      released.wrapped,
      deps_.keystore->WrapForRelease(record.sealed_key, KeyLabel(record.name, record.version),
                                     target.get(), OaepHashForEnc(request.enc)));
  released.kid = KeyId(base_url, record.name, record.version);
  released.kty = record.kty;
  released.enc = request.enc;
  released.nonce = request.nonce;
  released.target_kid = target_kid;
  released.enabled = record.enabled;
  released.exportable = record.exportable;
  released.created = record.created;
  released.updated = record.updated;
  released.release_policy = record.release_policy;
  released.tags_json = record.tags_json;
  return SignReleaseResponse(signing_key, BuildReleasePayload(released));
}

ReleaseKeys KeyBroker::CurrentKeys() const {
  if (deps_.key_source != nullptr) {
    return deps_.key_source->Current();
  }
  return ReleaseKeys{nullptr, deps_.validator, deps_.signing_key};
}

absl::Status KeyBroker::Audit(std::string actor, std::string operation, std::string target,
                              std::string outcome, std::string detail, absl::Time now) {
  store::AuditEvent event;
  event.time = now;
  event.actor = std::move(actor);
  event.operation = std::move(operation);
  event.target = std::move(target);
  event.outcome = std::move(outcome);
  event.detail = CutAuditDetail(std::move(detail));
  return deps_.store->AppendAudit(event);
}

absl::Status KeyBroker::AuditRelease(std::string_view name, std::string actor, std::string target,
                                     std::string outcome, std::string detail, absl::Time now) {
  const std::optional<SuppressedDenials> suppressed =
      invalid_token_audit_.TakeEndedSummary(name, now);
  if (suppressed.has_value()) {
    AuditSuppressed(*suppressed, now);
  }
  return Audit(std::move(actor), "key.release", std::move(target), std::move(outcome),
               std::move(detail), now);
}

void KeyBroker::AuditInvalidToken(std::string_view name, std::string target,
                                  const absl::Status& status, absl::Time now) {
  const AuditDecision decision = invalid_token_audit_.AdmitDenial(name, now);
  for (const SuppressedDenials& suppressed : decision.summaries) {
    AuditSuppressed(suppressed, now);
  }
  if (decision.write_row) {
    Audit("token", "key.release", std::move(target), "denied", status.ToString(), now)
        .IgnoreError();
  }
}

void KeyBroker::AuditSuppressed(const SuppressedDenials& suppressed, absl::Time now) {
  const std::string target =
      suppressed.key.empty() ? std::string("keys") : fmt::format("keys/{}", suppressed.key);
  std::string detail = fmt::format(
      "{} more denied releases with invalid tokens suppressed between {} and {}", suppressed.count,
      FormatRfc3339(suppressed.window_start), FormatRfc3339(suppressed.window_end));
  if (suppressed.key.empty()) {
    detail += ", for key names beyond those tracked one by one";
  }
  // NOTE: a failed write loses the count, as a failed denial record would.
  Audit("token", "key.release", target, "denied", std::move(detail), now).IgnoreError();
}

absl::Status KeyBroker::AuditRefusal(std::string_view actor, std::string_view operation,
                                     std::string target, const absl::Status& status,
                                     absl::Time now) {
  if (status.code() == absl::StatusCode::kFailedPrecondition ||
      status.code() == absl::StatusCode::kPermissionDenied) {
    // NOTE: a failed write of this record is dropped: the refusal stands.
    Audit(std::string(actor), std::string(operation), std::move(target), "denied",
          status.ToString(), now)
        .IgnoreError();
  }
  return status;
}

}  // namespace vouch::broker
