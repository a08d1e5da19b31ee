#include "vouch/broker/release_response.h"

#include <array>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/policy/strict_json.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace vouch::broker {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kKeyHsmSchemaVersion = "1.0";

// Member returns `object[name]` when `object` is an object holding `name`.
const Json* Member(const Json& object, const char* name) {
  if (!object.is_object()) {
    return nullptr;
  }
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

absl::StatusOr<std::string> StringMember(const Json& object, const char* name,
                                         std::string_view where) {
  const Json* value = Member(object, name);
  if (value == nullptr || !value->is_string()) {
    return InvalidArgumentf("release response: {} has no string \"{}\"", where, name);
  }
  return value->get<std::string>();
}

// BrokerKeyFromJwks picks the key named `kid` from the broker's JWKS.
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> BrokerKeyFromJwks(const Json& jwks,
                                                           const std::string& kid) {
  const Json* keys = Member(jwks, "keys");
  if (keys == nullptr || !keys->is_array()) {
    return InvalidArgumentf("release response: broker JWKS has no keys array");
  }
  for (const Json& jwk : *keys) {
    if (Member(jwk, "kid") == nullptr || (*Member(jwk, "kid")) != kid) {
      continue;
    }
    const std::string kty = policy::StringOr(jwk, "kty");
    Json members = {{"kty", kty}};
    for (const char* name : {"n", "e", "crv", "x", "y"}) {
      if (const Json* value = Member(jwk, name); value != nullptr) {
        members[name] = *value;
      }
    }
    return crypto::PublicKeyFromJwk(members);
  }
  return Unauthenticatedf("release response: signed by kid {}, which is not in the broker JWKS",
                          policy::DescribeJson(Json(kid), 96));
}

absl::Status VerifyBrokerSignature(const crypto::JwsParts& parts,
                                   const ReleaseVerification& verification) {
  const std::string alg_name = policy::StringOr(parts.header, "alg");
  absl::StatusOr<crypto::JwsAlg> alg = token::JwsAlgFromName(alg_name);
  if (!alg.ok()) {
    return Unauthenticatedf("release response: alg {} is not accepted",
                            policy::DescribeJson(Json(alg_name), 32));
  }
  crypto::SslPtr<EVP_PKEY> from_jwks;
  EVP_PKEY* key = verification.broker_key;
  if (key == nullptr) {
    const std::string kid = policy::StringOr(parts.header, "kid");
    VOUCH_ASSIGN_OR_RETURN(from_jwks, BrokerKeyFromJwks(*verification.broker_jwks, kid));
    key = from_jwks.get();
  }
  const std::array<crypto::JwsAlg, 1> allowed = {*alg};
  const absl::Status verified = crypto::JwsVerify(parts, key, allowed);
  if (!verified.ok()) {
    return Unauthenticatedf("release response: signature: {}", verified.message());
  }
  return absl::OkStatus();
}

// KeyHsm reads and checks the key_hsm document of a release payload.
absl::StatusOr<Json> KeyHsm(const Json& payload) {
  const Json* response = Member(payload, "response");
  const Json* key_bundle = response == nullptr ? nullptr : Member(*response, "key");
  const Json* key = key_bundle == nullptr ? nullptr : Member(*key_bundle, "key");
  if (key == nullptr) {
    return InvalidArgumentf("release response: payload has no response.key.key");
  }
  VOUCH_ASSIGN_OR_RETURN(const std::string encoded, StringMember(*key, "key_hsm", "response.key.key"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes decoded, Base64UrlDecode(encoded));
  VOUCH_ASSIGN_OR_RETURN(
      Json key_hsm, policy::ParseStrictJson(ToString(decoded), "release response: key_hsm",
                                            {.max_bytes = kMaxReleaseResponseBytes, .max_depth = 8}));
  const Json* schema_version = Member(key_hsm, "schema_version");
  if (schema_version == nullptr || *schema_version != kKeyHsmSchemaVersion) {
    return InvalidArgumentf("release response: key_hsm schema_version, want \"{}\"",
                            kKeyHsmSchemaVersion);
  }
  return key_hsm;
}

}  // namespace

nlohmann::json SymmetricKeyOps() {
  return Json::array({"encrypt", "decrypt", "wrapKey", "unwrapKey"});
}

nlohmann::json KeyOpsForKty(std::string_view kty) {
  if (kty == "RSA-HSM") {
    return Json::array({"sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey"});
  }
  if (kty == "EC-HSM") {
    return Json::array({"sign", "verify"});
  }
  return SymmetricKeyOps();
}

nlohmann::json ReleasePolicyEnvelope(std::string_view policy_json, bool immutable) {
  return Json{{"contentType", "application/json; charset=utf-8"},
              {"data", Base64UrlEncode(AsBytes(policy_json))},
              {"immutable", immutable}};
}

nlohmann::json BuildReleasePayload(const ReleasedKey& key) {
  const std::string enc(EncName(key.enc));
  Json request = {{"api-version", kReleaseApiVersion}, {"enc", enc}, {"kid", key.kid}};
  if (key.nonce.has_value()) {
    request["nonce"] = *key.nonce;
  }
  const Json key_hsm = {
      {"schema_version", kKeyHsmSchemaVersion},
      {"header", {{"kid", key.target_kid}, {"alg", "dir"}, {"enc", enc}}},
      {"ciphertext", Base64UrlEncode(key.wrapped)},
  };
  const Json jwk = {
      {"kid", key.kid},
      {"kty", key.kty},
      {"key_ops", KeyOpsForKty(key.kty)},
      {"key_hsm", Base64UrlEncode(AsBytes(key_hsm.dump()))},
  };
  const Json attributes = {
      {"enabled", key.enabled},
      {"exportable", key.exportable},
      {"created", absl::ToUnixSeconds(key.created)},
      {"updated", absl::ToUnixSeconds(key.updated)},
  };
  Json policy = ReleasePolicyEnvelope(key.release_policy, false);
  policy.erase("immutable");
  Json bundle = {{"key", jwk}, {"attributes", attributes}, {"release_policy", policy}};
  // Tags travel in the signed payload, as in a Key Vault key bundle, so the
  // agent can check them (for example the LUKS2 volume UUID the key is for).
  // The broker stores only JSON objects here; anything else is left out.
  if (!key.tags_json.empty()) {
    Json tags = Json::parse(key.tags_json, nullptr, false);
    if (tags.is_object()) {
      bundle["tags"] = std::move(tags);
    }
  }
  return Json{{"request", std::move(request)}, {"response", {{"key", std::move(bundle)}}}};
}

absl::StatusOr<nlohmann::json> SignReleaseResponse(EVP_PKEY* signing_key,
                                                   const nlohmann::json& payload) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, token::SigningAlgForKey(signing_key));
  VOUCH_ASSIGN_OR_RETURN(const std::string kid, crypto::JwkThumbprint(signing_key));
  const Json header = {{"kid", kid}, {"typ", "JWT"}};
  VOUCH_ASSIGN_OR_RETURN(std::string jws,
                         crypto::JwsSign(signing_key, alg, header, payload.dump()));
  return Json{{"value", std::move(jws)}};
}

