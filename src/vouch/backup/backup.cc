#include "vouch/backup/backup.h"

#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"
#include "vouch/crypto/aead.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/random.h"
#include "vouch/store/audit.h"

namespace vouch::backup {
namespace {

constexpr size_t kRootKeyBytes = 32;
constexpr size_t kBackupKeyBytes = 32;
constexpr size_t kWrappingKeyBytes = 32;

// ContentWriter appends big-endian integers and u32-length-prefixed byte
// strings. Its buffer may hold the root key, so it is wiped on destruction.
class ContentWriter {
 public:
  ~ContentWriter() { SecureWipe(out_); }

  void U8(uint8_t value) { out_.push_back(value); }
  void U32(uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      out_.push_back(static_cast<uint8_t>(value >> shift));
    }
  }
  void U64(uint64_t value) {
    U32(static_cast<uint32_t>(value >> 32));
    U32(static_cast<uint32_t>(value));
  }
  void I64(int64_t value) { U64(static_cast<uint64_t>(value)); }
  void Field(ByteSpan bytes) {
    U32(static_cast<uint32_t>(bytes.size()));
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  void Text(std::string_view text) { Field(AsBytes(text)); }

  Bytes& bytes() { return out_; }

 private:
  Bytes out_;
};

absl::StatusOr<uint64_t> ReadU64(ByteReader& in, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const uint32_t high, in.U32Be(field));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t low, in.U32Be(field));
  return (uint64_t{high} << 32) | low;
}

absl::StatusOr<int64_t> ReadI64(ByteReader& in, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const uint64_t value, ReadU64(in, field));
  return static_cast<int64_t>(value);
}

absl::StatusOr<Bytes> ReadField(ByteReader& in, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const uint32_t size, in.U32Be(field));
  return in.Copy(size, field);
}

absl::StatusOr<std::string> ReadText(ByteReader& in, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes bytes, ReadField(in, field));
  return ToString(bytes);
}

absl::StatusOr<bool> ReadBool(ByteReader& in, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const uint8_t value, in.U8(field));
  if (value > 1) {
    return InvalidArgumentf("backup content: {} is {}, want 0 or 1", field, value);
  }
  return value == 1;
}

// Key record: name, version, created_us, updated_us, enabled, exportable,
// kty, key_size_bits (u32), curve, public_key, sealed_key, keystore,
// release_policy, policy_immutable, tags_json. Strings and byte strings are
// u32-length-prefixed, flags one byte.
void WriteRecord(ContentWriter& out, const store::KeyRecord& record) {
  out.Text(record.name);
  out.Text(record.version);
  out.I64(absl::ToUnixMicros(record.created));
  out.I64(absl::ToUnixMicros(record.updated));
  out.U8(record.enabled ? 1 : 0);
  out.U8(record.exportable ? 1 : 0);
  out.Text(record.kty);
  out.U32(static_cast<uint32_t>(record.key_size_bits));
  out.Text(record.curve);
  out.Field(record.public_key);
  out.Field(record.sealed_key);
  out.Text(record.keystore);
  out.Text(record.release_policy);
  out.U8(record.policy_immutable ? 1 : 0);
  out.Text(record.tags_json);
}

