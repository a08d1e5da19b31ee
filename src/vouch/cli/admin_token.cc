#include "vouch/cli/admin_token.h"

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"

namespace vouch::cli {
namespace {

constexpr size_t kMaxTokenFileBytes = 4096;

}  // namespace

absl::StatusOr<SecretBytes> ReadAdminToken(const std::string& file) {
  std::string token;
  if (!file.empty()) {
    absl::StatusOr<Bytes> bytes = ReadFile(file, kMaxTokenFileBytes);
    if (!bytes.ok()) {
      return Prefix("admin token file", bytes.status());
    }
    token = ToString(*bytes);
    SecureWipe(*bytes);
  } else if (const char* env = std::getenv("VOUCH_ADMIN_TOKEN"); env != nullptr) {
    token = env;
  } else {
    return InvalidArgumentf(
        "admin token missing: set --admin-token-file FILE or $VOUCH_ADMIN_TOKEN");
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) {
    return InvalidArgumentf("admin token is empty");
  }
  SecretBytes secret(AsBytes(token));
  SecureWipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(token.data()), token.size()));
  return secret;
}

absl::StatusOr<SecretBytes> ReadAdminCredential(const std::string& file,
                                                const std::string& client_cert) {
  if (file.empty() && std::getenv("VOUCH_ADMIN_TOKEN") == nullptr && !client_cert.empty()) {
    return SecretBytes();
  }
  return ReadAdminToken(file);
}

std::vector<std::pair<std::string, std::string>> AdminHeaders(const SecretBytes& token) {
  if (token.empty()) {
    return {};
  }
  return {{"Authorization", "Bearer " + ToString(token.Expose())}};
}

}  // namespace vouch::cli
