#include "vouch/store/sqlite_statement.h"

#include <fmt/format.h>

#include <utility>

#include "vouch/base/status.h"

namespace vouch::store::internal {

namespace {

absl::StatusCode CodeFor(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::StatusCode::kAlreadyExists;
    case SQLITE_CONSTRAINT_TRIGGER:
      return absl::StatusCode::kFailedPrecondition;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_CORRUPT:
      return absl::StatusCode::kDataLoss;
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status SqliteError(sqlite3* db, int rc, std::string_view operation) {
  // sqlite3_errmsg describes the connection's most recent failure, which is
  // this one because the caller holds the store's mutex.
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = fmt::format("sqlite store: {}: {} (code {})", operation, detail, rc);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
    message += "; another connection holds the database lock, retry later";
  }
  return absl::Status(CodeFor(rc), message);
}

absl::Status Exec(sqlite3* db, const char* sql, std::string_view operation) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(db, rc, operation);
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Statement::Prepare(sqlite3* db, std::string_view sql,
                                             std::string_view operation) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, fmt::format("{}: prepare", operation));
  }
  return Statement(db, stmt, operation);
}

absl::Status Statement::CheckBind(int rc, int index) {
  if (rc != SQLITE_OK) {
    return SqliteError(db_, rc, fmt::format("{}: bind parameter {}", operation_, index));
  }
  return absl::OkStatus();
}

absl::Status Statement::BindText(int index, std::string_view value) {
  // A null data pointer would bind SQL NULL, so an empty view binds "".
  const char* data = value.data() != nullptr ? value.data() : "";
  return CheckBind(
      sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

absl::Status Statement::BindBlob(int index, ByteSpan value) {
  if (value.empty()) {
    return CheckBind(sqlite3_bind_zeroblob(stmt_.get(), index, 0), index);
  }
  return CheckBind(
      sqlite3_bind_blob64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT), index);
}

absl::Status Statement::BindInt(int index, int64_t value) {
  return CheckBind(sqlite3_bind_int64(stmt_.get(), index, value), index);
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return SqliteError(db_, rc, operation_);
}

absl::Status Statement::Run() {
  VOUCH_ASSIGN_OR_RETURN(const bool row, Step());
  if (row) {
    return Internalf("sqlite store: {}: returned a row, want none", operation_);
  }
  return absl::OkStatus();
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (text == nullptr || size <= 0) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

Bytes Statement::ColumnBlob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_.get(), column));
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (data == nullptr || size <= 0) {
    return Bytes();
  }
  return Bytes(data, data + size);
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

absl::StatusOr<Transaction> Transaction::BeginImmediate(sqlite3* db, std::string_view operation) {
  VOUCH_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", fmt::format("{}: begin", operation)));
  return Transaction(db, operation);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), operation_(std::move(other.operation_)) {}

Transaction::~Transaction() {
  if (db_ != nullptr) {
    // ROLLBACK fails when no transaction is open, for example after SQLite
    // rolled back by itself on SQLITE_FULL. Then there is nothing to undo.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

absl::Status Transaction::Commit() {
  sqlite3* db = std::exchange(db_, nullptr);
  const int rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    const absl::Status status = SqliteError(db, rc, fmt::format("{}: commit", operation_));
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  return absl::OkStatus();
}

}  // namespace vouch::store::internal