absl::StatusOr<store::KeyRecord> ReadRecord(ByteReader& in) {
  store::KeyRecord record;
  VOUCH_ASSIGN_OR_RETURN(record.name, ReadText(in, "key name"));
  VOUCH_ASSIGN_OR_RETURN(record.version, ReadText(in, "key version"));
  VOUCH_ASSIGN_OR_RETURN(const int64_t created_us, ReadI64(in, "key created"));
  VOUCH_ASSIGN_OR_RETURN(const int64_t updated_us, ReadI64(in, "key updated"));
  record.created = absl::FromUnixMicros(created_us);
  record.updated = absl::FromUnixMicros(updated_us);
  VOUCH_ASSIGN_OR_RETURN(record.enabled, ReadBool(in, "key enabled"));
  VOUCH_ASSIGN_OR_RETURN(record.exportable, ReadBool(in, "key exportable"));
  VOUCH_ASSIGN_OR_RETURN(record.kty, ReadText(in, "key kty"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t size_bits, in.U32Be("key size"));
  record.key_size_bits = static_cast<int>(size_bits);
  VOUCH_ASSIGN_OR_RETURN(record.curve, ReadText(in, "key curve"));
  VOUCH_ASSIGN_OR_RETURN(record.public_key, ReadField(in, "key public key"));
  VOUCH_ASSIGN_OR_RETURN(record.sealed_key, ReadField(in, "key sealed key"));
  VOUCH_ASSIGN_OR_RETURN(record.keystore, ReadText(in, "key keystore"));
  VOUCH_ASSIGN_OR_RETURN(record.release_policy, ReadText(in, "key release policy"));
  VOUCH_ASSIGN_OR_RETURN(record.policy_immutable, ReadBool(in, "key policy immutable"));
  VOUCH_ASSIGN_OR_RETURN(record.tags_json, ReadText(in, "key tags"));
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(record.name));
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyVersion(record.version));
  if (record.sealed_key.empty()) {
    return InvalidArgumentf("backup content: key {} version {} has no sealed key", record.name,
                            record.version);
  }
  return record;
}

// Audit event: sequence, time_us (i64), actor, operation, target, outcome,
// detail, prev_hash, hash.
void WriteAuditEvent(ContentWriter& out, const store::AuditEvent& event) {
  out.I64(event.sequence);
  out.I64(absl::ToUnixMicros(event.time));
  out.Text(event.actor);
  out.Text(event.operation);
  out.Text(event.target);
  out.Text(event.outcome);
  out.Text(event.detail);
  out.Field(event.prev_hash);
  out.Field(event.hash);
}

absl::StatusOr<store::AuditEvent> ReadAuditEvent(ByteReader& in) {
  store::AuditEvent event;
  VOUCH_ASSIGN_OR_RETURN(event.sequence, ReadI64(in, "audit sequence"));
  VOUCH_ASSIGN_OR_RETURN(const int64_t time_us, ReadI64(in, "audit time"));
  event.time = absl::FromUnixMicros(time_us);
  VOUCH_ASSIGN_OR_RETURN(event.actor, ReadText(in, "audit actor"));
  VOUCH_ASSIGN_OR_RETURN(event.operation, ReadText(in, "audit operation"));
  VOUCH_ASSIGN_OR_RETURN(event.target, ReadText(in, "audit target"));
  VOUCH_ASSIGN_OR_RETURN(event.outcome, ReadText(in, "audit outcome"));
  VOUCH_ASSIGN_OR_RETURN(event.detail, ReadText(in, "audit detail"));
  VOUCH_ASSIGN_OR_RETURN(event.prev_hash, ReadField(in, "audit prev_hash"));
  VOUCH_ASSIGN_OR_RETURN(event.hash, ReadField(in, "audit hash"));
  return event;
}

// EncodeContent writes these parts in order:
//   key store kind (u8), root key (field);
//   key versions: u32 count, then records;
//   deleted keys: u32 count, then for each its name, deleted_us,
//     scheduled_purge_us, a u32 count of versions and the records;
//   blobs: u32 count, then each name and value;
//   audit events: u64 count, then the events;
// and from format 2 on:
//   wrapping key (field, empty unless PKCS#11 keys are wrapped);
//   wrapped keys: u32 count, then each name, version and wrapped bytes;
//   sealed secrets: u32 count, then each blob name and secret.
void EncodeContent(const BackupContents& contents, ContentWriter& out) {
  out.U8(static_cast<uint8_t>(contents.keystore));
  out.Field(contents.root_key.Expose());
  out.U32(static_cast<uint32_t>(contents.keys.size()));
  for (const store::KeyRecord& record : contents.keys) {
    WriteRecord(out, record);
  }
  out.U32(static_cast<uint32_t>(contents.deleted_keys.size()));
  for (const DeletedKeyBackup& deleted : contents.deleted_keys) {
    out.Text(deleted.key.name);
    out.I64(absl::ToUnixMicros(deleted.key.deleted));
    out.I64(absl::ToUnixMicros(deleted.key.scheduled_purge));
    out.U32(static_cast<uint32_t>(deleted.versions.size()));
    for (const store::KeyRecord& record : deleted.versions) {
      WriteRecord(out, record);
    }
  }
  out.U32(static_cast<uint32_t>(contents.blobs.size()));
  for (const NamedBlob& blob : contents.blobs) {
    out.Text(blob.name);
    out.Field(blob.value);
  }
  out.U64(contents.audit.size());
  for (const store::AuditEvent& event : contents.audit) {
    WriteAuditEvent(out, event);
  }
  out.Field(contents.wrapping_key.Expose());
  out.U32(static_cast<uint32_t>(contents.wrapped_keys.size()));
  for (const WrappedKey& key : contents.wrapped_keys) {
    out.Text(key.name);
    out.Text(key.version);
    out.Field(key.wrapped);
  }
  out.U32(static_cast<uint32_t>(contents.sealed_secrets.size()));
  for (const SealedSecret& sealed : contents.sealed_secrets) {
    out.Text(sealed.blob_name);
    out.Field(sealed.secret.Expose());
  }
}

