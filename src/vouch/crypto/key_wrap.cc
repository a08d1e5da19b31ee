#include "vouch/crypto/key_wrap.h"

#include <openssl/rsa.h>

#include "vouch/base/status.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto {
namespace {

constexpr size_t kAesKwBlockBytes = 8;

const EVP_CIPHER* WrapCipher(size_t kek_size, bool pad) {
  switch (kek_size) {
    case 16:
      return pad ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap();
    case 24:
      return pad ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap();
    case 32:
      return pad ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
    default:
      return nullptr;
  }
}

// RunWrapCipher wraps (encrypt = true) or unwraps `input` into `out`, which
// must be large enough, and returns the output size. OpenSSL's wrap modes
// process the whole input in one EVP_CipherUpdate call.
absl::StatusOr<size_t> RunWrapCipher(const SecretBytes& kek, bool pad, bool encrypt,
                                     ByteSpan input, std::span<uint8_t> out,
                                     std::string_view what) {
  const EVP_CIPHER* cipher = WrapCipher(kek.size(), pad);
  if (cipher == nullptr) {
    return InvalidArgumentf("{}: KEK is {} bytes, want 16, 24 or 32", what, kek.size());
  }
  SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) {
    return SslError(what);
  }
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, kek.Expose().data(), nullptr,
                        encrypt ? 1 : 0) != 1) {
    return SslError(what);
  }
  int size = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &size, input.data(),
                       static_cast<int>(input.size())) != 1 ||
      size < 0) {
    if (encrypt) {
      return SslError(what);
    }
    ClearSslErrors();
    return Unauthenticatedf("{}: integrity check failed (wrong KEK or modified input)", what);
  }
  return static_cast<size_t>(size);
}

absl::StatusOr<Bytes> Wrap(const SecretBytes& kek, ByteSpan key, bool pad) {
  const std::string_view what = pad ? "aes key wrap with padding" : "aes key wrap";
  if (key.empty() || key.size() > kMaxWrappedKeyBytes) {
    return InvalidArgumentf("{}: key is {} bytes, want 1 to {}", what, key.size(),
                            kMaxWrappedKeyBytes);
  }
  if (!pad && (key.size() < 2 * kAesKwBlockBytes || key.size() % kAesKwBlockBytes != 0)) {
    return InvalidArgumentf("{}: key is {} bytes, want a multiple of 8 and at least 16", what,
                            key.size());
  }
  const size_t padded = (key.size() + kAesKwBlockBytes - 1) / kAesKwBlockBytes * kAesKwBlockBytes;
  Bytes out(padded + kAesKwBlockBytes);
  VOUCH_ASSIGN_OR_RETURN(const size_t size, RunWrapCipher(kek, pad, true, key, out, what));
  if (size != out.size()) {
    return Internalf("{}: output is {} bytes, want {}", what, size, out.size());
  }
  return out;
}

absl::StatusOr<SecretBytes> Unwrap(const SecretBytes& kek, ByteSpan wrapped, bool pad) {
  const std::string_view what = pad ? "aes key unwrap with padding" : "aes key unwrap";
  const size_t min_size = pad ? 2 * kAesKwBlockBytes : 3 * kAesKwBlockBytes;
  if (wrapped.size() < min_size || wrapped.size() % kAesKwBlockBytes != 0 ||
      wrapped.size() > kMaxWrappedKeyBytes + kAesKwBlockBytes) {
    return InvalidArgumentf("{}: input is {} bytes, want a multiple of 8 from {} to {}", what,
                            wrapped.size(), min_size, kMaxWrappedKeyBytes + kAesKwBlockBytes);
  }
  SecretBytes out(wrapped.size());
  VOUCH_ASSIGN_OR_RETURN(const size_t size,
                         RunWrapCipher(kek, pad, false, wrapped, out.MutableExpose(), what));
  return SecretBytes(out.Expose().first(size));
}

absl::StatusOr<SslPtr<EVP_PKEY_CTX>> OaepContext(EVP_PKEY* key, HashAlg hash, bool encrypt) {
  const std::string_view what = encrypt ? "rsa-oaep encrypt" : "rsa-oaep decrypt";
  if (!IsRsaKey(key)) {
    return InvalidArgumentf("{}: key is not an RSA key", what);
  }
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) {
    return SslError(what);
  }
  const int init = encrypt ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get());
  if (init != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EvpMd(hash)) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EvpMd(hash)) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument, what);
  }
  return ctx;
}

}  // namespace

