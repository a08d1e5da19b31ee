#include "vouch/server/dr_mode.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/logging.h"
#include "vouch/server/service.h"
#include "vouch/server/status_mapping.h"
#include "vouch/store/postgres_store.h"
#include "vouch/store/sqlite_store.h"

namespace vouch::server {
namespace {

constexpr size_t kMaxUrlFileBytes = 64 * 1024;
constexpr absl::Duration kPromoteWait = absl::Seconds(30);

// GuardedStore forwards reads to the real store and lets writes through
// only when DrMode::CheckWritable allows them. See dr_mode.h.
class GuardedStore : public store::Store {
 public:
  GuardedStore(std::unique_ptr<store::Store> inner, std::shared_ptr<DrMode> dr)
      : inner_(std::move(inner)), dr_(std::move(dr)) {}

  using Store::PutKeyVersion;
  using Store::SetReleasePolicy;
  using Store::UpdateKeyAttributes;
  using Store::WriteBlobs;

  absl::Status PutKeyVersion(const store::KeyRecord& record,
                             const store::AuditEvent* audit) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->PutKeyVersion(record, audit);
  }
  absl::StatusOr<store::KeyRecord> GetKey(std::string_view name,
                                          std::string_view version) override {
    return inner_->GetKey(name, version);
  }
  absl::StatusOr<std::vector<std::string>> ListKeyNames() override {
    return inner_->ListKeyNames();
  }
  absl::StatusOr<std::vector<store::KeyRecord>> ListKeyVersions(std::string_view name) override {
    return inner_->ListKeyVersions(name);
  }
  absl::Status UpdateKeyAttributes(std::string_view name, std::string_view version, bool enabled,
                                   const store::AuditEvent* audit) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->UpdateKeyAttributes(name, version, enabled, audit);
  }
  absl::Status SetReleasePolicy(std::string_view name, std::string_view version,
                                std::string_view policy_json, bool immutable,
                                const store::AuditEvent* audit) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->SetReleasePolicy(name, version, policy_json, immutable, audit);
  }
  absl::Status SoftDeleteKey(std::string_view name, absl::Time deleted, absl::Time scheduled_purge,
                             const store::AuditEvent* audit) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->SoftDeleteKey(name, deleted, scheduled_purge, audit);
  }
  absl::Status RecoverKey(std::string_view name, const store::AuditEvent* audit) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->RecoverKey(name, audit);
  }
  absl::StatusOr<std::vector<store::KeyRecord>> PurgeKey(std::string_view name,
                                                         const store::AuditEvent* audit) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->PurgeKey(name, audit);
  }
  absl::StatusOr<store::DeletedKey> GetDeletedKey(std::string_view name) override {
    return inner_->GetDeletedKey(name);
  }
  absl::StatusOr<std::vector<store::DeletedKey>> ListDeletedKeys() override {
    return inner_->ListDeletedKeys();
  }
  absl::StatusOr<std::vector<store::KeyRecord>> ListDeletedKeyVersions(
      std::string_view name) override {
    return inner_->ListDeletedKeyVersions(name);
  }
  absl::Status PutNonce(ByteSpan nonce, absl::Time expires) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->PutNonce(nonce, expires);
  }
  absl::Status ConsumeNonce(ByteSpan nonce, absl::Time now) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->ConsumeNonce(nonce, now);
  }
  absl::StatusOr<int64_t> PurgeExpiredNonces(absl::Time now) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->PurgeExpiredNonces(now);
  }
  absl::Status AppendAudit(const store::AuditEvent& event) override {
    VOUCH_ASSIGN_OR_RETURN(const bool read_only, dr_->IsReadOnly());
    if (read_only) {
      // A release at a read-only node must not fail for want of a writable
      // audit log: the event goes to the server log instead.
      dr_->CountStandbyAudit();
      ServerLogger()->warn(
          "standby audit: time={} actor={:?} operation={:?} target={:?} outcome={:?} "
          "detail={:?}",
          absl::FormatTime(absl::RFC3339_full, event.time, absl::UTCTimeZone()), event.actor,
          event.operation, event.target, event.outcome, event.detail);
      return absl::OkStatus();
    }
    return inner_->AppendAudit(event);
  }
  absl::StatusOr<std::vector<store::AuditEvent>> ReadAudit(size_t max_events) override {
    return inner_->ReadAudit(max_events);
  }
  absl::StatusOr<std::vector<store::AuditEvent>> QueryAudit(
      const store::AuditQuery& query) override {
    return inner_->QueryAudit(query);
  }
  absl::StatusOr<std::optional<Bytes>> GetBlob(std::string_view name) override {
    return inner_->GetBlob(name);
  }
  absl::Status PutBlob(std::string_view name, ByteSpan value) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->PutBlob(name, value);
  }
  absl::StatusOr<std::vector<std::string>> ListBlobNames() override {
    return inner_->ListBlobNames();
  }
  absl::Status DeleteBlob(std::string_view name) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->DeleteBlob(name);
  }
  absl::Status WriteBlobs(const std::vector<store::BlobPrecondition>& preconditions,
                          const std::vector<store::BlobWrite>& writes,
                          const store::AuditEvent* audit) override {
    VOUCH_RETURN_IF_ERROR(dr_->CheckWritable());
    return inner_->WriteBlobs(preconditions, writes, audit);
  }

 private:
  std::unique_ptr<store::Store> inner_;
  std::shared_ptr<DrMode> dr_;
};

