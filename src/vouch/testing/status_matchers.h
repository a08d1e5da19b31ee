// GoogleTest matchers for absl::Status and absl::StatusOr.
//
//   EXPECT_THAT(ParseReport(bytes), StatusIs(absl::StatusCode::kInvalidArgument));
//   EXPECT_THAT(ParseReport(bytes), StatusIs(absl::StatusCode::kInvalidArgument,
//                                            HasSubstr("version")));
//   EXPECT_OK(status);  ASSERT_OK_AND_ASSIGN(auto report, ParseReport(bytes));
#ifndef VOUCH_TESTING_STATUS_MATCHERS_H_
#define VOUCH_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vouch::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.ok();
}

}  // namespace vouch::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::vouch::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::vouch::testing::IsOk())

#define VOUCH_TESTING_CONCAT_INNER_(a, b) a##b
#define VOUCH_TESTING_CONCAT_(a, b) VOUCH_TESTING_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(VOUCH_TESTING_CONCAT_(statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)          \
  auto statusor = (expr);                                        \
  ASSERT_TRUE(statusor.ok()) << statusor.status().ToString();    \
  lhs = std::move(statusor).value()

#endif  // VOUCH_TESTING_STATUS_MATCHERS_H_
