#include "vouch/tpm/credential.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstring>

#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"

namespace vouch::tpm {
namespace {

absl::StatusOr<crypto::HashAlg> HashFromTpm(uint16_t alg) {
  switch (alg) {
    case TPM2_ALG_SHA256:
      return crypto::HashAlg::kSha256;
    case TPM2_ALG_SHA384:
      return crypto::HashAlg::kSha384;
    case TPM2_ALG_SHA512:
      return crypto::HashAlg::kSha512;
    default:
      return InvalidArgumentf("tpm public area: nameAlg {:#06x}, want SHA-256, SHA-384 or SHA-512",
                              alg);
  }
}

void AppendU16Be(Bytes& out, size_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

void AppendU32Be(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(value >> shift));
  }
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> RsaKey(const TPMT_PUBLIC& area) {
  const uint32_t exponent =
      area.parameters.rsaDetail.exponent == 0 ? 65537 : area.parameters.rsaDetail.exponent;
  Bytes e;
  AppendU32Be(e, exponent);
  while (!e.empty() && e.front() == 0) {
    e.erase(e.begin());
  }
  const ByteSpan n(area.unique.rsa.buffer, area.unique.rsa.size);
  return crypto::PublicKeyFromJwk(
      {{"kty", "RSA"}, {"n", Base64UrlEncode(n)}, {"e", Base64UrlEncode(e)}});
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> EccKey(const TPMT_PUBLIC& area) {
  std::string curve;
  switch (area.parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P256:
      curve = "P-256";
      break;
    case TPM2_ECC_NIST_P384:
      curve = "P-384";
      break;
    default:
      return InvalidArgumentf("tpm public area: ECC curve {:#06x}, want NIST P-256 or P-384",
                              area.parameters.eccDetail.curveID);
  }
  const ByteSpan x(area.unique.ecc.x.buffer, area.unique.ecc.x.size);
  const ByteSpan y(area.unique.ecc.y.buffer, area.unique.ecc.y.size);
  return crypto::PublicKeyFromJwk(
      {{"kty", "EC"}, {"crv", curve}, {"x", Base64UrlEncode(x)}, {"y", Base64UrlEncode(y)}});
}

Bytes Hmac(crypto::HashAlg alg, ByteSpan key, ByteSpan data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int size = 0;
  HMAC(crypto::EvpMd(alg), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
       out.data(), &size);
  out.resize(size);
  return out;
}

// OaepEncryptSeed encrypts the seed to the EK with the label "IDENTITY\0"
// (TPM 2.0 Part 1, "Credential Protection": the label includes the
// terminating zero).
absl::StatusOr<Bytes> OaepEncryptSeed(EVP_PKEY* ek, crypto::HashAlg alg, ByteSpan seed) {
  crypto::SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(ek, nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), crypto::EvpMd(alg)) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), crypto::EvpMd(alg)) != 1) {
    return Internalf("make credential: RSA-OAEP setup failed");
  }
  constexpr char kLabel[] = "IDENTITY";
  void* label = OPENSSL_memdup(kLabel, sizeof(kLabel));
  if (label == nullptr || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof(kLabel)) != 1) {
    OPENSSL_free(label);
    return Internalf("make credential: RSA-OAEP label failed");
  }
  size_t size = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &size, seed.data(), seed.size()) != 1) {
    return Internalf("make credential: RSA-OAEP size failed");
  }
  Bytes out(size);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &size, seed.data(), seed.size()) != 1) {
    return Internalf("make credential: RSA-OAEP encryption failed");
  }
  out.resize(size);
  return out;
}

struct EcPoint {
  Bytes x;
  Bytes y;
};

// EcPointOf returns the affine coordinates of an EC public key, each padded
// to the curve's coordinate size, as a TPM marshals them.
absl::StatusOr<EcPoint> EcPointOf(EVP_PKEY* key) {
  size_t size = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0,
                                      &size) != 1) {
    return Internalf("make credential: cannot encode the EC public key");
  }
  Bytes encoded(size);
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, encoded.data(),
                                      encoded.size(), &size) != 1 ||
      size != encoded.size() || size < 3 || encoded[0] != 0x04 || (size - 1) % 2 != 0) {
    return Internalf("make credential: the EC public key is not an uncompressed point");
  }
  const size_t half = (size - 1) / 2;
  EcPoint point;
  point.x.assign(encoded.begin() + 1, encoded.begin() + 1 + static_cast<ptrdiff_t>(half));
  point.y.assign(encoded.begin() + 1 + static_cast<ptrdiff_t>(half), encoded.end());
  return point;
}

