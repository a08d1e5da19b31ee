// Public-area parsing, attestation-key attribute checks and KDFa. The
// round trip through a real TPM (MakeCredential, then ActivateCredential on
// swtpm) is in tpm_client_test.cc.
#include "vouch/tpm/credential.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <tss2/tss2_mu.h>

#include <cstring>

#include "vouch/crypto/keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::tpm {
namespace {

using ::testing::HasSubstr;
using vouch::testing::StatusIs;

constexpr uint32_t kAkAttributes = kTpmaFixedTpm | kTpmaFixedParent | kTpmaSensitiveDataOrigin |
                                   kTpmaRestricted | kTpmaSign | 0x00000040;  // userWithAuth

// RsaArea marshals a TPMT_PUBLIC of an RSA-2048 key with `attributes`.
Bytes RsaArea(uint32_t attributes) {
  TPMT_PUBLIC area{};
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = attributes;
  area.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  area.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  area.parameters.rsaDetail.keyBits = 2048;
  area.unique.rsa.size = 256;
  for (size_t i = 0; i < 256; ++i) {
    area.unique.rsa.buffer[i] = static_cast<uint8_t>(i | 0x80);
  }
  Bytes out(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&area, out.data(), out.size(), &offset), TSS2_RC_SUCCESS);
  out.resize(offset);
  return out;
}

TEST(ParsePublicAreaTest, ComputesName) {
  const Bytes area = RsaArea(kAkAttributes);
  ASSERT_OK_AND_ASSIGN(const ObjectPublic parsed, ParsePublicArea(area));
  EXPECT_EQ(parsed.type, TPM2_ALG_RSA);
  EXPECT_EQ(parsed.attributes, kAkAttributes);
  Bytes name = {0x00, 0x0B};
  const Bytes digest = crypto::Sha256(area);
  name.insert(name.end(), digest.begin(), digest.end());
  EXPECT_EQ(parsed.name, name);
  ASSERT_NE(parsed.key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_bits(parsed.key.get()), 2048);

  // The same area as a TPM2B_PUBLIC (size first) gives the same name.
  Bytes sized = {static_cast<uint8_t>(area.size() >> 8), static_cast<uint8_t>(area.size())};
  sized.insert(sized.end(), area.begin(), area.end());
  ASSERT_OK_AND_ASSIGN(const ObjectPublic from_sized, ParsePublicArea(sized));
  EXPECT_EQ(from_sized.name, name);
}

