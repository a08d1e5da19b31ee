#include "vouch/keystore/keystore_conformance_test.h"

#include <gmock/gmock.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <string_view>
#include <thread>
#include <vector>

#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::keystore::conformance {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vouch::testing::StatusIs;

std::string FactoryName(const ::testing::TestParamInfo<KeyStoreFactory>& info) {
  return info.param.name;
}

void KeyStoreConformanceTest::SetUp() {
  std::string pattern = ::testing::TempDir() + "vouch-keystore-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
  location_ = pattern;
  absl::StatusOr<std::unique_ptr<KeyStore>> keystore = GetParam().open(location_);
  ASSERT_TRUE(keystore.ok()) << keystore.status();
  keystore_ = std::move(keystore).value();
}

void KeyStoreConformanceTest::TearDown() {
  keystore_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(location_, ignored);
}

namespace {

constexpr std::string_view kLabel = "key:data-key:0123456789abcdef0123456789abcdef";

SecretBytes Pattern(size_t size, uint8_t seed) {
  SecretBytes secret(size);
  for (size_t i = 0; i < size; ++i) {
    secret.MutableExpose()[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return secret;
}

// SharedRsaKey is the requester's RSA-2048 key, made once per process
// because RSA key generation dominates the suite's run time otherwise.
const crypto::SslPtr<EVP_PKEY>& SharedRsaKey() {
  static const crypto::SslPtr<EVP_PKEY>* key =
      new crypto::SslPtr<EVP_PKEY>(crypto::GenerateRsaKey(2048).value());
  return *key;
}

bool Supports(const KeyStoreFactory& factory, crypto::HashAlg hash) {
  return std::find(factory.release_hashes.begin(), factory.release_hashes.end(), hash) !=
         factory.release_hashes.end();
}

// ReleaseAndUnwrap releases `sealed` to a fresh RSA-2048 key and unwraps the
// result as the requester would.
absl::StatusOr<SecretBytes> ReleaseAndUnwrap(KeyStore& keystore, ByteSpan sealed,
                                             std::string_view label, crypto::HashAlg hash) {
  const crypto::SslPtr<EVP_PKEY>& rsa = SharedRsaKey();
  VOUCH_ASSIGN_OR_RETURN(const Bytes wrapped, keystore.WrapForRelease(sealed, label, rsa.get(), hash));
  return crypto::RsaAesKeyUnwrap(rsa.get(), hash, wrapped);
}

// ParsePkcs8 reads PKCS#8 PrivateKeyInfo DER, rejecting trailing bytes.
crypto::SslPtr<EVP_PKEY> ParsePkcs8(const SecretBytes& der) {
  const unsigned char* cursor = der.Expose().data();
  PKCS8_PRIV_KEY_INFO* info =
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &cursor, static_cast<long>(der.size()));
  if (info == nullptr || cursor != der.Expose().data() + der.size()) {
    PKCS8_PRIV_KEY_INFO_free(info);
    return nullptr;
  }
  crypto::SslPtr<EVP_PKEY> key(EVP_PKCS82PKEY(info));
  PKCS8_PRIV_KEY_INFO_free(info);
  return key;
}

TEST_P(KeyStoreConformanceTest, NameIsSet) { EXPECT_FALSE(keystore_->Name().empty()); }

TEST_P(KeyStoreConformanceTest, SealThenUnsealRoundTrips) {
  for (const size_t size : {1, 16, 32, 1000, 8192}) {
    const SecretBytes secret = Pattern(size, static_cast<uint8_t>(size));
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(secret, kLabel));
    ASSERT_OK_AND_ASSIGN(const SecretBytes opened, keystore_->Unseal(sealed, kLabel));
    EXPECT_TRUE(opened == secret) << "size " << size;
  }
}

TEST_P(KeyStoreConformanceTest, SealedBlobHidesTheSecret) {
  const SecretBytes secret = Pattern(32, 0x41);
  ASSERT_OK_AND_ASSIGN(const Bytes first, keystore_->Seal(secret, kLabel));
  ASSERT_OK_AND_ASSIGN(const Bytes second, keystore_->Seal(secret, kLabel));
  EXPECT_NE(first, second) << "sealing must be randomized";
  const Bytes plain(secret.Expose().begin(), secret.Expose().end());
  EXPECT_EQ(std::search(first.begin(), first.end(), plain.begin(), plain.end()), first.end());
}

TEST_P(KeyStoreConformanceTest, WrongLabelDoesNotOpen) {
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(32, 1), kLabel));
  EXPECT_THAT(keystore_->Unseal(sealed, "key:other-key:0123456789abcdef0123456789abcdef"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(keystore_->Unseal(sealed, std::string(kLabel) + " "),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_P(KeyStoreConformanceTest, EveryFlippedByteIsRejected) {
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(32, 2), kLabel));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes tampered = sealed;
    tampered[i] ^= 0x01;
    EXPECT_THAT(keystore_->Unseal(tampered, kLabel),
                AnyOf(StatusIs(absl::StatusCode::kUnauthenticated),
                      StatusIs(absl::StatusCode::kInvalidArgument)))
        << "byte " << i;
  }
}

