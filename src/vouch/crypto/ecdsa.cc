#include "vouch/crypto/ecdsa.h"

#include <openssl/ec.h>

#include <climits>

#include "vouch/base/status.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::crypto {
namespace {

ByteSpan StripLeadingZeros(ByteSpan value) {
  while (!value.empty() && value.front() == 0) {
    value = value.subspan(1);
  }
  return value;
}

absl::StatusOr<Bytes> RawToDer(ByteSpan r_be, ByteSpan s_be) {
  SslPtr<ECDSA_SIG> signature(ECDSA_SIG_new());
  SslPtr<BIGNUM> r(BN_bin2bn(r_be.data(), static_cast<int>(r_be.size()), nullptr));
  SslPtr<BIGNUM> s(BN_bin2bn(s_be.data(), static_cast<int>(s_be.size()), nullptr));
  if (!signature || !r || !s || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
    return SslError("ecdsa: building signature");
  }
  // ECDSA_SIG_set0 took ownership of r and s.
  (void)r.release();
  (void)s.release();
  unsigned char* der = nullptr;
  const int size = i2d_ECDSA_SIG(signature.get(), &der);
  if (size <= 0) {
    return SslError("ecdsa: encoding signature");
  }
  Bytes out(der, der + size);
  OPENSSL_free(der);
  return out;
}

// VerifyDer verifies a DER ECDSA signature with a key already known to be
// an EC key.
absl::Status VerifyDer(EVP_PKEY* key, HashAlg hash, ByteSpan message, ByteSpan der) {
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EvpMd(hash), nullptr, key) != 1) {
    return SslError("ecdsa verify: init");
  }
  // EVP_DigestVerify returns 1 for a valid signature, 0 for an invalid one
  // and a negative value for malformed input. Anything but 1 is a rejection.
  if (EVP_DigestVerify(ctx.get(), der.data(), der.size(), message.data(), message.size()) != 1) {
    return SslError(absl::StatusCode::kUnauthenticated, "ecdsa: signature does not verify");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<size_t> EcFieldSize(EVP_PKEY* key) {
  if (key == nullptr || !EVP_PKEY_is_a(key, "EC")) {
    return InvalidArgumentf("ecdsa: key is not an EC key");
  }
  const int bits = EVP_PKEY_get_bits(key);
  if (bits <= 0) {
    return SslError(absl::StatusCode::kInvalidArgument, "ecdsa: key has no curve size");
  }
  return (static_cast<size_t>(bits) + 7) / 8;
}

absl::Status VerifyEcdsaRaw(EVP_PKEY* key, HashAlg hash, ByteSpan message, ByteSpan r_be,
                            ByteSpan s_be) {
  VOUCH_ASSIGN_OR_RETURN(const size_t field_size, EcFieldSize(key));
  const ByteSpan r = StripLeadingZeros(r_be);
  const ByteSpan s = StripLeadingZeros(s_be);
  if (r.empty() || s.empty()) {
    return Unauthenticatedf("ecdsa: signature r or s is zero");
  }
  if (r.size() > field_size || s.size() > field_size) {
    return Unauthenticatedf("ecdsa: signature r is {} bytes and s {} bytes, want at most {}",
                            r.size(), s.size(), field_size);
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes der, RawToDer(r, s));
  return VerifyDer(key, hash, message, der);
}

absl::Status VerifyEcdsaP1363(EVP_PKEY* key, HashAlg hash, ByteSpan message, ByteSpan signature) {
  VOUCH_ASSIGN_OR_RETURN(const size_t field_size, EcFieldSize(key));
  if (signature.size() != 2 * field_size) {
    return Unauthenticatedf("ecdsa: signature is {} bytes, want {}", signature.size(),
                            2 * field_size);
  }
  return VerifyEcdsaRaw(key, hash, message, signature.first(field_size),
                        signature.subspan(field_size));
}

absl::Status VerifyEcdsaDer(EVP_PKEY* key, HashAlg hash, ByteSpan message, ByteSpan der) {
  VOUCH_RETURN_IF_ERROR(EcFieldSize(key).status());
  return VerifyDer(key, hash, message, der);
}

absl::StatusOr<Bytes> SignEcdsaRaw(EVP_PKEY* key, HashAlg hash, ByteSpan message) {
  VOUCH_ASSIGN_OR_RETURN(const size_t field_size, EcFieldSize(key));
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EvpMd(hash), nullptr, key) != 1) {
    return SslError("ecdsa sign: init");
  }
  size_t der_size = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &der_size, message.data(), message.size()) != 1) {
    return SslError("ecdsa sign: size");
  }
  Bytes der(der_size);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_size, message.data(), message.size()) != 1) {
    return SslError("ecdsa sign");
  }
  const unsigned char* cursor = der.data();
  SslPtr<ECDSA_SIG> signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_size)));
  if (!signature) {
    return SslError("ecdsa sign: decoding signature");
  }
  Bytes raw(2 * field_size);
  const int field_int = static_cast<int>(field_size);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), raw.data(), field_int) != field_int ||
      BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), raw.data() + field_size, field_int) !=
          field_int) {
    return SslError("ecdsa sign: r or s wider than the field");
  }
  return raw;
}

}  // namespace vouch::crypto