// EcdhSharedX returns the x coordinate of the ECDH shared point (OpenSSL
// pads it to the coordinate size, as the TPM does).
absl::StatusOr<SecretBytes> EcdhSharedX(EVP_PKEY* own, EVP_PKEY* peer) {
  crypto::SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(own, nullptr));
  size_t size = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &size) != 1) {
    return Internalf("make credential: ECDH with the EK failed");
  }
  SecretBytes z(size);
  if (EVP_PKEY_derive(ctx.get(), z.MutableExpose().data(), &size) != 1 || size != z.size()) {
    return Internalf("make credential: ECDH with the EK failed");
  }
  return z;
}

struct Seed {
  SecretBytes value;
  Bytes encrypted_secret;
};

// EccSeed makes the seed for an ECC EK by one-pass ECDH (TPM 2.0 Part 1,
// "Secret Sharing" with ECDH): an ephemeral key on the EK's curve, and the
// seed from KDFe over the shared x with label "IDENTITY". The TPM recomputes
// Z from the ephemeral point sent as TPMS_ECC_POINT and its EK private key.
absl::StatusOr<Seed> EccSeed(const ObjectPublic& ek) {
  VOUCH_ASSIGN_OR_RETURN(const std::string curve, crypto::EcCurveName(ek.key.get()));
  if (curve != "P-256" && curve != "P-384") {
    return InvalidArgumentf("make credential: EK curve {}, want P-256 or P-384", curve);
  }
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> ephemeral, crypto::GenerateEcKey(curve));
  VOUCH_ASSIGN_OR_RETURN(const EcPoint ephemeral_point, EcPointOf(ephemeral.get()));
  VOUCH_ASSIGN_OR_RETURN(const EcPoint ek_point, EcPointOf(ek.key.get()));
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes z, EcdhSharedX(ephemeral.get(), ek.key.get()));

  const uint32_t seed_bits = static_cast<uint32_t>(crypto::HashSize(ek.name_alg) * 8);
  Seed seed;
  seed.value = Kdfe(ek.name_alg, z, "IDENTITY", ephemeral_point.x, ek_point.x, seed_bits);
  // TPMS_ECC_POINT: TPM2B_ECC_PARAMETER x, then y.
  AppendU16Be(seed.encrypted_secret, ephemeral_point.x.size());
  seed.encrypted_secret.insert(seed.encrypted_secret.end(), ephemeral_point.x.begin(),
                               ephemeral_point.x.end());
  AppendU16Be(seed.encrypted_secret, ephemeral_point.y.size());
  seed.encrypted_secret.insert(seed.encrypted_secret.end(), ephemeral_point.y.begin(),
                               ephemeral_point.y.end());
  return seed;
}

absl::StatusOr<Bytes> AesCfbEncrypt(const SecretBytes& key, ByteSpan plaintext) {
  const EVP_CIPHER* cipher = key.size() == 16   ? EVP_aes_128_cfb()
                             : key.size() == 32 ? EVP_aes_256_cfb()
                                                : nullptr;
  if (cipher == nullptr) {
    return InvalidArgumentf("make credential: AES key of {} bytes, want 16 or 32", key.size());
  }
  // The IV is all zeros: each seed encrypts one credential only.
  const uint8_t iv[16] = {};
  crypto::SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  Bytes out(plaintext.size() + 16);
  int written = 0;
  int final_written = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.Expose().data(), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &written, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + written, &final_written) != 1) {
    return Internalf("make credential: AES-CFB encryption failed");
  }
  out.resize(static_cast<size_t>(written + final_written));
  return out;
}

}  // namespace

