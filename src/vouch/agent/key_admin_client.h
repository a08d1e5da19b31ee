// Key management on a vouch server (PUT /keys/<name>, GET /keys/<name>),
// for the `vouch keys` command. Every request carries the admin bearer
// token; the server stores only the token's SHA-256.
#ifndef VOUCH_AGENT_KEY_ADMIN_CLIENT_H_
#define VOUCH_AGENT_KEY_ADMIN_CLIENT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "vouch/agent/http_client.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::agent {

// BuildCreateKeyRequest returns the body of PUT /keys/<name>. Without
// `import_key` the server generates a key of `key_size_bits`; with it, the
// body carries {"kty": "oct", "k": base64url(key)} and its size. The result
// is a SecretBytes because it may hold the key. `tags`, when it is a
// non-empty JSON object, becomes the key's tags (for example kLuksUuidTag).
absl::StatusOr<SecretBytes> BuildCreateKeyRequest(const nlohmann::json& release_policy,
                                                  int key_size_bits, const SecretBytes* import_key,
                                                  const nlohmann::json& tags = nlohmann::json());

class KeyAdminClient {
 public:
  // `http` must outlive the client. `admin_token` is sent as
  // "Authorization: Bearer <admin_token>", unless it is empty (the client
  // certificate of `http` then identifies the administrator).
  KeyAdminClient(std::string server_url, const HttpClient& http, SecretBytes admin_token);

  // CreateKey sends PUT /keys/<name> and returns the key metadata; each call
  // makes a new version.
  absl::StatusOr<nlohmann::json> CreateKey(std::string_view name, const SecretBytes& body) const;

  // GetKey returns the metadata of `version`, or of the latest version when
  // `version` is empty.
  absl::StatusOr<nlohmann::json> GetKey(std::string_view name, std::string_view version) const;

  // Call sends `method` ("GET", "POST", "PUT" or "DELETE") to `path` (which
  // starts with '/', query string included) with `json_body` (sent only for
  // POST and PUT), and returns the response's JSON: null for 204, an error
  // naming the server's message for other statuses than 200 and 201.
  absl::StatusOr<nlohmann::json> Call(std::string_view method, std::string_view path,
                                      std::string_view json_body = "") const;

 private:
  HttpHeaders AuthHeaders() const;

  std::string server_url_;
  const HttpClient& http_;
  SecretBytes admin_token_;
};

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_KEY_ADMIN_CLIENT_H_
