// SoftwareKeyStore: keys sealed with AES-256-GCM under a root key file.
//
// The root key is 32 random bytes in a file of mode 0600, created on first
// use. Anyone who can read that file and the store can open every key, so the
// file must stay readable by the service user alone; OpenOrCreate rejects a
// file that group or others can access.
//
// Sealed blob formats:
//   byte 0       format: 0x01 for a secret or AES key (Seal, GenerateSymmetric,
//                ImportSymmetric, GenerateKey of AES), 0x02 for a private
//                key of GenerateKey, held as PKCS#8 PrivateKeyInfo DER
//   bytes 1..12  AES-GCM nonce (random)
//   then         ciphertext, then the 16-byte GCM tag
// with associated data = format byte || label. Unseal opens format 1 only,
// so a private key leaves only through WrapForRelease.
#ifndef VOUCH_KEYSTORE_SOFTWARE_KEYSTORE_H_
#define VOUCH_KEYSTORE_SOFTWARE_KEYSTORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/keystore/keystore.h"

namespace vouch::keystore {

class SoftwareKeyStore : public KeyStore {
 public:
  // OpenOrCreate loads the root key from `root_key_path`, or creates it with
  // fresh random bytes and mode 0600 when the file does not exist.
  // FailedPrecondition when the file is not a regular file, is owned by
  // another user, is readable or writable by group or others (the message
  // gives the fix, chmod 600), or does not contain exactly 32 bytes.
  static absl::StatusOr<std::unique_ptr<SoftwareKeyStore>> OpenOrCreate(
      const std::string& root_key_path);

  // kFormatVersion is the first byte of secret and AES key blobs, and
  // kPrivateKeyFormat the first byte of RSA and EC private key blobs.
  static constexpr uint8_t kFormatVersion = 1;
  static constexpr uint8_t kPrivateKeyFormat = 2;
  static constexpr size_t kRootKeyBytes = 32;
  // kMaxSecretBytes limits Seal; a sealed PEM of an RSA-8192 key fits.
  static constexpr size_t kMaxSecretBytes = 64 * 1024;
  // kMaxLabelBytes limits labels.
  static constexpr size_t kMaxLabelBytes = 1024;

  std::string_view Name() const override { return "software"; }
  absl::StatusOr<GeneratedKey> GenerateKey(const KeySpec& spec, std::string_view label) override;
  absl::StatusOr<Bytes> GenerateSymmetric(int size_bits, std::string_view label) override;
  absl::StatusOr<Bytes> ImportSymmetric(const SecretBytes& key, std::string_view label) override;
  absl::StatusOr<Bytes> WrapForRelease(ByteSpan sealed, std::string_view label, EVP_PKEY* target,
                                       crypto::HashAlg oaep_hash) override;
  absl::Status DestroyKey(ByteSpan sealed, std::string_view label) override;
  absl::StatusOr<Bytes> Seal(const SecretBytes& secret, std::string_view label) override;
  absl::StatusOr<SecretBytes> Unseal(ByteSpan sealed, std::string_view label) override;

 private:
  explicit SoftwareKeyStore(SecretBytes root_key) : root_key_(std::move(root_key)) {}

  // SealWithFormat and OpenWithFormat implement both blob formats.
  absl::StatusOr<Bytes> SealWithFormat(uint8_t format, const SecretBytes& secret,
                                       std::string_view label);
  absl::StatusOr<SecretBytes> OpenWithFormat(uint8_t format, ByteSpan sealed,
                                             std::string_view label);

  // Set once in the constructor and never changed, so no lock is needed.
  const SecretBytes root_key_;
};

}  // namespace vouch::keystore

#endif  // VOUCH_KEYSTORE_SOFTWARE_KEYSTORE_H_
