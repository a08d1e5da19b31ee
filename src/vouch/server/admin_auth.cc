#include "vouch/server/admin_auth.h"

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"

namespace vouch::server {

absl::Status CheckAdminBearer(const HttpRequest& request, std::string_view admin_token_sha256) {
  if (admin_token_sha256.empty()) {
    return Unauthenticatedf("admin API disabled: the server has no admin token configured");
  }
  const std::optional<std::string> header = request.Header("authorization");
  if (!header.has_value()) {
    return Unauthenticatedf("admin API: missing Authorization header, want Bearer token");
  }
  constexpr std::string_view kScheme = "bearer ";
  if (header->size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(AbslView(*header), AbslView(kScheme))) {
    return Unauthenticatedf("admin API: Authorization header is not a Bearer token");
  }
  const std::string_view token = std::string_view(*header).substr(kScheme.size());

  absl::StatusOr<Bytes> expected = HexDecode(admin_token_sha256);
  if (!expected.ok()) {
    return Internalf("admin API: configured token hash is not hex");
  }
  const Bytes presented = crypto::Sha256(AsBytes(token));
  if (!ConstantTimeEquals(presented, *expected)) {
    return Unauthenticatedf("admin API: invalid bearer token");
  }
  return absl::OkStatus();
}

HttpResponse WithBearerChallenge(HttpResponse response) {
  if (response.status == 401) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

}  // namespace vouch::server
