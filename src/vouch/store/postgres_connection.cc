#include "vouch/store/postgres_connection.h"

#include <libpq-fe.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "vouch/base/status.h"

namespace vouch::store::internal {
namespace {

constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;

std::string TrimMessage(const char* message) {
  if (message == nullptr) {
    return "";
  }
  return std::string(absl::StripTrailingAsciiWhitespace(message));
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string RedactConnectionString(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "(unparsable connection string)";
  }
  std::string host = "localhost";
  std::string port = "5432";
  std::string dbname;
  std::string user;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr || option->val[0] == '\0') {
      continue;
    }
    const std::string_view keyword = option->keyword;
    if (keyword == "host" || keyword == "hostaddr") {
      host = option->val;
    } else if (keyword == "port") {
      port = option->val;
    } else if (keyword == "dbname") {
      dbname = option->val;
    } else if (keyword == "user") {
      user = option->val;
    }
  }
  PQconninfoFree(options);
  std::string text = fmt::format("{}:{}/{}", host, port, dbname);
  if (!user.empty()) {
    text += " user=" + user;
  }
  return text;
}

void PgParams::Add(std::string value, int format, bool null) {
  values_.push_back(std::move(value));
  formats_.push_back(format);
  lengths_.push_back(static_cast<int>(values_.back().size()));
  nulls_.push_back(null);
}

const char* const* PgParams::values() const {
  // Built on each call: a short string moves when values_ grows or when
  // the PgParams itself moves, so stored pointers would dangle.
  pointers_.clear();
  for (size_t i = 0; i < values_.size(); ++i) {
    pointers_.push_back(nulls_[i] ? nullptr : values_[i].c_str());
  }
  return pointers_.data();
}

PgParams& PgParams::Text(std::string_view value) {
  Add(std::string(value), kTextFormat, false);
  return *this;
}

PgParams& PgParams::Bytes(ByteSpan value) {
  Add(std::string(value.begin(), value.end()), kBinaryFormat, false);
  return *this;
}

PgParams& PgParams::Int(int64_t value) {
  Add(std::to_string(value), kTextFormat, false);
  return *this;
}

PgParams& PgParams::Bool(bool value) {
  Add(value ? "true" : "false", kTextFormat, false);
  return *this;
}

PgParams& PgParams::Null() {
  Add("", kTextFormat, true);
  return *this;
}

PgResult::PgResult(PGresult* result) : result_(result) {}

PgResult::~PgResult() { PQclear(result_); }

PgResult::PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

int PgResult::rows() const { return result_ == nullptr ? 0 : PQntuples(result_); }

int64_t PgResult::AffectedRows() const {
  const char* count = result_ == nullptr ? nullptr : PQcmdTuples(result_);
  if (count == nullptr || count[0] == '\0') {
    return 0;
  }
  return std::stoll(count);
}

bool PgResult::IsNull(int row, int column) const {
  return PQgetisnull(result_, row, column) != 0;
}

int64_t PgResult::Int(int row, int column) const {
  const auto* data = reinterpret_cast<const uint8_t*>(PQgetvalue(result_, row, column));
  const int length = PQgetlength(result_, row, column);
  uint64_t value = 0;
  for (int i = 0; i < length; ++i) {
    value = (value << 8) | data[i];
  }
  // Sign-extend int2 and int4 values.
  if (length > 0 && length < 8 && (data[0] & 0x80) != 0) {
    value |= ~uint64_t{0} << (8 * length);
  }
  return static_cast<int64_t>(value);
}

bool PgResult::Bool(int row, int column) const {
  return PQgetlength(result_, row, column) == 1 && PQgetvalue(result_, row, column)[0] != 0;
}

std::string PgResult::Text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