// DecodePkcs11Part reads the part that format 2 appends to the content.
absl::Status DecodePkcs11Part(ByteReader& in, BackupContents& contents) {
  VOUCH_ASSIGN_OR_RETURN(const uint32_t wrapping_key_size, in.U32Be("wrapping key"));
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan wrapping_key, in.Span(wrapping_key_size, "wrapping key"));
  contents.wrapping_key = SecretBytes(wrapping_key);
  VOUCH_ASSIGN_OR_RETURN(const uint32_t num_wrapped, in.U32Be("wrapped keys"));
  for (uint32_t i = 0; i < num_wrapped; ++i) {
    WrappedKey key;
    VOUCH_ASSIGN_OR_RETURN(key.name, ReadText(in, "wrapped key name"));
    VOUCH_ASSIGN_OR_RETURN(key.version, ReadText(in, "wrapped key version"));
    VOUCH_ASSIGN_OR_RETURN(key.wrapped, ReadField(in, "wrapped key"));
    contents.wrapped_keys.push_back(std::move(key));
  }
  VOUCH_ASSIGN_OR_RETURN(const uint32_t num_secrets, in.U32Be("sealed secrets"));
  for (uint32_t i = 0; i < num_secrets; ++i) {
    SealedSecret sealed;
    VOUCH_ASSIGN_OR_RETURN(sealed.blob_name, ReadText(in, "sealed secret blob name"));
    VOUCH_ASSIGN_OR_RETURN(const uint32_t secret_size, in.U32Be("sealed secret"));
    VOUCH_ASSIGN_OR_RETURN(const ByteSpan secret, in.Span(secret_size, "sealed secret"));
    sealed.secret = SecretBytes(secret);
    contents.sealed_secrets.push_back(std::move(sealed));
  }
  return absl::OkStatus();
}

absl::StatusOr<DeletedKeyBackup> ReadDeletedKey(ByteReader& in) {
  DeletedKeyBackup deleted;
  VOUCH_ASSIGN_OR_RETURN(deleted.key.name, ReadText(in, "deleted key name"));
  VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(deleted.key.name));
  VOUCH_ASSIGN_OR_RETURN(const int64_t deleted_us, ReadI64(in, "deleted key time"));
  VOUCH_ASSIGN_OR_RETURN(const int64_t purge_us, ReadI64(in, "deleted key purge time"));
  deleted.key.deleted = absl::FromUnixMicros(deleted_us);
  deleted.key.scheduled_purge = absl::FromUnixMicros(purge_us);
  VOUCH_ASSIGN_OR_RETURN(const uint32_t num_versions, in.U32Be("deleted key versions"));
  if (num_versions == 0) {
    return InvalidArgumentf("backup content: deleted key {} has no versions", deleted.key.name);
  }
  for (uint32_t i = 0; i < num_versions; ++i) {
    VOUCH_ASSIGN_OR_RETURN(store::KeyRecord record, ReadRecord(in));
    if (record.name != deleted.key.name) {
      return InvalidArgumentf("backup content: deleted key {} holds a version of key {}",
                              deleted.key.name, record.name);
    }
    deleted.versions.push_back(std::move(record));
  }
  return deleted;
}

