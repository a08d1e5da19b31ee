// PKCS#11 keys in backups.
//
// Pkcs11KeyStore keeps every key as a token object with CKA_EXTRACTABLE
// true and puts only a reference (CKA_ID) in the store, so a backup of the
// store alone cannot restore a key. AddPkcs11KeyMaterial adds the keys
// themselves, wrapped:
//   1. a fresh 32-byte wrapping key is drawn for the backup;
//   2. the token imports it as a session object and wraps every key version
//      under it with CKM_AES_KEY_WRAP_KWP, or CKM_AES_KEY_WRAP_PAD where the
//      token lacks KWP (RFC 5649 output; private keys as PKCS#8);
//   3. the wrapping key and the wrapped keys go into the backup content,
//      which AES-256-GCM encrypts under the backup key, so the M-of-N
//      shares protect them like the software key store's root key.
// Blobs sealed by the token (format 0x51, such as the token signing key)
// are opened under their blob name and their secrets carried the same way,
// because the token's seal key has CKA_EXTRACTABLE false.
//
// ImportPkcs11Keys unwraps each key into the target token with the
// attributes that Pkcs11KeyStore::GenerateKey sets and the same CKA_ID and
// CKA_LABEL, so the store's references find them, and seals the secrets
// again under the target token's seal key.
//
// Key versions that cannot leave the token (CKA_EXTRACTABLE false, as keys
// made by another tool may be) or that are missing from it make
// AddPkcs11KeyMaterial fail with a message naming them, unless
// `references_only` is set. Then those versions are backed up as records
// only, and the token itself needs its own backup (docs/backup.md).
#ifndef VOUCH_BACKUP_PKCS11_BACKUP_H_
#define VOUCH_BACKUP_PKCS11_BACKUP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/backup/backup.h"
#include "vouch/keystore/pkcs11_keystore.h"

namespace vouch::backup {

// AddPkcs11KeyMaterial fills contents.wrapping_key, wrapped_keys and
// sealed_secrets from `keystore` for every key version and blob that
// ReadSource put into `contents`. It returns the labels of the key versions
// and the names of the blobs that were left as references (only with
// `references_only`). FailedPrecondition naming every such key or blob
// otherwise.
absl::StatusOr<std::vector<std::string>> AddPkcs11KeyMaterial(keystore::Pkcs11KeyStore& keystore,
                                                              BackupContents& contents,
                                                              bool references_only);

// Pkcs11Import is what ImportPkcs11Keys wrote to the target token.
struct Pkcs11Import {
  // contents.blobs, with each sealed blob sealed again by the target token.
  std::vector<NamedBlob> blobs;
  // Reference and label of every key object created, for DestroyImportedKeys.
  std::vector<std::pair<Bytes, std::string>> created;
};

// ImportPkcs11Keys unwraps every wrapped key of `contents` into the token
// of `keystore` and seals the sealed secrets again. On failure it destroys
// the objects it created, so the token is left as it was. AlreadyExists
// when the token has one of the keys already.
absl::StatusOr<Pkcs11Import> ImportPkcs11Keys(const BackupContents& contents,
                                              keystore::Pkcs11KeyStore& keystore);

// DestroyImportedKeys destroys the key objects of `import`, for a restore
// that failed after ImportPkcs11Keys. Errors are logged, not returned.
void DestroyImportedKeys(keystore::Pkcs11KeyStore& keystore, const Pkcs11Import& import);

}  // namespace vouch::backup

#endif  // VOUCH_BACKUP_PKCS11_BACKUP_H_
