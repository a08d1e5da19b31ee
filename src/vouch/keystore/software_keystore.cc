#include "vouch/keystore/software_keystore.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "vouch/base/status.h"
#include "vouch/crypto/aead.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"

namespace vouch::keystore {

namespace {

constexpr size_t kMinSealedBytes = 1 + crypto::kAesGcmNonceBytes + crypto::kAesGcmTagBytes;

absl::Status RootKeyError(std::string_view action, const std::string& path) {
  return FailedPreconditionf("root key file {}: {} failed: {}", path, action, std::strerror(errno));
}

// CheckRootKeyFile rejects a root key file that others could read or replace.
absl::Status CheckRootKeyFile(const struct stat& st, const std::string& path) {
  if (!S_ISREG(st.st_mode)) {
    return FailedPreconditionf("root key file {} is not a regular file", path);
  }
  if (st.st_uid != geteuid()) {
    return FailedPreconditionf(
        "root key file {} is owned by uid {}, but vouch runs as uid {}: chown it to the "
        "service user",
        path, st.st_uid, geteuid());
  }
  if ((st.st_mode & 077) != 0) {
    return FailedPreconditionf(
        "root key file {} has mode {:04o}, which lets group or others access it: run "
        "`chmod 600 {}`",
        path, st.st_mode & 07777, path);
  }
  if (st.st_size != static_cast<off_t>(SoftwareKeyStore::kRootKeyBytes)) {
    return FailedPreconditionf("root key file {} has {} bytes, want {}", path, st.st_size,
                               SoftwareKeyStore::kRootKeyBytes);
  }
  return absl::OkStatus();
}

// ReadRootKey returns NotFound when the file does not exist, so the caller
// can create it.
absl::StatusOr<SecretBytes> ReadRootKey(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return NotFoundf("root key file {} does not exist", path);
    }
    if (errno == ELOOP) {
      return FailedPreconditionf("root key file {} is a symbolic link; use the file itself", path);
    }
    return RootKeyError("open", path);
  }
  absl::Cleanup close_fd = [fd] { close(fd); };

  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return RootKeyError("stat", path);
  }
  VOUCH_RETURN_IF_ERROR(CheckRootKeyFile(st, path));

  SecretBytes key(SoftwareKeyStore::kRootKeyBytes);
  size_t done = 0;
  while (done < key.size()) {
    const ssize_t n = read(fd, key.MutableExpose().data() + done, key.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return RootKeyError("read", path);
    }
    if (n == 0) {
      return FailedPreconditionf("root key file {} is shorter than {} bytes", path, key.size());
    }
    done += static_cast<size_t>(n);
  }
  if (IsAllZero(key.Expose())) {
    return FailedPreconditionf(
        "root key file {} contains only zero bytes, so vouch did not create it: restore the "
        "root key from a backup",
        path);
  }
  return key;
}

