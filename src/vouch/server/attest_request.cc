#include "vouch/server/attest_request.h"

#include <initializer_list>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/request_json.h"

namespace vouch::server {
namespace {

constexpr std::string_view kContext = "attest request";

// ParseReportEnvelope reads {"SnpReport": ..., "VcekCertChain": ...}.
absl::Status ParseReportEnvelope(const Bytes& decoded, AttestRequest& out) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json envelope,
                         policy::ParseStrictJson(ToString(decoded), "attest request: report"));
  if (!envelope.is_object()) {
    return InvalidArgumentf("{}: report must encode a JSON object, found {}", kContext,
                            policy::JsonTypeName(envelope));
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(kContext, envelope, "report", {"SnpReport", "VcekCertChain"}));
  VOUCH_ASSIGN_OR_RETURN(out.report, DecodeMember(kContext, envelope, "report", "SnpReport"));
  if (!envelope.contains("VcekCertChain")) {
    return absl::OkStatus();
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes chain,
                         DecodeMember(kContext, envelope, "report", "VcekCertChain"));
  absl::StatusOr<std::vector<crypto::Certificate>> certificates = crypto::ParseCertificates(chain);
  if (!certificates.ok()) {
    return Prefix("attest request: report.VcekCertChain", certificates.status());
  }
  out.certificates = *std::move(certificates);
  out.has_certificate_chain = true;
  return absl::OkStatus();
}

absl::Status ParseReport(const nlohmann::json& body, AttestRequest& out) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes decoded, DecodeMember(kContext, body, "body", "report"));
  // A raw report starts with its version (2, 3 or 5, little-endian), never
  // with '{', so the two forms cannot be confused.
  if (!decoded.empty() && decoded.front() == '{') {
    return ParseReportEnvelope(decoded, out);
  }
  out.report = decoded;
  return absl::OkStatus();
}

// CheckJwkSet accepts a "keys" member that is an array of public JWKs.
absl::Status CheckJwkSet(const nlohmann::json& keys) {
  if (!keys.is_array()) {
    return InvalidArgumentf("{}: runtime data keys must be a JWK array, found {}", kContext,
                            policy::JsonTypeName(keys));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::PublicKeyFromJwk(keys[i]);
    if (!key.ok()) {
      return InvalidArgumentf("{}: runtime data keys[{}] is not a valid public JWK: {}", kContext,
                              i, key.status().message());
    }
  }
  return absl::OkStatus();
}

absl::Status ParseRuntimeData(const nlohmann::json& body, AttestRequest& out) {
  if (!body.contains("runtimeData")) {
    return InvalidArgumentf("{}: missing runtimeData", kContext);
  }
  const nlohmann::json& runtime = body["runtimeData"];
  if (!runtime.is_object()) {
    return InvalidArgumentf("{}: runtimeData must be an object, found {}", kContext,
                            policy::JsonTypeName(runtime));
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(kContext, runtime, "runtimeData", {"data", "dataType"}));
  if (!runtime.contains("dataType") || runtime["dataType"] != "JSON") {
    return InvalidArgumentf("{}: runtimeData.dataType must be \"JSON\"", kContext);
  }
  VOUCH_ASSIGN_OR_RETURN(out.runtime_data, DecodeMember(kContext, runtime, "runtimeData", "data"));
  if (out.runtime_data.size() > kMaxRuntimeDataBytes) {
    return InvalidArgumentf("{}: runtime data is {} bytes, the limit is {}", kContext,
                            out.runtime_data.size(), kMaxRuntimeDataBytes);
  }

  VOUCH_ASSIGN_OR_RETURN(out.runtime_json, policy::ParseStrictJson(ToString(out.runtime_data),
                                                                   "attest request: runtime data"));
  if (!out.runtime_json.is_object()) {
    return InvalidArgumentf("{}: runtime data must be a JSON object, found {}", kContext,
                            policy::JsonTypeName(out.runtime_json));
  }
  if (out.runtime_json.contains("keys")) {
    VOUCH_RETURN_IF_ERROR(CheckJwkSet(out.runtime_json["keys"]));
  }
  return absl::OkStatus();
}

absl::Status ParseNonce(const nlohmann::json& body, AttestRequest& out) {
  if (!body.contains("nonce") || body["nonce"].is_null()) {
    return absl::OkStatus();
  }
  if (!body["nonce"].is_string()) {
    return InvalidArgumentf("{}: nonce must be a string, found {}", kContext,
                            policy::JsonTypeName(body["nonce"]));
  }
  std::string nonce = body["nonce"].get<std::string>();
  if (nonce.size() > kMaxNonceBytes) {
    return InvalidArgumentf("{}: nonce is {} bytes, the limit is {}", kContext, nonce.size(),
                            kMaxNonceBytes);
  }
  out.nonce = std::move(nonce);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AttestRequest> ParseAttestRequest(std::string_view body) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json json,
                         policy::ParseStrictJson(body, "attest request"));
  if (!json.is_object()) {
    return InvalidArgumentf("{}: body must be a JSON object, found {}", kContext,
                            policy::JsonTypeName(json));
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(kContext, json, "body", {"report", "runtimeData", "nonce"}));

  AttestRequest request;
  VOUCH_RETURN_IF_ERROR(ParseReport(json, request));
  VOUCH_RETURN_IF_ERROR(ParseRuntimeData(json, request));
  VOUCH_RETURN_IF_ERROR(ParseNonce(json, request));
  return request;
}

nlohmann::json AttestRequestJson(ByteSpan report, std::string_view certificate_chain_pem,
                                 ByteSpan runtime_data, const std::optional<std::string>& nonce) {
  nlohmann::json body;
  if (certificate_chain_pem.empty()) {
    body["report"] = Base64UrlEncode(report);
  } else {
    const nlohmann::json envelope = {
        {"SnpReport", Base64UrlEncode(report)},
        {"VcekCertChain", Base64UrlEncode(AsBytes(certificate_chain_pem))}};
    body["report"] = Base64UrlEncode(AsBytes(envelope.dump()));
  }
  body["runtimeData"] = {{"data", Base64UrlEncode(runtime_data)}, {"dataType", "JSON"}};
  if (nonce.has_value()) {
    body["nonce"] = *nonce;
  }
  return body;
}

}  // namespace vouch::server
