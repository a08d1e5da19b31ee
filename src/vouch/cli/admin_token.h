// The admin bearer token that `vouch keys`, `policy`, `audit` and `dr` send
// to a server.
#ifndef VOUCH_CLI_ADMIN_TOKEN_H_
#define VOUCH_CLI_ADMIN_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::cli {

// ReadAdminToken reads the token from `file`, or from $VOUCH_ADMIN_TOKEN when
// `file` is empty, without trailing line breaks and spaces. InvalidArgument
// when neither is set or the token is empty.
absl::StatusOr<SecretBytes> ReadAdminToken(const std::string& file);

}  // namespace vouch::cli

#endif  // VOUCH_CLI_ADMIN_TOKEN_H_
