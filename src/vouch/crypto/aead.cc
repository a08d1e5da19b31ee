#include "vouch/crypto/aead.h"

#include <openssl/evp.h>

#include <climits>

#include "vouch/base/status.h"
#include "vouch/crypto/random.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto {
namespace {

// OpenSSL's EVP update functions take int lengths.
constexpr size_t kMaxAeadInputBytes = INT_MAX - 64;

absl::Status CheckSizes(const SecretBytes& key, size_t data_size, size_t aad_size,
                        std::string_view what) {
  if (key.size() != kAesGcmKeyBytes) {
    return InvalidArgumentf("{}: key is {} bytes, want {}", what, key.size(), kAesGcmKeyBytes);
  }
  if (data_size > kMaxAeadInputBytes || aad_size > kMaxAeadInputBytes) {
    return InvalidArgumentf("{}: input larger than {} bytes", what, kMaxAeadInputBytes);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Bytes> AesGcmSeal(const SecretBytes& key32, ByteSpan plaintext, ByteSpan aad) {
  VOUCH_RETURN_IF_ERROR(CheckSizes(key32, plaintext.size(), aad.size(), "aes-gcm seal"));
  Bytes out = RandomBytes(kAesGcmNonceBytes);
  out.resize(kAesGcmNonceBytes + plaintext.size() + kAesGcmTagBytes);
  uint8_t* ciphertext = out.data() + kAesGcmNonceBytes;

  SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  int size = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key32.Expose().data(),
                         out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &size, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ciphertext, &size, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + size, &size) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAesGcmTagBytes),
                          ciphertext + plaintext.size()) != 1) {
    return SslError("aes-gcm seal");
  }
  return out;
}

absl::StatusOr<SecretBytes> AesGcmOpen(const SecretBytes& key32, ByteSpan sealed, ByteSpan aad) {
  VOUCH_RETURN_IF_ERROR(CheckSizes(key32, sealed.size(), aad.size(), "aes-gcm open"));
  if (sealed.size() < kAesGcmNonceBytes + kAesGcmTagBytes) {
    return InvalidArgumentf("aes-gcm open: sealed data is {} bytes, want at least {}",
                            sealed.size(), kAesGcmNonceBytes + kAesGcmTagBytes);
  }
  const ByteSpan nonce = sealed.first(kAesGcmNonceBytes);
  const ByteSpan ciphertext =
      sealed.subspan(kAesGcmNonceBytes, sealed.size() - kAesGcmNonceBytes - kAesGcmTagBytes);
  Bytes tag(sealed.end() - kAesGcmTagBytes, sealed.end());

  SecretBytes plaintext(ciphertext.size());
  uint8_t* out = plaintext.MutableExpose().data();
  SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  int size = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key32.Expose().data(),
                         nonce.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &size, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &size, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAesGcmTagBytes),
                          tag.data()) != 1) {
    return SslError("aes-gcm open");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + size, &size) != 1) {
    ClearSslErrors();
    return Unauthenticatedf("aes-gcm open: authentication tag does not match");
  }
  return plaintext;
}

}  // namespace vouch::crypto
