#include "vouch/backup/pkcs11_backup.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/random.h"

namespace vouch::backup {
namespace {

constexpr size_t kWrappingKeyBytes = 32;

bool IsKeyReference(const store::KeyRecord& record) {
  return !record.sealed_key.empty() &&
         record.sealed_key[0] == keystore::Pkcs11KeyStore::kReferenceFormat;
}

bool IsSealedBlob(const NamedBlob& blob) {
  return !blob.value.empty() && blob.value[0] == keystore::Pkcs11KeyStore::kSealedFormat;
}

// AllVersions returns every key version of `contents`, live and deleted.
std::vector<const store::KeyRecord*> AllVersions(const BackupContents& contents) {
  std::vector<const store::KeyRecord*> records;
  for (const store::KeyRecord& record : contents.keys) {
    records.push_back(&record);
  }
  for (const DeletedKeyBackup& deleted : contents.deleted_keys) {
    for (const store::KeyRecord& record : deleted.versions) {
      records.push_back(&record);
    }
  }
  return records;
}

const store::KeyRecord* FindVersion(const BackupContents& contents, const WrappedKey& key) {
  for (const store::KeyRecord* record : AllVersions(contents)) {
    if (record->name == key.name && record->version == key.version) {
      return record;
    }
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> AddPkcs11KeyMaterial(keystore::Pkcs11KeyStore& keystore,
                                                              BackupContents& contents,
                                                              bool references_only) {
  if (contents.keystore != KeyStoreKind::kPkcs11) {
    return InvalidArgumentf("backup: PKCS#11 key material added to a software key store backup");
  }
  SecretBytes wrapping_key = crypto::RandomSecret(kWrappingKeyBytes);
  std::vector<WrappedKey> wrapped_keys;
  std::vector<std::string> left_out;  // "LABEL (reason)", for the message
  std::vector<std::string> references;

  for (const store::KeyRecord* record : AllVersions(contents)) {
    if (!IsKeyReference(*record)) {
      continue;
    }
    const std::string label = keystore::KeyLabel(record->name, record->version);
    absl::StatusOr<Bytes> wrapped = keystore.ExportWrapped(record->sealed_key, label, wrapping_key);
    if (wrapped.ok()) {
      wrapped_keys.push_back(WrappedKey{record->name, record->version, *std::move(wrapped)});
      continue;
    }
    if (!absl::IsFailedPrecondition(wrapped.status()) && !absl::IsNotFound(wrapped.status())) {
      return wrapped.status();
    }
    left_out.push_back(fmt::format("{} ({})", label,
                                   absl::IsNotFound(wrapped.status()) ? "not on the token"
                                                                      : "CKA_EXTRACTABLE false"));
    references.push_back(label);
  }

  std::vector<SealedSecret> secrets;
  for (const NamedBlob& blob : contents.blobs) {
    if (!IsSealedBlob(blob)) {
      continue;
    }
    absl::StatusOr<SecretBytes> secret = keystore.Unseal(blob.value, blob.name);
    if (secret.ok()) {
      secrets.push_back(SealedSecret{blob.name, *std::move(secret)});
      continue;
    }
    if (!absl::IsUnauthenticated(secret.status()) && !absl::IsFailedPrecondition(secret.status())) {
      return secret.status();
    }
    left_out.push_back(fmt::format("blob {} (does not open with this token's seal key)", blob.name));
    references.push_back(blob.name);
  }

  if (!left_out.empty() && !references_only) {
    return FailedPreconditionf(
        "backup: {} PKCS#11 keys or sealed blobs cannot be exported wrapped: {}. Back up the "
        "token with its vendor's tool (for SoftHSM2, copy its token folder) and pass "
        "--pkcs11-references-only to back up their records without key material",
        left_out.size(), fmt::join(left_out, ", "));
  }
  contents.wrapping_key = wrapped_keys.empty() ? SecretBytes() : std::move(wrapping_key);
  contents.wrapped_keys = std::move(wrapped_keys);
  contents.sealed_secrets = std::move(secrets);
  return references;
}

absl::StatusOr<Pkcs11Import> ImportPkcs11Keys(const BackupContents& contents,
                                              keystore::Pkcs11KeyStore& keystore) {
  Pkcs11Import import;
  const absl::Status status = [&]() -> absl::Status {
    for (const WrappedKey& key : contents.wrapped_keys) {
      const store::KeyRecord* record = FindVersion(contents, key);
      if (record == nullptr) {
        return absl::DataLossError(fmt::format("restore: wrapped key {} version {} has no record",
                                               key.name, key.version));
      }
      const std::string label = keystore::KeyLabel(key.name, key.version);
      VOUCH_RETURN_IF_ERROR(keystore.ImportWrapped(record->sealed_key, label, contents.wrapping_key,
                                                   key.wrapped, record->public_key));
      import.created.emplace_back(record->sealed_key, label);
    }
    for (const NamedBlob& blob : contents.blobs) {
      NamedBlob restored{blob.name, blob.value};
      for (const SealedSecret& sealed : contents.sealed_secrets) {
        if (sealed.blob_name == blob.name) {
          VOUCH_ASSIGN_OR_RETURN(restored.value, keystore.Seal(sealed.secret, blob.name));
        }
      }
      import.blobs.push_back(std::move(restored));
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    DestroyImportedKeys(keystore, import);
    return status;
  }
  return import;
}

void DestroyImportedKeys(keystore::Pkcs11KeyStore& keystore, const Pkcs11Import& import) {
  for (const auto& [reference, label] : import.created) {
    const absl::Status status = keystore.DestroyKey(reference, label);
    if (!status.ok()) {
      spdlog::error("restore: destroying key {} on the token after a failed restore failed: {}",
                    label, std::string(status.message()));
    }
  }
}

}  // namespace vouch::backup