absl::StatusOr<std::unique_ptr<store::PostgresStore>> OpenPostgres(const Config& config) {
  VOUCH_ASSIGN_OR_RETURN(std::string url, LoadPostgresUrl(config));
  store::PostgresStoreOptions options;
  options.conninfo = std::move(url);
  options.schema = config.postgres_schema;
  options.pool_size = config.postgres_pool_size;
  return store::PostgresStore::Open(options);
}

}  // namespace

absl::StatusOr<std::string> LoadPostgresUrl(const Config& config) {
  std::string url;
  std::string source;
  if (!config.postgres_url_file.empty()) {
    source = "postgres URL file " + config.postgres_url_file;
    absl::StatusOr<Bytes> data = ReadFile(config.postgres_url_file, kMaxUrlFileBytes);
    if (!data.ok()) {
      return Prefix(source, data.status());
    }
    url = std::string(absl::StripAsciiWhitespace(
        absl::string_view(reinterpret_cast<const char*>(data->data()), data->size())));
  } else {
    source = std::string("environment variable ") + kPostgresUrlEnv;
    const char* value = std::getenv(kPostgresUrlEnv);
    url = value == nullptr ? "" : std::string(absl::StripAsciiWhitespace(value));
  }
  if (url.empty()) {
    return InvalidArgumentf(
        "the PostgreSQL store needs a connection string: {} is empty or unset (use "
        "--postgres-url-file FILE or set {})",
        source, kPostgresUrlEnv);
  }
  return url;
}

DrMode::DrMode(bool forced_read_only, store::PostgresStore* postgres)
    : forced_read_only_(forced_read_only), postgres_(postgres) {}

absl::StatusOr<bool> DrMode::IsReadOnly() {
  if (forced_read_only_.load() || postgres_ == nullptr) {
    return forced_read_only_.load();
  }
  return postgres_->InRecovery();
}

absl::Status DrMode::CheckWritable() {
  VOUCH_ASSIGN_OR_RETURN(const bool read_only, IsReadOnly());
  if (!read_only) {
    return absl::OkStatus();
  }
  if (forced_read_only_.load()) {
    return Unavailablef(
        "this vouch node is in read-only disaster-recovery mode (--read-only): key changes are "
        "refused until it is promoted with `vouch dr promote`; send changes to the primary site");
  }
  return Unavailablef(
      "this vouch node is read-only: its PostgreSQL database is a standby in recovery; key "
      "changes are refused until the database is promoted (`vouch dr promote`)");
}

absl::StatusOr<nlohmann::json> DrMode::Status() {
  bool in_recovery = false;
  if (postgres_ != nullptr) {
    VOUCH_ASSIGN_OR_RETURN(in_recovery, postgres_->InRecovery());
  }
  const bool forced = forced_read_only_.load();
  return nlohmann::json{{"mode", forced || in_recovery ? "read-only" : "read-write"},
                        {"forced_read_only", forced},
                        {"database_in_recovery", in_recovery},
                        {"standby_audit_events", standby_audit_events_.load()}};
}

absl::Status DrMode::Promote(absl::Duration wait) {
  if (postgres_ != nullptr) {
    VOUCH_RETURN_IF_ERROR(postgres_->Promote(wait));
  }
  forced_read_only_.store(false);
  return absl::OkStatus();
}

absl::StatusOr<ServiceStore> OpenServiceStore(const Config& config) {
  ServiceStore opened;
  if (config.store == "postgres") {
    VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresStore> postgres, OpenPostgres(config));
    store::PostgresStore* raw = postgres.get();
    opened.description = "postgres " + raw->Describe();
    opened.dr = std::make_shared<DrMode>(config.read_only, raw);
    opened.put_blob_if_absent = [raw](std::string_view name, ByteSpan value) {
      return raw->PutBlobIfAbsent(name, value);
    };
    opened.store = std::make_unique<GuardedStore>(std::move(postgres), opened.dr);
    return opened;
  }
  const std::string path = config.data_dir + "/" + kDatabaseFile;
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> sqlite,
                         store::SqliteStore::Open(path));
  opened.description = "sqlite " + path;
  opened.dr = std::make_shared<DrMode>(config.read_only, nullptr);
  opened.store = std::make_unique<GuardedStore>(std::move(sqlite), opened.dr);
  store::Store* guarded = opened.store.get();
  opened.put_blob_if_absent = [guarded](std::string_view name,
                                        ByteSpan value) -> absl::StatusOr<Bytes> {
    VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> existing, guarded->GetBlob(name));
    if (existing.has_value()) {
      return *existing;
    }
    VOUCH_RETURN_IF_ERROR(guarded->PutBlob(name, value));
    return Bytes(value.begin(), value.end());
  };
  return opened;
}

absl::Status AddDrRoutes(Router& router, std::shared_ptr<DrMode> dr) {
  VOUCH_RETURN_IF_ERROR(
      router.Add("GET", "/dr/status", [dr](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
        VOUCH_ASSIGN_OR_RETURN(const nlohmann::json status, dr->Status());
        return JsonResponse(200, status);
      }));
  return router.Add(
      "POST", "/dr/promote",
      [dr](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
        const absl::Status promoted = dr->Promote(kPromoteWait);
        if (!promoted.ok()) {
          ServerLogger()->error("dr promote failed: {}", promoted);
          return promoted;
        }
        VOUCH_ASSIGN_OR_RETURN(const nlohmann::json status, dr->Status());
        ServerLogger()->warn("dr promote: this node now runs {}",
                             status["mode"].get<std::string>());
        return JsonResponse(200, status);
      });
}

}  // namespace vouch::server
