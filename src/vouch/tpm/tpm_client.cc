#include "vouch/tpm/tpm_client.h"

#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <cstring>

#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"

namespace vouch::tpm {
namespace {

// Bytes per NV_Read and NV_Write: TPM_PT_NV_BUFFER_MAX is 1024 on swtpm
// (libtpms) and on the TPMs we know of.
constexpr size_t kNvChunkBytes = 1024;

absl::Status TpmError(std::string_view what, TSS2_RC rc) {
  const std::string message = TpmErrorMessage(what, rc);
  // TSS2_BASE_RC_TRY_AGAIN from a TCTI means the command timed out.
  if ((rc & 0xFFFF) == TSS2_BASE_RC_TRY_AGAIN) {
    return absl::DeadlineExceededError(message);
  }
  if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
    return absl::UnavailableError(message);
  }
  return absl::FailedPreconditionError(message);
}

template <typename T>
struct EsysFree {
  void operator()(T* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree<T>>;

TPML_PCR_SELECTION Sha256Selection(const std::vector<uint32_t>& pcrs) {
  TPML_PCR_SELECTION selection{};
  selection.count = 1;
  selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
  selection.pcrSelections[0].sizeofSelect = 3;
  for (uint32_t pcr : pcrs) {
    selection.pcrSelections[0].pcrSelect[pcr / 8] |= static_cast<uint8_t>(1u << (pcr % 8));
  }
  return selection;
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> PublicKeyFromTpm(const TPMT_PUBLIC& area) {
  if (area.type != TPM2_ALG_RSA) {
    return InvalidArgumentf("tpm: key type {:#06x} is not RSA", area.type);
  }
  const uint32_t exponent = area.parameters.rsaDetail.exponent == 0
                                ? 65537
                                : area.parameters.rsaDetail.exponent;
  Bytes e;
  for (int shift = 24; shift >= 0; shift -= 8) {
    if (!e.empty() || ((exponent >> shift) & 0xFF) != 0) {
      e.push_back(static_cast<uint8_t>(exponent >> shift));
    }
  }
  const ByteSpan n(area.unique.rsa.buffer, area.unique.rsa.size);
  return crypto::PublicKeyFromJwk(
      {{"kty", "RSA"}, {"n", Base64UrlEncode(n)}, {"e", Base64UrlEncode(e)}});
}

absl::StatusOr<Bytes> MarshalPublic(const TPMT_PUBLIC& area) {
  Bytes out(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  const TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&area, out.data(), out.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("tpm: marshal public area", rc);
  }
  out.resize(offset);
  return out;
}

}  // namespace

std::string TpmErrorMessage(std::string_view what, uint32_t rc) {
  std::string message = fmt::format("{}: {} ({:#x})", what, Tss2_RC_Decode(rc), rc);
  const uint32_t base = rc & 0xFFF;
  if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
    message += "; the TPM is not reachable: check the TCTI (device or swtpm address)";
  } else if (base == (TPM2_RC_HANDLE & 0xFFF) || base == (TPM2_RC_REFERENCE_H0 & 0xFFF)) {
    message += "; the NV index or key handle does not exist on this TPM";
  } else if ((rc & TPM2_RC_FMT1) != 0 && (rc & 0x3F) == (TPM2_RC_AUTH_FAIL & 0x3F)) {
    message += "; the authorization value is wrong";
  } else if (base == (TPM2_RC_RETRY & 0xFFF) || base == (TPM2_RC_YIELDED & 0xFFF)) {
    message += "; the TPM is busy, retry the command";
  } else if (base == (TPM2_RC_NV_DEFINED & 0xFFF)) {
    message += "; the NV index already exists";
  }
  return message;
}

struct TpmClient::Handles {
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  ESYS_CONTEXT* esys = nullptr;

  ~Handles() {
    if (esys != nullptr) {
      Esys_Finalize(&esys);
    }
    if (tcti != nullptr) {
      Tss2_TctiLdr_Finalize(&tcti);
    }
  }