absl::StatusOr<BackupContents> DecodeContent(ByteSpan content, uint32_t format_version) {
  ByteReader in(content, "backup content");
  BackupContents contents;
  VOUCH_ASSIGN_OR_RETURN(const uint8_t kind, in.U8("key store kind"));
  if (kind != static_cast<uint8_t>(KeyStoreKind::kSoftware) &&
      kind != static_cast<uint8_t>(KeyStoreKind::kPkcs11)) {
    return InvalidArgumentf("backup content: key store kind {}, want 1 or 2", kind);
  }
  contents.keystore = static_cast<KeyStoreKind>(kind);
  VOUCH_ASSIGN_OR_RETURN(const uint32_t root_key_size, in.U32Be("root key"));
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan root_key, in.Span(root_key_size, "root key"));
  contents.root_key = SecretBytes(root_key);

  VOUCH_ASSIGN_OR_RETURN(const uint32_t num_keys, in.U32Be("key versions"));
  for (uint32_t i = 0; i < num_keys; ++i) {
    VOUCH_ASSIGN_OR_RETURN(store::KeyRecord record, ReadRecord(in));
    contents.keys.push_back(std::move(record));
  }
  VOUCH_ASSIGN_OR_RETURN(const uint32_t num_deleted, in.U32Be("deleted keys"));
  for (uint32_t i = 0; i < num_deleted; ++i) {
    VOUCH_ASSIGN_OR_RETURN(DeletedKeyBackup deleted, ReadDeletedKey(in));
    contents.deleted_keys.push_back(std::move(deleted));
  }
  VOUCH_ASSIGN_OR_RETURN(const uint32_t num_blobs, in.U32Be("blobs"));
  for (uint32_t i = 0; i < num_blobs; ++i) {
    NamedBlob blob;
    VOUCH_ASSIGN_OR_RETURN(blob.name, ReadText(in, "blob name"));
    VOUCH_RETURN_IF_ERROR(store::ValidateBlobName(blob.name));
    VOUCH_ASSIGN_OR_RETURN(blob.value, ReadField(in, "blob value"));
    contents.blobs.push_back(std::move(blob));
  }
  VOUCH_ASSIGN_OR_RETURN(const uint64_t num_audit, ReadU64(in, "audit events"));
  for (uint64_t i = 0; i < num_audit; ++i) {
    VOUCH_ASSIGN_OR_RETURN(store::AuditEvent event, ReadAuditEvent(in));
    contents.audit.push_back(std::move(event));
  }
  if (format_version >= 2) {
    VOUCH_RETURN_IF_ERROR(DecodePkcs11Part(in, contents));
  }
  VOUCH_RETURN_IF_ERROR(in.ExpectEnd());
  return contents;
}

size_t CountVersions(const BackupContents& contents) {
  size_t count = contents.keys.size();
  for (const DeletedKeyBackup& deleted : contents.deleted_keys) {
    count += deleted.versions.size();
  }
  return count;
}

Bytes EncodeHeader(const BackupHeader& header) {
  ContentWriter out;
  Bytes& bytes = out.bytes();
  bytes.insert(bytes.end(), kBackupMagic, kBackupMagic + 8);
  out.U32(header.format_version);
  bytes.insert(bytes.end(), header.backup_id.begin(), header.backup_id.end());
  out.I64(absl::ToUnixMicros(header.created));
  out.U8(static_cast<uint8_t>(header.threshold));
  out.U8(static_cast<uint8_t>(header.num_shares));
  out.U8(static_cast<uint8_t>(header.keystore));
  out.U32(header.num_key_versions);
  out.U32(header.num_deleted_keys);
  out.U32(header.num_blobs);
  out.U64(header.num_audit_events);
  bytes.insert(bytes.end(), header.content_sha256.begin(), header.content_sha256.end());
  out.U64(header.ciphertext_bytes);
  return Bytes(bytes);
}

