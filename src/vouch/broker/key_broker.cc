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

constexpr std::string_view kKeyType = "oct-HSM";
constexpr size_t kVersionBytes = 16;

// CreateKeyRequest is a validated key creation body.
struct CreateKeyRequest {
  int key_size_bits = 256;
  std::optional<SecretBytes> imported_key;
  bool exportable = false;
  bool enabled = true;
  std::string policy_text;  // canonical JSON of the validated policy, or empty
  bool policy_immutable = false;
};

absl::Status CheckMembers(const Json& object, std::initializer_list<std::string_view> allowed,
                          std::string_view where) {
  for (const auto& [name, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return InvalidArgumentf("create key: unknown member {} in {}, want one of {}",
                              policy::DescribeJson(Json(name), 64), where,
                              fmt::join(allowed, ", "));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> OptionalBool(const Json& object, const char* name, bool default_value,
                                  std::string_view where) {
  const auto it = object.find(name);
  if (it == object.end()) {
    return default_value;
  }
  if (!it->is_boolean()) {
    return InvalidArgumentf("create key: {}.{} must be true or false", where, name);
  }
  return it->get<bool>();
}

bool IsValidAesSize(int64_t bits) { return bits == 128 || bits == 192 || bits == 256; }

// AesKeySizeBits reads a key_size value, checking its range before narrowing
// it, because get<int>() turns 4294967552 (2^32 + 256) into 256.
std::optional<int> AesKeySizeBits(const Json& value) {
  int64_t bits = 0;
  if (value.is_number_unsigned()) {
    const uint64_t unsigned_bits = value.get<uint64_t>();
    if (unsigned_bits > 256) {
      return std::nullopt;
    }
    bits = static_cast<int64_t>(unsigned_bits);
  } else if (value.is_number_integer()) {
    bits = value.get<int64_t>();
  } else {
    return std::nullopt;
  }
  if (!IsValidAesSize(bits)) {
    return std::nullopt;
  }
  return static_cast<int>(bits);
}

// ParseImportedKey decodes {"kty": "oct", "k": base64url} into a SecretBytes,
// wiping the intermediate buffer.
absl::StatusOr<SecretBytes> ParseImportedKey(const Json& jwk) {
  if (!jwk.is_object()) {
    return InvalidArgumentf("create key: key must be a JWK object {{\"kty\": \"oct\", \"k\": ...}}");
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(jwk, {"kty", "k"}, "key"));
  if (policy::StringOr(jwk, "kty") != "oct") {
    return InvalidArgumentf("create key: key.kty must be \"oct\"");
  }
  const auto k = jwk.find("k");
  if (k == jwk.end() || !k->is_string()) {
    return InvalidArgumentf("create key: key.k must be a base64url string");
  }
  absl::StatusOr<Bytes> decoded = Base64UrlDecode(k->get_ref<const std::string&>());
  if (!decoded.ok()) {
    return InvalidArgumentf("create key: key.k is not valid base64url");
  }
  SecretBytes key(*decoded);
  SecureWipe(*decoded);
  if (!IsValidAesSize(static_cast<int64_t>(key.size() * 8))) {
    return InvalidArgumentf("create key: key.k holds {} bytes, want 16, 24 or 32", key.size());
  }
  return key;
}

// ParseReleasePolicy accepts Key Vault's envelope {"contentType", "data",
// "immutable"} or the policy object itself, and validates the policy.
absl::Status ParseReleasePolicy(const Json& value, CreateKeyRequest& request) {
  if (!value.is_object()) {
    return InvalidArgumentf("create key: release_policy must be an object");
  }
  absl::StatusOr<policy::ReleasePolicy> parsed = InvalidArgumentf("create key: no policy");
  if (value.contains("data")) {
    VOUCH_RETURN_IF_ERROR(
        CheckMembers(value, {"contentType", "data", "immutable"}, "release_policy"));
    if (value.contains("contentType") && !value["contentType"].is_string()) {
      return InvalidArgumentf("create key: release_policy.contentType must be a string");
    }
    const std::string content_type = policy::StringOr(value, "contentType", "application/json");
    if (!content_type.starts_with("application/json")) {
      return InvalidArgumentf("create key: release_policy.contentType {}, want "
                              "\"application/json; charset=utf-8\"",
                              policy::DescribeJson(Json(content_type), 64));
    }
    if (!value["data"].is_string()) {
      return InvalidArgumentf("create key: release_policy.data must be a base64url string");
    }
    absl::StatusOr<Bytes> text = Base64UrlDecode(value["data"].get<std::string>());
    if (!text.ok()) {
      return InvalidArgumentf("create key: release_policy.data is not valid base64url");
    }
    parsed = policy::ReleasePolicy::Parse(ToString(*text));
    VOUCH_ASSIGN_OR_RETURN(request.policy_immutable,
                           OptionalBool(value, "immutable", false, "release_policy"));
  } else {
    parsed = policy::ReleasePolicy::FromJson(value);
  }
  if (!parsed.ok()) {
    return parsed.status();
  }
  request.policy_text = parsed->json().dump();
  return absl::OkStatus();
}

absl::StatusOr<CreateKeyRequest> ParseCreateKeyRequest(const Json& body) {
  if (!body.is_object()) {
    return InvalidArgumentf("create key: want a JSON object");
  }
  VOUCH_RETURN_IF_ERROR(
      CheckMembers(body, {"kty", "key_size", "key", "attributes", "release_policy"}, "request"));
  CreateKeyRequest request;

  if (body.contains("kty") && !body["kty"].is_string()) {
    return InvalidArgumentf("create key: kty must be a string");
  }
  const std::string kty = policy::StringOr(body, "kty", kKeyType);
  if (kty != kKeyType && kty != "oct") {
    return InvalidArgumentf("create key: kty {}, want \"oct-HSM\"",
                            policy::DescribeJson(Json(kty), 32));
  }
  const auto key_size = body.find("key_size");
  if (key_size != body.end()) {
    const std::optional<int> bits = AesKeySizeBits(*key_size);
    if (!bits.has_value()) {
      return InvalidArgumentf("create key: key_size {}, want 128, 192 or 256",
                              policy::DescribeJson(*key_size, 32));
    }
    request.key_size_bits = *bits;
  }
  if (body.contains("key")) {
    VOUCH_ASSIGN_OR_RETURN(request.imported_key, ParseImportedKey(body["key"]));
    const int imported_bits = static_cast<int>(request.imported_key->size() * 8);
    if (key_size != body.end() && imported_bits != request.key_size_bits) {
      return InvalidArgumentf("create key: key_size {} but the imported key has {} bits",
                              request.key_size_bits, imported_bits);
    }
    request.key_size_bits = imported_bits;
  }

  const Json attributes = body.value("attributes", Json::object());
  if (!attributes.is_object()) {
    return InvalidArgumentf("create key: attributes must be an object");
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(attributes, {"exportable", "enabled"}, "attributes"));
  VOUCH_ASSIGN_OR_RETURN(request.exportable,
                         OptionalBool(attributes, "exportable", false, "attributes"));
  VOUCH_ASSIGN_OR_RETURN(request.enabled, OptionalBool(attributes, "enabled", true, "attributes"));

  if (body.contains("release_policy")) {
    VOUCH_RETURN_IF_ERROR(ParseReleasePolicy(body["release_policy"], request));
  }
  if (request.exportable && request.policy_text.empty()) {
    return InvalidArgumentf("create key: an exportable key needs a release_policy");
  }
  return request;
}

Json MetadataJson(const store::KeyRecord& record, std::string_view base_url) {
  Json metadata = {
      {"key",
       {{"kid", KeyId(base_url, record.name, record.version)},
        {"kty", record.kty},
        {"key_ops", SymmetricKeyOps()}}},
      {"attributes",
       {{"enabled", record.enabled},
        {"exportable", record.exportable},
        {"created", absl::ToUnixSeconds(record.created)},
        {"updated", absl::ToUnixSeconds(record.updated)}}},
  };
  if (!record.release_policy.empty()) {
    metadata["release_policy"] =
        ReleasePolicyEnvelope(record.release_policy, record.policy_immutable);
  }
  return metadata;
}

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
  if (deps.store == nullptr || deps.keystore == nullptr || deps.validator == nullptr ||
      deps.signing_key == nullptr) {
    return InvalidArgumentf("key broker: store, keystore, validator and signing key are required");
  }
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, token::SigningAlgForKey(deps.signing_key));
  VOUCH_ASSIGN_OR_RETURN(Json jwk, token::PublicJwk(deps.signing_key, alg));
  std::unique_ptr<KeyBroker> broker(new KeyBroker(deps, audit_limits));
  broker->jwks_ = Json{{"keys", Json::array({std::move(jwk)})}};
  return broker;
}

absl::StatusOr<nlohmann::json> KeyBroker::CreateKey(std::string_view name,
                                                    const nlohmann::json& request,
                                                    std::string_view base_url, absl::Time now) {
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(name));
  VOUCH_ASSIGN_OR_RETURN(const CreateKeyRequest parsed, ParseCreateKeyRequest(request));

  store::KeyRecord record;
  record.name = std::string(name);
  record.version = HexEncode(crypto::RandomBytes(kVersionBytes));
  record.created = now;
  record.updated = now;
  record.enabled = parsed.enabled;
  record.exportable = parsed.exportable;
  record.kty = std::string(kKeyType);
  record.key_size_bits = parsed.key_size_bits;
  record.keystore = std::string(deps_.keystore->Name());
  record.release_policy = parsed.policy_text;
  record.policy_immutable = parsed.policy_immutable;

  const std::string label = KeyLabel(record.name, record.version);
  if (parsed.imported_key.has_value()) {
    VOUCH_ASSIGN_OR_RETURN(record.sealed_key,
                           deps_.keystore->ImportSymmetric(*parsed.imported_key, label));
  } else {
    VOUCH_ASSIGN_OR_RETURN(record.sealed_key,
                           deps_.keystore->GenerateSymmetric(parsed.key_size_bits, label));
  }
  VOUCH_RETURN_IF_ERROR(deps_.store->PutKeyVersion(record));

  const std::string target = fmt::format("keys/{}/{}", record.name, record.version);
  VOUCH_RETURN_IF_ERROR(Audit("admin", "key.create", target, "ok",
                              parsed.imported_key.has_value() ? "imported" : "generated", now));
  return MetadataJson(record, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::GetKey(std::string_view name, std::string_view version,
                                                 std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const store::KeyRecord record, deps_.store->GetKey(name, version));
  return MetadataJson(record, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::ListVersions(std::string_view name,
                                                       std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::KeyRecord> records,
                         deps_.store->ListKeyVersions(name));
  Json versions = Json::array();
  for (const store::KeyRecord& record : records) {
    versions.push_back(MetadataJson(record, base_url));
  }
  return Json{{"value", std::move(versions)}};
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
  absl::StatusOr<Json> claims = deps_.validator->Validate(request.target, now);
  if (!claims.ok()) {
    AuditInvalidToken(name, requested, claims.status(), now);
    return claims.status();
  }
  const std::string actor = TokenActor(*claims);

  absl::StatusOr<store::KeyRecord> record = deps_.store->GetKey(name, version);
  if (!record.ok()) {
    AuditRelease(name, actor, requested, "denied", record.status().ToString(), now)
        .IgnoreError();
    return record.status();
  }
  const std::string target = fmt::format("keys/{}/{}", record->name, record->version);

  absl::StatusOr<Json> response = ReleaseVerified(*record, *claims, request, base_url);
  if (!response.ok()) {
    AuditRelease(name, actor, target, "denied", response.status().ToString(), now)
        .IgnoreError();
    return response.status();
  }
  // A release that cannot be audited does not happen.
  const absl::Status audited = AuditRelease(name, actor, target, "granted",
                                            fmt::format("enc {}", EncName(request.enc)), now);
  if (!audited.ok()) {
    return Unavailablef("key release: audit log write failed, key not released: {}",
                        audited.message());
  }
  return response;
}

absl::StatusOr<nlohmann::json> KeyBroker::ReleaseVerified(const store::KeyRecord& record,
                                                          const nlohmann::json& claims,
                                                          const ReleaseRequest& request,
                                                          std::string_view base_url) {
  if (!record.enabled) {
    return PermissionDeniedf("key {} version {} is disabled", record.name, record.version);
  }
  if (!record.exportable) {
    return PermissionDeniedf("key {} version {} is not exportable", record.name, record.version);
  }
  if (record.release_policy.empty()) {
    return PermissionDeniedf("key {} version {} has no release policy", record.name,
                             record.version);
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
  return SignReleaseResponse(deps_.signing_key, BuildReleasePayload(released));
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

}  // namespace vouch::broker
