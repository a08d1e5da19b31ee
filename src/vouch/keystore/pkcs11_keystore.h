// Pkcs11KeyStore: keys generated and kept inside a PKCS#11 token (an HSM, or
// SoftHSM2 for tests); the blobs it returns are references, never keys.
//
// Token objects of a key (GenerateKey, GenerateSymmetric, ImportSymmetric):
// CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE true; CKA_EXTRACTABLE true,
// because a release wraps the key out of the token; CKA_LABEL = the vouch
// label ("key:NAME:VERSION") and CKA_ID = 16 random bytes. RSA and EC key
// pairs share label and id.
//
// Blob formats (byte 0):
//   0x50 key reference:  0x50 || key type (1 AES, 2 RSA, 3 EC) ||
//                        size in bits (2 bytes, big-endian) || CKA_ID (16)
//                        The object is looked up by CKA_ID and CKA_LABEL, so a
//                        reference used under another label finds nothing.
//   0x51 sealed secret:  0x51 || CKA_ID of the seal key (16) || GCM IV (12) ||
//                        ciphertext || tag (16), made by CKM_AES_GCM inside
//                        the token with associated data 0x51 || seal key id
//                        || label. The seal key is a token AES-256 key with
//                        CKA_LABEL "vouch:seal-key" and CKA_EXTRACTABLE false,
//                        created on first use.
//
// Release (WrapForRelease), inside the token:
//   1. the requester's RSA public key becomes a session object (CKA_TOKEN
//      false, CKA_WRAP true);
//   2. C_GenerateKey makes a session AES-256 key (CKA_TOKEN false,
//      CKA_SENSITIVE true, CKA_EXTRACTABLE true);
//   3. C_WrapKey wraps the target under it with CKM_AES_KEY_WRAP_KWP, or
//      CKM_AES_KEY_WRAP_PAD where the token lacks KWP (SoftHSM2 2.6
//      implements _PAD as RFC 5649); private keys come out as PKCS#8;
//   4. C_WrapKey wraps the session key with CKM_RSA_PKCS_OAEP (MGF1 with the
//      same hash, empty label) to the requester's key;
//   5. both session objects are destroyed.
// Output: RSA ciphertext || RFC 5649 output, the byte layout of
// CKM_RSA_AES_KEY_WRAP that crypto::RsaAesKeyUnwrap reads.
//
// Where the token rejects OAEP with the requested hash (SoftHSM2 2.6 accepts
// only SHA-1), the release fails with FailedPrecondition naming the
// mechanism, unless `host_oaep` is set: then the session AES key is made
// with CKA_SENSITIVE false, read out, and RSA-OAEP runs in this process. The
// target key still never leaves the token in clear; only the one-time
// session key passes through this process's memory.
//
// Sessions: one read-write session, used under a mutex. A call that fails
// because the session or login was lost (IsLostSession) re-opens the
// session, logs in again and is retried once.
#ifndef VOUCH_KEYSTORE_PKCS11_KEYSTORE_H_
#define VOUCH_KEYSTORE_PKCS11_KEYSTORE_H_

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "vouch/base/mutex.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/keystore/keystore.h"
#include "vouch/keystore/pkcs11_module.h"

namespace vouch::keystore {

// KeyReference is a parsed key reference blob (format 0x50).
struct KeyReference {
  KeySpec spec;
  Bytes id;  // CKA_ID, Pkcs11KeyStore::kObjectIdBytes
};

// The environment variable ReadPkcs11Pin falls back to.
inline constexpr std::string_view kPkcs11PinEnv = "VOUCH_PKCS11_PIN";

struct Pkcs11Options {
  // Path of the module, e.g. /usr/lib/softhsm/libsofthsm2.so.
  std::string module_path;
  // The token, by CKA_LABEL of its token info (token_label) or by slot id.
  // Exactly one must be set.
  std::string token_label;
  std::optional<uint64_t> slot;
  // The user PIN (see ReadPkcs11Pin). Never logged.
  SecretBytes pin;
  // Run RSA-OAEP of the session key in this process when the token lacks
  // OAEP with the requested hash (see above). Off by default.
  bool host_oaep = false;
};

// ReadPkcs11Pin reads the PIN from `pin_file` (trailing newline and
// whitespace removed; the file must not be accessible by group or others),
// or, when `pin_file` is empty, from the environment variable
// VOUCH_PKCS11_PIN. InvalidArgument when neither gives a non-empty PIN.
absl::StatusOr<SecretBytes> ReadPkcs11Pin(const std::string& pin_file);

class Pkcs11KeyStore : public KeyStore {
 public:
  static constexpr uint8_t kReferenceFormat = 0x50;
  static constexpr uint8_t kSealedFormat = 0x51;
  static constexpr size_t kObjectIdBytes = 16;
  static constexpr size_t kMaxSecretBytes = 64 * 1024;
  static constexpr size_t kMaxLabelBytes = 1024;
  static constexpr std::string_view kSealKeyLabel = "vouch:seal-key";

  // Open loads the module, finds the token, opens a session and logs in.
  // Errors name the step and the fix: NotFound for a missing module file or
  // token, PermissionDenied for a wrong or locked PIN, InvalidArgument for
  // options that select no token or both a label and a slot.
  static absl::StatusOr<std::unique_ptr<Pkcs11KeyStore>> Open(Pkcs11Options options);

  ~Pkcs11KeyStore() override;