// CheckPkcs11Part checks that every wrapped key belongs to a key version of
// the backup, once, and every sealed secret to a blob.
absl::Status CheckPkcs11Part(const BackupContents& contents, const std::set<std::string>& versions,
                             const std::set<std::string>& blob_names) {
  const bool has_part = !contents.wrapping_key.empty() || !contents.wrapped_keys.empty() ||
                        !contents.sealed_secrets.empty();
  if (has_part && contents.keystore != KeyStoreKind::kPkcs11) {
    return absl::DataLossError("backup: a software key store backup contains PKCS#11 keys");
  }
  const size_t want_wrapping_key = contents.wrapped_keys.empty() ? 0 : kWrappingKeyBytes;
  if (contents.wrapping_key.size() != want_wrapping_key) {
    return absl::DataLossError(fmt::format("backup: wrapping key of {} bytes, want {}",
                                           contents.wrapping_key.size(), want_wrapping_key));
  }
  std::set<std::string> wrapped;
  for (const WrappedKey& key : contents.wrapped_keys) {
    const std::string id = key.name + "/" + key.version;
    if (versions.count(id) == 0 || !wrapped.insert(id).second || key.wrapped.empty()) {
      return absl::DataLossError(fmt::format(
          "backup: wrapped key {} version {} is empty, appears twice or has no key record",
          key.name, key.version));
    }
  }
  std::set<std::string> secrets;
  for (const SealedSecret& sealed : contents.sealed_secrets) {
    if (blob_names.count(sealed.blob_name) == 0 || !secrets.insert(sealed.blob_name).second ||
        sealed.secret.empty()) {
      return absl::DataLossError(fmt::format(
          "backup: sealed secret {} is empty, appears twice or has no blob", sealed.blob_name));
    }
  }
  return absl::OkStatus();
}

// CheckContents compares the decoded content with the header and checks
// what the store would otherwise reject halfway through a restore.
absl::Status CheckContents(const BackupHeader& header, const BackupContents& contents) {
  if (contents.keystore != header.keystore) {
    return absl::DataLossError("backup: the key store kind of the content differs from the header");
  }
  const size_t want_root_key = header.keystore == KeyStoreKind::kSoftware ? kRootKeyBytes : 0;
  if (contents.root_key.size() != want_root_key) {
    return absl::DataLossError(fmt::format("backup: root key of {} bytes, want {}",
                                           contents.root_key.size(), want_root_key));
  }
  if (CountVersions(contents) != header.num_key_versions ||
      contents.deleted_keys.size() != header.num_deleted_keys ||
      contents.blobs.size() != header.num_blobs ||
      contents.audit.size() != header.num_audit_events) {
    return absl::DataLossError("backup: the content's counts differ from the header's");
  }

  std::set<std::string> versions;
  std::set<std::string> live_names;
  for (const store::KeyRecord& record : contents.keys) {
    live_names.insert(record.name);
    if (!versions.insert(record.name + "/" + record.version).second) {
      return absl::DataLossError(
          fmt::format("backup: key {} version {} appears twice", record.name, record.version));
    }
  }
  std::set<std::string> deleted_names;
  for (const DeletedKeyBackup& deleted : contents.deleted_keys) {
    if (live_names.count(deleted.key.name) > 0 || !deleted_names.insert(deleted.key.name).second) {
      return absl::DataLossError(
          fmt::format("backup: deleted key {} appears twice", deleted.key.name));
    }
    for (const store::KeyRecord& record : deleted.versions) {
      if (!versions.insert(record.name + "/" + record.version).second) {
        return absl::DataLossError(
            fmt::format("backup: key {} version {} appears twice", record.name, record.version));
      }
    }
  }
  std::set<std::string> blob_names;
  for (const NamedBlob& blob : contents.blobs) {
    if (!blob_names.insert(blob.name).second) {
      return absl::DataLossError(fmt::format("backup: blob {} appears twice", blob.name));
    }
  }
  VOUCH_RETURN_IF_ERROR(CheckPkcs11Part(contents, versions, blob_names));
  return store::VerifyAuditChain(contents.audit);
}

