// Pkcs11Module: one PKCS#11 module (a shared library such as SoftHSM2's
// libsofthsm2.so), loaded with dlopen and initialized for multi-threaded use.
//
// PKCS#11 allows one C_Initialize per module and process, so modules are
// shared: Load returns the same Pkcs11Module for the same path while any
// holder keeps it. The last holder's release calls C_Finalize and dlclose.
// A module re-loaded after that runs C_Initialize again, which makes SoftHSM2
// read SOFTHSM2_CONF anew.
#ifndef VOUCH_KEYSTORE_PKCS11_MODULE_H_
#define VOUCH_KEYSTORE_PKCS11_MODULE_H_

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vouch::keystore {

// CKM_AES_KEY_WRAP_KWP (PKCS#11 3.0: RFC 5649 AES key wrap with padding),
// which the 2.40 header of p11-kit does not define.
inline constexpr CK_MECHANISM_TYPE kCkmAesKeyWrapKwp = 0x210B;

class Pkcs11Module {
 public:
  // Load opens the module at `path` (dlopen with RTLD_NOW | RTLD_LOCAL),
  // calls C_GetFunctionList and C_Initialize with CKF_OS_LOCKING_OK.
  // NotFound when the file does not exist; FailedPrecondition when it is not
  // a PKCS#11 module or C_Initialize fails (the message names the CKR_ code).
  static absl::StatusOr<std::shared_ptr<Pkcs11Module>> Load(const std::string& path);

  ~Pkcs11Module();
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  CK_FUNCTION_LIST* functions() const { return functions_; }
  const std::string& path() const { return path_; }

 private:
  Pkcs11Module(std::string path, void* handle, CK_FUNCTION_LIST* functions)
      : path_(std::move(path)), handle_(handle), functions_(functions) {}

  const std::string path_;
  void* const handle_;
  CK_FUNCTION_LIST* const functions_;
};

// CkrName returns the name of a return value, "CKR_PIN_INCORRECT", or
// "CKR_0x..." in hex for an unknown or vendor-defined value.
std::string CkrName(CK_RV rv);

// Pkcs11Error turns a failed call into a status whose message names the
// operation, the call, the CKR_ name and what to do, for example
//   "pkcs11: login to token 'vouch' (C_Login): CKR_PIN_INCORRECT: the PIN is
//    wrong; check the PIN file or VOUCH_PKCS11_PIN".
// The code follows the kind of failure: Unavailable for a lost device or
// session, PermissionDenied for PIN problems, FailedPrecondition for missing
// mechanisms or attributes the token rejects, Internal otherwise.
absl::Status Pkcs11Error(std::string_view operation, std::string_view call, CK_RV rv);

// IsLostSession reports the return values after which a fresh session may
// succeed: CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
// CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT and CKR_USER_NOT_LOGGED_IN (the
// login ends with the last session of the application).
bool IsLostSession(CK_RV rv);

}  // namespace vouch::keystore

#endif  // VOUCH_KEYSTORE_PKCS11_MODULE_H_
