// KeyStore: key material at rest, sealed so that only the key store opens it.
//
// The software key store (software_keystore.h) seals keys with AES-256-GCM
// under a root key file. The PKCS#11 key store (pkcs11_keystore.h) keeps keys
// inside a token and hands out only a reference to the token object. Either
// way, callers hold opaque sealed blobs, which the Store persists. A release
// wraps the key to the requester's RSA key inside the key store, so the
// caller never receives key bytes.
//
// Every sealed blob is bound to a `label` (the broker uses
// "key:<name>:<version>"): the software key store puts it in the AEAD
// associated data, and the PKCS#11 key store derives the token object's
// CKA_ID from it. A blob copied to another key's record does not open.
// Implementations are thread-safe and share one conformance suite
// (keystore_conformance_test.h).
#ifndef VOUCH_KEYSTORE_KEYSTORE_H_
#define VOUCH_KEYSTORE_KEYSTORE_H_

#include <openssl/types.h>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "absl/status/status.h"
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

// KeyType is the family of a key made by GenerateKey.
enum class KeyType {
  kAes,  // raw AES key bytes
  kRsa,  // RSA private key
  kEc,   // EC private key on P-256 or P-384
};

// KeySpec selects the key GenerateKey makes. `size_bits` is the AES key
// size (128, 192 or 256), the RSA modulus size (2048, 3072 or 4096), or the
// EC curve size (256 for P-256, 384 for P-384).
struct KeySpec {
  KeyType type = KeyType::kAes;
  int size_bits = 256;

  static KeySpec Aes(int bits) { return {KeyType::kAes, bits}; }
  static KeySpec Rsa(int bits) { return {KeyType::kRsa, bits}; }
  static KeySpec Ec(int bits) { return {KeyType::kEc, bits}; }
  bool operator==(const KeySpec&) const = default;
};

// ValidateKeySpec returns InvalidArgument, listing the accepted sizes, for a
// size that the key type does not have.
absl::Status ValidateKeySpec(const KeySpec& spec);

// KeySpecName returns "AES-256", "RSA-3072" or "EC-P-384".
std::string KeySpecName(const KeySpec& spec);

// EcCurveForSpec returns the JOSE curve name of an EC spec, "P-256" or
// "P-384"; InvalidArgument for other specs.
absl::StatusOr<std::string> EcCurveForSpec(const KeySpec& spec);

// ReleasedKeyFormat names what the bytes inside a release are:
//   AES:     the raw key bytes (16, 24 or 32).
//   RSA, EC: the private key as PKCS#8 PrivateKeyInfo DER (RFC 5208), the
//            format that PKCS#11 CKM_RSA_AES_KEY_WRAP carries for private
//            keys and that Azure Key Vault's BYOK import expects.
enum class ReleasedKeyFormat {
  kRawAes,
  kPkcs8Der,
};
ReleasedKeyFormat ReleasedFormatFor(KeyType type);

// ReleasedPkcs8Der returns the PKCS#8 DER at the start of an unwrapped
// private key release, dropping the zero bytes after it. SoftHSM2 2.6.1 pads
// the DER with zero bytes to a multiple of 8 before CKM_AES_KEY_WRAP_PAD, so
// its releases carry up to 7 such bytes; other key stores add none.
// InvalidArgument when the bytes do not start with a DER SEQUENCE or
// anything but zero bytes (at most 7) follows it.
absl::StatusOr<SecretBytes> ReleasedPkcs8Der(const SecretBytes& released);

// GeneratedKey is the result of GenerateKey.
struct GeneratedKey {
  KeySpec spec;
  // The blob to persist: for the software key store the key sealed under
  // the root key, for PKCS#11 a reference to the token object (never the
  // key itself).
  Bytes sealed;
  // RSA and EC only: the public key as SubjectPublicKeyInfo PEM and as a
  // JWK (RFC 7517, members kty, n, e or kty, crv, x, y; no kid). Empty for AES.
  std::string public_key_pem;
  nlohmann::json public_jwk;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Name identifies the implementation in KeyRecord::keystore: "software"
  // or "pkcs11".
  virtual std::string_view Name() const = 0;

  // GenerateKey makes a key of `spec` inside the key store and returns the
  // blob bound to `label`, with the public key for RSA and EC.
  // InvalidArgument for an invalid spec or label.
  virtual absl::StatusOr<GeneratedKey> GenerateKey(const KeySpec& spec, std::string_view label) = 0;

  // GenerateSymmetric is GenerateKey(KeySpec::Aes(size_bits), label).sealed.
  virtual absl::StatusOr<Bytes> GenerateSymmetric(int size_bits, std::string_view label) = 0;

  // ImportSymmetric stores a caller-supplied AES key of 16, 24 or 32 bytes
  // and returns its blob, which WrapForRelease accepts.
  virtual absl::StatusOr<Bytes> ImportSymmetric(const SecretBytes& key, std::string_view label) = 0;

  // WrapForRelease wraps the key of `sealed` to `target` (an RSA public
  // key) as PKCS#11 CKM_RSA_AES_KEY_WRAP with `oaep_hash` for OAEP and MGF1:
  // RSA-OAEP(fresh AES-256 key) || RFC 5649 wrap of the key under it. The
  // wrapped bytes are ReleasedFormatFor(type): raw bytes for AES, PKCS#8 DER
  // for RSA and EC. The caller never sees the key.
  // Errors: Unauthenticated when the blob does not open under `label`, and
  // InvalidArgument for a missing or non-RSA target. FailedPrecondition for
  // a sealed secret that is no key (Seal output of another size). In the
  // PKCS#11 key store also FailedPrecondition for a mechanism the token
  // lacks, and the message names it.
  virtual absl::StatusOr<Bytes> WrapForRelease(ByteSpan sealed, std::string_view label,
                                               EVP_PKEY* target, crypto::HashAlg oaep_hash) = 0;

  // DestroyKey removes the key of `sealed` for good (a purge). The software
  // key store keeps nothing outside the blob, so it only checks that the
  // blob opens under `label`, and the caller deletes the blob. The PKCS#11 key
  // store destroys the token object. Destroying a key that is already gone
  // succeeds, so a purge interrupted after this call can be repeated.
  virtual absl::Status DestroyKey(ByteSpan sealed, std::string_view label) = 0;

  // Seal protects any secret of the service (for example the token signing
  // key's PEM) under `label`. InvalidArgument for an empty secret.
  virtual absl::StatusOr<Bytes> Seal(const SecretBytes& secret, std::string_view label) = 0;

  // Unseal opens a blob made by Seal with the same label. The software key
  // store also opens AES blobs of GenerateSymmetric and ImportSymmetric; key
  // blobs that refer to a token object, and private keys of GenerateKey,
  // give FailedPrecondition, because those keys leave only wrapped.
  // Unauthenticated when the blob was modified, was sealed under another
  // label or another root key; InvalidArgument when it is not a blob of this
  // key store's format. Errors never contain key bytes.
  virtual absl::StatusOr<SecretBytes> Unseal(ByteSpan sealed, std::string_view label) = 0;
};

}  // namespace vouch::keystore

#endif  // VOUCH_KEYSTORE_KEYSTORE_H_