// CheckShares matches the shares with the header before they are combined.
absl::Status CheckShares(const BackupHeader& header, std::span<const BackupShare> shares) {
  std::set<int> indexes;
  for (const BackupShare& share : shares) {
    if (share.backup_id != header.backup_id) {
      return InvalidArgumentf("backup: share {} belongs to backup {}, not to this backup {}",
                              share.share.index, HexEncode(share.backup_id),
                              HexEncode(header.backup_id));
    }
    if (share.threshold != header.threshold || share.num_shares != header.num_shares) {
      return InvalidArgumentf("backup: share {} is {} of {}, but the backup is {} of {}",
                              share.share.index, share.threshold, share.num_shares,
                              header.threshold, header.num_shares);
    }
    if (!indexes.insert(share.share.index).second) {
      return InvalidArgumentf("backup: share {} was given twice", share.share.index);
    }
  }
  if (shares.size() < static_cast<size_t>(header.threshold)) {
    return FailedPreconditionf("backup: {} shares given, the backup needs {} of its {}",
                               shares.size(), header.threshold, header.num_shares);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BackupContents> ReadSource(const BackupSource& source) {
  if (source.store == nullptr || !source.deleted_key_versions) {
    return InvalidArgumentf("backup: no store to read");
  }
  store::Store& store = *source.store;
  BackupContents contents;
  contents.keystore = source.keystore;
  if (source.keystore == KeyStoreKind::kSoftware) {
    if (source.root_key == nullptr || source.root_key->size() != kRootKeyBytes) {
      return InvalidArgumentf("backup: the software key store needs its {}-byte root key",
                              kRootKeyBytes);
    }
    contents.root_key = source.root_key->Clone();
  }

  VOUCH_ASSIGN_OR_RETURN(const std::vector<std::string> names, store.ListKeyNames());
  for (const std::string& name : names) {
    VOUCH_ASSIGN_OR_RETURN(const std::vector<store::KeyRecord> versions,
                           store.ListKeyVersions(name));
    for (const store::KeyRecord& version : versions) {
      // ListKeyVersions clears sealed_key; GetKey returns it.
      VOUCH_ASSIGN_OR_RETURN(store::KeyRecord record, store.GetKey(name, version.version));
      contents.keys.push_back(std::move(record));
    }
  }

  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::DeletedKey> deleted, store.ListDeletedKeys());
  for (const store::DeletedKey& key : deleted) {
    DeletedKeyBackup entry{key, {}};
    VOUCH_ASSIGN_OR_RETURN(entry.versions, source.deleted_key_versions(key.name));
    contents.deleted_keys.push_back(std::move(entry));
  }

  VOUCH_ASSIGN_OR_RETURN(const std::vector<std::string> blob_names, store.ListBlobNames());
  for (const std::string& name : blob_names) {
    VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> value, store.GetBlob(name));
    if (value.has_value()) {
      contents.blobs.push_back(NamedBlob{name, *value});
    }
  }

  VOUCH_ASSIGN_OR_RETURN(contents.audit, store.ReadAudit(store::kAllAuditEvents));
  return contents;
}

absl::StatusOr<CreatedBackup> CreateBackup(const BackupSource& source, int threshold,
                                           int num_shares) {
  VOUCH_ASSIGN_OR_RETURN(BackupContents contents, ReadSource(source));
  VOUCH_RETURN_IF_ERROR(Prefix("backup: the audit log of the store does not verify",
                               store::VerifyAuditChain(contents.audit)));
  return SealContents(std::move(contents), threshold, num_shares, source.now);
}

