// Internal to PostgresStore: RAII wrappers over libpq connections and
// results, bound parameters, and a bounded connection pool.
//
// Every query goes through PQexecParams with binary results, so bytea
// columns come back as raw bytes and integers as big-endian values.
#ifndef VOUCH_STORE_POSTGRES_CONNECTION_H_
#define VOUCH_STORE_POSTGRES_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/mutex.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace vouch::store::internal {

// RedactConnectionString returns "host:port/dbname user=..." for messages,
// without a password or any other option. A string libpq cannot parse gives
// "(unparsable connection string)".
std::string RedactConnectionString(const std::string& conninfo);

// PgParams holds the parameters of one statement: text values for numbers
// and validated names, binary values for bytes, so no value is ever spliced
// into SQL.
class PgParams {
 public:
  PgParams& Text(std::string_view value);
  PgParams& Bytes(ByteSpan value);
  PgParams& Int(int64_t value);
  PgParams& Bool(bool value);
  PgParams& Null();

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void Add(std::string value, int format, bool null);

  std::vector<std::string> values_;
  mutable std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
};

// PgResult owns a PGresult. Rows and columns count from 0.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result);
  ~PgResult();
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  // AffectedRows returns the count of an INSERT, UPDATE or DELETE.
  int64_t AffectedRows() const;
  bool IsNull(int row, int column) const;
  // Int reads an int2, int4 or int8 column.
  int64_t Int(int row, int column) const;
  bool Bool(int row, int column) const;
  std::string Text(int row, int column) const;
  vouch::Bytes Blob(int row, int column) const;

 private:
  PGresult* result_ = nullptr;
};

// PgConnection owns one connection. Exec marks the connection broken when
// libpq reports it lost, so the pool drops it instead of reusing it.
class PgConnection {
 public:
  // Connect opens a connection and, when `schema` is not empty, sets the
  // search_path to it. Unavailable when the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo,
                                                               const std::string& schema,
                                                               absl::Duration connect_timeout);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Exec runs one statement with `params` and returns its result. Errors:
  // Unavailable when the connection is lost or the database is read-only
  // (a standby), AlreadyExists on a unique violation, Aborted on a
  // serialization failure or deadlock, Internal otherwise. Messages start
  // with "postgres store: <operation>".
  absl::StatusOr<PgResult> Exec(std::string_view sql, const PgParams& params,
                                std::string_view operation);
  absl::StatusOr<PgResult> Exec(std::string_view sql, std::string_view operation) {
    return Exec(sql, PgParams(), operation);
  }
  // ExecScript runs several statements separated by ';' without parameters.
  absl::Status ExecScript(std::string_view sql, std::string_view operation);

  // Broken reports whether the connection is lost or left in an unknown
  // state; the pool then closes it.
  bool Broken() const;
  // CommitOutcomeUnknown reports whether a COMMIT was sent but its answer
  // was lost, so the transaction may or may not have committed.
  bool CommitOutcomeUnknown() const { return commit_outcome_unknown_; }
  void MarkBroken() { broken_ = true; }

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}

  absl::Status ErrorFor(const PGresult* result, std::string_view operation);

  PGconn* conn_;
  bool broken_ = false;
  bool commit_outcome_unknown_ = false;
};

// PgTransaction runs BEGIN and, unless Commit succeeded, ROLLBACK when it
// goes out of scope.
class PgTransaction {
 public:
  static absl::StatusOr<PgTransaction> Begin(PgConnection& conn, std::string_view operation);
  ~PgTransaction();
  PgTransaction(PgTransaction&& other) noexcept;
  PgTransaction& operator=(PgTransaction&&) = delete;
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  absl::Status Commit();

 private:
  PgTransaction(PgConnection* conn, std::string operation)
      : conn_(conn), operation_(std::move(operation)) {}

  PgConnection* conn_;
  std::string operation_;
  bool done_ = false;
};

struct PoolOptions {
  std::string conninfo;
  std::string schema;
  int max_connections = 8;
  absl::Duration acquire_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(3);
};

// ConnectionPool lends at most max_connections connections. A broken
// connection is closed when it comes back, together with every idle one
// (after a database restart they are all dead), and the next Acquire
// connects again.
class ConnectionPool {
 public:
  explicit ConnectionPool(PoolOptions options);
  ~ConnectionPool();

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<PgConnection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    PgConnection& operator*() { return *conn_; }
    PgConnection* operator->() { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Acquire returns an idle connection or opens a new one. Unavailable when
  // the database cannot be reached or every connection stays busy for
  // acquire_timeout.
  absl::StatusOr<Lease> Acquire();

  // Stats for tests and logs.
  int open_connections() const;
  int64_t connects() const;

  const PoolOptions& options() const { return options_; }

 private:
  void Return(std::unique_ptr<PgConnection> conn);

  const PoolOptions options_;
  mutable Mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t connects_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vouch::store::internal

#endif  // VOUCH_STORE_POSTGRES_CONNECTION_H_
