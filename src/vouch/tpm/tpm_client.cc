#include "vouch/tpm/tpm_client.h"

#include <netdb.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
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

// PolicySecretEndorsementDigest returns the policy digest of
// TPM2_PolicySecret(TPM_RH_ENDORSEMENT) with an empty policyRef, under `alg`
// (TPM 2.0 Part 3, PolicySecret: PolicyUpdate(TPM_CC_PolicySecret,
// authObject name, policyRef)). Under SHA-256 it is the TCG EK Credential
// Profile's PolicyA_SHA256, 837197674484B3F8...
Bytes PolicySecretEndorsementDigest(crypto::HashAlg alg) {
  Bytes first(crypto::HashSize(alg), 0);
  for (uint32_t value : {uint32_t{TPM2_CC_PolicySecret}, uint32_t{TPM2_RH_ENDORSEMENT}}) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      first.push_back(static_cast<uint8_t>(value >> shift));
    }
  }
  // The second hash covers the (empty) policyRef.
  return crypto::Hash(alg, crypto::Hash(alg, first));
}

// SwtpmControlAddress returns host and control port (the command port + 1)
// of a "swtpm:host=H,port=P" TCTI configuration, with tpm2-tss's defaults
// (localhost, 2321), or nullopt for other TCTIs.
std::optional<std::pair<std::string, uint16_t>> SwtpmControlAddress(std::string_view tcti) {
  const size_t colon = tcti.find(':');
  const std::string_view name = tcti.substr(0, colon);
  if (name != "swtpm" && name != "libtss2-tcti-swtpm.so" && name != "libtss2-tcti-swtpm.so.0") {
    return std::nullopt;
  }
  std::string host = "localhost";
  uint32_t port = 2321;
  if (colon != std::string_view::npos) {
    for (absl::string_view pair : absl::StrSplit(AbslView(tcti.substr(colon + 1)), ',')) {
      const size_t equals = pair.find('=');
      if (equals == absl::string_view::npos) {
        continue;
      }
      const absl::string_view key = pair.substr(0, equals);
      const absl::string_view value = pair.substr(equals + 1);
      if (key == "host") {
        host = std::string(value);
      } else if (key == "port" && (!absl::SimpleAtoi(value, &port) || port >= 65535)) {
        return std::nullopt;
      }
    }
  }
  return std::make_pair(host, static_cast<uint16_t>(port + 1));
}

// ProbeSwtpmControl sends CMD_GET_CAPABILITY to swtpm's control port and
// waits up to `timeout` for the 8-byte reply. tpm2-tss 3.2's swtpm TCTI
// reads that port without a time-out while it opens, so without this probe
// a listener that accepts and never replies blocks TpmClient::Open forever.
// A refused connection returns OK: the TCTI then reports it.
absl::Status ProbeSwtpmControl(const std::string& host, uint16_t port, absl::Duration timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    return absl::OkStatus();
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::OkStatus();
  }
  const auto close_fd = absl::MakeCleanup([fd] { ::close(fd); });

  const absl::Time deadline = absl::Now() + timeout;
  const auto wait_for = [&](short events) {
    pollfd entry{fd, events, 0};
    const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    return ::poll(&entry, 1, static_cast<int>(ms)) == 1 && (entry.revents & events) != 0;
  };
  const std::string where = fmt::format("{}:{}", host, port);
  if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      return absl::OkStatus();
    }
    if (!wait_for(POLLOUT)) {
      return absl::DeadlineExceededError(fmt::format(
          "tpm: connecting to the swtpm control port {} timed out after {}", where,
          absl::FormatDuration(timeout)));
    }
    int error = 0;
    socklen_t size = sizeof(error);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) {
      return absl::OkStatus();
    }
  }

  constexpr uint8_t kGetCapability[] = {0, 0, 0, 1};
  if (::send(fd, kGetCapability, sizeof(kGetCapability), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof(kGetCapability))) {
    return absl::OkStatus();
  }
  uint8_t reply[8];
  size_t received = 0;
  while (received < sizeof(reply)) {
    if (!wait_for(POLLIN)) {
      return absl::DeadlineExceededError(fmt::format(
          "tpm: the swtpm control port {} accepted the connection but did not answer "
          "CMD_GET_CAPABILITY within {}; check that swtpm (not another service) listens there",
          where, absl::FormatDuration(timeout)));
    }
    const ssize_t n = ::recv(fd, reply + received, sizeof(reply) - received, 0);
    if (n <= 0) {
      return absl::OkStatus();
    }
    received += static_cast<size_t>(n);
  }
  return absl::OkStatus();
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
  if (const auto control = SwtpmControlAddress(tcti)) {
    VOUCH_RETURN_IF_ERROR(ProbeSwtpmControl(control->first, control->second, timeout));
  }
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

absl::StatusOr<Bytes> TpmClient::CreateEk(uint32_t persistent_handle, EkType type) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in_public{};
  TPMT_PUBLIC& area = in_public.publicArea;
  area.nameAlg = type == EkType::kEccP384 ? TPM2_ALG_SHA384 : TPM2_ALG_SHA256;
  area.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  const Bytes policy = PolicySecretEndorsementDigest(
      type == EkType::kEccP384 ? crypto::HashAlg::kSha384 : crypto::HashAlg::kSha256);
  area.authPolicy.size = static_cast<UINT16>(policy.size());
  std::memcpy(area.authPolicy.buffer, policy.data(), policy.size());
  TPMT_SYM_DEF_OBJECT symmetric{};
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = type == EkType::kEccP384 ? 256 : 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  if (type == EkType::kRsa2048) {
    area.type = TPM2_ALG_RSA;
    area.parameters.rsaDetail.symmetric = symmetric;
    area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    area.parameters.rsaDetail.keyBits = 2048;
    area.unique.rsa.size = 256;
  } else {
    area.type = TPM2_ALG_ECC;
    area.parameters.eccDetail.symmetric = symmetric;
    area.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    area.parameters.eccDetail.curveID =
        type == EkType::kEccP384 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
    area.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    // Template L-2 fills x and y with 32 zero bytes; the P-384 template
    // leaves them empty.
    if (type == EkType::kEccP256) {
      area.unique.ecc.x.size = 32;
      area.unique.ecc.y.size = 32;
    }
  }

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
  TPM2B_PUBLIC* ek_public_raw = nullptr;
  TSS2_RC rc = Esys_ReadPublic(handles_->esys, ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               &ek_public_raw, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> ek_public(ek_public_raw);
  if (rc != TSS2_RC_SUCCESS) {
    return TpmError(fmt::format("tpm: read public area of the EK at {:#010x}", ek_handle), rc);
  }

  // The EK's admin role needs a policy session that satisfies
  // PolicySecret(TPM_RH_ENDORSEMENT) with the (empty) endorsement password.
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_NULL;
  ESYS_TR session = ESYS_TR_NONE;
  rc = Esys_StartAuthSession(handles_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                             ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &symmetric,
                             ek_public->publicArea.nameAlg, &session);
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
