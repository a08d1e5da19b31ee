// SoftHSM2 tokens for tests: each token lives in its own folder, so tests
// that run in parallel never share one.
//
//   ASSERT_OK_AND_ASSIGN(SoftHsmToken token, CreateSoftHsmToken(dir, "vouch"));
//   ASSERT_OK_AND_ASSIGN(auto keystore, Pkcs11KeyStore::Open(token.Options()));
//
// SoftHSM2 reads its configuration file from SOFTHSM2_CONF when the module is
// initialized, so CreateSoftHsmToken and UseSoftHsmToken set that variable
// for the whole process. Keep one token per process in use at a time.
#ifndef VOUCH_KEYSTORE_SOFTHSM_TESTING_H_
#define VOUCH_KEYSTORE_SOFTHSM_TESTING_H_

#include <string>

#include "absl/status/statusor.h"
#include "vouch/keystore/pkcs11_keystore.h"

namespace vouch::keystore {

// The module of the Debian package softhsm2.
inline constexpr char kSoftHsmModulePath[] = "/usr/lib/softhsm/libsofthsm2.so";

struct SoftHsmToken {
  std::string dir;          // contains softhsm2.conf and tokens/
  std::string config_path;  // dir + "/softhsm2.conf"
  std::string label;
  std::string pin;

  // Options returns Pkcs11Options for this token, selected by label.
  Pkcs11Options Options() const;
};

// CreateSoftHsmToken writes `dir`/softhsm2.conf with directories.tokendir =
// `dir`/tokens, sets SOFTHSM2_CONF to it and runs
// `softhsm2-util --init-token --free --label LABEL --pin PIN --so-pin SO_PIN`.
// FailedPrecondition naming the Debian package softhsm2 when softhsm2-util
// or the module is missing.
absl::StatusOr<SoftHsmToken> CreateSoftHsmToken(const std::string& dir, const std::string& label,
                                                const std::string& pin = "1234");

// UseSoftHsmToken points SOFTHSM2_CONF at an existing token folder made by
// CreateSoftHsmToken, so a key store can open it again.
SoftHsmToken UseSoftHsmToken(const std::string& dir, const std::string& label,
                             const std::string& pin = "1234");

}  // namespace vouch::keystore

#endif  // VOUCH_KEYSTORE_SOFTHSM_TESTING_H_