absl::StatusOr<CreatedBackup> SealContents(BackupContents contents, int threshold, int num_shares,
                                           absl::Time now) {
  if (threshold < kMinThreshold || threshold > num_shares || num_shares > kMaxShares) {
    return InvalidArgumentf(
        "backup: threshold {} of {} shares, want 2 <= threshold <= shares "
        "<= {}",
        threshold, num_shares, kMaxShares);
  }
  ContentWriter content;
  EncodeContent(contents, content);

  CreatedBackup created;
  BackupHeader& header = created.header;
  header.backup_id = crypto::RandomBytes(kBackupIdBytes);
  // The header keeps microseconds, so the parsed value equals this one.
  header.created = absl::FromUnixMicros(absl::ToUnixMicros(now));
  header.threshold = threshold;
  header.num_shares = num_shares;
  header.keystore = contents.keystore;
  header.num_key_versions = static_cast<uint32_t>(CountVersions(contents));
  header.num_deleted_keys = static_cast<uint32_t>(contents.deleted_keys.size());
  header.num_blobs = static_cast<uint32_t>(contents.blobs.size());
  header.num_audit_events = contents.audit.size();
  header.content_sha256 = crypto::Sha256(content.bytes());
  header.ciphertext_bytes =
      content.bytes().size() + crypto::kAesGcmNonceBytes + crypto::kAesGcmTagBytes;
  const Bytes header_bytes = EncodeHeader(header);

  const SecretBytes backup_key = crypto::RandomSecret(kBackupKeyBytes);
  VOUCH_ASSIGN_OR_RETURN(const Bytes sealed,
                         crypto::AesGcmSeal(backup_key, content.bytes(), header_bytes));
  created.file = header_bytes;
  created.file.insert(created.file.end(), sealed.begin(), sealed.end());

  VOUCH_ASSIGN_OR_RETURN(std::vector<SecretShare> shares,
                         SplitSecret(backup_key, threshold, num_shares));
  for (SecretShare& share : shares) {
    created.shares.push_back(
        BackupShare{header.backup_id, threshold, num_shares, std::move(share)});
  }
  return created;
}

absl::StatusOr<BackupHeader> ParseBackupHeader(ByteSpan file) {
  ByteReader in(file, "backup header");
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan magic, in.Span(8, "magic"));
  if (std::memcmp(magic.data(), kBackupMagic, 8) != 0) {
    return InvalidArgumentf("backup header: not a vouch backup (magic is not {})", kBackupMagic);
  }

  BackupHeader header;
  VOUCH_ASSIGN_OR_RETURN(header.format_version, in.U32Be("format version"));
  if (header.format_version < kMinBackupFormatVersion ||
      header.format_version > kBackupFormatVersion) {
    return InvalidArgumentf("backup header: format version {}, this build reads {} to {}",
                            header.format_version, kMinBackupFormatVersion,
                            kBackupFormatVersion);
  }

  VOUCH_ASSIGN_OR_RETURN(header.backup_id, in.Copy(kBackupIdBytes, "backup id"));
  VOUCH_ASSIGN_OR_RETURN(const int64_t created_us, ReadI64(in, "created"));
  header.created = absl::FromUnixMicros(created_us);
  VOUCH_ASSIGN_OR_RETURN(const uint8_t threshold, in.U8("threshold"));
  VOUCH_ASSIGN_OR_RETURN(const uint8_t num_shares, in.U8("shares"));
  header.threshold = threshold;
  header.num_shares = num_shares;
  if (header.threshold < kMinThreshold || header.threshold > header.num_shares ||
      header.num_shares > kMaxShares) {
    return InvalidArgumentf("backup header: threshold {} of {} shares is out of range",
                            header.threshold, header.num_shares);
  }

  VOUCH_ASSIGN_OR_RETURN(const uint8_t kind, in.U8("key store kind"));
  if (kind != static_cast<uint8_t>(KeyStoreKind::kSoftware) &&
      kind != static_cast<uint8_t>(KeyStoreKind::kPkcs11)) {
    return InvalidArgumentf("backup header: key store kind {}, want 1 or 2", kind);
  }
  header.keystore = static_cast<KeyStoreKind>(kind);

  VOUCH_ASSIGN_OR_RETURN(header.num_key_versions, in.U32Be("key versions"));
  VOUCH_ASSIGN_OR_RETURN(header.num_deleted_keys, in.U32Be("deleted keys"));
  VOUCH_ASSIGN_OR_RETURN(header.num_blobs, in.U32Be("blobs"));
  VOUCH_ASSIGN_OR_RETURN(header.num_audit_events, ReadU64(in, "audit events"));
  VOUCH_ASSIGN_OR_RETURN(header.content_sha256, in.Copy(32, "content sha256"));
  VOUCH_ASSIGN_OR_RETURN(header.ciphertext_bytes, ReadU64(in, "ciphertext length"));
  if (header.ciphertext_bytes < crypto::kAesGcmNonceBytes + crypto::kAesGcmTagBytes) {
    return InvalidArgumentf("backup header: ciphertext length {} is shorter than nonce and tag",
                            header.ciphertext_bytes);
  }

  if (in.remaining() != header.ciphertext_bytes) {
    return InvalidArgumentf(
        "backup: {} bytes follow the header, want {} (truncated or extended "
        "file)",
        in.remaining(), header.ciphertext_bytes);
  }
  return header;
}

