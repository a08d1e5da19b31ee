#include "vouch/keystore/pkcs11_module.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "vouch/base/mutex.h"
#include "vouch/base/status.h"

namespace vouch::keystore {
namespace {

struct CkrInfo {
  CK_RV rv;
  const char* name;
  // The fix an operator can apply, or empty when there is no specific one.
  const char* hint;
};

// The return values of PKCS#11 2.40 section 5.1 that a key store meets, with
// a fix where one exists.
constexpr CkrInfo kCkrInfo[] = {
    {CKR_OK, "CKR_OK", ""},
    {CKR_CANCEL, "CKR_CANCEL", ""},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", "the module ran out of memory"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID",
     "no slot has this id; list the slots with `pkcs11-tool --module MODULE -L`"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR",
     "the module failed; check its own log (SoftHSM2: syslog) and its configuration file"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", "the module failed; check its own log"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD",
     "the module rejected the arguments, often mechanism parameters it does not support"},
    {CKR_CANT_LOCK, "CKR_CANT_LOCK", "the module cannot run with operating system locking"},
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY", ""},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", "the token keeps this value secret"},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID",
     "the token does not know an attribute of the template"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID",
     "the token rejected an attribute value, such as a key size it does not support"},
    {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED", "the token's policy forbids this action"},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID", ""},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", ""},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", "the HSM reported a device error; check the device"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY",
     "the token is full; delete unused objects or add capacity"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", "the token was removed; reconnect it"},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID",
     "the ciphertext does not decrypt: it was modified or made with another key"},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE",
     "the ciphertext has a wrong length: it was cut or extended"},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", ""},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED",
     "the module does not implement this function"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", "the key object no longer exists"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", "the token does not support this key size"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", ""},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
     "the key's attributes do not allow this use"},
    {CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE",
     "the token cannot wrap this key with this mechanism"},
    {CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE",
     "the key has CKA_EXTRACTABLE false, so it can never be released"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID",
     "the token does not support this mechanism; list them with "
     "`pkcs11-tool --module MODULE -M`"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID",
     "the token does not support these mechanism parameters"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", "the object no longer exists"},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", ""},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", ""},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT",
     "the PIN is wrong; check the PIN file or VOUCH_PKCS11_PIN (repeated failures may lock "
     "the token)"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID",
     "the PIN has characters the token does not accept; check the PIN file"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE",
     "the PIN is too short or too long for this token; check the PIN file for extra lines"},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", "the user PIN has expired; set a new one"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED",
     "the user PIN is locked after too many failures; the security officer must reset it"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", "the session was closed"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", "the token has no free sessions"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", "the session was lost"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY", ""},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", ""},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", ""},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT",
     "the token rejected the combination of attributes"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT",
     "no token is in the slot; insert or initialize it"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", ""},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED",
     "the token is read-only; check its permissions (SoftHSM2: the token folder)"},
    {CKR_UNWRAPPING_KEY_HANDLE_INVALID, "CKR_UNWRAPPING_KEY_HANDLE_INVALID", ""},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", ""},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", "the login was lost"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED",
     "the token has no user PIN yet; initialize it (softhsm2-util --init-token)"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", ""},
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", ""},
    {CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID", ""},
    {CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE", ""},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID", ""},
    {CKR_WRAPPING_KEY_SIZE_RANGE, "CKR_WRAPPING_KEY_SIZE_RANGE", ""},
    {CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "CKR_WRAPPING_KEY_TYPE_INCONSISTENT", ""},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", ""},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID",
     "the token does not support this curve"},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED", "the token does not support this curve"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", ""},
    {CKR_INFORMATION_SENSITIVE, "CKR_INFORMATION_SENSITIVE", ""},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED",
     "the module was finalized; restart the service"},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED",
     "another part of this process initialized the module"},
    {CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED", ""},
};

const CkrInfo* FindCkr(CK_RV rv) {
  for (const CkrInfo& info : kCkrInfo) {
    if (info.rv == rv) {
      return &info;
    }
  }
  return nullptr;
}

