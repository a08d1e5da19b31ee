// Public-area parsing, attestation-key attribute checks and KDFa. The
// round trip through a real TPM (MakeCredential, then ActivateCredential on
// swtpm) is in tpm_client_test.cc.
#include "vouch/tpm/credential.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>

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

TEST(MakeCredentialTest, RejectsUnsupportedEk) {
  ASSERT_OK_AND_ASSIGN(const ObjectPublic ak, ParsePublicArea(RsaArea(kAkAttributes)));
  // A signing key has no symmetric algorithm, so it cannot be an EK.
  EXPECT_THAT(MakeCredential(ak, ak.name, SecretBytes(Bytes(16, 1))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("symmetric")));
}

}  // namespace
}  // namespace vouch::tpm
