// A conformance suite that every Store implementation must pass.
//
// An implementation's test instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, conformance::StoreConformanceTest,
//                            ::testing::Values(SqliteStoreFactory()), conformance::FactoryName);
#ifndef VOUCH_STORE_STORE_CONFORMANCE_TEST_H_
#define VOUCH_STORE_STORE_CONFORMANCE_TEST_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/store/store.h"

namespace vouch::store::conformance {

struct StoreFactory {
  // Name shows in test names: "Sqlite".
  std::string name;
  // Open opens the store at `location`, an empty folder made for each test.
  // Opening the same location again, also from a forked child process, must
  // give another handle on the same data.
  std::function<absl::StatusOr<std::unique_ptr<Store>>(const std::string& location)> open;
  // CheckIntegrity checks the physical consistency of the data behind a
  // handle (SQLite's integrity_check). Optional.
  std::function<absl::Status(Store& store)> check_integrity;
  // FailAuditAppends makes every later audit append of the store at
  // `location` fail inside its transaction, as a full disk or a lost
  // connection would, so a test can check that the other writes of that
  // transaction roll back. WriteBlobsRollsBackWhenAuditFails fails without it.
  std::function<absl::Status(const std::string& location)> fail_audit_appends;
};

std::string FactoryName(const ::testing::TestParamInfo<StoreFactory>& info);

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // OpenStore opens a new handle on this test's store and fails the test
  // (returning null) when it cannot.
  std::unique_ptr<Store> OpenStore();

  std::string location_;
};

// Version returns a valid key version derived from `n`.
std::string Version(int n);

// MakeRecord returns a complete record whose sealed_key is derived from
// `name`, `version` and `sealed_size`, so a test can check it is whole.
KeyRecord MakeRecord(std::string_view name, std::string_view version, absl::Time created,
                     size_t sealed_size = 64);

}  // namespace vouch::store::conformance

#endif  // VOUCH_STORE_STORE_CONFORMANCE_TEST_H_