absl::StatusCode CodeFor(CK_RV rv) {
  switch (rv) {
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_COUNT:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return absl::StatusCode::kUnavailable;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
      return absl::StatusCode::kPermissionDenied;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_ARGUMENTS_BAD:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_KEY_NOT_WRAPPABLE:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_DEVICE_MEMORY:
    case CKR_ACTION_PROHIBITED:
    case CKR_FUNCTION_NOT_SUPPORTED:
      return absl::StatusCode::kFailedPrecondition;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
      return absl::StatusCode::kUnauthenticated;
    default:
      return absl::StatusCode::kInternal;
  }
}

// The modules loaded in this process, by path. Entries expire when the last
// holder releases its Pkcs11Module.
struct ModuleRegistry {
  Mutex mutex;
  std::map<std::string, std::weak_ptr<Pkcs11Module>> modules ABSL_GUARDED_BY(mutex);
};

ModuleRegistry& Registry() {
  static ModuleRegistry* registry = new ModuleRegistry();
  return *registry;
}

}  // namespace

std::string CkrName(CK_RV rv) {
  const CkrInfo* info = FindCkr(rv);
  if (info != nullptr) {
    return info->name;
  }
  return fmt::format("CKR_0x{:X}", rv);
}

absl::Status Pkcs11Error(std::string_view operation, std::string_view call, CK_RV rv) {
  const CkrInfo* info = FindCkr(rv);
  std::string message = fmt::format("pkcs11: {} ({}): {}", operation, call, CkrName(rv));
  if (info != nullptr && info->hint[0] != '\0') {
    message += fmt::format("; {}", info->hint);
  }
  return absl::Status(CodeFor(rv), message);
}

bool IsLostSession(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
         rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_USER_NOT_LOGGED_IN;
}

absl::StatusOr<std::shared_ptr<Pkcs11Module>> Pkcs11Module::Load(const std::string& path) {
  if (path.empty()) {
    return InvalidArgumentf("pkcs11: no module path; set --pkcs11-module, for SoftHSM2 "
                            "/usr/lib/softhsm/libsofthsm2.so");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return NotFoundf("pkcs11: module {} does not exist; check --pkcs11-module (SoftHSM2 is in "
                     "the Debian package softhsm2, at /usr/lib/softhsm/libsofthsm2.so)",
                     path);
  }

  ModuleRegistry& registry = Registry();
  MutexLock lock(&registry.mutex);
  if (std::shared_ptr<Pkcs11Module> existing = registry.modules[path].lock()) {
    return existing;
  }

  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return FailedPreconditionf("pkcs11: cannot load module {}: {}", path,
                               error == nullptr ? "unknown dlopen error" : error);
  }
  using GetFunctionList = CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR);
  // POSIX dlsym returns object pointers for functions; the cast is the
  // documented way to call them.
  auto get_function_list = reinterpret_cast<GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* functions = nullptr;
  if (get_function_list == nullptr) {
    dlclose(handle);
    return FailedPreconditionf("pkcs11: {} has no C_GetFunctionList, so it is not a PKCS#11 "
                               "module",
                               path);
  }
  CK_RV rv = get_function_list(&functions);
  if (rv != CKR_OK || functions == nullptr) {
    dlclose(handle);
    return Pkcs11Error(fmt::format("load module {}", path), "C_GetFunctionList", rv);
  }

  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = functions->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(handle);
    return Pkcs11Error(fmt::format("initialize module {}", path), "C_Initialize", rv);
  }
  // NOTE: with CKR_CRYPTOKI_ALREADY_INITIALIZED another library in this
  // process owns the module; our C_Finalize at the end would cut it off.
  std::shared_ptr<Pkcs11Module> module(new Pkcs11Module(path, handle, functions));
  registry.modules[path] = module;
  return module;
}

Pkcs11Module::~Pkcs11Module() {
  // Hold the registry lock so a concurrent Load of the same path waits until
  // the module is finalized and can be initialized again.
  // NOTE: a Load that takes the lock between the expiry of the last holder
  // and this destructor initializes the module a second time (accepted as
  // CKR_CRYPTOKI_ALREADY_INITIALIZED) and then loses it to this C_Finalize.
  ModuleRegistry& registry = Registry();
  MutexLock lock(&registry.mutex);
  functions_->C_Finalize(nullptr);
  dlclose(handle_);
}

}  // namespace vouch::keystore
