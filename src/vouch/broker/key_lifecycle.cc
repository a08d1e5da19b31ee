// The KeyBroker methods that create, rotate, inspect, disable, delete,
// recover and purge keys (Azure Key Vault's key lifecycle). Release lives in
// key_broker.cc.
#include <optional>
#include <utility>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/broker/key_broker.h"
#include "vouch/broker/key_request.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/policy/strict_json.h"
#include "vouch/token/issuer.h"

namespace vouch::broker {
namespace {

using Json = nlohmann::json;

constexpr size_t kVersionBytes = 16;

std::string VersionTarget(std::string_view name, std::string_view version) {
  return fmt::format("keys/{}/{}", name, version);
}

std::string KeyTarget(std::string_view name) { return fmt::format("keys/{}", name); }

store::AuditEvent MakeEvent(std::string_view actor, std::string_view operation,
                            std::string target, std::string detail, absl::Time now) {
  store::AuditEvent event;
  event.time = now;
  event.actor = std::string(actor);
  event.operation = std::string(operation);
  event.target = std::move(target);
  event.outcome = "ok";
  event.detail = std::move(detail);
  return event;
}

// AddPublicMembers copies the public JWK members (n, e or crv, x, y) of a
// stored SubjectPublicKeyInfo into `key`. A stored key that does not parse
// is left out, because metadata must stay readable.
void AddPublicMembers(const store::KeyRecord& record, Json& key) {
  if (record.public_key.empty()) {
    return;
  }
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> public_key = crypto::PublicKeyFromDer(record.public_key);
  if (!public_key.ok()) {
    return;
  }
  absl::StatusOr<Json> jwk = crypto::PublicKeyToJwk(public_key->get());
  if (!jwk.ok()) {
    return;
  }
  for (const char* member : {"n", "e", "crv", "x", "y"}) {
    if (jwk->contains(member)) {
      key[member] = (*jwk)[member];
    }
  }
}

Json DeletedKeyJson(const store::DeletedKey& deleted, std::string_view base_url) {
  const std::string base(token::NormalizeIssuer(base_url));
  return Json{{"recoveryId", fmt::format("{}/deletedkeys/{}", base, deleted.name)},
              {"key", {{"kid", fmt::format("{}/keys/{}", base, deleted.name)}}},
              {"deletedDate", absl::ToUnixSeconds(deleted.deleted)},
              {"scheduledPurgeDate", absl::ToUnixSeconds(deleted.scheduled_purge)}};
}

// PublicKeyDer converts the PEM public key of a generated RSA or EC key to
// the DER SubjectPublicKeyInfo that KeyRecord::public_key stores.
absl::StatusOr<Bytes> PublicKeyDer(const keystore::GeneratedKey& generated) {
  if (generated.public_key_pem.empty()) {
    return Bytes();
  }
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> key,
                         crypto::PublicKeyFromPem(AsBytes(generated.public_key_pem)));
  return crypto::PublicKeyToDer(key.get());
}

}  // namespace

nlohmann::json KeyMetadataJson(const store::KeyRecord& record, std::string_view base_url,
                               int recovery_days, bool purge_protection) {
  Json key = {{"kid", KeyId(base_url, record.name, record.version)},
              {"kty", record.kty},
              {"key_ops", KeyOpsForKty(record.kty)}};
  AddPublicMembers(record, key);
  Json metadata = {
      {"key", std::move(key)},
      {"attributes",
       {{"enabled", record.enabled},
        {"exportable", record.exportable},
        {"created", absl::ToUnixSeconds(record.created)},
        {"updated", absl::ToUnixSeconds(record.updated)},
        // Key Vault's names: purge protection makes a deleted key
        // "Recoverable" only; without it, it is also purgeable at once.
        {"recoveryLevel", purge_protection ? "Recoverable" : "Recoverable+Purgeable"},
        {"recoverableDays", recovery_days}}},
  };
  if (!record.release_policy.empty()) {
    metadata["release_policy"] =
        ReleasePolicyEnvelope(record.release_policy, record.policy_immutable);
  }
  if (!record.tags_json.empty()) {
    Json tags = Json::parse(record.tags_json, nullptr, false);
    if (tags.is_object()) {
      metadata["tags"] = std::move(tags);
    }
  }
  return metadata;
}