absl::StatusOr<SecretBytes> UnwrapReleasedKey(std::string_view jws_value,
                                              EVP_PKEY* ephemeral_private_key,
                                              const ReleaseVerification& verification) {
  if (ephemeral_private_key == nullptr) {
    return InvalidArgumentf("release response: no private key to unwrap with");
  }
  if (jws_value.size() > kMaxReleaseResponseBytes) {
    return InvalidArgumentf("release response: {} bytes, limit {}", jws_value.size(),
                            kMaxReleaseResponseBytes);
  }
  absl::StatusOr<crypto::JwsParts> parts = crypto::JwsDecode(jws_value);
  if (!parts.ok()) {
    return InvalidArgumentf("release response: {}", parts.status().message());
  }
  if (verification.broker_key != nullptr || verification.broker_jwks != nullptr) {
    VOUCH_RETURN_IF_ERROR(VerifyBrokerSignature(*parts, verification));
  }

  VOUCH_ASSIGN_OR_RETURN(
      const Json payload,
      policy::ParseStrictJson(parts->payload, "release response: payload",
                              {.max_bytes = kMaxReleaseResponseBytes, .max_depth = 16}));
  VOUCH_ASSIGN_OR_RETURN(const Json key_hsm, KeyHsm(payload));
  const Json* header = Member(key_hsm, "header");
  if (header == nullptr) {
    return InvalidArgumentf("release response: key_hsm has no header");
  }
  VOUCH_ASSIGN_OR_RETURN(const std::string enc_name, StringMember(*header, "enc", "key_hsm.header"));
  VOUCH_ASSIGN_OR_RETURN(const KeyExportEnc enc, ParseEnc(enc_name));
  VOUCH_ASSIGN_OR_RETURN(const std::string alg, StringMember(*header, "alg", "key_hsm.header"));
  if (alg != "dir") {
    return InvalidArgumentf("release response: key_hsm alg {}, want \"dir\"",
                            policy::DescribeJson(Json(alg), 32));
  }

  const Json* request = Member(payload, "request");
  const Json* request_enc = request == nullptr ? nullptr : Member(*request, "enc");
  if (request_enc != nullptr && *request_enc != enc_name) {
    return InvalidArgumentf("release response: request enc {} differs from key_hsm enc {}",
                            policy::DescribeJson(*request_enc, 32), enc_name);
  }
  if (verification.expected_enc.has_value() && *verification.expected_enc != enc) {
    return InvalidArgumentf("release response: enc {}, want {}", enc_name,
                            EncName(*verification.expected_enc));
  }

  VOUCH_ASSIGN_OR_RETURN(const std::string ciphertext_text,
                         StringMember(key_hsm, "ciphertext", "key_hsm"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes ciphertext, Base64UrlDecode(ciphertext_text));
  absl::StatusOr<SecretBytes> key =
      crypto::RsaAesKeyUnwrap(ephemeral_private_key, OaepHashForEnc(enc), ciphertext);
  if (!key.ok()) {
    return Prefix("release response: unwrap", key.status());
  }
  return key;
}

}  // namespace vouch::broker
