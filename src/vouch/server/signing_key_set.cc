#include "vouch/server/signing_key_set.h"

#include <nlohmann/json.hpp>

#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/server/logging.h"
#include "vouch/server/service.h"
#include "vouch/server/signing_keys.h"

namespace vouch::server {
namespace {

// JwksHasKid reports whether `jwks` lists a key with id `kid`.
bool JwksHasKid(const nlohmann::json& jwks, const std::string& kid) {
  const auto keys = jwks.find("keys");
  if (keys == jwks.end() || !keys->is_array()) {
    return false;
  }
  for (const nlohmann::json& key : *keys) {
    const auto id = key.find("kid");
    if (id != key.end() && id->is_string() && id->get<std::string>() == kid) {
      return true;
    }
  }
  return false;
}

// UnverifiedIssuerAndKid returns the "iss" claim and the header's "kid" of
// a compact JWT without checking its signature, or nullopt when either is
// missing.
std::optional<std::pair<std::string, std::string>> UnverifiedIssuerAndKid(std::string_view jwt) {
  absl::StatusOr<crypto::JwsParts> parts = crypto::JwsDecode(jwt);
  if (!parts.ok()) {
    return std::nullopt;
  }
  const auto kid = parts->header.find("kid");
  if (kid == parts->header.end() || !kid->is_string()) {
    return std::nullopt;
  }
  const nlohmann::json payload = nlohmann::json::parse(parts->payload, nullptr, false);
  if (!payload.is_object()) {
    return std::nullopt;
  }
  const auto issuer = payload.find("iss");
  if (issuer == payload.end() || !issuer->is_string()) {
    return std::nullopt;
  }
  return std::make_pair(issuer->get<std::string>(), kid->get<std::string>());
}

std::string WithoutTrailingSlash(std::string url) {
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SigningKeySet>> SigningKeySet::Create(
    store::Store* store, keystore::KeyStore* keystore, crypto::SslPtr<EVP_PKEY> signing_key,
    SigningKeySetOptions options) {
  std::unique_ptr<SigningKeySet> set(new SigningKeySet(store, keystore, std::move(options)));
  VOUCH_ASSIGN_OR_RETURN(std::shared_ptr<const SigningKeySnapshot> first,
                         set->Build(std::move(signing_key)));
  MutexLock lock(&set->mu_);
  set->current_ = std::move(first);
  return set;
}

SigningKeySet::~SigningKeySet() { Stop(); }

void SigningKeySet::Start() {
  if (options_.reload_interval <= absl::ZeroDuration() || thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void SigningKeySet::Stop() {
  {
    MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SigningKeySet::OnSigningKeyChange(std::function<void(crypto::SslPtr<EVP_PKEY>)> callback) {
  on_signing_key_change_ = std::move(callback);
}

std::shared_ptr<const SigningKeySnapshot> SigningKeySet::Snapshot() const {
  MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const SigningKeySnapshot>> SigningKeySet::Build(
    crypto::SslPtr<EVP_PKEY> signing_key) const {
  // Retired signing keys stay in the JWKS and so in the validator, for
  // tokens signed before the last rotation.
  VOUCH_ASSIGN_OR_RETURN(const std::vector<PreviousSigningKey> previous,
                         LoadPreviousSigningKeys(*store_));
  auto snapshot = std::make_shared<SigningKeySnapshot>();
  VOUCH_ASSIGN_OR_RETURN(snapshot->issuer,
                         token::TokenIssuer::Create(std::move(signing_key), options_.issuer));
  VOUCH_RETURN_IF_ERROR(AddPreviousSigningKeys(*snapshot->issuer, previous));
  std::vector<token::TrustedAuthority> authorities = {
      {snapshot->issuer->issuer(), snapshot->issuer->Jwks()}};

  if (!options_.simulated_issuer.empty()) {
    EVP_PKEY* shared_key = snapshot->issuer->signing_key();
    if (EVP_PKEY_up_ref(shared_key) != 1) {
      return Internalf("simulated issuer: cannot share the token signing key");
    }
    token::TokenIssuerOptions simulated_options = options_.issuer;
    simulated_options.issuer = options_.simulated_issuer;
    VOUCH_ASSIGN_OR_RETURN(
        snapshot->simulated_issuer,
        token::TokenIssuer::Create(crypto::SslPtr<EVP_PKEY>(shared_key), simulated_options));
    VOUCH_RETURN_IF_ERROR(AddPreviousSigningKeys(*snapshot->simulated_issuer, previous));
    authorities.push_back(
        {snapshot->simulated_issuer->issuer(), snapshot->simulated_issuer->Jwks()});
  }

  authorities.insert(authorities.end(), options_.other_authorities.begin(),
                     options_.other_authorities.end());
  VOUCH_ASSIGN_OR_RETURN(snapshot->validator,
                         token::TokenValidator::Create(std::move(authorities), options_.validator));
  return std::shared_ptr<const SigningKeySnapshot>(std::move(snapshot));
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> SigningKeySet::LoadSigningKey() const {
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> blob, store_->GetBlob(kSigningKeyBlob));
  if (!blob.has_value()) {
    return FailedPreconditionf("store blob {} is missing", kSigningKeyBlob);
  }
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, keystore_->Unseal(*blob, kSigningKeyBlob));
  return crypto::PrivateKeyFromPem(pem.Expose());
}

absl::Status SigningKeySet::Reload() {
  MutexLock lock(&reload_mu_);
  return ReloadLocked();
}

absl::Status SigningKeySet::ReloadLocked() {
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> signing_key, LoadSigningKey());
  VOUCH_ASSIGN_OR_RETURN(std::shared_ptr<const SigningKeySnapshot> next,
                         Build(std::move(signing_key)));
  const std::shared_ptr<const SigningKeySnapshot> current = Snapshot();
  const std::string& current_kid = current->issuer->kid();
  const std::string& next_kid = next->issuer->kid();
  if (next_kid == current_kid && next->issuer->Jwks() == current->issuer->Jwks()) {
    return absl::OkStatus();
  }

  // The callback runs before the swap, so audit heads never lag behind the
  // tokens and release responses signed with the new key.
  if (next_kid != current_kid && on_signing_key_change_) {
    EVP_PKEY* key = next->issuer->signing_key();
    if (EVP_PKEY_up_ref(key) != 1) {
      return Internalf("token signing keys: cannot share the new signing key");
    }
    on_signing_key_change_(crypto::SslPtr<EVP_PKEY>(key));
  }
  {
    MutexLock lock(&mu_);
    current_ = next;
  }
  ServerLogger()->info("token signing keys reloaded: signing kid {} (was {}), {} keys in /certs",
                       next_kid, current_kid, next->issuer->Jwks()["keys"].size());
  return absl::OkStatus();
}

void SigningKeySet::LogReload(const absl::Status& status, std::string_view trigger) {
  if (!status.ok() && !last_reload_failed_) {
    const std::shared_ptr<const SigningKeySnapshot> current = Snapshot();
    ServerLogger()->warn("token signing keys: {} reload failed, still signing with kid {}: {}",
                         trigger, current->issuer->kid(), status.ToString());
  } else if (status.ok() && last_reload_failed_) {
    ServerLogger()->info("token signing keys: {} reload succeeded again", trigger);
  }
  last_reload_failed_ = !status.ok();
}

void SigningKeySet::Run() {
  for (;;) {
    {
      MutexLock lock(&stop_mu_);
      const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(stop_mu_) { return stopping_; };
      if (stop_mu_.AwaitWithTimeout(stopping, options_.reload_interval)) {
        return;
      }
    }
    MutexLock lock(&reload_mu_);
    LogReload(ReloadLocked(), "periodic");
  }
}

broker::ReleaseKeys SigningKeySet::Current() const {
  std::shared_ptr<const SigningKeySnapshot> snapshot = Snapshot();
  broker::ReleaseKeys keys;
  keys.validator = &*snapshot->validator;
  keys.signing_key = snapshot->issuer->signing_key();
  keys.owner = std::move(snapshot);
  return keys;
}

std::optional<broker::ReleaseKeys> SigningKeySet::ReloadForToken(std::string_view jwt,
                                                                 const broker::ReleaseKeys& keys) {
  const auto* used = static_cast<const SigningKeySnapshot*>(keys.owner.get());
  if (used == nullptr) {
    return std::nullopt;
  }
  // Only a token from one of this node's issuers whose kid is not in the
  // JWKS of `keys` can become valid after a reload.
  const std::optional<std::pair<std::string, std::string>> header = UnverifiedIssuerAndKid(jwt);
  if (!header.has_value()) {
    return std::nullopt;
  }
  const auto& [issuer, kid] = *header;
  const std::string normalized = WithoutTrailingSlash(issuer);
  const bool ours =
      normalized == WithoutTrailingSlash(used->issuer->issuer()) ||
      (used->simulated_issuer.has_value() &&
       normalized == WithoutTrailingSlash(used->simulated_issuer->issuer()));
  if (!ours || JwksHasKid(used->issuer->Jwks(), kid)) {
    return std::nullopt;
  }

  MutexLock lock(&reload_mu_);
  // Another request or the timer may have reloaded since `keys` was taken.
  if (Snapshot().get() == used) {
    const absl::Time now = absl::Now();
    if (now - last_unknown_kid_reload_ < options_.min_unknown_kid_interval) {
      return std::nullopt;
    }
    last_unknown_kid_reload_ = now;
    LogReload(ReloadLocked(), "unknown-kid");
  }
  broker::ReleaseKeys reloaded = Current();
  if (reloaded.owner.get() == used) {
    return std::nullopt;
  }
  return reloaded;
}

}  // namespace vouch::server
