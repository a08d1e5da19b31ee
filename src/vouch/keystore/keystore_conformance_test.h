// A conformance suite that every KeyStore implementation must pass.
//
// An implementation's test instantiates it with a factory:
//
//   using conformance::KeyStoreConformanceTest;
//   INSTANTIATE_TEST_SUITE_P(Software, KeyStoreConformanceTest,
//                            ::testing::Values(SoftwareKeyStoreFactory()),
//                            conformance::FactoryName);
#ifndef VOUCH_KEYSTORE_KEYSTORE_CONFORMANCE_TEST_H_
#define VOUCH_KEYSTORE_KEYSTORE_CONFORMANCE_TEST_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/crypto/hash.h"
#include "vouch/keystore/keystore.h"

namespace vouch::keystore::conformance {

struct KeyStoreFactory {
  // Name shows in test names: "Software".
  std::string name;
  // Open opens the key store at `location`, an empty folder made for each
  // test. Opening the same location again must open blobs sealed before.
  std::function<absl::StatusOr<std::unique_ptr<KeyStore>>(const std::string& location)> open;
  // OAEP hashes that WrapForRelease must support. For the others it must
  // return FailedPrecondition naming CKM_RSA_PKCS_OAEP.
  std::vector<crypto::HashAlg> release_hashes = {crypto::HashAlg::kSha1, crypto::HashAlg::kSha256,
                                                 crypto::HashAlg::kSha384};
  // Whether DestroyKey makes the blob unusable. The software key store keeps
  // a key in its blob alone, so there the caller's deletion of the blob is
  // the purge.
  bool destroy_removes_key = false;
};

std::string FactoryName(const ::testing::TestParamInfo<KeyStoreFactory>& info);

class KeyStoreConformanceTest : public ::testing::TestWithParam<KeyStoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::string location_;
  std::unique_ptr<KeyStore> keystore_;
};

}  // namespace vouch::keystore::conformance

#endif  // VOUCH_KEYSTORE_KEYSTORE_CONFORMANCE_TEST_H_
