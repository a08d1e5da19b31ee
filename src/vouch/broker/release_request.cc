#include "vouch/broker/release_request.h"

#include <utility>

#include "vouch/base/status.h"
#include "vouch/policy/strict_json.h"

namespace vouch::broker {
namespace {

using Json = nlohmann::json;

constexpr std::pair<std::string_view, KeyExportEnc> kEncNames[] = {
    {"CKM_RSA_AES_KEY_WRAP", KeyExportEnc::kCkmRsaAesKeyWrap},
    {"RSA_AES_KEY_WRAP_256", KeyExportEnc::kRsaAesKeyWrap256},
    {"RSA_AES_KEY_WRAP_384", KeyExportEnc::kRsaAesKeyWrap384},
};

}  // namespace

std::string_view EncName(KeyExportEnc enc) {
  for (const auto& [name, candidate] : kEncNames) {
    if (candidate == enc) {
      return name;
    }
  }
  return "unknown";
}

absl::StatusOr<KeyExportEnc> ParseEnc(std::string_view name) {
  for (const auto& [candidate, enc] : kEncNames) {
    if (candidate == name) {
      return enc;
    }
  }
  return InvalidArgumentf(
      "release request: enc {} is not supported, want CKM_RSA_AES_KEY_WRAP, "
      "RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384",
      policy::DescribeJson(Json(std::string(name)), 64));
}

crypto::HashAlg OaepHashForEnc(KeyExportEnc enc) {
  switch (enc) {
    case KeyExportEnc::kCkmRsaAesKeyWrap:
      return crypto::HashAlg::kSha1;
    case KeyExportEnc::kRsaAesKeyWrap256:
      return crypto::HashAlg::kSha256;
    case KeyExportEnc::kRsaAesKeyWrap384:
      return crypto::HashAlg::kSha384;
  }
  return crypto::HashAlg::kSha256;
}

absl::StatusOr<ReleaseRequest> ParseReleaseRequest(std::string_view body) {
  VOUCH_ASSIGN_OR_RETURN(
      const Json json,
      policy::ParseStrictJson(body, "release request",
                              {.max_bytes = kMaxReleaseRequestBytes, .max_depth = 8}));
  return ReleaseRequestFromJson(json);
}

absl::StatusOr<ReleaseRequest> ReleaseRequestFromJson(const nlohmann::json& body) {
  if (!body.is_object()) {
    return InvalidArgumentf("release request: want a JSON object");
  }
  for (const auto& [name, value] : body.items()) {
    if (name != "target" && name != "nonce" && name != "enc") {
      return InvalidArgumentf("release request: unknown member {}, want target, nonce and enc",
                              policy::DescribeJson(Json(name), 64));
    }
  }

  ReleaseRequest request;
  const auto target = body.find("target");
  if (target == body.end() || !target->is_string() || target->get_ref<const std::string&>().empty()) {
    return InvalidArgumentf("release request: missing target (the attestation token)");
  }
  request.target = target->get<std::string>();

  const auto nonce = body.find("nonce");
  if (nonce != body.end() && !nonce->is_null()) {
    if (!nonce->is_string()) {
      return InvalidArgumentf("release request: nonce must be a string");
    }
    if (nonce->get_ref<const std::string&>().size() > kMaxNonceBytes) {
      return InvalidArgumentf("release request: nonce of {} bytes, limit {}",
                              nonce->get_ref<const std::string&>().size(), kMaxNonceBytes);
    }
    request.nonce = nonce->get<std::string>();
  }

  const auto enc = body.find("enc");
  if (enc != body.end() && !enc->is_null()) {
    if (!enc->is_string()) {
      return InvalidArgumentf("release request: enc must be a string");
    }
    VOUCH_ASSIGN_OR_RETURN(request.enc, ParseEnc(enc->get_ref<const std::string&>()));
  }
  return request;
}

nlohmann::json ReleaseRequestToJson(const ReleaseRequest& request) {
  Json body = {{"target", request.target}, {"enc", std::string(EncName(request.enc))}};
  if (request.nonce.has_value()) {
    body["nonce"] = *request.nonce;
  }
  return body;
}

}  // namespace vouch::broker