absl::StatusOr<ObjectPublic> ParsePublicArea(ByteSpan area) {
  if (area.size() > sizeof(TPMT_PUBLIC) + 2) {
    return InvalidArgumentf("tpm public area: {} bytes, at most {}", area.size(),
                            sizeof(TPMT_PUBLIC) + 2);
  }
  // A TPM2B_PUBLIC starts with its size; a TPMT_PUBLIC with its type.
  if (area.size() >= 2 && static_cast<size_t>((area[0] << 8) | area[1]) == area.size() - 2) {
    area = area.subspan(2);
  }
  TPMT_PUBLIC parsed{};
  size_t offset = 0;
  const TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(area.data(), area.size(), &offset, &parsed);
  if (rc != TSS2_RC_SUCCESS) {
    return InvalidArgumentf("tpm public area: TPMT_PUBLIC does not unmarshal (TSS error {:#x})",
                            rc);
  }
  if (offset != area.size()) {
    return InvalidArgumentf("tpm public area: {} trailing bytes", area.size() - offset);
  }

  ObjectPublic out;
  out.type = parsed.type;
  out.attributes = parsed.objectAttributes;
  VOUCH_ASSIGN_OR_RETURN(out.name_alg, HashFromTpm(parsed.nameAlg));
  if (parsed.type == TPM2_ALG_RSA) {
    VOUCH_ASSIGN_OR_RETURN(out.key, RsaKey(parsed));
    if (parsed.parameters.rsaDetail.symmetric.algorithm == TPM2_ALG_AES) {
      out.symmetric_bits = parsed.parameters.rsaDetail.symmetric.keyBits.aes;
    }
  } else if (parsed.type == TPM2_ALG_ECC) {
    VOUCH_ASSIGN_OR_RETURN(out.key, EccKey(parsed));
    if (parsed.parameters.eccDetail.symmetric.algorithm == TPM2_ALG_AES) {
      out.symmetric_bits = parsed.parameters.eccDetail.symmetric.keyBits.aes;
    }
  } else {
    return InvalidArgumentf("tpm public area: type {:#06x}, want RSA (0x0001) or ECC (0x0023)",
                            parsed.type);
  }

  AppendU16Be(out.name, parsed.nameAlg);
  const Bytes digest = crypto::Hash(out.name_alg, area);
  out.name.insert(out.name.end(), digest.begin(), digest.end());
  return out;
}

absl::Status CheckAttestationKeyAttributes(const ObjectPublic& ak) {
  struct Required {
    uint32_t bit;
    bool set;
    const char* name;
  };
  constexpr Required kRequired[] = {
      {kTpmaRestricted, true, "restricted"},
      {kTpmaSign, true, "sign"},
      {kTpmaDecrypt, false, "decrypt"},
      {kTpmaFixedTpm, true, "fixedTPM"},
      {kTpmaFixedParent, true, "fixedParent"},
      {kTpmaSensitiveDataOrigin, true, "sensitiveDataOrigin"},
  };
  for (const Required& required : kRequired) {
    if (((ak.attributes & required.bit) != 0) != required.set) {
      return InvalidArgumentf(
          "attestation key: attribute {} is {}, want {} (objectAttributes {:#010x})", required.name,
          required.set ? "clear" : "set", required.set ? "set" : "clear", ak.attributes);
    }
  }
  return absl::OkStatus();
}

SecretBytes Kdfa(crypto::HashAlg alg, const SecretBytes& key, std::string_view label,
                 ByteSpan context_u, ByteSpan context_v, uint32_t bits) {
  const size_t want = (bits + 7) / 8;
  SecretBytes out(want);
  size_t filled = 0;
  for (uint32_t counter = 1; filled < want; ++counter) {
    Bytes input;
    AppendU32Be(input, counter);
    input.insert(input.end(), label.begin(), label.end());
    input.push_back(0);
    input.insert(input.end(), context_u.begin(), context_u.end());
    input.insert(input.end(), context_v.begin(), context_v.end());
    AppendU32Be(input, bits);
    SecretBytes block(Hmac(alg, key.Expose(), input));
    const size_t take = std::min(block.size(), want - filled);
    std::memcpy(out.MutableExpose().data() + filled, block.Expose().data(), take);
    filled += take;
  }
  return out;
}