absl::StatusOr<BackupContents> OpenBackup(ByteSpan file, std::span<const BackupShare> shares) {
  VOUCH_ASSIGN_OR_RETURN(BackupHeader header, ParseBackupHeader(file));
  VOUCH_RETURN_IF_ERROR(CheckShares(header, shares));

  std::vector<SecretShare> points;
  for (const BackupShare& share : shares) {
    points.push_back(SecretShare{share.share.index, share.share.value.Clone()});
  }
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes backup_key, CombineShares(points));

  const ByteSpan header_bytes = file.first(kBackupHeaderBytes);
  absl::StatusOr<SecretBytes> content =
      crypto::AesGcmOpen(backup_key, file.subspan(kBackupHeaderBytes), header_bytes);
  if (!content.ok()) {
    return absl::UnauthenticatedError(
        "backup: decryption failed: a share is wrong or the backup file was modified");
  }
  if (crypto::Sha256(content->Expose()) != header.content_sha256) {
    return absl::DataLossError("backup: the content's SHA-256 differs from the header's");
  }
  VOUCH_ASSIGN_OR_RETURN(BackupContents contents,
                         DecodeContent(content->Expose(), header.format_version));
  contents.header = std::move(header);
  VOUCH_RETURN_IF_ERROR(CheckContents(contents.header, contents));
  return contents;
}

absl::Status CheckStoreEmpty(store::Store& store) {
  VOUCH_ASSIGN_OR_RETURN(const std::vector<std::string> keys, store.ListKeyNames());
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::DeletedKey> deleted, store.ListDeletedKeys());
  VOUCH_ASSIGN_OR_RETURN(const std::vector<std::string> blobs, store.ListBlobNames());
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::AuditEvent> audit, store.ReadAudit(1));
  if (keys.empty() && deleted.empty() && blobs.empty() && audit.empty()) {
    return absl::OkStatus();
  }
  return FailedPreconditionf(
      "restore: the target store is not empty ({} keys, {} deleted keys, "
      "{} blobs, {} audit events): restore only into a new instance",
      keys.size(), deleted.size(), blobs.size(), audit.empty() ? "no" : "some");
}

absl::Status RestoreToStore(const BackupContents& contents, store::Store& store,
                            const std::vector<NamedBlob>* blobs) {
  VOUCH_RETURN_IF_ERROR(CheckStoreEmpty(store));
  for (const store::KeyRecord& record : contents.keys) {
    VOUCH_RETURN_IF_ERROR(store.PutKeyVersion(record));
  }
  for (const DeletedKeyBackup& deleted : contents.deleted_keys) {
    for (const store::KeyRecord& record : deleted.versions) {
      VOUCH_RETURN_IF_ERROR(store.PutKeyVersion(record));
    }
    VOUCH_RETURN_IF_ERROR(store.SoftDeleteKey(deleted.key.name, deleted.key.deleted,
                                              deleted.key.scheduled_purge, nullptr));
  }
  for (const NamedBlob& blob : blobs != nullptr ? *blobs : contents.blobs) {
    VOUCH_RETURN_IF_ERROR(store.PutBlob(blob.name, blob.value));
  }
  for (const store::AuditEvent& event : contents.audit) {
    VOUCH_RETURN_IF_ERROR(store.AppendAudit(event));
  }

  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::AuditEvent> restored,
                         store.ReadAudit(store::kAllAuditEvents));
  if (restored.size() != contents.audit.size()) {
    return absl::DataLossError(
        fmt::format("restore: the store contains {} audit events after the restore, expected {}",
                    restored.size(), contents.audit.size()));
  }
  for (size_t i = 0; i < restored.size(); ++i) {
    if (restored[i].hash != contents.audit[i].hash) {
      return absl::DataLossError(fmt::format(
          "restore: audit event {} hashes differently in the store", restored[i].sequence));
    }
  }
  return store::VerifyAuditChain(restored);
}

}  // namespace vouch::backup
