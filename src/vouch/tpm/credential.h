// TPM 2.0 credential protection: the verifier's side of TPM2_MakeCredential,
// done in software, and the checks on an attestation key's public area.
//
// A verifier that trusts an endorsement key (EK) through its certificate
// sends a secret that only the TPM with that EK can recover, and only
// for a key whose name is the attestation key's (AK) name:
// TPM2_ActivateCredential checks both. TPM 2.0 Library Part 1, sections
// "Credential Protection" and "KDFa", give the format.
#ifndef VOUCH_TPM_CREDENTIAL_H_
#define VOUCH_TPM_CREDENTIAL_H_

#include <openssl/evp.h>

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::tpm {

// TPMA_OBJECT bits (TPM 2.0 Part 2, table 31).
inline constexpr uint32_t kTpmaFixedTpm = 0x00000002;
inline constexpr uint32_t kTpmaFixedParent = 0x00000010;
inline constexpr uint32_t kTpmaSensitiveDataOrigin = 0x00000020;
inline constexpr uint32_t kTpmaRestricted = 0x00010000;
inline constexpr uint32_t kTpmaDecrypt = 0x00020000;
inline constexpr uint32_t kTpmaSign = 0x00040000;

// ObjectPublic is a parsed TPMT_PUBLIC of an RSA or ECC key.
struct ObjectPublic {
  uint16_t type = 0;  // TPM_ALG_RSA (0x0001) or TPM_ALG_ECC (0x0023)
  crypto::HashAlg name_alg = crypto::HashAlg::kSha256;
  uint32_t attributes = 0;
  // Storage keys (an EK): the symmetric algorithm of the parameters, AES
  // with this key size in bits; 0 for signing keys.
  uint16_t symmetric_bits = 0;
  crypto::SslPtr<EVP_PKEY> key;
  // The object's name: nameAlg (2 bytes, big-endian) followed by the hash
  // of the marshalled TPMT_PUBLIC.
  Bytes name;
};

// ParsePublicArea unmarshals a TPMT_PUBLIC (or a TPM2B_PUBLIC whose size
// matches the rest) with libtss2-mu and rejects trailing bytes, a type other
// than RSA or ECC (NIST P-256 or P-384), and a nameAlg other than SHA-256,
// SHA-384 or SHA-512. Errors are kInvalidArgument.
absl::StatusOr<ObjectPublic> ParsePublicArea(ByteSpan area);

// CheckAttestationKeyAttributes requires the attributes of a TPM-resident
// attestation key: restricted, sign, fixedTPM, fixedParent and
// sensitiveDataOrigin set, decrypt clear. kInvalidArgument names the first
// attribute that does not fit.
absl::Status CheckAttestationKeyAttributes(const ObjectPublic& ak);

// Kdfa is the TPM's counter-mode KDF with HMAC (TPM 2.0 Part 1, KDFa):
// `bits` bits from HMAC(key, counter || label || 0x00 || context_u ||
// context_v || bits).
SecretBytes Kdfa(crypto::HashAlg alg, const SecretBytes& key, std::string_view label,
                 ByteSpan context_u, ByteSpan context_v, uint32_t bits);

// Kdfe is the TPM's KDF for ECDH (TPM 2.0 Part 1, KDFe, after NIST SP
// 800-56A section 5.8.1): `bits` bits from Hash(counter || z || label ||
// 0x00 || party_u || party_v), counter from 1, truncated.
SecretBytes Kdfe(crypto::HashAlg alg, const SecretBytes& z, std::string_view label,
                 ByteSpan party_u, ByteSpan party_v, uint32_t bits);

struct MadeCredential {
  // TPM2B_ID_OBJECT contents: TPM2B_DIGEST outer HMAC, then the encrypted
  // credential. Both fields carry their size prefix, ready for Tss2_MU.
  Bytes credential_blob;
  // TPM2B_ENCRYPTED_SECRET contents. For an RSA EK, the seed encrypted with
  // RSA-OAEP. For an ECC EK, the marshalled TPMS_ECC_POINT of the ephemeral
  // public key (x and y, each a TPM2B of the curve's coordinate size).
  Bytes encrypted_secret;
};

// MakeCredential protects `credential` (at most the EK's nameAlg digest
// size) for the TPM whose endorsement key is `ek` and for the object named
// `ak_name`, as TPM2_MakeCredential does. The seed comes from the EK type:
// - RSA: a random seed encrypted with RSA-OAEP (label "IDENTITY\0", the
//   EK's nameAlg).
// - ECC (NIST P-256 or P-384): one-pass ECDH with an ephemeral key on the
//   EK's curve. The seed is KDFe(nameAlg, Z = shared point x, "IDENTITY",
//   ephemeral x, EK x, nameAlg digest bits).
// Then an AES-CFB key from KDFa("STORAGE") over `ak_name` encrypts the
// credential, and an HMAC key from KDFa("INTEGRITY") signs it. The EK must
// have an AES-128 or AES-256 symmetric definition (kInvalidArgument).
absl::StatusOr<MadeCredential> MakeCredential(const ObjectPublic& ek, ByteSpan ak_name,
                                              const SecretBytes& credential);

}  // namespace vouch::tpm

#endif  // VOUCH_TPM_CREDENTIAL_H_
