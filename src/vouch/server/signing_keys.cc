#include "vouch/server/signing_keys.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/keys.h"
#include "vouch/server/service.h"

namespace vouch::server {
namespace {

absl::StatusOr<std::string> KidOf(EVP_PKEY* key) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, token::SigningAlgForKey(key));
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json jwk, token::PublicJwk(key, alg));
  return jwk.at("kid").get<std::string>();
}

struct SigningKeyTypeEntry {
  SigningKeyType type;
  std::string_view name;
};

constexpr SigningKeyTypeEntry kSigningKeyTypes[] = {
    {SigningKeyType::kRsa3072, "rsa-3072"},
    {SigningKeyType::kEcP256, "ec-p256"},
    {SigningKeyType::kEcP384, "ec-p384"},
};

}  // namespace

absl::StatusOr<SigningKeyType> ParseSigningKeyType(std::string_view name) {
  for (const SigningKeyTypeEntry& entry : kSigningKeyTypes) {
    if (entry.name == name) {
      return entry.type;
    }
  }
  return InvalidArgumentf("signing key type \"{}\" unknown, want rsa-3072, ec-p256 or ec-p384",
                          name);
}

std::string_view SigningKeyTypeName(SigningKeyType type) {
  for (const SigningKeyTypeEntry& entry : kSigningKeyTypes) {
    if (entry.type == type) {
      return entry.name;
    }
  }
  return "unknown";
}

absl::StatusOr<SigningKeyType> SigningKeyTypeOf(EVP_PKEY* key) {
  if (crypto::IsRsaKey(key) && EVP_PKEY_get_bits(key) == kSigningKeyRsaBits) {
    return SigningKeyType::kRsa3072;
  }
  if (crypto::IsEcKey(key)) {
    VOUCH_ASSIGN_OR_RETURN(const std::string curve, crypto::EcCurveName(key));
    if (curve == "P-256") {
      return SigningKeyType::kEcP256;
    }
    if (curve == "P-384") {
      return SigningKeyType::kEcP384;
    }
  }
  return InvalidArgumentf("token signing key: {}-bit {} key, want RSA-3072, EC P-256 or EC P-384",
                          EVP_PKEY_get_bits(key), crypto::IsRsaKey(key) ? "RSA" : "non-RSA");
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> GenerateSigningKey(SigningKeyType type) {
  switch (type) {
    case SigningKeyType::kRsa3072:
      return crypto::GenerateRsaKey(kSigningKeyRsaBits);
    case SigningKeyType::kEcP256:
      return crypto::GenerateEcKey("P-256");
    case SigningKeyType::kEcP384:
      return crypto::GenerateEcKey("P-384");
  }
  return InvalidArgumentf("signing key type {} unknown", static_cast<int>(type));
}

namespace {

// ParsePreviousSigningKeys reads the contents of kPreviousSigningKeysBlob;
// nullopt (no blob) means no previous keys.
absl::StatusOr<std::vector<PreviousSigningKey>> ParsePreviousSigningKeys(
    const std::optional<Bytes>& blob) {
  std::vector<PreviousSigningKey> previous;
  if (!blob.has_value()) {
    return previous;
  }
  const nlohmann::json json = nlohmann::json::parse(ToString(*blob), nullptr, false);
  if (!json.is_object() || !json.contains("keys") || !json["keys"].is_array()) {
    return InvalidArgumentf("store blob {}: want a JSON object with a \"keys\" array",
                            kPreviousSigningKeysBlob);
  }
  for (const nlohmann::json& entry : json["keys"]) {
    if (!entry.is_object() || !entry.contains("kid") || !entry["kid"].is_string() ||
        !entry.contains("public_key") || !entry["public_key"].is_string()) {
      return InvalidArgumentf("store blob {}: each key needs string members kid and public_key",
                              kPreviousSigningKeysBlob);
    }
    const std::string pem = entry["public_key"].get<std::string>();
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::PublicKeyFromPem(AsBytes(pem));
    if (!key.ok()) {
      return Prefix(fmt::format("store blob {}: key {}", kPreviousSigningKeysBlob,
                                entry["kid"].get<std::string>()),
                    key.status());
    }
    VOUCH_ASSIGN_OR_RETURN(std::string kid, KidOf(key->get()));
    if (kid != entry["kid"].get<std::string>()) {
      return InvalidArgumentf("store blob {}: key listed as {} has thumbprint {}",
                              kPreviousSigningKeysBlob, entry["kid"].get<std::string>(), kid);
    }
    previous.push_back({std::move(kid), *std::move(key)});
  }
  return previous;
}

}  // namespace

absl::StatusOr<std::vector<PreviousSigningKey>> LoadPreviousSigningKeys(store::Store& store) {
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> blob, store.GetBlob(kPreviousSigningKeysBlob));
  return ParsePreviousSigningKeys(blob);
}

