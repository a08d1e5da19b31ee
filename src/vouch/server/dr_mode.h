// The store a `vouch serve` process uses, and its disaster-recovery mode.
//
// OpenServiceStore opens SQLite (<data_dir>/vouch.db) or PostgreSQL, as
// config.store selects, behind a guard that enforces read-only mode:
//
// - A node is read-only when it was started with --read-only, or while its
//   PostgreSQL database is a standby in recovery (pg_is_in_recovery(),
//   checked at most once a second).
// - A read-only node verifies evidence, issues tokens and releases keys. It
//   refuses key changes, nonces and other writes with Unavailable (HTTP 503,
//   "ServiceUnavailable"), because the change belongs at the primary site
//   and becomes possible here after promotion. 503 rather than 409: the
//   request is valid and a retry after failover succeeds.
// - Audit events of a read-only node cannot enter the chained log in the
//   standby database. They are written to the server log as "standby audit"
//   lines instead, and counted.
// - DrMode::Promote (POST /dr/promote, `vouch dr promote`) promotes a
//   standby database with pg_promote() and clears --read-only, so the node
//   accepts writes at once. A node that was read-only only because its
//   database was a standby also switches by itself within a second of the
//   database being promoted by other means (pg_ctl promote).
#ifndef VOUCH_SERVER_DR_MODE_H_
#define VOUCH_SERVER_DR_MODE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/server/config.h"
#include "vouch/server/router.h"
#include "vouch/store/store.h"

namespace vouch::store {
class PostgresStore;
}

namespace vouch::server {

// kPostgresUrlEnv names the environment variable read when the config sets
// no postgres_url_file.
inline constexpr char kPostgresUrlEnv[] = "VOUCH_POSTGRES_URL";

// LoadPostgresUrl returns the connection string from config.postgres_url_file
// (surrounding whitespace removed) or else from $VOUCH_POSTGRES_URL.
// InvalidArgument when neither is set or the value is empty. Messages name
// the file or the variable, never the value.
absl::StatusOr<std::string> LoadPostgresUrl(const Config& config);

class DrMode {
 public:
  // `postgres` may be null (SQLite), and must outlive this object.
  DrMode(bool forced_read_only, store::PostgresStore* postgres);

  // IsReadOnly returns whether writes are refused; Unavailable when the
  // database cannot be reached to check.
  absl::StatusOr<bool> IsReadOnly();

  // CheckWritable returns OK when this node may write, else Unavailable
  // with the reason and what to do.
  absl::Status CheckWritable();

  // Status returns {"mode": "read-write"|"read-only", "forced_read_only",
  // "database_in_recovery", "standby_audit_events"}; a database that cannot
  // be reached gives Unavailable.
  absl::StatusOr<nlohmann::json> Status();

  // Promote promotes the database if it is a standby (waiting up to
  // `wait`) and clears the forced read-only flag.
  absl::Status Promote(absl::Duration wait);

  // CountStandbyAudit counts one audit event written to the log instead of
  // the store.
  void CountStandbyAudit() { standby_audit_events_.fetch_add(1); }

 private:
  std::atomic<bool> forced_read_only_;
  store::PostgresStore* postgres_;
  std::atomic<int64_t> standby_audit_events_ = 0;
};

// ServiceStore is the opened store with its DR mode.
struct ServiceStore {
  std::unique_ptr<store::Store> store;  // the guarded store
  std::shared_ptr<DrMode> dr;
  // PutBlobIfAbsent stores a blob unless one exists and returns the stored
  // one. Atomic across nodes on PostgreSQL; on SQLite, a read then a write.
  std::function<absl::StatusOr<Bytes>(std::string_view, ByteSpan)> put_blob_if_absent;
  // Description for the start-up log, without credentials.
  std::string description;
};

// OpenServiceStore opens the configured store; see the file comment.
absl::StatusOr<ServiceStore> OpenServiceStore(const Config& config);

// AddDrRoutes registers
//   GET  /dr/status    -> DrMode::Status()        no credential, like /healthz
//   POST /dr/promote   administrator (route access table, access.h);
//                      DrMode::Promote(), then the new status
absl::Status AddDrRoutes(Router& router, std::shared_ptr<DrMode> dr);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_DR_MODE_H_
