// RAII wrappers for SQLite prepared statements and transactions, used only
// inside the store. Values always travel as bound parameters.
#ifndef VOUCH_STORE_SQLITE_STATEMENT_H_
#define VOUCH_STORE_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"

namespace vouch::store::internal {

// SqliteError maps a SQLite result code to a Status whose message names
// `operation` and contains SQLite's own message. The codes map as follows:
//   BUSY, LOCKED                       -> Unavailable
//   UNIQUE or PRIMARY KEY violation    -> AlreadyExists
//   RAISE in a trigger                 -> FailedPrecondition
//   FULL, NOMEM                        -> ResourceExhausted
//   CORRUPT                            -> DataLoss
//   NOTADB, CANTOPEN, PERM, READONLY   -> FailedPrecondition
//   anything else                      -> Internal
absl::Status SqliteError(sqlite3* db, int rc, std::string_view operation);

// Exec runs fixed SQL text without values (schema, PRAGMA, BEGIN/COMMIT).
absl::Status Exec(sqlite3* db, const char* sql, std::string_view operation);

class Statement {
 public:
  // Prepare compiles one SQL statement; `operation` names it in errors.
  static absl::StatusOr<Statement> Prepare(sqlite3* db, std::string_view sql,
                                           std::string_view operation);

  // Bind* set the parameter at 1-based `index`. The values are copied.
  absl::Status BindText(int index, std::string_view value);
  absl::Status BindBlob(int index, ByteSpan value);
  absl::Status BindInt(int index, int64_t value);

  // Step returns true when a row is ready and false when the statement is done.
  absl::StatusOr<bool> Step();
  // Run steps a statement that returns no rows.
  absl::Status Run();

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  Bytes ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };

  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string_view operation)
      : db_(db), stmt_(stmt), operation_(operation) {}

  absl::Status CheckBind(int rc, int index);

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  std::string operation_;
};

// Transaction is one BEGIN IMMEDIATE transaction. It takes the write lock at
// BEGIN, where the busy timeout applies, so statements inside it do not fail
// with SQLITE_BUSY on a lock upgrade. It rolls back when destroyed before
// Commit.
class Transaction {
 public:
  static absl::StatusOr<Transaction> BeginImmediate(sqlite3* db, std::string_view operation);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  absl::Status Commit();

 private:
  Transaction(sqlite3* db, std::string_view operation) : db_(db), operation_(operation) {}

  sqlite3* db_;  // null once committed, rolled back or moved from
  std::string operation_;
};

}  // namespace vouch::store::internal

#endif  // VOUCH_STORE_SQLITE_STATEMENT_H_