  std::string_view Name() const override { return "pkcs11"; }
  absl::StatusOr<GeneratedKey> GenerateKey(const KeySpec& spec, std::string_view label) override;
  absl::StatusOr<Bytes> GenerateSymmetric(int size_bits, std::string_view label) override;
  absl::StatusOr<Bytes> ImportSymmetric(const SecretBytes& key, std::string_view label) override;
  absl::StatusOr<Bytes> WrapForRelease(ByteSpan sealed, std::string_view label, EVP_PKEY* target,
                                       crypto::HashAlg oaep_hash) override;
  absl::Status DestroyKey(ByteSpan sealed, std::string_view label) override;
  absl::StatusOr<Bytes> Seal(const SecretBytes& secret, std::string_view label) override;
  absl::StatusOr<SecretBytes> Unseal(ByteSpan sealed, std::string_view label) override;

  // The key wrap mechanism chosen at Open: kCkmAesKeyWrapKwp or
  // CKM_AES_KEY_WRAP_PAD.
  CK_MECHANISM_TYPE key_wrap_mechanism() const { return key_wrap_mechanism_; }

  // Backups (backup/pkcs11_backup.h) move keys between tokens wrapped under
  // a per-backup AES-256 key. ExportWrapped and ImportWrapped import that
  // key as a session object (CKA_TOKEN false, CKA_EXTRACTABLE false) and
  // destroy it before they return.

  // ExportWrapped wraps the key object of `sealed` (the private key of a
  // key pair) under `wrapping_key` with key_wrap_mechanism(): RFC 5649
  // output of the raw AES key or of the PKCS#8 private key. NotFound when
  // the token has no object for the reference; FailedPrecondition naming
  // `label` when the object has CKA_EXTRACTABLE false.
  absl::StatusOr<Bytes> ExportWrapped(ByteSpan sealed, std::string_view label,
                                      const SecretBytes& wrapping_key);

  // ImportWrapped unwraps `wrapped` (ExportWrapped output) into a token
  // object with the attributes that GenerateKey sets, the CKA_ID of `sealed`
  // and CKA_LABEL `label`. For RSA and EC keys it also creates the public
  // key object from `public_key_der` (SubjectPublicKeyInfo). AlreadyExists
  // when the token has an object with that id and label already. A failure
  // after the unwrap destroys what the call created.
  absl::Status ImportWrapped(ByteSpan sealed, std::string_view label,
                             const SecretBytes& wrapping_key, ByteSpan wrapped,
                             ByteSpan public_key_der);

  // SetNotExtractableForTest sets CKA_EXTRACTABLE false on the key object of
  // `sealed`, as a key made by another tool may have it.
  absl::Status SetNotExtractableForTest(ByteSpan sealed, std::string_view label);

  // EncryptWithKeyForTest encrypts `plaintext` with CKM_AES_ECB (a multiple
  // of 16 bytes) under the AES key of `sealed`, inside the token, so a test
  // can compare a generated key with its released bytes.
  absl::StatusOr<Bytes> EncryptWithKeyForTest(ByteSpan sealed, std::string_view label,
                                              ByteSpan plaintext);

  // CloseSessionForTest closes the session behind the key store's back, as
  // a token reset would, to test the re-open path.
  void CloseSessionForTest();

  // A failed step inside a session: the call and its return value.
  struct Step {
    CK_RV rv = CKR_OK;
    const char* call = "";
    bool ok() const { return rv == CKR_OK; }
  };

 private:
  Pkcs11KeyStore(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot, std::string token_name,
                 SecretBytes pin, bool host_oaep)
      : module_(std::move(module)),
        fn_(module_->functions()),
        slot_(slot),
        token_name_(std::move(token_name)),
        pin_(std::move(pin)),
        host_oaep_(host_oaep) {}

  // RunInSession runs `body` with the session under the mutex. When a step
  // fails with IsLostSession, it re-opens the session and runs `body` once
  // more. A failure becomes Pkcs11Error(operation, step.call, step.rv).
  absl::Status RunInSession(std::string_view operation,
                            const std::function<Step(CK_SESSION_HANDLE)>& body);
  // OpenSessionLocked opens a read-write session and logs in.
  absl::Status OpenSessionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // ChooseMechanisms reads the token's mechanism list and picks the key
  // wrap mechanism; FailedPrecondition when a required one is missing.
  absl::Status ChooseMechanisms();
  // CreateWrappingKey imports `wrapping_key` as a session AES key with
  // CKA_WRAP and CKA_UNWRAP.
  Step CreateWrappingKey(CK_SESSION_HANDLE session, const SecretBytes& wrapping_key,
                         CK_OBJECT_HANDLE& handle);
  // FindOrCreateSealKey sets seal_key_id_, creating the seal key when the
  // token has none.
  absl::Status FindOrCreateSealKey();
  // WrapInToken runs the release steps; with `host_oaep`, step 4 runs in
  // this process. `oaep_rejected` is set when the token refused step 4.
  absl::StatusOr<Bytes> WrapInToken(const KeyReference& reference, std::string_view label,
                                    EVP_PKEY* target, crypto::HashAlg oaep_hash, bool host_oaep,
                                    bool& oaep_rejected);

  const std::shared_ptr<Pkcs11Module> module_;
  CK_FUNCTION_LIST* const fn_;
  const CK_SLOT_ID slot_;
  const std::string token_name_;  // for messages: "token 'vouch' (slot 3)"
  const SecretBytes pin_;
  const bool host_oaep_;
  CK_MECHANISM_TYPE key_wrap_mechanism_ = CKM_AES_KEY_WRAP_PAD;
  bool has_gcm_ = false;

  Mutex mutex_;
  CK_SESSION_HANDLE session_ ABSL_GUARDED_BY(mutex_) = CK_INVALID_HANDLE;
  // CKA_ID of the token AES key that Seal uses, set by Open.
  Bytes seal_key_id_;
};

}  // namespace vouch::keystore

#endif  // VOUCH_KEYSTORE_PKCS11_KEYSTORE_H_