TEST_P(KeyStoreConformanceTest, EveryTruncationIsRejected) {
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(32, 3), kLabel));
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(keystore_->Unseal(ByteSpan(sealed).first(n), kLabel).ok()) << "length " << n;
  }
  Bytes extended = sealed;
  extended.push_back(0);
  EXPECT_FALSE(keystore_->Unseal(extended, kLabel).ok());
}

// Generated keys are checked through a release, because a key store may
// keep them where Unseal cannot reach (a token).
TEST_P(KeyStoreConformanceTest, GenerateSymmetricMakesAesKeys) {
  const crypto::HashAlg hash = GetParam().release_hashes.front();
  for (const int bits : {128, 192, 256}) {
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->GenerateSymmetric(bits, kLabel));
    ASSERT_OK_AND_ASSIGN(const SecretBytes key, ReleaseAndUnwrap(*keystore_, sealed, kLabel, hash));
    EXPECT_EQ(key.size(), static_cast<size_t>(bits / 8));
    EXPECT_FALSE(IsAllZero(key.Expose()));
  }
  ASSERT_OK_AND_ASSIGN(const Bytes a, keystore_->GenerateSymmetric(256, kLabel));
  ASSERT_OK_AND_ASSIGN(const Bytes b, keystore_->GenerateSymmetric(256, kLabel));
  ASSERT_OK_AND_ASSIGN(const SecretBytes key_a, ReleaseAndUnwrap(*keystore_, a, kLabel, hash));
  ASSERT_OK_AND_ASSIGN(const SecretBytes key_b, ReleaseAndUnwrap(*keystore_, b, kLabel, hash));
  EXPECT_FALSE(key_a == key_b);
}