  absl::StatusOr<ESYS_TR> Object(uint32_t handle) {
    ESYS_TR object = ESYS_TR_NONE;
    const TSS2_RC rc =
        Esys_TR_FromTPMPublic(esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &object);
    if (rc != TSS2_RC_SUCCESS) {
      return TpmError(fmt::format("tpm: handle {:#010x}", handle), rc);
    }
    return object;
  }

  // Persist makes transient `key` persistent at `handle`, replacing the
  // object there, and flushes the transient copy.
  absl::Status Persist(ESYS_TR key, uint32_t handle) {
    absl::StatusOr<ESYS_TR> old = Object(handle);
    if (old.ok()) {
      ESYS_TR removed = ESYS_TR_NONE;
      const TSS2_RC rc = Esys_EvictControl(esys, ESYS_TR_RH_OWNER, *old, ESYS_TR_PASSWORD,
                                           ESYS_TR_NONE, ESYS_TR_NONE, handle, &removed);
      if (rc != TSS2_RC_SUCCESS) {
        Esys_FlushContext(esys, key);
        return TpmError(fmt::format("tpm: remove key at {:#010x}", handle), rc);
      }
    }
    ESYS_TR persistent = ESYS_TR_NONE;
    const TSS2_RC rc = Esys_EvictControl(esys, ESYS_TR_RH_OWNER, key, ESYS_TR_PASSWORD,
                                         ESYS_TR_NONE, ESYS_TR_NONE, handle, &persistent);
    Esys_FlushContext(esys, key);
    if (rc != TSS2_RC_SUCCESS) {
      return TpmError(fmt::format("tpm: persist key at {:#010x}", handle), rc);
    }
    return absl::OkStatus();
  }
};

TpmClient::TpmClient(std::unique_ptr<Handles> handles) : handles_(std::move(handles)) {}
TpmClient::~TpmClient() = default;

absl::StatusOr<std::unique_ptr<TpmClient>> TpmClient::Open(const std::string& tcti,
                                                           absl::Duration timeout) {
  auto handles = std::make_unique<Handles>();
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &handles->tcti);
  if (rc != TSS2_RC_SUCCESS) {
    return absl::UnavailableError(TpmErrorMessage(fmt::format("tpm: open TCTI {:?}", tcti), rc));
  }
  rc = Esys_Initialize(&handles->esys, handles->tcti, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("tpm: initialize ESAPI", rc);
  }
  rc = Esys_SetTimeout(handles->esys, static_cast<int32_t>(absl::ToInt64Milliseconds(timeout)));
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("tpm: set time-out", rc);
  }
  return std::unique_ptr<TpmClient>(new TpmClient(std::move(handles)));
}

absl::StatusOr<bool> TpmClient::NvExists(uint32_t index) {
  ESYS_TR object = ESYS_TR_NONE;
  const TSS2_RC rc = Esys_TR_FromTPMPublic(handles_->esys, index, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, &object);
  if (rc == TSS2_RC_SUCCESS) {
    Esys_TR_Close(handles_->esys, &object);
    return true;
  }
  if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
    return TpmError("tpm: NV read public", rc);
  }
  return false;
}

absl::Status TpmClient::NvDefine(uint32_t index, size_t size) {
  TPM2B_AUTH auth{};
  TPM2B_NV_PUBLIC info{};
  info.nvPublic.nvIndex = index;
  info.nvPublic.nameAlg = TPM2_ALG_SHA256;
  info.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHWRITE |
                             TPMA_NV_AUTHREAD;
  info.nvPublic.dataSize = static_cast<UINT16>(size);
  ESYS_TR object = ESYS_TR_NONE;
  const TSS2_RC rc = Esys_NV_DefineSpace(handles_->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
                                         ESYS_TR_NONE, ESYS_TR_NONE, &auth, &info, &object);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: define NV index {:#010x} of {} bytes", index, size), rc);
  }
  Esys_TR_Close(handles_->esys, &object);
  return absl::OkStatus();
}