absl::StatusOr<nlohmann::json> KeyBroker::Metadata(const store::KeyRecord& record,
                                                   std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const bool protection, PurgeProtection());
  return KeyMetadataJson(record, base_url, deps_.recovery_days, protection);
}

absl::StatusOr<nlohmann::json> KeyBroker::StoreNewVersion(
    store::KeyRecord record, const keystore::KeySpec& spec, const SecretBytes* imported_key,
    std::string_view operation, std::string_view actor, std::string_view base_url) {
  record.version = HexEncode(crypto::RandomBytes(kVersionBytes));
  record.keystore = std::string(deps_.keystore->Name());
  record.key_size_bits = spec.size_bits;
  const std::string label = KeyLabel(record.name, record.version);
  if (imported_key != nullptr) {
    VOUCH_ASSIGN_OR_RETURN(record.sealed_key, deps_.keystore->ImportSymmetric(*imported_key, label));
  } else {
    VOUCH_ASSIGN_OR_RETURN(const keystore::GeneratedKey generated,
                           deps_.keystore->GenerateKey(spec, label));
    record.sealed_key = generated.sealed;
    VOUCH_ASSIGN_OR_RETURN(record.public_key, PublicKeyDer(generated));
  }

  const std::string detail =
      fmt::format("{} {}{}{}", imported_key != nullptr ? "imported" : "generated",
                  keystore::KeySpecName(spec), record.exportable ? ", exportable" : "",
                  record.policy_immutable ? ", immutable release policy" : "");
  const store::AuditEvent event = MakeEvent(actor, operation, VersionTarget(record.name, record.version),
                                            detail, record.created);
  const absl::Status stored = deps_.store->PutKeyVersion(record, &event);
  if (!stored.ok()) {
    // The key store object of a version that was never stored is dropped.
    deps_.keystore->DestroyKey(record.sealed_key, label).IgnoreError();
    return AuditRefusal(actor, operation, KeyTarget(record.name), stored, record.created);
  }
  return Metadata(record, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::CreateKey(std::string_view name,
                                                    const nlohmann::json& request,
                                                    std::string_view base_url, absl::Time now,
                                                    std::string_view actor) {
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(name));
  VOUCH_ASSIGN_OR_RETURN(const CreateKeyRequest parsed, ParseCreateKeyRequest(request));

  store::KeyRecord record;
  record.name = std::string(name);
  record.created = now;
  record.updated = now;
  record.enabled = parsed.enabled;
  record.exportable = parsed.exportable;
  record.kty = parsed.kty;
  record.curve = parsed.curve;
  record.tags_json = parsed.tags_json;
  if (parsed.policy.has_value()) {
    record.release_policy = parsed.policy->policy_text;
    record.policy_immutable = parsed.policy->immutable;
  }
  return StoreNewVersion(std::move(record), parsed.spec,
                         parsed.imported_key.has_value() ? &*parsed.imported_key : nullptr,
                         "key.create", actor, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::RotateKey(std::string_view name,
                                                    const nlohmann::json& request,
                                                    std::string_view base_url, absl::Time now,
                                                    std::string_view actor) {
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(name));
  VOUCH_ASSIGN_OR_RETURN(const RotateKeyRequest parsed, ParseRotateKeyRequest(request));
  VOUCH_ASSIGN_OR_RETURN(store::KeyRecord record, deps_.store->GetKey(name, ""));
  VOUCH_ASSIGN_OR_RETURN(const keystore::KeySpec spec,
                         SpecForRecord(record.kty, record.key_size_bits));

  if (parsed.policy.has_value()) {
    if (record.policy_immutable) {
      return AuditRefusal(
          actor, "key.rotate", KeyTarget(name),
          FailedPreconditionf("key {}: the release policy of version {} is immutable, so a "
                              "rotation cannot replace it; rotate without release_policy",
                              name, record.version),
          now);
    }
    record.release_policy = parsed.policy->policy_text;
    record.policy_immutable = parsed.policy->immutable;
  }
  record.exportable = parsed.exportable.value_or(record.exportable);
  record.enabled = parsed.enabled.value_or(true);
  record.tags_json = parsed.tags_json.value_or(record.tags_json);
  if (record.exportable && record.release_policy.empty()) {
    return InvalidArgumentf("rotate key: an exportable key needs a release_policy");
  }
  record.created = now;
  record.updated = now;
  record.sealed_key.clear();
  record.public_key.clear();
  return StoreNewVersion(std::move(record), spec, nullptr, "key.rotate", actor, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::GetKey(std::string_view name, std::string_view version,
                                                 std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const store::KeyRecord record, deps_.store->GetKey(name, version));
  return Metadata(record, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::ListKeys(std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const bool protection, PurgeProtection());
  VOUCH_ASSIGN_OR_RETURN(const std::vector<std::string> names, deps_.store->ListKeyNames());
  Json keys = Json::array();
  for (const std::string& name : names) {
    absl::StatusOr<store::KeyRecord> record = deps_.store->GetKey(name, "");
    if (absl::IsNotFound(record.status())) {
      continue;  // deleted since the names were listed
    }
    VOUCH_RETURN_IF_ERROR(record.status());
    keys.push_back(KeyMetadataJson(*record, base_url, deps_.recovery_days, protection));
  }
  return Json{{"value", std::move(keys)}};
}

absl::StatusOr<nlohmann::json> KeyBroker::ListVersions(std::string_view name,
                                                       std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const bool protection, PurgeProtection());
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::KeyRecord> records,
                         deps_.store->ListKeyVersions(name));
  Json versions = Json::array();
  for (const store::KeyRecord& record : records) {
    versions.push_back(KeyMetadataJson(record, base_url, deps_.recovery_days, protection));
  }
  return Json{{"value", std::move(versions)}};
}

absl::StatusOr<nlohmann::json> KeyBroker::SetEnabled(std::string_view name,
                                                     std::string_view version, bool enabled,
                                                     std::string_view base_url, absl::Time now,
                                                     std::string_view actor) {
  const store::AuditEvent event = MakeEvent(actor, enabled ? "key.enable" : "key.disable",
                                            VersionTarget(name, version), "", now);
  VOUCH_RETURN_IF_ERROR(deps_.store->UpdateKeyAttributes(name, version, enabled, &event));
  return GetKey(name, version, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::GetReleasePolicy(std::string_view name,
                                                           std::string_view version) {
  VOUCH_ASSIGN_OR_RETURN(const store::KeyRecord record, deps_.store->GetKey(name, version));
  if (record.release_policy.empty()) {
    return NotFoundf("key {} version {} has no release policy", record.name, record.version);
  }
  return ReleasePolicyEnvelope(record.release_policy, record.policy_immutable);
}

absl::StatusOr<nlohmann::json> KeyBroker::SetReleasePolicy(std::string_view name,
                                                           std::string_view version,
                                                           const nlohmann::json& request,
                                                           absl::Time now,
                                                           std::string_view actor) {
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(name));
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyVersion(version));
  VOUCH_ASSIGN_OR_RETURN(const ReleasePolicyUpdate update, ParseReleasePolicyBody(request));
  const std::string target = VersionTarget(name, version);
  const store::AuditEvent event =
      MakeEvent(actor, "key.policy", target,
                fmt::format("policy sha256 {}{}", HexEncode(crypto::Sha256(AsBytes(update.policy_text))),
                            update.immutable ? ", immutable" : ""),
                now);
  const absl::Status stored = deps_.store->SetReleasePolicy(name, version, update.policy_text,
                                                            update.immutable, &event);
  if (!stored.ok()) {
    return AuditRefusal(actor, "key.policy", target, stored, now);
  }
  return ReleasePolicyEnvelope(update.policy_text, update.immutable);
}

absl::StatusOr<nlohmann::json> KeyBroker::DeleteKey(std::string_view name,
                                                    std::string_view base_url, absl::Time now,
                                                    std::string_view actor) {
  const absl::Time scheduled_purge = now + absl::Hours(24) * deps_.recovery_days;
  const store::AuditEvent event =
      MakeEvent(actor, "key.delete", KeyTarget(name),
                fmt::format("recoverable for {} days", deps_.recovery_days), now);
  const absl::Status deleted = deps_.store->SoftDeleteKey(name, now, scheduled_purge, &event);
  if (!deleted.ok()) {
    return AuditRefusal(actor, "key.delete", KeyTarget(name), deleted, now);
  }
  return GetDeletedKey(name, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::GetDeletedKey(std::string_view name,
                                                        std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const store::DeletedKey deleted, deps_.store->GetDeletedKey(name));
  return DeletedKeyJson(deleted, base_url);
}

absl::StatusOr<nlohmann::json> KeyBroker::ListDeletedKeys(std::string_view base_url) {
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::DeletedKey> deleted,
                         deps_.store->ListDeletedKeys());
  Json keys = Json::array();
  for (const store::DeletedKey& key : deleted) {
    keys.push_back(DeletedKeyJson(key, base_url));
  }
  return Json{{"value", std::move(keys)}};
}

absl::StatusOr<nlohmann::json> KeyBroker::RecoverKey(std::string_view name,
                                                     std::string_view base_url, absl::Time now,
                                                     std::string_view actor) {
  const store::AuditEvent event = MakeEvent(actor, "key.recover", KeyTarget(name), "", now);
  VOUCH_RETURN_IF_ERROR(deps_.store->RecoverKey(name, &event));
  return GetKey(name, "", base_url);
}

absl::Status KeyBroker::PurgeKey(std::string_view name, absl::Time now, std::string_view actor) {
  VOUCH_ASSIGN_OR_RETURN(const store::DeletedKey deleted, deps_.store->GetDeletedKey(name));
  VOUCH_ASSIGN_OR_RETURN(const bool protection, PurgeProtection());
  if (protection && now < deleted.scheduled_purge) {
    return AuditRefusal(
        actor, "key.purge", KeyTarget(name),
        PermissionDeniedf("purge protection is on: deleted key {} can be purged from {}, at the "
                          "end of its recovery period",
                          name, FormatRfc3339(deleted.scheduled_purge)),
        now);
  }

  // The key store objects go first and the records after them, in one
  // store transaction with the audit record. A crash or a failed DestroyKey
  // in between leaves records whose objects may be gone; DestroyKey treats
  // an object that is already gone as destroyed, so a retried purge finishes.
  // NOTE: nothing locks the key across both steps. A RecoverKey that runs
  // between the destroys and PurgeKey restores records whose PKCS#11
  // objects are gone; PurgeKey then fails with NotFound.
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::KeyRecord> versions,
                         deps_.store->ListDeletedKeyVersions(name));
  for (const store::KeyRecord& record : versions) {
    const absl::Status destroyed =
        deps_.keystore->DestroyKey(record.sealed_key, KeyLabel(record.name, record.version));
    if (!destroyed.ok()) {
      Audit(std::string(actor), "key.purge", VersionTarget(record.name, record.version), "error",
            fmt::format("key store object not destroyed: {}", destroyed.ToString()), now)
          .IgnoreError();
      return Prefix(fmt::format("purge key {}: destroying the key material of version {} "
                                "failed; the records are kept, so retry the purge",
                                name, record.version),
                    destroyed);
    }
  }
  const store::AuditEvent event = MakeEvent(actor, "key.purge", KeyTarget(name), "", now);
  return deps_.store->PurgeKey(name, &event).status();
}

absl::StatusOr<bool> KeyBroker::PurgeProtection() {
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> value,
                         deps_.store->GetBlob(kPurgeProtectionBlob));
  return value.has_value() && *value == Bytes{1};
}

absl::Status KeyBroker::SetPurgeProtection(bool enabled, absl::Time now, std::string_view actor) {
  VOUCH_ASSIGN_OR_RETURN(const bool current, PurgeProtection());
  if (current == enabled) {
    return absl::OkStatus();
  }
  if (!enabled) {
    return AuditRefusal(actor, "settings.purge-protection", "settings/purge-protection",
                        FailedPreconditionf("purge protection is on and cannot be switched off"),
                        now);
  }
  const store::AuditEvent event = MakeEvent(actor, "settings.purge-protection",
                                            "settings/purge-protection", "switched on", now);
  return deps_.store->WriteBlobs({{kPurgeProtectionBlob, Bytes{1}}}, &event);
}

}  // namespace vouch::broker