absl::Status AddPreviousSigningKeys(token::TokenIssuer& issuer,
                                    const std::vector<PreviousSigningKey>& previous) {
  for (const PreviousSigningKey& key : previous) {
    if (key.kid == issuer.kid()) {
      continue;
    }
    VOUCH_RETURN_IF_ERROR(issuer.AddPreviousKey(key.public_key.get()));
  }
  return absl::OkStatus();
}

absl::StatusOr<SigningKeyRotation> RotateSigningKey(store::Store& store,
                                                    keystore::KeyStore& keystore,
                                                    std::string_view actor,
                                                    size_t keep_previous,
                                                    std::optional<SigningKeyType> type) {
  if (keep_previous == 0) {
    return InvalidArgumentf("signing key rotation: keep_previous is 0, want at least 1");
  }
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> sealed, store.GetBlob(kSigningKeyBlob));
  if (!sealed.has_value()) {
    return FailedPreconditionf("signing key rotation: store blob {} not found: start vouch serve "
                               "once to create the first key",
                               kSigningKeyBlob);
  }
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes current_pem, keystore.Unseal(*sealed, kSigningKeyBlob));
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> current,
                         crypto::PrivateKeyFromPem(current_pem.Expose()));
  VOUCH_ASSIGN_OR_RETURN(const std::string current_kid, KidOf(current.get()));
  VOUCH_ASSIGN_OR_RETURN(const std::string current_public_pem,
                         crypto::PublicKeyToPem(current.get()));

  // Step 1: the retired list, newest first, with the current key in front.
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> previous_blob,
                         store.GetBlob(kPreviousSigningKeysBlob));
  VOUCH_ASSIGN_OR_RETURN(const std::vector<PreviousSigningKey> previous,
                         ParsePreviousSigningKeys(previous_blob));
  SigningKeyRotation rotation;
  nlohmann::json keys = nlohmann::json::array();
  keys.push_back({{"kid", current_kid}, {"public_key", current_public_pem}});
  rotation.previous_kids.push_back(current_kid);
  for (const PreviousSigningKey& key : previous) {
    if (rotation.previous_kids.size() >= keep_previous) {
      break;
    }
    if (key.kid == current_kid) {
      continue;
    }
    VOUCH_ASSIGN_OR_RETURN(std::string pem, crypto::PublicKeyToPem(key.public_key.get()));
    keys.push_back({{"kid", key.kid}, {"public_key", std::move(pem)}});
    rotation.previous_kids.push_back(key.kid);
  }
  const std::string previous_json = nlohmann::json({{"keys", keys}}).dump();

  // Step 2: the new key, of the current key's type unless `type` is set,
  // replaces the current one.
  // A current key of another kind (none is made here) is replaced by the
  // default, RSA-3072.
  if (!type.has_value()) {
    const absl::StatusOr<SigningKeyType> current_type = SigningKeyTypeOf(current.get());
    type = current_type.ok() ? *current_type : SigningKeyType::kRsa3072;
  }
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> next, GenerateSigningKey(*type));
  VOUCH_ASSIGN_OR_RETURN(rotation.kid, KidOf(next.get()));
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes next_pem, crypto::PrivateKeyToPem(next.get()));
  VOUCH_ASSIGN_OR_RETURN(const Bytes next_sealed, keystore.Seal(next_pem, kSigningKeyBlob));

  // Step 3: both blobs and the audit record in one transaction. The
  // preconditions make it a compare-and-set on what step 1 read, so of two
  // rotations at once the second fails instead of dropping a retired key.
  store::AuditEvent event;
  event.actor = std::string(actor);
  event.operation = "token.signing-key.rotate";
  event.target = "signing-keys/" + rotation.kid;
  event.outcome = "ok";
  event.detail = "previous kid " + current_kid;
  const absl::Status written = store.WriteBlobs(
      {{kSigningKeyBlob, *sealed}, {kPreviousSigningKeysBlob, previous_blob}},
      {{kPreviousSigningKeysBlob, ToBytes(previous_json)}, {kSigningKeyBlob, next_sealed}}, &event);
  if (absl::IsAborted(written)) {
    return absl::AbortedError(fmt::format(
        "signing key rotation: another rotation changed the signing keys at the same time, "
        "so this one was not stored; retry to rotate again ({})",
        written.message()));
  }
  VOUCH_RETURN_IF_ERROR(written);
  return rotation;
}

}  // namespace vouch::server