TEST_P(KeyStoreConformanceTest, GenerateSymmetricRejectsOtherSizes) {
  for (const int bits : {0, -256, 64, 255, 257, 384, 512}) {
    EXPECT_THAT(keystore_->GenerateSymmetric(bits, kLabel),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bits << " bits";
  }
}

TEST_P(KeyStoreConformanceTest, ImportSymmetricRoundTrips) {
  for (const size_t size : {16, 24, 32}) {
    const SecretBytes key = Pattern(size, 9);
    ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
    ASSERT_OK_AND_ASSIGN(
        const SecretBytes opened,
        ReleaseAndUnwrap(*keystore_, sealed, kLabel, GetParam().release_hashes.front()));
    EXPECT_TRUE(opened == key) << size << " bytes";
  }
  for (const size_t size : {0, 1, 15, 17, 31, 33, 64}) {
    EXPECT_THAT(keystore_->ImportSymmetric(Pattern(size, 9), kLabel),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << size << " bytes";
  }
}

TEST_P(KeyStoreConformanceTest, EmptySecretAndLabelAreRejected) {
  EXPECT_THAT(keystore_->Seal(SecretBytes(), kLabel), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keystore_->Seal(Pattern(32, 1), ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keystore_->Unseal(Bytes(), kLabel), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(KeyStoreConformanceTest, ReopenedStoreOpensOldBlobs) {
  const SecretBytes secret = Pattern(32, 4);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(secret, kLabel));
  const SecretBytes key = Pattern(32, 8);
  ASSERT_OK_AND_ASSIGN(const Bytes imported, keystore_->ImportSymmetric(key, kLabel));
  ASSERT_OK_AND_ASSIGN(const GeneratedKey generated,
                       keystore_->GenerateKey(KeySpec::Ec(256), kLabel));
  keystore_.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, GetParam().open(location_));
  ASSERT_OK_AND_ASSIGN(const SecretBytes opened, reopened->Unseal(sealed, kLabel));
  EXPECT_TRUE(opened == secret);
  const crypto::HashAlg hash = GetParam().release_hashes.front();
  ASSERT_OK_AND_ASSIGN(const SecretBytes released,
                       ReleaseAndUnwrap(*reopened, imported, kLabel, hash));
  EXPECT_TRUE(released == key);
  EXPECT_OK(ReleaseAndUnwrap(*reopened, generated.sealed, kLabel, hash).status());
}

TEST_P(KeyStoreConformanceTest, WrapForReleaseUnwrapsWithPrivateKey) {
  const crypto::SslPtr<EVP_PKEY>& rsa = SharedRsaKey();
  const SecretBytes key = Pattern(32, 5);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
  for (const crypto::HashAlg hash :
       {crypto::HashAlg::kSha1, crypto::HashAlg::kSha256, crypto::HashAlg::kSha384}) {
    if (!Supports(GetParam(), hash)) {
      EXPECT_THAT(keystore_->WrapForRelease(sealed, kLabel, rsa.get(), hash),
                  StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CKM_RSA_PKCS_OAEP")))
          << crypto::HashAlgName(hash);
      continue;
    }
    ASSERT_OK_AND_ASSIGN(const Bytes wrapped,
                         keystore_->WrapForRelease(sealed, kLabel, rsa.get(), hash));
    EXPECT_EQ(wrapped.size(), 256u + 40u) << "RSA-2048 ciphertext plus RFC 5649 of 32 bytes";
    ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped,
                         crypto::RsaAesKeyUnwrap(rsa.get(), hash, wrapped));
    EXPECT_TRUE(unwrapped == key) << crypto::HashAlgName(hash);
  }
}

TEST_P(KeyStoreConformanceTest, WrapForReleaseOfGeneratedKey) {
  const crypto::SslPtr<EVP_PKEY>& rsa = SharedRsaKey();
  const crypto::HashAlg hash = GetParam().release_hashes.back();
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->GenerateSymmetric(256, kLabel));
  ASSERT_OK_AND_ASSIGN(const Bytes wrapped,
                       keystore_->WrapForRelease(sealed, kLabel, rsa.get(), hash));
  EXPECT_EQ(wrapped.size(), 256u + 40u);
  ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped, crypto::RsaAesKeyUnwrap(rsa.get(), hash, wrapped));
  EXPECT_EQ(unwrapped.size(), 32u);
}

TEST_P(KeyStoreConformanceTest, WrapForReleaseRejectsBadInput) {
  const crypto::SslPtr<EVP_PKEY>& rsa = SharedRsaKey();
  ASSERT_OK_AND_ASSIGN(const auto ec, crypto::GenerateEcKey("P-256"));
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->GenerateSymmetric(256, kLabel));

  EXPECT_THAT(keystore_->WrapForRelease(sealed, "key:other:0", rsa.get(), crypto::HashAlg::kSha256),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(keystore_->WrapForRelease(sealed, kLabel, ec.get(), crypto::HashAlg::kSha256),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keystore_->WrapForRelease(sealed, kLabel, nullptr, crypto::HashAlg::kSha256),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(KeyStoreConformanceTest, GenerateKeyAesHasNoPublicKey) {
  for (const int bits : {128, 192, 256}) {
    ASSERT_OK_AND_ASSIGN(const GeneratedKey generated,
                         keystore_->GenerateKey(KeySpec::Aes(bits), kLabel));
    EXPECT_EQ(generated.spec, KeySpec::Aes(bits));
    EXPECT_TRUE(generated.public_key_pem.empty());
    EXPECT_TRUE(generated.public_jwk.is_null());
    ASSERT_OK_AND_ASSIGN(
        const SecretBytes key,
        ReleaseAndUnwrap(*keystore_, generated.sealed, kLabel, GetParam().release_hashes.front()));
    EXPECT_EQ(key.size(), static_cast<size_t>(bits / 8)) << bits << " bits";
  }
}

// A released RSA or EC key is PKCS#8 DER whose public half equals the public
// key GenerateKey returned.
TEST_P(KeyStoreConformanceTest, GenerateKeyReleasesPkcs8OfSamePair) {
  const KeySpec specs[] = {KeySpec::Rsa(2048), KeySpec::Rsa(3072), KeySpec::Rsa(4096),
                           KeySpec::Ec(256), KeySpec::Ec(384)};
  for (const KeySpec& spec : specs) {
    SCOPED_TRACE(KeySpecName(spec));
    ASSERT_OK_AND_ASSIGN(const GeneratedKey generated, keystore_->GenerateKey(spec, kLabel));
    EXPECT_EQ(generated.spec, spec);
    ASSERT_OK_AND_ASSIGN(const auto public_key,
                         crypto::PublicKeyFromPem(AsBytes(generated.public_key_pem)));
    ASSERT_OK_AND_ASSIGN(const auto from_jwk, crypto::PublicKeyFromJwk(generated.public_jwk));
    EXPECT_EQ(generated.public_jwk.value("kty", ""), spec.type == KeyType::kRsa ? "RSA" : "EC");
    EXPECT_EQ(EVP_PKEY_get_bits(public_key.get()), spec.size_bits);

    ASSERT_OK_AND_ASSIGN(
        const SecretBytes der,
        ReleaseAndUnwrap(*keystore_, generated.sealed, kLabel, GetParam().release_hashes.back()));
    ASSERT_OK_AND_ASSIGN(const SecretBytes pkcs8, ReleasedPkcs8Der(der));
    const crypto::SslPtr<EVP_PKEY> released = ParsePkcs8(pkcs8);
    ASSERT_NE(released, nullptr) << "release is not PKCS#8 PrivateKeyInfo DER: "
                                 << HexEncode(der.Expose().last(std::min<size_t>(der.size(), 24)))
                                 << " (" << der.size() << " bytes)";
    ASSERT_OK_AND_ASSIGN(const Bytes released_spki, crypto::PublicKeyToDer(released.get()));
    ASSERT_OK_AND_ASSIGN(const Bytes pem_spki, crypto::PublicKeyToDer(public_key.get()));
    ASSERT_OK_AND_ASSIGN(const Bytes jwk_spki, crypto::PublicKeyToDer(from_jwk.get()));
    EXPECT_EQ(released_spki, pem_spki);
    EXPECT_EQ(jwk_spki, pem_spki);
  }
}

TEST_P(KeyStoreConformanceTest, GenerateKeyMakesDistinctKeys) {
  ASSERT_OK_AND_ASSIGN(const GeneratedKey a, keystore_->GenerateKey(KeySpec::Ec(256), kLabel));
  ASSERT_OK_AND_ASSIGN(const GeneratedKey b, keystore_->GenerateKey(KeySpec::Ec(256), kLabel));
  EXPECT_NE(a.public_key_pem, b.public_key_pem);
  EXPECT_NE(a.sealed, b.sealed);
}

TEST_P(KeyStoreConformanceTest, GenerateKeyRejectsInvalidSpecs) {
  const KeySpec specs[] = {KeySpec::Aes(0),     KeySpec::Aes(64),   KeySpec::Aes(512),
                           KeySpec::Rsa(1024),  KeySpec::Rsa(2047), KeySpec::Rsa(8192),
                           KeySpec::Ec(224),    KeySpec::Ec(521),   KeySpec::Ec(-256),
                           KeySpec{static_cast<KeyType>(7), 256}};
  for (const KeySpec& spec : specs) {
    EXPECT_THAT(keystore_->GenerateKey(spec, kLabel), StatusIs(absl::StatusCode::kInvalidArgument))
        << KeySpecName(spec);
  }
  EXPECT_THAT(keystore_->GenerateKey(KeySpec::Aes(256), ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Private keys leave only wrapped, so Unseal does not open their blobs.
TEST_P(KeyStoreConformanceTest, UnsealRejectsPrivateKeyBlob) {
  ASSERT_OK_AND_ASSIGN(const GeneratedKey generated,
                       keystore_->GenerateKey(KeySpec::Ec(256), kLabel));
  EXPECT_THAT(keystore_->Unseal(generated.sealed, kLabel),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(KeyStoreConformanceTest, WrongLabelDoesNotReleaseGeneratedKey) {
  const crypto::SslPtr<EVP_PKEY>& rsa = SharedRsaKey();
  for (const KeySpec& spec : {KeySpec::Aes(256), KeySpec::Ec(256)}) {
    ASSERT_OK_AND_ASSIGN(const GeneratedKey generated, keystore_->GenerateKey(spec, kLabel));
    EXPECT_THAT(keystore_->WrapForRelease(generated.sealed, "key:other:0", rsa.get(),
                                          GetParam().release_hashes.front()),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << KeySpecName(spec);
  }
}

TEST_P(KeyStoreConformanceTest, DestroyKeyIsRepeatable) {
  const crypto::HashAlg hash = GetParam().release_hashes.front();
  for (const KeySpec& spec : {KeySpec::Aes(128), KeySpec::Rsa(2048), KeySpec::Ec(384)}) {
    SCOPED_TRACE(KeySpecName(spec));
    ASSERT_OK_AND_ASSIGN(const GeneratedKey generated, keystore_->GenerateKey(spec, kLabel));
    EXPECT_OK(keystore_->DestroyKey(generated.sealed, kLabel));
    EXPECT_OK(keystore_->DestroyKey(generated.sealed, kLabel));
    if (GetParam().destroy_removes_key) {
      EXPECT_THAT(ReleaseAndUnwrap(*keystore_, generated.sealed, kLabel, hash),
                  StatusIs(absl::StatusCode::kUnauthenticated));
    }
  }
}

// DestroyKey under another label destroys nothing: the software key store
// reports the mismatch, a token cannot tell it from an absent key.
TEST_P(KeyStoreConformanceTest, DestroyKeyUnderOtherLabelKeepsKey) {
  const SecretBytes key = Pattern(32, 10);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
  const absl::Status status = keystore_->DestroyKey(sealed, "key:other:0");
  EXPECT_TRUE(status.ok() || absl::IsUnauthenticated(status)) << status;
  ASSERT_OK_AND_ASSIGN(
      const SecretBytes released,
      ReleaseAndUnwrap(*keystore_, sealed, kLabel, GetParam().release_hashes.front()));
  EXPECT_TRUE(released == key);
}

TEST_P(KeyStoreConformanceTest, DestroyKeyRejectsMalformedBlob) {
  EXPECT_FALSE(keystore_->DestroyKey(Bytes(), kLabel).ok());
  EXPECT_FALSE(keystore_->DestroyKey(Bytes{0x7f, 1, 2, 3}, kLabel).ok());
}

TEST_P(KeyStoreConformanceTest, ConcurrentReleasesSucceed) {
  const SecretBytes key = Pattern(32, 11);
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
  const crypto::SslPtr<EVP_PKEY>& rsa = SharedRsaKey();
  const crypto::HashAlg hash = GetParam().release_hashes.front();
  std::vector<absl::StatusOr<Bytes>> results(8, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = keystore_->WrapForRelease(sealed, kLabel, rsa.get(), hash);
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (const absl::StatusOr<Bytes>& wrapped : results) {
    ASSERT_OK(wrapped.status());
    ASSERT_OK_AND_ASSIGN(const SecretBytes unwrapped, crypto::RsaAesKeyUnwrap(rsa.get(), hash, *wrapped));
    EXPECT_TRUE(unwrapped == key);
  }
}

// A sealed secret that is not an AES key (a signing key's PEM) is never
// released, whatever label the caller passes.
TEST_P(KeyStoreConformanceTest, WrapForReleaseRejectsNonKeySecret) {
  const crypto::SslPtr<EVP_PKEY>& rsa = SharedRsaKey();
  ASSERT_OK_AND_ASSIGN(const Bytes sealed, keystore_->Seal(Pattern(1200, 6), "token-signing"));
  EXPECT_THAT(
      keystore_->WrapForRelease(sealed, "token-signing", rsa.get(), crypto::HashAlg::kSha256),
      StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(KeyStoreConformanceTest, ErrorsNeverContainKeyBytes) {
  const SecretBytes key = Pattern(32, 0x61);  // printable: "ahov}..."
  const Bytes key_bytes(key.Expose().begin(), key.Expose().end());
  const std::string raw = ToString(key_bytes);
  const std::string hex = HexEncode(key_bytes);
  const std::string b64 = Base64Encode(key_bytes);
  ASSERT_OK_AND_ASSIGN(Bytes sealed, keystore_->ImportSymmetric(key, kLabel));
  ASSERT_OK_AND_ASSIGN(const auto ec, crypto::GenerateEcKey("P-256"));

  Bytes tampered = sealed;
  tampered.back() ^= 1;
  const std::vector<absl::Status> errors = {
      keystore_->Unseal(sealed, "key:wrong:label").status(),
      keystore_->Unseal(tampered, kLabel).status(),
      keystore_->WrapForRelease(sealed, kLabel, ec.get(), crypto::HashAlg::kSha256).status(),
      keystore_->WrapForRelease(tampered, kLabel, nullptr, crypto::HashAlg::kSha1).status(),
  };
  for (const absl::Status& status : errors) {
    ASSERT_FALSE(status.ok());
    const std::string message(status.message());
    EXPECT_THAT(message, Not(HasSubstr(raw.substr(0, 8))));
    EXPECT_THAT(message, Not(HasSubstr(hex.substr(0, 16))));
    EXPECT_THAT(message, Not(HasSubstr(b64.substr(0, 12))));
  }
}

}  // namespace

}  // namespace vouch::keystore::conformance
