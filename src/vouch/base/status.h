// Error helpers on top of absl::Status.
//
// Codes carry meaning across vouch:
//   kInvalidArgument     malformed input (evidence, request, policy)
//   kUnauthenticated     a signature or certificate chain did not verify
//   kFailedPrecondition  stale or missing collateral, wrong verification time
//   kPermissionDenied    an appraisal or release policy refused
//   kNotFound            no such key, version or file
//   kUnavailable         an HSM, database or remote service is down
// Messages are lower case and name the check, the field, and the expected
// and found values: "snp report: version 7, want 2, 3 or 5".
#ifndef VOUCH_BASE_STATUS_H_
#define VOUCH_BASE_STATUS_H_

#include <fmt/format.h>

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Debian's Abseil has its own absl::string_view (not std::string_view), so
// these formatters let fmt print it and absl::Status.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  auto format(absl::string_view s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

template <>
struct fmt::formatter<absl::Status> : fmt::formatter<std::string_view> {
  auto format(const absl::Status& s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(s.ToString(), ctx);
  }
};

namespace vouch {

// StdView converts Abseil's string_view (as absl::Status::message() returns).
inline std::string_view StdView(absl::string_view s) { return std::string_view(s.data(), s.size()); }
// AbslView converts to Abseil's string_view for Abseil calls.
inline absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

template <typename... Args>
absl::Status InvalidArgumentf(fmt::format_string<Args...> f, Args&&... args) {
  return absl::InvalidArgumentError(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
absl::Status Unauthenticatedf(fmt::format_string<Args...> f, Args&&... args) {
  return absl::UnauthenticatedError(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
absl::Status FailedPreconditionf(fmt::format_string<Args...> f, Args&&... args) {
  return absl::FailedPreconditionError(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
absl::Status PermissionDeniedf(fmt::format_string<Args...> f, Args&&... args) {
  return absl::PermissionDeniedError(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
absl::Status NotFoundf(fmt::format_string<Args...> f, Args&&... args) {
  return absl::NotFoundError(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
absl::Status Internalf(fmt::format_string<Args...> f, Args&&... args) {
  return absl::InternalError(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
absl::Status Unavailablef(fmt::format_string<Args...> f, Args&&... args) {
  return absl::UnavailableError(fmt::format(f, std::forward<Args>(args)...));
}

// Prefix returns `status` with "prefix: " put before its message, keeping
// the code. An OK status stays OK.
absl::Status Prefix(std::string_view prefix, const absl::Status& status);

}  // namespace vouch

#define VOUCH_STATUS_CONCAT_INNER_(a, b) a##b
#define VOUCH_STATUS_CONCAT_(a, b) VOUCH_STATUS_CONCAT_INNER_(a, b)

// VOUCH_RETURN_IF_ERROR(expr) returns the status of `expr` from the
// enclosing function when it is not OK.
#define VOUCH_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    const absl::Status vouch_status_ = (expr);      \
    if (!vouch_status_.ok()) return vouch_status_;  \
  } while (false)

// VOUCH_ASSIGN_OR_RETURN(lhs, expr) evaluates the StatusOr `expr`, returns
// its status when it is an error, and otherwise moves its value into `lhs`
// (which may be a declaration such as `const auto x`).
#define VOUCH_ASSIGN_OR_RETURN(lhs, expr) \
  VOUCH_ASSIGN_OR_RETURN_IMPL_(VOUCH_STATUS_CONCAT_(vouch_statusor_, __LINE__), lhs, expr)

#define VOUCH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

// VOUCH_CHECK guards internal invariants. Input never reaches a CHECK.
#define VOUCH_CHECK(cond)                                                     \
  do {                                                                        \
    if (!(cond)) ::vouch::internal::CheckFailed(#cond, __FILE__, __LINE__);   \
  } while (false)

// VOUCH_UNREACHABLE marks the end of a switch that covers every enumerator.
#define VOUCH_UNREACHABLE(what) ::vouch::internal::CheckFailed(what, __FILE__, __LINE__)

namespace vouch::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace vouch::internal

#endif  // VOUCH_BASE_STATUS_H_
