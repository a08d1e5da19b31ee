#include "vouch/agent/attest_client.h"

#include <array>
#include <string>
#include <utility>

#include "vouch/agent/azure_cvm_platform.h"
#include "vouch/agent/json_fields.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"

namespace vouch::agent {
namespace {

using nlohmann::json;

// Signature algorithms accepted on release responses; never "none" or HMAC.
constexpr std::array<crypto::JwsAlg, 4> kReleaseAlgs = {
    crypto::JwsAlg::kRs256, crypto::JwsAlg::kPs256, crypto::JwsAlg::kEs256, crypto::JwsAlg::kEs384};

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url;
}

// FindJwk returns the JWK with `kid` in `jwks`, or the only key when the
// JWS names no kid.
absl::StatusOr<json> FindJwk(const json& jwks, const std::string* kid) {
  const json* keys = nullptr;
  if (jwks.is_object()) {
    auto it = jwks.find("keys");
    if (it != jwks.end() && it->is_array()) {
      keys = &*it;
    }
  }
  if (keys == nullptr) {
    return InvalidArgumentf("server JWKS has no \"keys\" array");
  }
  if (kid == nullptr) {
    if (keys->size() == 1) {
      return (*keys)[0];
    }
    return InvalidArgumentf("release JWS names no kid and the server JWKS has {} keys",
                            keys->size());
  }
  for (const json& key : *keys) {
    const std::string* key_kid = StringMember(key, "kid");
    if (key_kid != nullptr && *key_kid == *kid) {
      return key;
    }
  }
  return Unauthenticatedf("release JWS kid {} is not in the server JWKS", *kid);
}

// LastPathSegment returns "3" for ".../keys/disk/3".
std::string LastPathSegment(std::string_view kid) {
  const size_t slash = kid.rfind('/');
  return std::string(slash == std::string_view::npos ? kid : kid.substr(slash + 1));
}

// CheckReleasedKid checks that `kid` ends in /keys/<name>/<version>.
absl::Status CheckReleasedKid(std::string_view kid, std::string_view expected_name) {
  const std::string marker = fmt::format("/keys/{}/", expected_name);
  const size_t at = kid.rfind(marker);
  if (at == std::string_view::npos || LastPathSegment(kid).empty() ||
      kid.substr(at + marker.size()).find('/') != std::string_view::npos) {
    return InvalidArgumentf("release: kid {} is not a version of key {}", kid, expected_name);
  }
  return absl::OkStatus();
}

}  // namespace

Bytes ReportDataFor(ByteSpan runtime_data) {
  Bytes report_data = crypto::Sha256(runtime_data);
  report_data.resize(kReportDataBytes, 0);
  return report_data;
}

absl::StatusOr<RuntimeData> MakeRuntimeData(EVP_PKEY* ephemeral_key) {
  VOUCH_ASSIGN_OR_RETURN(json jwk, crypto::PublicKeyToJwk(ephemeral_key));
  if (!jwk.is_object() || jwk.value("kty", "") != "RSA") {
    return InvalidArgumentf("runtime data: the ephemeral key must be RSA");
  }
  jwk["kid"] = kEphemeralKeyId;
  jwk["key_ops"] = json::array({"encrypt"});

  RuntimeData runtime;
  runtime.json = json{{"keys", json::array({jwk})}}.dump();
  runtime.report_data = ReportDataFor(AsBytes(runtime.json));
  return runtime;
}

absl::StatusOr<std::string> BuildSnpAttestRequest(const Evidence& evidence,
                                                  std::string_view runtime_data,
                                                  const std::optional<std::string>& nonce) {
  if (evidence.kind != "snp") {
    return InvalidArgumentf("attest request: evidence kind {}, want snp", evidence.kind);
  }

  std::string report_field;
  if (evidence.certificates.empty()) {
    report_field = Base64UrlEncode(evidence.report);
  } else {
    std::string chain;
    for (const crypto::Certificate& certificate : evidence.certificates) {
      chain += certificate.Pem();
    }
    const json report = {{"SnpReport", Base64UrlEncode(evidence.report)},
                         {"VcekCertChain", Base64UrlEncode(AsBytes(chain))}};
    report_field = Base64UrlEncode(AsBytes(report.dump()));
  }

  json request = {
      {"report", report_field},
      {"runtimeData", {{"data", Base64UrlEncode(AsBytes(runtime_data))}, {"dataType", "JSON"}}},
  };
  if (nonce.has_value()) {
    request["nonce"] = *nonce;
  }
  return request.dump();
}