vouch::Bytes PgResult::Blob(int row, int column) const {
  const auto* data = reinterpret_cast<const uint8_t*>(PQgetvalue(result_, row, column));
  return vouch::Bytes(data, data + PQgetlength(result_, row, column));
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& conninfo, const std::string& schema, absl::Duration connect_timeout) {
  const std::string timeout_seconds =
      std::to_string(std::max<int64_t>(1, absl::ToInt64Seconds(connect_timeout)));
  // Defaults come first: the caller's connection string, expanded from
  // "dbname", overrides any of them.
  const char* keywords[] = {"connect_timeout", "application_name", "keepalives",
                            "keepalives_idle", "keepalives_interval", "keepalives_count",
                            "dbname", nullptr};
  const char* values[] = {timeout_seconds.c_str(), "vouch", "1", "10", "5", "3",
                          conninfo.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) {
    return Unavailablef("postgres store: connect to {}: out of memory",
                        RedactConnectionString(conninfo));
  }
  std::unique_ptr<PgConnection> conn(new PgConnection(raw));
  // Notices ("relation already exists, skipping") would go to stderr.
  PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);
  if (PQstatus(raw) != CONNECTION_OK) {
    return Unavailablef("postgres store: database unavailable: connect to {} failed: {}",
                        RedactConnectionString(conninfo), TrimMessage(PQerrorMessage(raw)));
  }
  if (!schema.empty()) {
    // set_config takes the value as a parameter; the identifier is quoted
    // there, so the schema name never becomes SQL text.
    PgParams params;
    params.Text("\"" + schema + "\"");
    VOUCH_RETURN_IF_ERROR(
        conn->Exec("SELECT pg_catalog.set_config('search_path', $1, false)", params,
                   "set search_path")
            .status());
  }
  return conn;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::Broken() const {
  return broken_ || PQstatus(conn_) != CONNECTION_OK ||
         PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

absl::Status PgConnection::ErrorFor(const PGresult* result, std::string_view operation) {
  const char* state_field =
      result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = state_field == nullptr ? "" : state_field;
  const std::string message =
      TrimMessage(result == nullptr ? PQerrorMessage(conn_) : PQresultErrorMessage(result));

  if (PQstatus(conn_) != CONNECTION_OK || StartsWith(state, "08") || StartsWith(state, "57P")) {
    broken_ = true;
    return Unavailablef("postgres store: {}: database unavailable: {}", operation, message);
  }
  if (state == "25006") {
    return Unavailablef(
        "postgres store: {}: the database is a read-only standby (in recovery): {}", operation,
        message);
  }
  if (state == "23505") {
    return absl::AlreadyExistsError(
        fmt::format("postgres store: {}: unique violation: {}", operation, message));
  }
  if (state == "40001" || state == "40P01") {
    return absl::AbortedError(fmt::format("postgres store: {}: {}", operation, message));
  }
  if (StartsWith(state, "53")) {
    return Unavailablef("postgres store: {}: database out of resources: {}", operation, message);
  }
  return Internalf("postgres store: {}: SQLSTATE {}: {}", operation, state, message);
}

absl::StatusOr<PgResult> PgConnection::Exec(std::string_view sql, const PgParams& params,
                                            std::string_view operation) {
  const std::string statement(sql);
  PGresult* raw = PQexecParams(conn_, statement.c_str(), params.size(), nullptr, params.values(),
                               params.lengths(), params.formats(), /*resultFormat=*/1);
  PgResult result(raw);
  const ExecStatusType status = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return result;
  }
  const absl::Status error = ErrorFor(raw, operation);
  if (statement == "COMMIT" && broken_) {
    commit_outcome_unknown_ = true;
  }
  return error;
}

absl::Status PgConnection::ExecScript(std::string_view sql, std::string_view operation) {
  PGresult* result = PQexec(conn_, std::string(sql).c_str());
  const ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  absl::Status outcome = absl::OkStatus();
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    outcome = ErrorFor(result, operation);
  }
  PQclear(result);
  return outcome;
}

absl::StatusOr<PgTransaction> PgTransaction::Begin(PgConnection& conn,
                                                   std::string_view operation) {
  VOUCH_RETURN_IF_ERROR(conn.Exec("BEGIN", operation).status());
  return PgTransaction(&conn, std::string(operation));
}

PgTransaction::PgTransaction(PgTransaction&& other) noexcept
    : conn_(other.conn_), operation_(std::move(other.operation_)), done_(other.done_) {
  other.done_ = true;
}

PgTransaction::~PgTransaction() {
  if (!done_ && !conn_->Broken() && !conn_->Exec("ROLLBACK", operation_).ok()) {
    conn_->MarkBroken();
  }
}

absl::Status PgTransaction::Commit() {
  done_ = true;
  return conn_->Exec("COMMIT", operation_).status();
}

ConnectionPool::ConnectionPool(PoolOptions options) : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::~Lease() {
  if (conn_ != nullptr) {
    pool_->Return(std::move(conn_));
  }
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  const absl::Time deadline = absl::Now() + options_.acquire_timeout;
  {
    MutexLock lock(&mu_);
    const auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.max_connections;
    };
    if (!mu_.AwaitWithDeadline(available, deadline)) {
      return Unavailablef(
          "postgres store: all {} database connections stayed busy for {}: raise the pool size "
          "or lower the load",
          options_.max_connections, absl::FormatDuration(options_.acquire_timeout));
    }
    if (!idle_.empty()) {
      std::unique_ptr<PgConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    ++connects_;
  }
  absl::StatusOr<std::unique_ptr<PgConnection>> conn =
      PgConnection::Connect(options_.conninfo, options_.schema, options_.connect_timeout);
  if (!conn.ok()) {
    MutexLock lock(&mu_);
    --open_;
    return conn.status();
  }
  return Lease(this, *std::move(conn));
}

void ConnectionPool::Return(std::unique_ptr<PgConnection> conn) {
  std::vector<std::unique_ptr<PgConnection>> closing;
  {
    MutexLock lock(&mu_);
    if (!conn->Broken()) {
      idle_.push_back(std::move(conn));
      return;
    }
    // One lost connection usually means the server restarted or failed
    // over, so the idle ones are closed too rather than failing one by one.
    closing.swap(idle_);
    open_ -= static_cast<int>(closing.size()) + 1;
  }
  conn.reset();
  closing.clear();
}

int ConnectionPool::open_connections() const {
  MutexLock lock(&mu_);
  return open_;
}

int64_t ConnectionPool::connects() const {
  MutexLock lock(&mu_);
  return connects_;
}

}  // namespace vouch::store::internal
