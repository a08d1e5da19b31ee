// Token signing-key rotation.
//
// Every node of a deployment signs tokens with the key sealed in store blob
// kSigningKeyBlob (service.h). RotateSigningKey replaces that key with a new
// RSA-3072 key and keeps the public halves of the retired keys in blob
// kPreviousSigningKeysBlob, so tokens signed before the rotation stay
// verifiable: each node publishes those keys in /certs beside the current
// one, and its release validator accepts tokens signed by any of them.
//
// A node reads both blobs when it starts (Service::Open). A node that was
// running during a rotation keeps signing with the old key, and does not
// accept tokens signed with the new key, until it restarts: restart every
// node after a rotation.
// TODO: re-read the key set on a timer and swap the issuer, validator and
// release signer in place, so that running nodes follow without a restart.
#ifndef VOUCH_SERVER_SIGNING_KEYS_H_
#define VOUCH_SERVER_SIGNING_KEYS_H_

#include <openssl/evp.h>

#include <cstddef>
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

// RotateSigningKey generates a new signing key, moves the current key's
// public half to the front of kPreviousSigningKeysBlob (keeping at most
// `keep_previous` keys), stores the new key sealed under kSigningKeyBlob,
// and appends an audit record "token.signing-key.rotate" by `actor`.
// FailedPrecondition when the store has no signing key yet.
// NOTE: the Store interface has no transaction over several blobs, so these
// are three writes in this order. A crash after the first leaves the current
// key listed as previous too, which AddPreviousSigningKeys skips. A crash
// after the second leaves a rotation without its audit record. Two
// rotations at the same time on two nodes may drop one retired key.
absl::StatusOr<SigningKeyRotation> RotateSigningKey(store::Store& store,
                                                    keystore::KeyStore& keystore,
                                                    std::string_view actor,
                                                    size_t keep_previous = kKeptPreviousSigningKeys);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_SIGNING_KEYS_H_