absl::StatusOr<std::string> BuildTdxAttestRequest(const Evidence& evidence,
                                                  std::string_view runtime_data,
                                                  const std::optional<std::string>& nonce) {
  if (evidence.kind != "tdx") {
    return InvalidArgumentf("attest request: evidence kind {}, want tdx", evidence.kind);
  }
  json request = {
      {"quote", Base64UrlEncode(evidence.report)},
      {"runtimeData", {{"data", Base64UrlEncode(AsBytes(runtime_data))}, {"dataType", "JSON"}}},
  };
  if (nonce.has_value()) {
    request["nonce"] = *nonce;
  }
  return request.dump();
}

absl::StatusOr<std::string> BuildAzureAttestRequest(const Evidence& evidence,
                                                    std::string_view runtime_data,
                                                    const std::optional<std::string>& nonce) {
  if (evidence.kind != kAzureVtpmEvidenceKind) {
    return InvalidArgumentf("attest request: evidence kind {}, want {}", evidence.kind,
                            kAzureVtpmEvidenceKind);
  }
  if (!nonce.has_value()) {
    return InvalidArgumentf(
        "attest request: azure-vtpm evidence needs the nonce from POST /challenge that its TPM "
        "quote carries");
  }
  json request = ParseJson(ToString(evidence.report));
  if (!request.is_object()) {
    return InvalidArgumentf("attest request: azure-vtpm evidence is not a JSON object");
  }
  request["nonce"] = *nonce;
  request["runtime_data"] = Base64UrlEncode(AsBytes(runtime_data));
  return request.dump();
}

absl::StatusOr<TokenSummary> SummarizeToken(std::string_view jwt) {
  const size_t dot1 = jwt.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) {
    return InvalidArgumentf("token: not a compact JWT (want three dot-separated parts)");
  }
  absl::StatusOr<Bytes> payload_bytes = Base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload_bytes.ok()) {
    return Prefix("token payload", payload_bytes.status());
  }
  const json claims = ParseJson(ToString(*payload_bytes));
  if (!claims.is_object()) {
    return InvalidArgumentf("token: payload is not a JSON object");
  }

  TokenSummary summary;
  if (const std::string* iss = StringMember(claims, "iss")) {
    summary.issuer = *iss;
  }
  if (auto exp = claims.find("exp"); exp != claims.end() && exp->is_number_integer()) {
    summary.expires = absl::FromUnixSeconds(exp->get<int64_t>());
  }
  if (auto simulated = claims.find("x-vouch-simulated");
      simulated != claims.end() && simulated->is_boolean()) {
    summary.simulated = simulated->get<bool>();
  }
  return summary;
}

AttestClient::AttestClient(std::string server_url, const HttpClient& http)
    : server_url_(TrimTrailingSlashes(std::move(server_url))), http_(http) {}

absl::StatusOr<std::string> AttestClient::Attest(const Evidence& evidence,
                                                 std::string_view runtime_data,
                                                 const std::optional<std::string>& nonce) const {
  std::string body;
  std::string url;
  if (evidence.kind == kAzureVtpmEvidenceKind) {
    VOUCH_ASSIGN_OR_RETURN(body, BuildAzureAttestRequest(evidence, runtime_data, nonce));
    url = server_url_ + "/attest/AzureGuest";
  } else if (evidence.kind == "tdx") {
    VOUCH_ASSIGN_OR_RETURN(body, BuildTdxAttestRequest(evidence, runtime_data, nonce));
    url = server_url_ + "/attest/TdxVm";
  } else {
    VOUCH_ASSIGN_OR_RETURN(body, BuildSnpAttestRequest(evidence, runtime_data, nonce));
    url = server_url_ + "/attest/SevSnpVm";
  }
  VOUCH_ASSIGN_OR_RETURN(const HttpResponse response, http_.PostJson(url, body));
  if (response.status != 200) {
    return ErrorFromResponse("POST", url, response);
  }
  const json answer = ParseJson(response.body);
  const std::string* token = StringMember(answer, "token");
  if (token == nullptr) {
    return InvalidArgumentf("POST {}: response has no string \"token\"", url);
  }
  return *token;
}

