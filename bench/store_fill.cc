// Helper of scripts/bench.sh that grows a stopped server's SQLite store to a
// given size, in one transaction, for the growth benchmarks:
//
//   vouch_bench_fill DB TEMPLATE_KEY KEYS NONCES AUDIT
//
// brings the number of filler keys (copies of TEMPLATE_KEY's newest version
// named fill-<n>, never released), of outstanding nonces (random, expiring
// in a day) and of audit records up to KEYS, NONCES and AUDIT. Audit records
// are chained as the store chains them (store/audit.h), so the log still
// verifies. Counts already reached are left alone.
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "vouch/base/status.h"
#include "vouch/store/audit.h"
#include "vouch/store/sqlite_statement.h"
#include "vouch/store/store.h"

namespace vouch::bench {
namespace {

using store::internal::Statement;
using store::internal::Transaction;

absl::StatusOr<int64_t> Count(sqlite3* db, const char* sql) {
  VOUCH_ASSIGN_OR_RETURN(Statement count, Statement::Prepare(db, sql, "count"));
  VOUCH_ASSIGN_OR_RETURN(const bool has_row, count.Step());
  return has_row ? count.ColumnInt(0) : 0;
}

absl::Status FillKeys(sqlite3* db, const std::string& template_key, int64_t target) {
  VOUCH_ASSIGN_OR_RETURN(const int64_t have,
                         Count(db, "SELECT count(*) FROM keys WHERE name LIKE 'fill-%'"));
  if (have >= target) {
    return absl::OkStatus();
  }

  // One row per new filler key, numbered from have + 1.
  const std::string numbers =
      "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2) ";
  VOUCH_ASSIGN_OR_RETURN(
      Statement keys,
      Statement::Prepare(db,
                         numbers + "INSERT INTO keys (name, created_us) "
                                   "SELECT 'fill-' || i, strftime('%s', 'now') * 1000000 FROM n",
                         "fill keys"));
  VOUCH_RETURN_IF_ERROR(keys.BindInt(1, have + 1));
  VOUCH_RETURN_IF_ERROR(keys.BindInt(2, target));
  VOUCH_RETURN_IF_ERROR(keys.Run());

  VOUCH_ASSIGN_OR_RETURN(
      Statement versions,
      Statement::Prepare(
          db,
          numbers +
              "INSERT INTO key_versions (name, version, created_us, updated_us, enabled, "
              "exportable, kty, key_size_bits, sealed_key, keystore, release_policy, "
              "policy_immutable, curve, public_key, tags_json) "
              "SELECT 'fill-' || i, v.version, v.created_us, v.updated_us, v.enabled, "
              "v.exportable, v.kty, v.key_size_bits, v.sealed_key, v.keystore, v.release_policy, "
              "v.policy_immutable, v.curve, v.public_key, v.tags_json FROM n, "
              "(SELECT * FROM key_versions WHERE name = ?3 ORDER BY id DESC LIMIT 1) AS v",
          "fill key versions"));
  VOUCH_RETURN_IF_ERROR(versions.BindInt(1, have + 1));
  VOUCH_RETURN_IF_ERROR(versions.BindInt(2, target));
  VOUCH_RETURN_IF_ERROR(versions.BindText(3, template_key));
  return versions.Run();
}

absl::Status FillNonces(sqlite3* db, int64_t target) {
  VOUCH_ASSIGN_OR_RETURN(const int64_t have, Count(db, "SELECT count(*) FROM nonces"));
  if (have >= target) {
    return absl::OkStatus();
  }
  VOUCH_ASSIGN_OR_RETURN(
      Statement nonces,
      Statement::Prepare(db,
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                         "WHERE i < ?1) INSERT INTO nonces (nonce, expires_us) "
                         "SELECT randomblob(32), ?2 FROM n",
                         "fill nonces"));
  VOUCH_RETURN_IF_ERROR(nonces.BindInt(1, target - have));
  VOUCH_RETURN_IF_ERROR(nonces.BindInt(2, absl::ToUnixMicros(absl::Now() + absl::Hours(24))));
  return nonces.Run();
}

absl::Status FillAudit(sqlite3* db, int64_t target) {
  VOUCH_ASSIGN_OR_RETURN(
      Statement last,
      Statement::Prepare(db, "SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1",
                         "read audit head"));
  VOUCH_ASSIGN_OR_RETURN(const bool has_last, last.Step());
  int64_t sequence = has_last ? last.ColumnInt(0) : 0;
  Bytes prev_hash = has_last ? last.ColumnBlob(1) : Bytes(32, 0);
  // Raw sqlite3 calls, because Statement cannot be reset and run again.
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO audit_log (sequence, time_us, actor, operation, target, "
                         "outcome, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return Internalf("fill audit log: prepare: {}", sqlite3_errmsg(db));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> insert(raw, sqlite3_finalize);
  const absl::Time now = absl::Now();
  for (sequence = sequence + 1; sequence <= target; ++sequence) {
    store::AuditEvent event;
    event.time = now;
    event.actor = "bench";
    event.operation = "key.release";
    event.target = "keys/fill-" + std::to_string(sequence) + "/0";
    event.outcome = "granted";
    event.detail = "benchmark filler record";
    event.sequence = sequence;
    const Bytes hash = store::ChainAuditHash(prev_hash, event);

    sqlite3_stmt* row = insert.get();
    sqlite3_reset(row);
    sqlite3_bind_int64(row, 1, sequence);
    sqlite3_bind_int64(row, 2, absl::ToUnixMicros(event.time));
    int column = 3;
    for (const std::string* text :
         {&event.actor, &event.operation, &event.target, &event.outcome, &event.detail}) {
      sqlite3_bind_text(row, column++, text->data(), static_cast<int>(text->size()),
                        SQLITE_TRANSIENT);
    }
    sqlite3_bind_blob(row, 8, prev_hash.data(), static_cast<int>(prev_hash.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(row, 9, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(row) != SQLITE_DONE) {
      return Internalf("fill audit log: insert record {}: {}", sequence, sqlite3_errmsg(db));
    }
    prev_hash = hash;
  }
  return absl::OkStatus();
}

absl::Status Fill(const std::string& path, const std::string& template_key, int64_t keys,
                  int64_t nonces, int64_t audit) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const std::string message = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return FailedPreconditionf("open {}: {}", path, message);
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close);
  VOUCH_ASSIGN_OR_RETURN(Transaction transaction,
                         Transaction::BeginImmediate(db.get(), "bench fill"));
  VOUCH_RETURN_IF_ERROR(FillKeys(db.get(), template_key, keys));
  VOUCH_RETURN_IF_ERROR(FillNonces(db.get(), nonces));
  VOUCH_RETURN_IF_ERROR(FillAudit(db.get(), audit));
  return transaction.Commit();
}

}  // namespace
}  // namespace vouch::bench

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: vouch_bench_fill DB TEMPLATE_KEY KEYS NONCES AUDIT\n");
    return 2;
  }
  const absl::Status status = vouch::bench::Fill(argv[1], argv[2], std::atoll(argv[3]),
                                                 std::atoll(argv[4]), std::atoll(argv[5]));
  if (!status.ok()) {
    std::fprintf(stderr, "vouch_bench_fill: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
