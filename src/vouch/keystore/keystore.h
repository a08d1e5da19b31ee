// KeyStore: key material at rest, sealed so that only the key store opens it.
//
// The software key store (software_keystore.h) seals keys with AES-256-GCM
// under a root key file. A PKCS#11 key store will keep them inside an HSM and
// hand out only a reference. Either way, callers hold opaque sealed blobs,
// which the Store persists. A release wraps the key to the requester's RSA
// key inside the key store, so the caller never receives key bytes.
//
// Every sealed blob is bound to a `label` (the broker uses
// "key:<name>:<version>"), which enters the AEAD associated data: a blob
// copied to another key's record does not open. Implementations are
// thread-safe and share one conformance suite (keystore_conformance_test.h).
#ifndef VOUCH_KEYSTORE_KEYSTORE_H_
#define VOUCH_KEYSTORE_KEYSTORE_H_

#include <openssl/types.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/crypto/hash.h"

namespace vouch::keystore {

// KeyLabel returns the label that binds the sealed blob of one key version:
// "key:<name>:<version>".
inline std::string KeyLabel(std::string_view name, std::string_view version) {
  std::string label = "key:";
  label.append(name).append(":").append(version);
  return label;
}

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Name identifies the implementation in KeyRecord::keystore: "software".
  virtual std::string_view Name() const = 0;

  // GenerateSymmetric makes a random AES key of `size_bits` (128, 192 or 256)
  // and returns it sealed under `label`. InvalidArgument for other sizes.
  virtual absl::StatusOr<Bytes> GenerateSymmetric(int size_bits, std::string_view label) = 0;

  // ImportSymmetric seals a caller-supplied AES key of 16, 24 or 32 bytes.
  virtual absl::StatusOr<Bytes> ImportSymmetric(const SecretBytes& key, std::string_view label) = 0;

  // WrapForRelease opens `sealed` and wraps the key to `target` (an RSA
  // public key) as PKCS#11 CKM_RSA_AES_KEY_WRAP with `oaep_hash` for OAEP
  // and MGF1: RSA-OAEP(fresh AES-256 key) || RFC 5649 wrap of the key under
  // it. The caller never sees the key. Unauthenticated when the blob does not
  // open under `label`.
  virtual absl::StatusOr<Bytes> WrapForRelease(ByteSpan sealed, std::string_view label,
                                               EVP_PKEY* target, crypto::HashAlg oaep_hash) = 0;

  // Seal protects any secret of the service (for example the token signing
  // key's PEM) under `label`. InvalidArgument for an empty secret.
  virtual absl::StatusOr<Bytes> Seal(const SecretBytes& secret, std::string_view label) = 0;

  // Unseal opens a blob made by Seal, GenerateSymmetric or ImportSymmetric
  // with the same label. Unauthenticated when the blob was modified, was
  // sealed under another label or another root key; InvalidArgument when it
  // is not a blob of this key store's format. Errors never contain key bytes.
  virtual absl::StatusOr<SecretBytes> Unseal(ByteSpan sealed, std::string_view label) = 0;
};

}  // namespace vouch::keystore

#endif  // VOUCH_KEYSTORE_KEYSTORE_H_