absl::StatusOr<std::string> AttestClient::Challenge() const {
  const std::string url = server_url_ + "/challenge";
  VOUCH_ASSIGN_OR_RETURN(const HttpResponse response, http_.PostJson(url, ""));
  if (response.status != 200) {
    return ErrorFromResponse("POST", url, response);
  }
  const json answer = ParseJson(response.body);
  const std::string* nonce = StringMember(answer, "nonce");
  if (nonce == nullptr) {
    return InvalidArgumentf("POST {}: response has no string \"nonce\"", url);
  }
  return *nonce;
}

absl::StatusOr<std::string> AttestClient::Release(std::string_view name, std::string_view version,
                                                  std::string_view token,
                                                  std::string_view enc) const {
  if (!IsValidKeyName(name) || (!version.empty() && !IsValidKeyName(version))) {
    return InvalidArgumentf("key name {} or version {} is invalid: want 1 to 127 of [A-Za-z0-9-_.]",
                            name, version);
  }
  const std::string url = version.empty()
                              ? fmt::format("{}/keys/{}/release", server_url_, name)
                              : fmt::format("{}/keys/{}/{}/release", server_url_, name, version);
  const json body = {{"target", token}, {"enc", enc}};
  VOUCH_ASSIGN_OR_RETURN(const HttpResponse response, http_.PostJson(url, body.dump()));
  if (response.status != 200) {
    return ErrorFromResponse("POST", url, response);
  }
  const json answer = ParseJson(response.body);
  const std::string* value = StringMember(answer, "value");
  if (value == nullptr) {
    return InvalidArgumentf("POST {}: response has no string \"value\"", url);
  }
  return *value;
}

absl::StatusOr<nlohmann::json> AttestClient::Jwks() const {
  const std::string url = server_url_ + "/certs";
  VOUCH_ASSIGN_OR_RETURN(const HttpResponse response, http_.Get(url));
  if (response.status != 200) {
    return ErrorFromResponse("GET", url, response);
  }
  json jwks = ParseJson(response.body);
  if (!jwks.is_object()) {
    return InvalidArgumentf("GET {}: response is not a JSON object", url);
  }
  return jwks;
}

absl::StatusOr<VerifiedRelease> VerifyRelease(std::string_view jws, const nlohmann::json& jwks,
                                              std::string_view expected_name,
                                              std::string_view expected_enc) {
  // The signature first: nothing in the payload is read before it verifies.
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsParts parts, crypto::JwsDecode(jws));
  VOUCH_ASSIGN_OR_RETURN(const json jwk, FindJwk(jwks, StringMember(parts.header, "kid")));
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> signer, crypto::PublicKeyFromJwk(jwk));
  VOUCH_RETURN_IF_ERROR(crypto::JwsVerify(parts, signer.get(), kReleaseAlgs));

  const json payload = ParseJson(parts.payload);
  const json* request = ObjectMember(payload, "request");
  const std::string* request_enc = request ? StringMember(*request, "enc") : nullptr;
  if (request_enc == nullptr || *request_enc != expected_enc) {
    return InvalidArgumentf("release payload: request.enc {}, want {}",
                            request_enc ? *request_enc : "(missing)", expected_enc);
  }
  const json* response = ObjectMember(payload, "response");
  const json* key_bundle = response ? ObjectMember(*response, "key") : nullptr;
  const json* key = key_bundle ? ObjectMember(*key_bundle, "key") : nullptr;
  const std::string* kid = key ? StringMember(*key, "kid") : nullptr;
  if (kid == nullptr) {
    return InvalidArgumentf("release payload: missing response.key.key.kid");
  }
  VOUCH_RETURN_IF_ERROR(CheckReleasedKid(*kid, expected_name));

  VerifiedRelease release;
  release.kid = *kid;
  release.version = LastPathSegment(*kid);
  release.enc = *request_enc;
  return release;
}

}  // namespace vouch::agent
