#include "vouch/crypto/ssl_ptr.h"

#include <openssl/err.h>

#include <string>

namespace vouch::crypto {

absl::Status SslError(std::string_view context) {
  return SslError(absl::StatusCode::kInternal, context);
}

absl::Status SslError(absl::StatusCode code, std::string_view context) {
  std::string message(context);
  bool first = true;
  unsigned long error = 0;
  while ((error = ERR_get_error()) != 0) {
    char text[256];
    ERR_error_string_n(error, text, sizeof(text));
    message += first ? ": " : "; ";
    message += text;
    first = false;
  }
  return absl::Status(code, message);
}

void ClearSslErrors() { ERR_clear_error(); }

}  // namespace vouch::crypto