absl::StatusOr<Bytes> AesKeyWrapPad(const SecretBytes& kek, ByteSpan key) {
  return Wrap(kek, key, /*pad=*/true);
}

absl::StatusOr<SecretBytes> AesKeyUnwrapPad(const SecretBytes& kek, ByteSpan wrapped) {
  return Unwrap(kek, wrapped, /*pad=*/true);
}

absl::StatusOr<Bytes> AesKeyWrap(const SecretBytes& kek, ByteSpan key) {
  return Wrap(kek, key, /*pad=*/false);
}

absl::StatusOr<SecretBytes> AesKeyUnwrap(const SecretBytes& kek, ByteSpan wrapped) {
  return Unwrap(kek, wrapped, /*pad=*/false);
}

absl::StatusOr<Bytes> RsaOaepEncrypt(EVP_PKEY* public_key, HashAlg hash, ByteSpan plaintext) {
  VOUCH_ASSIGN_OR_RETURN(const SslPtr<EVP_PKEY_CTX> ctx, OaepContext(public_key, hash, true));
  size_t size = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &size, plaintext.data(), plaintext.size()) != 1) {
    return SslError("rsa-oaep encrypt: size");
  }
  Bytes out(size);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &size, plaintext.data(), plaintext.size()) != 1) {
    // The usual cause is a plaintext longer than the modulus size minus
    // 2 * hash size + 2 (RFC 8017 section 7.1.1).
    return SslError(absl::StatusCode::kInvalidArgument,
                    fmt::format("rsa-oaep encrypt {} bytes with {}", plaintext.size(),
                                HashAlgName(hash)));
  }
  out.resize(size);
  return out;
}

absl::StatusOr<SecretBytes> RsaOaepDecrypt(EVP_PKEY* private_key, HashAlg hash,
                                           ByteSpan ciphertext) {
  VOUCH_ASSIGN_OR_RETURN(const SslPtr<EVP_PKEY_CTX> ctx, OaepContext(private_key, hash, false));
  size_t size = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &size, ciphertext.data(), ciphertext.size()) != 1) {
    return SslError("rsa-oaep decrypt: size");
  }
  SecretBytes out(size);
  if (EVP_PKEY_decrypt(ctx.get(), out.MutableExpose().data(), &size, ciphertext.data(),
                       ciphertext.size()) != 1) {
    ClearSslErrors();
    return Unauthenticatedf("rsa-oaep decrypt: decryption with {} failed", HashAlgName(hash));
  }
  return SecretBytes(out.Expose().first(size));
}

absl::StatusOr<Bytes> RsaAesKeyWrap(EVP_PKEY* public_key, HashAlg oaep_hash, ByteSpan target_key) {
  const SecretBytes aes_key = RandomSecret(32);
  VOUCH_ASSIGN_OR_RETURN(Bytes out, RsaOaepEncrypt(public_key, oaep_hash, aes_key.Expose()));
  VOUCH_ASSIGN_OR_RETURN(const Bytes wrapped, AesKeyWrapPad(aes_key, target_key));
  out.insert(out.end(), wrapped.begin(), wrapped.end());
  return out;
}

absl::StatusOr<SecretBytes> RsaAesKeyUnwrap(EVP_PKEY* private_key, HashAlg oaep_hash,
                                            ByteSpan wrapped) {
  if (!IsRsaKey(private_key)) {
    return InvalidArgumentf("rsa-aes key unwrap: key is not an RSA key");
  }
  const size_t modulus_size = static_cast<size_t>(EVP_PKEY_get_size(private_key));
  if (wrapped.size() < modulus_size + 2 * kAesKwBlockBytes) {
    return InvalidArgumentf("rsa-aes key unwrap: input is {} bytes, want at least {}",
                            wrapped.size(), modulus_size + 2 * kAesKwBlockBytes);
  }
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes aes_key,
                         RsaOaepDecrypt(private_key, oaep_hash, wrapped.first(modulus_size)));
  if (aes_key.size() != 16 && aes_key.size() != 24 && aes_key.size() != 32) {
    return Unauthenticatedf("rsa-aes key unwrap: temporary AES key is {} bytes, want 16, 24 or 32",
                            aes_key.size());
  }
  return AesKeyUnwrapPad(aes_key, wrapped.subspan(modulus_size));
}

}  // namespace vouch::crypto