absl::Status WriteAll(int fd, ByteSpan data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return absl::InternalError(std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// CreateRootKey writes a new random root key to a private temporary file and
// links it into place. link() fails when `path` exists, so two processes
// starting at once never replace each other's key: the loser gets
// AlreadyExists and reads the winner's file.
absl::Status CreateRootKey(const std::string& path) {
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = mkstemp(temp.data());  // mode 0600
  if (fd < 0) {
    return RootKeyError("create temporary file", path);
  }
  absl::Cleanup remove_temp = [&temp] { unlink(temp.c_str()); };
  {
    absl::Cleanup close_fd = [fd] { close(fd); };
    if (fchmod(fd, 0600) != 0) {
      return RootKeyError("chmod 600", temp);
    }
    const SecretBytes key = crypto::RandomSecret(SoftwareKeyStore::kRootKeyBytes);
    if (!WriteAll(fd, key.Expose()).ok() || fsync(fd) != 0) {
      return RootKeyError("write", temp);
    }
  }
  if (link(temp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(path);
    }
    return RootKeyError("link", path);
  }

  // Make the new directory entry durable before any blob depends on the key.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dir_fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

absl::Status ValidateLabel(std::string_view label) {
  if (label.empty()) {
    return InvalidArgumentf("keystore: label must not be empty");
  }
  if (label.size() > SoftwareKeyStore::kMaxLabelBytes) {
    return InvalidArgumentf("keystore: label has {} bytes, more than the limit of {}", label.size(),
                            SoftwareKeyStore::kMaxLabelBytes);
  }
  return absl::OkStatus();
}

// AssociatedData binds the blob to its format and label.
Bytes AssociatedData(uint8_t format, std::string_view label) {
  Bytes aad;
  aad.reserve(1 + label.size());
  aad.push_back(format);
  aad.insert(aad.end(), label.begin(), label.end());
  return aad;
}

bool IsAesKeySize(size_t bytes) { return bytes == 16 || bytes == 24 || bytes == 32; }

// PrivateKeyToPkcs8Der encodes a private key as PKCS#8 PrivateKeyInfo DER.
absl::StatusOr<SecretBytes> PrivateKeyToPkcs8Der(EVP_PKEY* key) {
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(key);
  if (info == nullptr) {
    return crypto::SslError("keystore: encode PKCS#8");
  }
  absl::Cleanup free_info = [info] { PKCS8_PRIV_KEY_INFO_free(info); };
  unsigned char* der = nullptr;
  const int size = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
  if (size <= 0 || der == nullptr) {
    return crypto::SslError("keystore: encode PKCS#8 DER");
  }
  SecretBytes out(ByteSpan(der, static_cast<size_t>(size)));
  OPENSSL_clear_free(der, static_cast<size_t>(size));
  return out;
}

// GenerateKeyPair makes an RSA or EC key pair of `spec` in this process.
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> GenerateKeyPair(const KeySpec& spec) {
  if (spec.type == KeyType::kRsa) {
    return crypto::GenerateRsaKey(spec.size_bits);
  }
  VOUCH_ASSIGN_OR_RETURN(const std::string curve, EcCurveForSpec(spec));
  return crypto::GenerateEcKey(curve);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SoftwareKeyStore>> SoftwareKeyStore::OpenOrCreate(
    const std::string& root_key_path) {
  absl::StatusOr<SecretBytes> key = ReadRootKey(root_key_path);
  if (absl::IsNotFound(key.status())) {
    const absl::Status created = CreateRootKey(root_key_path);
    if (!created.ok() && !absl::IsAlreadyExists(created)) {
      return created;
    }
    key = ReadRootKey(root_key_path);
  }
  if (!key.ok()) {
    return key.status();
  }
  return std::unique_ptr<SoftwareKeyStore>(new SoftwareKeyStore(std::move(key).value()));
}

absl::StatusOr<GeneratedKey> SoftwareKeyStore::GenerateKey(const KeySpec& spec,
                                                            std::string_view label) {
  VOUCH_RETURN_IF_ERROR(ValidateKeySpec(spec));
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  GeneratedKey generated;
  generated.spec = spec;
  if (spec.type == KeyType::kAes) {
    const SecretBytes key = crypto::RandomSecret(static_cast<size_t>(spec.size_bits / 8));
    VOUCH_ASSIGN_OR_RETURN(generated.sealed, SealWithFormat(kFormatVersion, key, label));
    return generated;
  }

  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> pair, GenerateKeyPair(spec));
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes der, PrivateKeyToPkcs8Der(pair.get()));
  VOUCH_ASSIGN_OR_RETURN(generated.sealed, SealWithFormat(kPrivateKeyFormat, der, label));
  VOUCH_ASSIGN_OR_RETURN(generated.public_key_pem, crypto::PublicKeyToPem(pair.get()));
  VOUCH_ASSIGN_OR_RETURN(generated.public_jwk, crypto::PublicKeyToJwk(pair.get()));
  return generated;
}

absl::StatusOr<Bytes> SoftwareKeyStore::GenerateSymmetric(int size_bits, std::string_view label) {
  VOUCH_ASSIGN_OR_RETURN(GeneratedKey generated, GenerateKey(KeySpec::Aes(size_bits), label));
  return std::move(generated.sealed);
}

absl::StatusOr<Bytes> SoftwareKeyStore::ImportSymmetric(const SecretBytes& key,
                                                        std::string_view label) {
  if (!IsAesKeySize(key.size())) {
    return InvalidArgumentf("keystore: imported AES key has {} bytes, want 16, 24 or 32",
                            key.size());
  }
  return Seal(key, label);
}

absl::StatusOr<Bytes> SoftwareKeyStore::WrapForRelease(ByteSpan sealed, std::string_view label,
                                                       EVP_PKEY* target,
                                                       crypto::HashAlg oaep_hash) {
  if (target == nullptr || !crypto::IsRsaKey(target)) {
    return InvalidArgumentf("keystore: release target for {} must be an RSA public key", label);
  }
  if (!sealed.empty() && sealed[0] == kPrivateKeyFormat) {
    VOUCH_ASSIGN_OR_RETURN(const SecretBytes der, OpenWithFormat(kPrivateKeyFormat, sealed, label));
    absl::StatusOr<Bytes> wrapped = crypto::RsaAesKeyWrap(target, oaep_hash, der.Expose());
    if (!wrapped.ok()) {
      return Prefix(fmt::format("keystore: wrap {} for release", label), wrapped.status());
    }
    return wrapped;
  }
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes key, Unseal(sealed, label));
  // Only AES keys are released; other sealed secrets (such as a signing key)
  // stay inside the service even if a caller passes their label.
  if (!IsAesKeySize(key.size())) {
    return FailedPreconditionf(
        "keystore: {} contains {} bytes, which is not an AES key size, so it cannot be released",
        label, key.size());
  }
  absl::StatusOr<Bytes> wrapped = crypto::RsaAesKeyWrap(target, oaep_hash, key.Expose());
  if (!wrapped.ok()) {
    return Prefix(fmt::format("keystore: wrap {} for release", label), wrapped.status());
  }
  return wrapped;
}

absl::Status SoftwareKeyStore::DestroyKey(ByteSpan sealed, std::string_view label) {
  const uint8_t format = sealed.empty() ? kFormatVersion : sealed[0];
  if (format != kPrivateKeyFormat) {
    return Unseal(sealed, label).status();
  }
  return OpenWithFormat(kPrivateKeyFormat, sealed, label).status();
}

absl::StatusOr<Bytes> SoftwareKeyStore::Seal(const SecretBytes& secret, std::string_view label) {
  return SealWithFormat(kFormatVersion, secret, label);
}

absl::StatusOr<SecretBytes> SoftwareKeyStore::Unseal(ByteSpan sealed, std::string_view label) {
  if (!sealed.empty() && sealed[0] == kPrivateKeyFormat) {
    VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
    return FailedPreconditionf(
        "keystore: sealed blob for {} holds a private key, which leaves only through a release",
        label);
  }
  return OpenWithFormat(kFormatVersion, sealed, label);
}

absl::StatusOr<Bytes> SoftwareKeyStore::SealWithFormat(uint8_t format, const SecretBytes& secret,
                                                       std::string_view label) {
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (secret.empty()) {
    return InvalidArgumentf("keystore: cannot seal an empty secret under {}", label);
  }
  if (secret.size() > kMaxSecretBytes) {
    return InvalidArgumentf("keystore: secret has {} bytes, more than the limit of {}",
                            secret.size(), kMaxSecretBytes);
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes sealed, crypto::AesGcmSeal(root_key_, secret.Expose(),
                                                                AssociatedData(format, label)));
  Bytes blob;
  blob.reserve(1 + sealed.size());
  blob.push_back(format);
  blob.insert(blob.end(), sealed.begin(), sealed.end());
  return blob;
}

absl::StatusOr<SecretBytes> SoftwareKeyStore::OpenWithFormat(uint8_t format, ByteSpan sealed,
                                                             std::string_view label) {
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (sealed.empty()) {
    return InvalidArgumentf("keystore: sealed blob for {} is empty", label);
  }
  if (sealed[0] != format) {
    return InvalidArgumentf("keystore: sealed blob for {} has format version {}, want {}", label,
                            sealed[0], format);
  }
  if (sealed.size() < kMinSealedBytes) {
    return InvalidArgumentf("keystore: sealed blob for {} has {} bytes, want at least {}", label,
                            sealed.size(), kMinSealedBytes);
  }
  absl::StatusOr<SecretBytes> opened =
      crypto::AesGcmOpen(root_key_, sealed.subspan(1), AssociatedData(format, label));
  if (absl::IsUnauthenticated(opened.status())) {
    return Unauthenticatedf(
        "keystore: sealed blob does not open under label {}: it was modified, belongs to "
        "another key, or was sealed under another root key",
        label);
  }
  return opened;
}

}  // namespace vouch::keystore
