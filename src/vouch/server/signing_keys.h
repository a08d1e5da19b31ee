// Token signing-key rotation.
//
// Every node of a deployment signs tokens with the key sealed in store blob
// kSigningKeyBlob (service.h). RotateSigningKey replaces that key with a new
// key (RSA-3072, EC P-256 or EC P-384) and keeps the public halves of the retired keys in blob
// kPreviousSigningKeysBlob, so tokens signed before the rotation stay
// verifiable: each node publishes those keys in /certs beside the current
// one, and its release validator accepts tokens signed by any of them.
//
// A node reads both blobs when it starts (Service::Open) and again while it
// runs (SigningKeySet in signing_key_set.h): at once after its own rotation,
// periodically, and when a release token of its issuer has an unknown kid.
#ifndef VOUCH_SERVER_SIGNING_KEYS_H_
#define VOUCH_SERVER_SIGNING_KEYS_H_

#include <openssl/evp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/keystore/keystore.h"
#include "vouch/store/store.h"
#include "vouch/token/issuer.h"

namespace vouch::server {

// SigningKeyType is the kind of token signing key, which fixes the JWS
// algorithm of tokens, release responses and audit heads: RS256 for
// RSA-3072, ES256 for EC P-256 and ES384 for EC P-384.
enum class SigningKeyType { kRsa3072, kEcP256, kEcP384 };

// ParseSigningKeyType reads "rsa-3072", "ec-p256" or "ec-p384".
absl::StatusOr<SigningKeyType> ParseSigningKeyType(std::string_view name);
std::string_view SigningKeyTypeName(SigningKeyType type);
// SigningKeyTypeOf returns the type of an existing key. Any other key
// (another RSA size or curve) is InvalidArgument.
absl::StatusOr<SigningKeyType> SigningKeyTypeOf(EVP_PKEY* key);
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> GenerateSigningKey(SigningKeyType type);

// Store blob with the retired signing keys' public halves, newest first, as
// JSON: {"keys": [{"kid": "...", "public_key": "-----BEGIN PUBLIC KEY..."}]}.
// It contains no secret, so it is not sealed.
inline constexpr char kPreviousSigningKeysBlob[] = "token-signing-keys-previous";
// How many retired keys RotateSigningKey keeps. One covers every token
// issued before the last rotation, because a rotation every token lifetime
// or less is not expected.
inline constexpr size_t kKeptPreviousSigningKeys = 1;

// PreviousSigningKey is the public half of a retired token signing key.
struct PreviousSigningKey {
  std::string kid;  // RFC 7638 thumbprint, as in the tokens' header
  crypto::SslPtr<EVP_PKEY> public_key;
};

// LoadPreviousSigningKeys reads kPreviousSigningKeysBlob; no blob means no
// previous keys. A blob that does not parse is InvalidArgument.
absl::StatusOr<std::vector<PreviousSigningKey>> LoadPreviousSigningKeys(store::Store& store);

// AddPreviousSigningKeys publishes `previous` in `issuer`'s JWKS, skipping a
// key whose kid is the issuer's own (left behind by an interrupted rotation).
absl::Status AddPreviousSigningKeys(token::TokenIssuer& issuer,
                                    const std::vector<PreviousSigningKey>& previous);

struct SigningKeyRotation {
  std::string kid;                         // the new current key
  std::vector<std::string> previous_kids;  // newest first
};

// RotateSigningKey generates a new signing key of type `type` (the current
// key's type when nullopt), moves the current key's
// public half to the front of kPreviousSigningKeysBlob (keeping at most
// `keep_previous` keys), stores the new key sealed under kSigningKeyBlob,
// and appends an audit record "token.signing-key.rotate" by `actor`. The
// two blobs and the audit record are one store transaction (WriteBlobs),
// so a crash leaves the rotation complete or absent.
// FailedPrecondition when the store has no signing key yet. Aborted when
// another rotation (on this node or another) changed either blob after this
// one read them: nothing was written, and a retry rotates again.
absl::StatusOr<SigningKeyRotation> RotateSigningKey(store::Store& store,
                                                    keystore::KeyStore& keystore,
                                                    std::string_view actor,
                                                    size_t keep_previous = kKeptPreviousSigningKeys,
                                                    std::optional<SigningKeyType> type = std::nullopt);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_SIGNING_KEYS_H_
