// The token signing keys that a running node uses, reloaded from the store.
//
// Every node signs with the key in store blob kSigningKeyBlob and accepts
// the retired keys in kPreviousSigningKeysBlob (signing_keys.h). When one
// node rotates the key, the others read both blobs again:
//   - every `reload_interval` (0 turns the periodic reload off);
//   - at once when a release token from one of this node's issuers carries
//     a kid that is not in the current JWKS, at most once per
//     `min_unknown_kid_interval`;
//   - on the rotating node, right after its rotation (Reload).
// Each reload builds a new immutable SigningKeySnapshot and swaps it in.
// Handlers take one snapshot per request, so a request never mixes keys. A
// reload that fails keeps the current snapshot and logs a warning.
#ifndef VOUCH_SERVER_SIGNING_KEY_SET_H_
#define VOUCH_SERVER_SIGNING_KEY_SET_H_

#include <openssl/evp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/mutex.h"
#include "vouch/broker/key_broker.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/keystore/keystore.h"
#include "vouch/store/store.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace vouch::server {

// SigningKeySnapshot is one immutable set of token keys: the issuers that
// sign with the current key and publish the retired ones, and the validator
// of release tokens that trusts all of them.
struct SigningKeySnapshot {
  std::optional<token::TokenIssuer> issuer;
  // Same key, but "iss" is <issuer>/simulated; set only when simulated
  // evidence is allowed.
  std::optional<token::TokenIssuer> simulated_issuer;
  std::optional<token::TokenValidator> validator;
};

struct SigningKeySetOptions {
  token::TokenIssuerOptions issuer;
  // The "iss" of tokens for simulated evidence; empty when simulated
  // evidence is not allowed.
  std::string simulated_issuer;
  // Other issuers whose tokens the validator accepts (config's
  // trusted_authorities), with their JWKS.
  std::vector<token::TrustedAuthority> other_authorities;
  token::TokenValidatorOptions validator;
  absl::Duration reload_interval = absl::Seconds(30);
  absl::Duration min_unknown_kid_interval = absl::Seconds(1);
};

class SigningKeySet : public broker::ReleaseKeySource {
 public:
  // Create builds the first snapshot from `signing_key` and the retired keys
  // in the store. `store` and `keystore` are borrowed and must outlive the
  // set. Call Start to begin the periodic reload.
  static absl::StatusOr<std::unique_ptr<SigningKeySet>> Create(store::Store* store,
                                                               keystore::KeyStore* keystore,
                                                               crypto::SslPtr<EVP_PKEY> signing_key,
                                                               SigningKeySetOptions options);
  ~SigningKeySet() override;
  SigningKeySet(const SigningKeySet&) = delete;
  SigningKeySet& operator=(const SigningKeySet&) = delete;

  // Start runs the periodic reload in a background thread, unless the
  // interval is 0. Stop ends it, and so does the destructor.
  void Start();
  void Stop();

  // OnSigningKeyChange registers `callback`, called with the new signing key
  // during each reload that changes it, before the new snapshot is swapped
  // in. Register it before Start.
  void OnSigningKeyChange(std::function<void(crypto::SslPtr<EVP_PKEY>)> callback);

  std::shared_ptr<const SigningKeySnapshot> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

  // Reload reads both blobs and swaps in a new snapshot when the key set
  // changed. On an error (store down, blob unreadable) the current snapshot
  // stays and the error is returned.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(reload_mu_);

  // broker::ReleaseKeySource.
  broker::ReleaseKeys Current() const override;
  std::optional<broker::ReleaseKeys> ReloadForToken(std::string_view jwt,
                                                    const broker::ReleaseKeys& keys) override;

 private:
  SigningKeySet(store::Store* store, keystore::KeyStore* keystore, SigningKeySetOptions options)
      : store_(store), keystore_(keystore), options_(std::move(options)) {}

  absl::StatusOr<std::shared_ptr<const SigningKeySnapshot>> Build(
      crypto::SslPtr<EVP_PKEY> signing_key) const;
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> LoadSigningKey() const;
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // LogReload logs a failed reload once per run of failures.
  void LogReload(const absl::Status& status, std::string_view trigger)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  void Run();

  store::Store* const store_;
  keystore::KeyStore* const keystore_;
  const SigningKeySetOptions options_;
  std::function<void(crypto::SslPtr<EVP_PKEY>)> on_signing_key_change_;

  mutable Mutex mu_;
  std::shared_ptr<const SigningKeySnapshot> current_ ABSL_GUARDED_BY(mu_);

  // Serializes reloads, so snapshots are swapped in the order they were read.
  Mutex reload_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Time last_unknown_kid_reload_ ABSL_GUARDED_BY(reload_mu_) = absl::InfinitePast();
  bool last_reload_failed_ ABSL_GUARDED_BY(reload_mu_) = false;

  Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_SIGNING_KEY_SET_H_