SecretBytes Kdfe(crypto::HashAlg alg, const SecretBytes& z, std::string_view label,
                 ByteSpan party_u, ByteSpan party_v, uint32_t bits) {
  const size_t want = (bits + 7) / 8;
  SecretBytes out(want);
  size_t filled = 0;
  for (uint32_t counter = 1; filled < want; ++counter) {
    SecretBytes input(4 + z.size() + label.size() + 1 + party_u.size() + party_v.size());
    uint8_t* cursor = input.MutableExpose().data();
    for (int shift = 24; shift >= 0; shift -= 8) {
      *cursor++ = static_cast<uint8_t>(counter >> shift);
    }
    cursor = std::copy(z.Expose().begin(), z.Expose().end(), cursor);
    cursor = std::copy(label.begin(), label.end(), cursor);
    *cursor++ = 0;
    cursor = std::copy(party_u.begin(), party_u.end(), cursor);
    std::copy(party_v.begin(), party_v.end(), cursor);
    const SecretBytes block(crypto::Hash(alg, input.Expose()));
    const size_t take = std::min(block.size(), want - filled);
    std::memcpy(out.MutableExpose().data() + filled, block.Expose().data(), take);
    filled += take;
  }
  return out;
}

absl::StatusOr<MadeCredential> MakeCredential(const ObjectPublic& ek, ByteSpan ak_name,
                                              const SecretBytes& credential) {
  if (ek.type != TPM2_ALG_RSA && ek.type != TPM2_ALG_ECC) {
    return InvalidArgumentf("make credential: EK type {:#06x}, want RSA or ECC", ek.type);
  }
  if (ek.symmetric_bits != 128 && ek.symmetric_bits != 256) {
    return InvalidArgumentf(
        "make credential: the EK's symmetric algorithm is not AES-128 or AES-256 (bits {})",
        ek.symmetric_bits);
  }
  const size_t digest_size = crypto::HashSize(ek.name_alg);
  if (credential.size() == 0 || credential.size() > digest_size) {
    return InvalidArgumentf("make credential: credential of {} bytes, want 1 to {}",
                            credential.size(), digest_size);
  }

  // Seed: encrypted to an RSA EK, or agreed with an ECC EK by ECDH.
  MadeCredential out;
  SecretBytes seed;
  if (ek.type == TPM2_ALG_RSA) {
    seed = crypto::RandomSecret(digest_size);
    VOUCH_ASSIGN_OR_RETURN(out.encrypted_secret,
                           OaepEncryptSeed(ek.key.get(), ek.name_alg, seed.Expose()));
  } else {
    VOUCH_ASSIGN_OR_RETURN(Seed ecc_seed, EccSeed(ek));
    seed = std::move(ecc_seed.value);
    out.encrypted_secret = std::move(ecc_seed.encrypted_secret);
  }

  // Symmetric key from KDFa(seed, "STORAGE", name) and the credential
  // as a TPM2B_DIGEST, encrypted with AES-CFB.
  const SecretBytes aes_key = Kdfa(ek.name_alg, seed, "STORAGE", ak_name, {}, ek.symmetric_bits);
  SecretBytes plaintext(credential.size() + 2);
  plaintext.MutableExpose()[0] = static_cast<uint8_t>(credential.size() >> 8);
  plaintext.MutableExpose()[1] = static_cast<uint8_t>(credential.size());
  std::memcpy(plaintext.MutableExpose().data() + 2, credential.Expose().data(), credential.size());
  VOUCH_ASSIGN_OR_RETURN(const Bytes encrypted, AesCfbEncrypt(aes_key, plaintext.Expose()));

  // Outer HMAC over the encrypted credential and the name.
  const SecretBytes hmac_key =
      Kdfa(ek.name_alg, seed, "INTEGRITY", {}, {}, static_cast<uint32_t>(digest_size * 8));
  Bytes hmac_input = encrypted;
  hmac_input.insert(hmac_input.end(), ak_name.begin(), ak_name.end());
  const Bytes outer_hmac = Hmac(ek.name_alg, hmac_key.Expose(), hmac_input);

  AppendU16Be(out.credential_blob, outer_hmac.size());
  out.credential_blob.insert(out.credential_blob.end(), outer_hmac.begin(), outer_hmac.end());
  out.credential_blob.insert(out.credential_blob.end(), encrypted.begin(), encrypted.end());
  return out;
}

}  // namespace vouch::tpm
