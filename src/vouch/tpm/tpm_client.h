// TpmClient: the few TPM 2.0 commands vouch needs, through tpm2-tss's ESAPI.
//
// Used by the Azure CVM guest agent (read the HCL report, write user data,
// quote with the AK) and by the swtpm test harness (create the AK, provision
// NV indices, extend PCRs). Every command runs with a time-out, so a TPM that
// stops responding returns kDeadlineExceeded instead of hanging. TPM and TSS
// error codes become messages through Tss2_RC_Decode, with a hint where the
// usual cause is known.
#ifndef VOUCH_TPM_TPM_CLIENT_H_
#define VOUCH_TPM_TPM_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::tpm {

// TpmErrorMessage returns "<what>: <Tss2_RC_Decode text> (0x...)" and a hint
// for common codes (NV index missing, wrong authorization, TPM busy).
std::string TpmErrorMessage(std::string_view what, uint32_t rc);

class TpmClient {
 public:
  // Open connects through the TCTI named by `tcti` (for example
  // "swtpm:host=127.0.0.1,port=2321" or "device:/dev/tpmrm0"), with
  // `timeout` for each command. For a swtpm TCTI, Open first sends
  // CMD_GET_CAPABILITY to the control port (command port + 1) and returns
  // kDeadlineExceeded when no reply comes within `timeout`, because
  // tpm2-tss 3.2's swtpm TCTI reads that port without a time-out.
  // NOTE: a listener that replies to the probe and then stops replying can
  // still block the TCTI while it opens. Device TCTIs open without network
  // reads.
  static absl::StatusOr<std::unique_ptr<TpmClient>> Open(const std::string& tcti,
                                                         absl::Duration timeout = absl::Seconds(10));
  ~TpmClient();
  TpmClient(const TpmClient&) = delete;
  TpmClient& operator=(const TpmClient&) = delete;

  // NvExists is true when the NV index is defined.
  absl::StatusOr<bool> NvExists(uint32_t index);
  // NvDefine defines an index of `size` bytes, readable and writable with
  // owner or (empty) index authorization.
  absl::Status NvDefine(uint32_t index, size_t size);
  // NvUndefine removes an index (owner authorization).
  absl::Status NvUndefine(uint32_t index);
  // NvWrite writes `data` at offset 0, in chunks the TPM accepts.
  absl::Status NvWrite(uint32_t index, ByteSpan data);
  // NvRead reads the whole index.
  absl::StatusOr<Bytes> NvRead(uint32_t index);

  // CreateAk creates an RSA-2048 restricted signing key (RSASSA-PKCS1-v1_5,
  // SHA-256) as an owner-hierarchy primary, makes it persistent at
  // `persistent_handle` (replacing a key there) and returns its public key.
  // The TPM derives a primary key from its seed and the template, so the
  // same template always gives the same key. A non-empty `unique` (at most
  // 512 bytes) goes into the template's unique field and gives another key.
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> CreateAk(uint32_t persistent_handle,
                                                    ByteSpan unique = {});
  // CreateEk creates an endorsement key, makes it persistent at
  // `persistent_handle` (replacing a key there) and returns its marshalled
  // TPMT_PUBLIC. The admin policy is PolicySecret(endorsement) under the
  // key's nameAlg. kRsa2048 and kEccP256 are templates L-1 and L-2 of the
  // TCG EK Credential Profile 2.0 (AES-128-CFB, SHA-256). kEccP384 uses
  // SHA-384 and AES-256-CFB like the profile's high-range P-384 template,
  // but with the simpler PolicySecret policy.
  enum class EkType { kRsa2048, kEccP256, kEccP384 };
  absl::StatusOr<Bytes> CreateEk(uint32_t persistent_handle, EkType type = EkType::kRsa2048);
  // ReadPublicArea returns the marshalled TPMT_PUBLIC of a persistent key.
  absl::StatusOr<Bytes> ReadPublicArea(uint32_t handle);
  // ActivateCredential recovers the credential that MakeCredential made for
  // the key at `ak_handle` and the EK at `ek_handle` (TPM2_ActivateCredential
  // with a PolicySecret(endorsement) session for the EK, under the EK's
  // nameAlg). The TPM fails it
  // when the credential was made for another key name or another EK.
  absl::StatusOr<SecretBytes> ActivateCredential(uint32_t ak_handle, uint32_t ek_handle,
                                                 ByteSpan credential_blob,
                                                 ByteSpan encrypted_secret);
  // ReadPublicKey returns the public key of a persistent RSA or EC key.
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> ReadPublicKey(uint32_t handle);

  struct Quote {
    Bytes attest;     // TPMS_ATTEST, as signed
    Bytes signature;  // marshalled TPMT_SIGNATURE
  };
  // QuotePcrs quotes SHA-256 PCRs `pcrs` with the key at `ak_handle` and
  // `nonce` (at most 64 bytes) as qualifying data.
  absl::StatusOr<Quote> QuotePcrs(uint32_t ak_handle, ByteSpan nonce,
                                  const std::vector<uint32_t>& pcrs);
  // ReadPcrs returns SHA-256 PCRs 0..count-1.
  absl::StatusOr<std::vector<Bytes>> ReadPcrs(uint32_t count = 24);
  // ExtendPcr extends a SHA-256 PCR with `digest` (32 bytes).
  absl::Status ExtendPcr(uint32_t pcr, ByteSpan digest);

 private:
  struct Handles;
  explicit TpmClient(std::unique_ptr<Handles> handles);

  std::unique_ptr<Handles> handles_;
};

}  // namespace vouch::tpm

#endif  // VOUCH_TPM_TPM_CLIENT_H_
