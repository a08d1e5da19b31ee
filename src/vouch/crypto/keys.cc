#include "vouch/crypto/keys.h"

#include <openssl/pem.h>

#include "vouch/base/status.h"

namespace vouch::crypto {
namespace {

struct CurveNames {
  std::string_view jose;     // RFC 7518 "crv" name
  std::string_view openssl;  // OpenSSL group name
};

constexpr CurveNames kCurves[] = {
    {"P-256", "prime256v1"},
    {"P-384", "secp384r1"},
    {"P-521", "secp521r1"},
};

// RejectPassword stops PEM readers from prompting on the terminal when the
// input is an encrypted key.
int RejectPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

absl::StatusOr<SslPtr<BIO>> ReadOnlyBio(ByteSpan data, std::string_view what) {
  if (data.empty()) {
    return InvalidArgumentf("{}: empty input", what);
  }
  if (data.size() > kMaxKeyInputBytes) {
    return InvalidArgumentf("{}: {} bytes, more than the limit of {}", what, data.size(),
                            kMaxKeyInputBytes);
  }
  SslPtr<BIO> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) {
    return SslError(what);
  }
  return bio;
}

std::string_view MemBioView(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string_view(data, static_cast<size_t>(size)) : std::string_view();
}

}  // namespace

absl::StatusOr<SslPtr<EVP_PKEY>> GenerateRsaKey(int bits) {
  if (bits < kMinGeneratedRsaBits || bits > kMaxRsaBits || bits % 8 != 0) {
    return InvalidArgumentf("generate RSA key: {} bits, want a multiple of 8 in [{}, {}]", bits,
                            kMinGeneratedRsaBits, kMaxRsaBits);
  }
  SslPtr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (!key) {
    return SslError("generate RSA key");
  }
  return key;
}

absl::StatusOr<SslPtr<EVP_PKEY>> GenerateEcKey(std::string_view curve) {
  for (const CurveNames& names : kCurves) {
    if (names.jose == curve) {
      SslPtr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", names.openssl.data()));
      if (!key) {
        return SslError(fmt::format("generate EC key on {}", curve));
      }
      return key;
    }
  }
  return InvalidArgumentf("generate EC key: curve \"{}\", want P-256, P-384 or P-521", curve);
}

bool IsRsaKey(EVP_PKEY* key) {
  return key != nullptr && (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS"));
}

bool IsEcKey(EVP_PKEY* key) { return key != nullptr && EVP_PKEY_is_a(key, "EC"); }

absl::StatusOr<std::string> EcCurveName(EVP_PKEY* key) {
  if (!IsEcKey(key)) {
    return InvalidArgumentf("key is not an EC key");
  }
  char group[64] = {};
  size_t size = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &size) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument, "EC key has no named curve");
  }
  const std::string_view name(group, size);
  for (const CurveNames& names : kCurves) {
    if (names.openssl == name) {
      return std::string(names.jose);
    }
  }
  return InvalidArgumentf("EC key on curve {}, want P-256, P-384 or P-521", name);
}

absl::StatusOr<SecretBytes> PrivateKeyToPem(EVP_PKEY* key) {
  if (key == nullptr) {
    return InvalidArgumentf("private key to PEM: no key");
  }
  // BIO_s_secmem uses OpenSSL's secure heap when the process has set one up,
  // and wipes its buffer when freed.
  SslPtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) !=
                  1) {
    return SslError("private key to PEM");
  }
  return SecretBytes(AsBytes(MemBioView(bio.get())));
}

absl::StatusOr<SslPtr<EVP_PKEY>> PrivateKeyFromPem(ByteSpan pem) {
  VOUCH_ASSIGN_OR_RETURN(const SslPtr<BIO> bio, ReadOnlyBio(pem, "private key PEM"));
  SslPtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, RejectPassword, nullptr));
  if (!key) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    "private key PEM: no unencrypted private key");
  }
  return key;
}

absl::StatusOr<std::string> PublicKeyToPem(EVP_PKEY* key) {
  if (key == nullptr) {
    return InvalidArgumentf("public key to PEM: no key");
  }
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return SslError("public key to PEM");
  }
  return std::string(MemBioView(bio.get()));
}

absl::StatusOr<SslPtr<EVP_PKEY>> PublicKeyFromPem(ByteSpan pem) {
  VOUCH_ASSIGN_OR_RETURN(const SslPtr<BIO> bio, ReadOnlyBio(pem, "public key PEM"));
  SslPtr<EVP_PKEY> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, RejectPassword, nullptr));
  if (!key) {
    return SslError(absl::StatusCode::kInvalidArgument, "public key PEM: no PUBLIC KEY block");
  }
  return key;
}

absl::StatusOr<Bytes> PublicKeyToDer(EVP_PKEY* key) {
  if (key == nullptr) {
    return InvalidArgumentf("public key to DER: no key");
  }
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  if (size <= 0) {
    return SslError("public key to DER");
  }
  Bytes out(der, der + size);
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<SslPtr<EVP_PKEY>> PublicKeyFromDer(ByteSpan der) {
  if (der.empty()) {
    return InvalidArgumentf("public key DER: empty input");
  }
  if (der.size() > kMaxKeyInputBytes) {
    return InvalidArgumentf("public key DER: {} bytes, more than the limit of {}", der.size(),
                            kMaxKeyInputBytes);
  }
  const unsigned char* cursor = der.data();
  SslPtr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
  if (!key) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    "public key DER: invalid SubjectPublicKeyInfo");
  }
  const size_t consumed = static_cast<size_t>(cursor - der.data());
  if (consumed != der.size()) {
    return InvalidArgumentf("public key DER: {} trailing bytes", der.size() - consumed);
  }
  return key;
}

}  // namespace vouch::crypto
