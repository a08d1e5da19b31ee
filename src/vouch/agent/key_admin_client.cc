#include "vouch/agent/key_admin_client.h"

#include <string>
#include <utility>

#include "vouch/agent/server_api.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

using nlohmann::json;

absl::Status CheckName(std::string_view name, std::string_view what) {
  if (!IsValidKeyName(name)) {
    return InvalidArgumentf("{} {:?} is invalid: want 1 to 127 of [A-Za-z0-9-_.]", what, name);
  }
  return absl::OkStatus();
}

absl::StatusOr<json> MetadataFromResponse(std::string_view method, const std::string& url,
                                          const HttpResponse& response) {
  if (response.status != 200 && response.status != 201) {
    return ErrorFromResponse(method, url, response);
  }
  json metadata = json::parse(response.body, nullptr, false);
  if (!metadata.is_object()) {
    return InvalidArgumentf("{} {}: response is not a JSON object", method, url);
  }
  return metadata;
}

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url;
}

}  // namespace

absl::StatusOr<SecretBytes> BuildCreateKeyRequest(const nlohmann::json& release_policy,
                                                  int key_size_bits,
                                                  const SecretBytes* import_key,
                                                  const nlohmann::json& tags) {
  if (!release_policy.is_object()) {
    return InvalidArgumentf("release policy: want a JSON object");
  }
  if (key_size_bits != 128 && key_size_bits != 192 && key_size_bits != 256) {
    return InvalidArgumentf("key size {} bits: want 128, 192 or 256", key_size_bits);
  }
  if (import_key != nullptr && import_key->size() * 8 != static_cast<size_t>(key_size_bits)) {
    return InvalidArgumentf("imported key is {} bits, want {}", import_key->size() * 8,
                            key_size_bits);
  }

  json body = {
      {"kty", "oct-HSM"},
      {"key_size", key_size_bits},
      {"attributes", {{"exportable", true}}},
      {"release_policy", release_policy},
  };
  if (tags.is_object() && !tags.empty()) {
    body["tags"] = tags;
  }
  if (import_key != nullptr) {
    body["key"] = {{"kty", "oct"}, {"k", Base64UrlEncode(import_key->Expose())}};
  }
  std::string text = body.dump();

  // Wipe the copies of the key that the JSON value and the text hold.
  if (import_key != nullptr) {
    std::string& k = body["key"]["k"].get_ref<std::string&>();
    SecureWipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(k.data()), k.size()));
  }
  SecretBytes result(AsBytes(text));
  SecureWipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size()));
  return result;
}

KeyAdminClient::KeyAdminClient(std::string server_url, const HttpClient& http,
                               SecretBytes admin_token)
    : server_url_(TrimTrailingSlashes(std::move(server_url))),
      http_(http),
      admin_token_(std::move(admin_token)) {}

HttpHeaders KeyAdminClient::AuthHeaders() const {
  // NOTE: this header string and libcurl's copy of it are freed without
  // being wiped, unlike admin_token_.
  const ByteSpan token = admin_token_.Expose();
  if (token.empty()) {
    return {};  // a client certificate identifies the administrator
  }
  return {{"Authorization",
           "Bearer " + std::string(reinterpret_cast<const char*>(token.data()), token.size())}};
}

absl::StatusOr<nlohmann::json> KeyAdminClient::CreateKey(std::string_view name,
                                                         const SecretBytes& body) const {
  VOUCH_RETURN_IF_ERROR(CheckName(name, "key name"));
  const std::string url = fmt::format("{}/keys/{}", server_url_, name);
  const ByteSpan bytes = body.Expose();
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  VOUCH_ASSIGN_OR_RETURN(const HttpResponse response, http_.PutJson(url, text, AuthHeaders()));
  return MetadataFromResponse("PUT", url, response);
}

absl::StatusOr<nlohmann::json> KeyAdminClient::GetKey(std::string_view name,
                                                      std::string_view version) const {
  VOUCH_RETURN_IF_ERROR(CheckName(name, "key name"));
  if (!version.empty()) {
    VOUCH_RETURN_IF_ERROR(CheckName(version, "key version"));
  }
  const std::string url = version.empty()
                              ? fmt::format("{}/keys/{}", server_url_, name)
                              : fmt::format("{}/keys/{}/{}", server_url_, name, version);
  VOUCH_ASSIGN_OR_RETURN(const HttpResponse response, http_.Get(url, AuthHeaders()));
  return MetadataFromResponse("GET", url, response);
}

absl::StatusOr<nlohmann::json> KeyAdminClient::Call(std::string_view method,
                                                    std::string_view path,
                                                    std::string_view json_body) const {
  if (path.empty() || path.front() != '/') {
    return InvalidArgumentf("{} {}: path must start with '/'", method, path);
  }
  const std::string url = server_url_ + std::string(path);
  absl::StatusOr<HttpResponse> response = InvalidArgumentf("{} {}: unsupported method", method, url);
  if (method == "POST") {
    response = http_.PostJson(url, json_body.empty() ? "{}" : json_body, AuthHeaders());
  } else if (method == "PUT") {
    response = http_.PutJson(url, json_body.empty() ? "{}" : json_body, AuthHeaders());
  } else if (method == "GET" || method == "DELETE") {
    response = http_.Send(method, url, "", AuthHeaders());
  }
  VOUCH_RETURN_IF_ERROR(response.status());
  if (response->status == 204) {
    return nlohmann::json();
  }
  return MetadataFromResponse(method, url, *response);
}

}  // namespace vouch::agent
