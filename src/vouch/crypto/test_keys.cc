#include "vouch/crypto/test_keys.h"

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/keys.h"

namespace vouch::crypto::testing {
namespace {

std::mutex& KeysMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

EVP_PKEY* RsaTestKey(int bits, int index) {
  static auto* keys = new std::map<std::pair<int, int>, SslPtr<EVP_PKEY>>();
  std::lock_guard<std::mutex> lock(KeysMutex());
  SslPtr<EVP_PKEY>& key = (*keys)[{bits, index}];
  if (!key) {
    auto generated = GenerateRsaKey(bits);
    VOUCH_CHECK(generated.ok());
    key = *std::move(generated);
  }
  return key.get();
}

EVP_PKEY* EcTestKey(std::string_view curve, int index) {
  static auto* keys = new std::map<std::pair<std::string, int>, SslPtr<EVP_PKEY>>();
  std::lock_guard<std::mutex> lock(KeysMutex());
  SslPtr<EVP_PKEY>& key = (*keys)[{std::string(curve), index}];
  if (!key) {
    auto generated = GenerateEcKey(curve);
    VOUCH_CHECK(generated.ok());
    key = *std::move(generated);
  }
  return key.get();
}

}  // namespace vouch::crypto::testing
