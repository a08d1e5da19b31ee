// The admin bearer token that `vouch keys`, `policy`, `audit` and `dr` send
// to a server, unless a client certificate identifies the administrator.
#ifndef VOUCH_CLI_ADMIN_TOKEN_H_
#define VOUCH_CLI_ADMIN_TOKEN_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::cli {

// ReadAdminToken reads the token from `file`, or from $VOUCH_ADMIN_TOKEN when
// `file` is empty, without trailing line breaks and spaces. InvalidArgument
// when neither is set or the token is empty.
absl::StatusOr<SecretBytes> ReadAdminToken(const std::string& file);

// ReadAdminCredential is ReadAdminToken, except that with a client
// certificate (`client_cert` not empty) and no token given it returns an
// empty token: the certificate is then the administrator's credential, and
// the request carries no Authorization header.
absl::StatusOr<SecretBytes> ReadAdminCredential(const std::string& file,
                                                const std::string& client_cert);

// AdminHeaders returns the Authorization header for `token`, or no header
// for an empty token.
std::vector<std::pair<std::string, std::string>> AdminHeaders(const SecretBytes& token);

}  // namespace vouch::cli

#endif  // VOUCH_CLI_ADMIN_TOKEN_H_