absl::Status TpmClient::NvUndefine(uint32_t index) {
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR object, handles_->Object(index));
  const TSS2_RC rc = Esys_NV_UndefineSpace(handles_->esys, ESYS_TR_RH_OWNER, object,
                                           ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: undefine NV index {:#010x}", index), rc);
  }
  return absl::OkStatus();
}

absl::Status TpmClient::NvWrite(uint32_t index, ByteSpan data) {
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR object, handles_->Object(index));
  for (size_t offset = 0; offset < data.size(); offset += kNvChunkBytes) {
    TPM2B_MAX_NV_BUFFER chunk{};
    chunk.size = static_cast<UINT16>(std::min(kNvChunkBytes, data.size() - offset));
    std::memcpy(chunk.buffer, data.data() + offset, chunk.size);
    const TSS2_RC rc =
        Esys_NV_Write(handles_->esys, object, object, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                      &chunk, static_cast<UINT16>(offset));
    if (rc != TSS2_RC_SUCCESS) {
      return TpmError(fmt::format("tpm: write NV index {:#010x} at offset {}", index, offset), rc);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> TpmClient::NvRead(uint32_t index) {
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR object, handles_->Object(index));
  TPM2B_NV_PUBLIC* info_raw = nullptr;
  TSS2_RC rc = Esys_NV_ReadPublic(handles_->esys, object, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &info_raw, nullptr);
  EsysPtr<TPM2B_NV_PUBLIC> info(info_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: read public of NV index {:#010x}", index), rc);
  }
  const size_t size = info->nvPublic.dataSize;
  Bytes out;
  for (size_t offset = 0; offset < size; offset += kNvChunkBytes) {
    TPM2B_MAX_NV_BUFFER* chunk_raw = nullptr;
    rc = Esys_NV_Read(handles_->esys, object, object, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                      static_cast<UINT16>(std::min(kNvChunkBytes, size - offset)),
                      static_cast<UINT16>(offset), &chunk_raw);
    EsysPtr<TPM2B_MAX_NV_BUFFER> chunk(chunk_raw);
    if (rc != TSS2_RC_SUCCESS) {
      return TpmError(fmt::format("tpm: read NV index {:#010x} at offset {}", index, offset), rc);
    }
    out.insert(out.end(), chunk->buffer, chunk->buffer + chunk->size);
  }
  return out;
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> TpmClient::CreateAk(uint32_t persistent_handle,
                                                            ByteSpan unique) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in_public{};
  TPMT_PUBLIC& area = in_public.publicArea;
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  area.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  area.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  area.parameters.rsaDetail.keyBits = 2048;
  if (unique.size() > sizeof(area.unique.rsa.buffer)) {
    return InvalidArgumentf("tpm: attestation key unique field of {} bytes, at most {}",
                            unique.size(), sizeof(area.unique.rsa.buffer));
  }
  std::copy(unique.begin(), unique.end(), area.unique.rsa.buffer);
  area.unique.rsa.size = static_cast<UINT16>(unique.size());
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcrs{};
  ESYS_TR key = ESYS_TR_NONE;
  TPM2B_PUBLIC* out_public_raw = nullptr;
  TSS2_RC rc = Esys_CreatePrimary(handles_->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &sensitive, &in_public, &outside, &creation_pcrs,
                                  &key, &out_public_raw, nullptr, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> out_public(out_public_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("tpm: create attestation key", rc);
  }

  VOUCH_RETURN_IF_ERROR(handles_->Persist(key, persistent_handle));
  return PublicKeyFromTpm(out_public->publicArea);
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> TpmClient::ReadPublicKey(uint32_t handle) {
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR object, handles_->Object(handle));
  TPM2B_PUBLIC* public_raw = nullptr;
  const TSS2_RC rc = Esys_ReadPublic(handles_->esys, object, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &public_raw, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> out_public(public_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: read public key at {:#010x}", handle), rc);
  }
  return PublicKeyFromTpm(out_public->publicArea);
}

absl::StatusOr<Bytes> TpmClient::CreateEk(uint32_t persistent_handle) {
  // TCG EK Credential Profile 2.0, template L-1 (RSA 2048, AES-128-CFB).
  // The auth policy is PolicySecret(TPM_RH_ENDORSEMENT).
  constexpr uint8_t kPolicyEndorsement[] = {
      0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
      0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
      0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in_public{};
  TPMT_PUBLIC& area = in_public.publicArea;
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  area.authPolicy.size = sizeof(kPolicyEndorsement);
  std::memcpy(area.authPolicy.buffer, kPolicyEndorsement, sizeof(kPolicyEndorsement));
  area.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  area.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  area.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  area.parameters.rsaDetail.keyBits = 2048;
  area.unique.rsa.size = 256;

  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcrs{};
  ESYS_TR key = ESYS_TR_NONE;
  TPM2B_PUBLIC* out_public_raw = nullptr;
  const TSS2_RC rc = Esys_CreatePrimary(
      handles_->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
      &sensitive, &in_public, &outside, &creation_pcrs, &key, &out_public_raw, nullptr, nullptr,
      nullptr);
  EsysPtr<TPM2B_PUBLIC> out_public(out_public_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("tpm: create endorsement key", rc);
  }
  VOUCH_RETURN_IF_ERROR(handles_->Persist(key, persistent_handle));
  return MarshalPublic(out_public->publicArea);
}

absl::StatusOr<Bytes> TpmClient::ReadPublicArea(uint32_t handle) {
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR object, handles_->Object(handle));
  TPM2B_PUBLIC* public_raw = nullptr;
  const TSS2_RC rc = Esys_ReadPublic(handles_->esys, object, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &public_raw, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> out_public(public_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: read public area at {:#010x}", handle), rc);
  }
  return MarshalPublic(out_public->publicArea);
}

absl::StatusOr<SecretBytes> TpmClient::ActivateCredential(uint32_t ak_handle, uint32_t ek_handle,
                                                          ByteSpan credential_blob,
                                                          ByteSpan encrypted_secret) {
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  if (credential_blob.size() > sizeof(blob.credential) ||
      encrypted_secret.size() > sizeof(secret.secret)) {
    return InvalidArgumentf("tpm: credential blob of {} bytes or secret of {} bytes is too large",
                            credential_blob.size(), encrypted_secret.size());
  }
  blob.size = static_cast<UINT16>(credential_blob.size());
  std::copy(credential_blob.begin(), credential_blob.end(), blob.credential);
  secret.size = static_cast<UINT16>(encrypted_secret.size());
  std::copy(encrypted_secret.begin(), encrypted_secret.end(), secret.secret);
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR ak, handles_->Object(ak_handle));
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR ek, handles_->Object(ek_handle));

  // The EK's admin role needs a policy session that satisfies
  // PolicySecret(TPM_RH_ENDORSEMENT) with the (empty) endorsement password.
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_NULL;
  ESYS_TR session = ESYS_TR_NONE;
  TSS2_RC rc = Esys_StartAuthSession(handles_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY,
                                     &symmetric, TPM2_ALG_SHA256, &session);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError("tpm: start policy session", rc);
  }
  rc = Esys_PolicySecret(handles_->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD,
                         ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, nullptr,
                         nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(handles_->esys, session);
    return TpmError("tpm: PolicySecret(endorsement)", rc);
  }
  TPM2B_DIGEST* recovered_raw = nullptr;
  rc = Esys_ActivateCredential(handles_->esys, ak, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE,
                               &blob, &secret, &recovered_raw);
  Esys_FlushContext(handles_->esys, session);
  EsysPtr<TPM2B_DIGEST> recovered(recovered_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: activate credential for the key at {:#010x} with the EK at "
                                "{:#010x} (the credential was made for another key or TPM)",
                                ak_handle, ek_handle),
                    rc);
  }
  SecretBytes out(ByteSpan(recovered->buffer, recovered->size));
  OPENSSL_cleanse(recovered->buffer, recovered->size);
  return out;
}

absl::StatusOr<TpmClient::Quote> TpmClient::QuotePcrs(uint32_t ak_handle, ByteSpan nonce,
                                                      const std::vector<uint32_t>& pcrs) {
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof(qualifying.buffer)) {
    return InvalidArgumentf("tpm quote: nonce of {} bytes, at most {}", nonce.size(),
                            sizeof(qualifying.buffer));
  }
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  VOUCH_ASSIGN_OR_RETURN(ESYS_TR ak, handles_->Object(ak_handle));
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  const TPML_PCR_SELECTION selection = Sha256Selection(pcrs);
  TPM2B_ATTEST* attest_raw = nullptr;
  TPMT_SIGNATURE* signature_raw = nullptr;
  const TSS2_RC rc = Esys_Quote(handles_->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                &qualifying, &scheme, &selection, &attest_raw, &signature_raw);
  EsysPtr<TPM2B_ATTEST> attest(attest_raw);
  EsysPtr<TPMT_SIGNATURE> signature(signature_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: quote with the key at {:#010x}", ak_handle), rc);
  }
  Quote out;
  out.attest.assign(attest->attestationData, attest->attestationData + attest->size);
  out.signature.resize(sizeof(TPMT_SIGNATURE));
  size_t offset = 0;
  const TSS2_RC mu = Tss2_MU_TPMT_SIGNATURE_Marshal(signature.get(), out.signature.data(),
                                                    out.signature.size(), &offset);
  if (mu != TSS2_RC_SUCCESS) {
    return TpmError("tpm quote: marshal signature", mu);
  }
  out.signature.resize(offset);
  return out;
}

absl::StatusOr<std::vector<Bytes>> TpmClient::ReadPcrs(uint32_t count) {
  std::vector<Bytes> values(count);
  // PCR_Read returns at most 8 digests per call (TPML_DIGEST), so read in groups.
  for (uint32_t first = 0; first < count; first += 8) {
    std::vector<uint32_t> group;
    for (uint32_t i = first; i < std::min(count, first + 8); ++i) {
      group.push_back(i);
    }
    const TPML_PCR_SELECTION selection = Sha256Selection(group);
    TPML_PCR_SELECTION* selected_raw = nullptr;
    TPML_DIGEST* digests_raw = nullptr;
    UINT32 counter = 0;
    const TSS2_RC rc = Esys_PCR_Read(handles_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     &selection, &counter, &selected_raw, &digests_raw);
    EsysPtr<TPML_PCR_SELECTION> selected(selected_raw);
    EsysPtr<TPML_DIGEST> digests(digests_raw);
    if (rc != TSS2_RC_SUCCESS) {
      return TpmError("tpm: read PCRs", rc);
    }
    if (digests->count != group.size()) {
      return FailedPreconditionf("tpm: read {} of {} SHA-256 PCRs; is the SHA-256 bank active?",
                                 digests->count, group.size());
    }
    for (size_t i = 0; i < group.size(); ++i) {
      values[group[i]].assign(digests->digests[i].buffer,
                              digests->digests[i].buffer + digests->digests[i].size);
    }
  }
  return values;
}

absl::Status TpmClient::ExtendPcr(uint32_t pcr, ByteSpan digest) {
  if (digest.size() != 32 || pcr > 23) {
    return InvalidArgumentf("tpm: extend PCR {} with {} bytes, want PCR 0..23 and 32 bytes", pcr,
                            digest.size());
  }
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memcpy(values.digests[0].digest.sha256, digest.data(), digest.size());
  const TSS2_RC rc = Esys_PCR_Extend(handles_->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
                                     ESYS_TR_NONE, ESYS_TR_NONE, &values);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: extend PCR {}", pcr), rc);
  }
  return absl::OkStatus();
}

}  // namespace vouch::tpm