TEST(ParsePublicAreaTest, RejectsTruncationAndTrailingBytes) {
  const Bytes area = RsaArea(kAkAttributes);
  for (size_t n = 0; n < area.size(); n += 7) {
    EXPECT_THAT(ParsePublicArea(ByteSpan(area).first(n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
  Bytes longer = area;
  longer.push_back(0);
  EXPECT_THAT(ParsePublicArea(longer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trailing")));
}

TEST(CheckAttestationKeyAttributesTest, NamesEachMissingAttribute) {
  ASSERT_OK_AND_ASSIGN(const ObjectPublic good, ParsePublicArea(RsaArea(kAkAttributes)));
  EXPECT_OK(CheckAttestationKeyAttributes(good));
  const struct {
    uint32_t attributes;
    const char* name;
  } cases[] = {
      {kAkAttributes & ~kTpmaRestricted, "restricted"},
      {kAkAttributes & ~kTpmaSign, "sign"},
      {kAkAttributes & ~kTpmaFixedTpm, "fixedTPM"},
      {kAkAttributes & ~kTpmaFixedParent, "fixedParent"},
      {kAkAttributes & ~kTpmaSensitiveDataOrigin, "sensitiveDataOrigin"},
      {kAkAttributes | kTpmaDecrypt, "decrypt"},
  };
  for (const auto& c : cases) {
    ObjectPublic ak;
    ak.attributes = c.attributes;
    EXPECT_THAT(CheckAttestationKeyAttributes(ak),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.name)))
        << c.name;
  }
}

TEST(KdfaTest, CounterModeBlocksAndTruncation) {
  const SecretBytes key(Bytes(32, 7));
  const SecretBytes a = Kdfa(crypto::HashAlg::kSha256, key, "STORAGE", AsBytes("name"), {}, 128);
  EXPECT_EQ(a.size(), 16u);
  // More than one HMAC block: the first block depends on `bits`, so the
  // 128-bit output is not a prefix of the 512-bit one.
  const SecretBytes b = Kdfa(crypto::HashAlg::kSha256, key, "STORAGE", AsBytes("name"), {}, 512);
  EXPECT_EQ(b.size(), 64u);
  EXPECT_FALSE(SecretBytes(b.Expose().first(16)) == a);
  const SecretBytes c = Kdfa(crypto::HashAlg::kSha256, key, "INTEGRITY", AsBytes("name"), {}, 128);
  EXPECT_FALSE(a == c);
}

TEST(KdfeTest, HashCounterModeOverSharedSecret) {
  const SecretBytes z(Bytes(32, 3));
  const Bytes party_u(32, 4);
  const Bytes party_v(32, 5);
  const SecretBytes seed = Kdfe(crypto::HashAlg::kSha256, z, "IDENTITY", party_u, party_v, 256);
  // One block: SHA-256(counter 1 || Z || "IDENTITY" || 0x00 || U || V).
  Bytes input;
  input.reserve(4 + 32 + 9 + 64);
  input.insert(input.end(), {0, 0, 0, 1});
  input.insert(input.end(), z.Expose().begin(), z.Expose().end());
  const std::string_view label = "IDENTITY";
  input.insert(input.end(), label.begin(), label.end());
  input.push_back(0);
  input.insert(input.end(), party_u.begin(), party_u.end());
  input.insert(input.end(), party_v.begin(), party_v.end());
  EXPECT_TRUE(seed == SecretBytes(crypto::Sha256(input)));

  // Two blocks, truncated: the second block uses counter 2, and unlike
  // KDFa the bit count is not hashed, so shorter outputs are prefixes.
  const SecretBytes longer = Kdfe(crypto::HashAlg::kSha256, z, "IDENTITY", party_u, party_v, 400);
  EXPECT_EQ(longer.size(), 50u);
  EXPECT_TRUE(SecretBytes(longer.Expose().first(32)) == seed);
  input[3] = 2;
  EXPECT_TRUE(SecretBytes(longer.Expose().subspan(32)) ==
              SecretBytes(ByteSpan(crypto::Sha256(input)).first(18)));
}

// EccEkArea marshals a TPMT_PUBLIC of an ECC EK on `curve` with the point of
// `key`.
Bytes EccEkArea(EVP_PKEY* key, uint16_t curve, uint16_t name_alg) {
  TPMT_PUBLIC area{};
  area.type = TPM2_ALG_ECC;
  area.nameAlg = name_alg;
  area.objectAttributes = kTpmaFixedTpm | kTpmaFixedParent | kTpmaSensitiveDataOrigin |
                          kTpmaRestricted | kTpmaDecrypt;
  area.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  area.parameters.eccDetail.symmetric.keyBits.aes = 128;
  area.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  area.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  area.parameters.eccDetail.curveID = curve;
  area.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  Bytes point(200);
  size_t written = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                            point.size(), &written),
            1);
  const size_t half = (written - 1) / 2;
  area.unique.ecc.x.size = static_cast<UINT16>(half);
  std::memcpy(area.unique.ecc.x.buffer, point.data() + 1, half);
  area.unique.ecc.y.size = static_cast<UINT16>(half);
  std::memcpy(area.unique.ecc.y.buffer, point.data() + 1 + half, half);
  Bytes out(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&area, out.data(), out.size(), &offset), TSS2_RC_SUCCESS);
  out.resize(offset);
  return out;
}

TEST(MakeCredentialTest, EccEkGetsEphemeralPointOnItsCurve) {
  ASSERT_OK_AND_ASSIGN(const ObjectPublic ak, ParsePublicArea(RsaArea(kAkAttributes)));
  const struct {
    const char* curve;
    uint16_t curve_id;
    uint16_t name_alg;
    size_t coordinate_size;
  } cases[] = {
      {"P-256", TPM2_ECC_NIST_P256, TPM2_ALG_SHA256, 32},
      {"P-384", TPM2_ECC_NIST_P384, TPM2_ALG_SHA384, 48},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.curve);
    ASSERT_OK_AND_ASSIGN(const crypto::SslPtr<EVP_PKEY> key, crypto::GenerateEcKey(c.curve));
    ASSERT_OK_AND_ASSIGN(const ObjectPublic ek,
                         ParsePublicArea(EccEkArea(key.get(), c.curve_id, c.name_alg)));
    ASSERT_OK_AND_ASSIGN(const MadeCredential made,
                         MakeCredential(ek, ak.name, SecretBytes(Bytes(16, 1))));
    // TPMS_ECC_POINT: two TPM2B coordinates of the curve's size.
    ASSERT_EQ(made.encrypted_secret.size(), 2 * (2 + c.coordinate_size));
    EXPECT_EQ(made.encrypted_secret[0], 0);
    EXPECT_EQ(made.encrypted_secret[1], c.coordinate_size);
    EXPECT_EQ(made.encrypted_secret[2 + c.coordinate_size], 0);
    EXPECT_EQ(made.encrypted_secret[3 + c.coordinate_size], c.coordinate_size);
  }
}

TEST(MakeCredentialTest, RejectsUnsupportedEk) {
  ASSERT_OK_AND_ASSIGN(const ObjectPublic ak, ParsePublicArea(RsaArea(kAkAttributes)));
  // A signing key has no symmetric algorithm, so it cannot be an EK.
  EXPECT_THAT(MakeCredential(ak, ak.name, SecretBytes(Bytes(16, 1))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("symmetric")));
}

}  // namespace
}  // namespace vouch::tpm
