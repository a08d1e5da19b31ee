#include "vouch/agent/luks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libcryptsetup.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>

#include "vouch/agent/test_support.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

constexpr uint64_t kImageBytes = 20 << 20;

SecretBytes TestKey(uint8_t fill) {
  SecretBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) {
    key.MutableExpose()[i] = static_cast<uint8_t>(fill + i);
  }
  return key;
}

TEST(CreateImageFileTest, CreatesSparseFileOfGivenSize) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));

  struct stat st {};
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kImageBytes);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, kImageBytes);
}

TEST(CreateImageFileTest, RejectsExistingFile) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  EXPECT_THAT(CreateImageFile(image, kImageBytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("File exists")));
}

TEST(Luks2Test, FormatThenOpenWithRightKey) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  ASSERT_OK_AND_ASSIGN(const OpenResult result, OpenLuks2(image, TestKey(1), ""));
  EXPECT_FALSE(result.mapped);
  EXPECT_EQ(result.keyslot, 0);
  EXPECT_THAT(result.message, HasSubstr("keyslot 0 opened"));
}

TEST(Luks2Test, FormatWritesLuks2Magic) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  ASSERT_OK_AND_ASSIGN(const Bytes contents, ReadFile(image, kImageBytes));
  // LUKS2 on-disk format: magic "LUKS\xba\xbe" then version 2 (big-endian u16).
  const Bytes magic = {'L', 'U', 'K', 'S', 0xba, 0xbe, 0x00, 0x02};
  ASSERT_GE(contents.size(), magic.size());
  EXPECT_EQ(Bytes(contents.begin(), contents.begin() + 8), magic);
}

// Activation needs device-mapper; where it is missing (as on build
// machines), OpenLuks2 checks the key and reports that it did not map.
TEST(Luks2Test, OpenWithoutDeviceMapperChecksKey) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  ASSERT_OK_AND_ASSIGN(const OpenResult result, OpenLuks2(image, TestKey(1), "vouch-agent-test"));
  if (result.mapped) {
    GTEST_SKIP() << "device-mapper is available here and the volume was mapped; "
                    "run `cryptsetup close vouch-agent-test`";
  }
  EXPECT_EQ(result.keyslot, 0);
  EXPECT_EQ(result.message, "keyslot 0 opened; volume not mapped: device-mapper unavailable");
}

TEST(Luks2Test, WrongKeyRejected) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  ASSERT_OK(FormatLuks2(image, TestKey(1)));

  EXPECT_THAT(
      OpenLuks2(image, TestKey(2), ""),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("the key did not open any keyslot")));
  EXPECT_THAT(
      OpenLuks2(image, TestKey(2), "vouch-agent-test"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("the key did not open any keyslot")));
}

TEST(Luks2Test, NonLuksFileRejected) {
  ScopedTempDir dir;
  const std::string image = dir.File("plain.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));

  EXPECT_THAT(OpenLuks2(image, TestKey(1), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no valid LUKS2 header")));
}

TEST(Luks2Test, MissingFileIsNotFound) {
  ScopedTempDir dir;
  EXPECT_THAT(OpenLuks2(dir.File("absent.img"), TestKey(1), ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.img")));
  EXPECT_THAT(FormatLuks2(dir.File("absent.img"), TestKey(1)),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(Luks2Test, ShortKeyRejectedAtFormat) {
  ScopedTempDir dir;
  const std::string image = dir.File("disk.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  EXPECT_THAT(FormatLuks2(image, SecretBytes(8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too short")));
}

// Header checks run on real LUKS2 images made with libcryptsetup.

struct CryptFree {
  void operator()(crypt_device* cd) const { crypt_free(cd); }
};
using TestCryptDevice = std::unique_ptr<crypt_device, CryptFree>;

TestCryptDevice LoadForTest(const std::string& image) {
  crypt_device* cd = nullptr;
  EXPECT_EQ(crypt_init(&cd, image.c_str()), 0);
  EXPECT_EQ(crypt_load(cd, CRYPT_LUKS2, nullptr), 0);
  return TestCryptDevice(cd);
}

void UseFastPbkdf(crypt_device* cd) {
  crypt_pbkdf_type pbkdf{};
  pbkdf.type = CRYPT_KDF_PBKDF2;
  pbkdf.hash = "sha256";
  pbkdf.iterations = 1000;
  pbkdf.flags = CRYPT_PBKDF_NO_BENCHMARK;
  EXPECT_EQ(crypt_set_pbkdf_type(cd, &pbkdf), 0);
}

// FormatWithCipher formats like FormatLuks2 but with another cipher.
void FormatWithCipher(const std::string& image, const char* cipher, const char* mode,
                      size_t key_bytes, const SecretBytes& key) {
  crypt_device* raw = nullptr;
  ASSERT_EQ(crypt_init(&raw, image.c_str()), 0);
  TestCryptDevice cd(raw);
  UseFastPbkdf(cd.get());
  crypt_params_luks2 params{};
  params.sector_size = 512;
  ASSERT_EQ(crypt_format(cd.get(), CRYPT_LUKS2, cipher, mode, nullptr, nullptr, key_bytes, &params),
            0);
  const ByteSpan bytes = key.Expose();
  ASSERT_EQ(crypt_keyslot_add_by_volume_key(cd.get(), 0, nullptr, 0,
                                            reinterpret_cast<const char*>(bytes.data()),
                                            bytes.size()),
            0);
}

std::string MakeImage(const ScopedTempDir& dir, const std::string& name, uint8_t key_fill) {
  const std::string image = dir.File(name);
  EXPECT_OK(CreateImageFile(image, kImageBytes));
  EXPECT_OK(FormatLuks2(image, TestKey(key_fill)));
  return image;
}

TEST(Luks2HeaderTest, FormattedImagePassesWithItsUuid) {
  ScopedTempDir dir;
  const std::string image = MakeImage(dir, "disk.img", 1);
  ASSERT_OK_AND_ASSIGN(const Luks2Header header, ReadLuks2Header(image));
  EXPECT_EQ(header.cipher, "aes");
  EXPECT_EQ(header.cipher_mode, "xts-plain64");
  EXPECT_EQ(header.volume_key_bytes, 64);
  EXPECT_EQ(header.keyslots, std::vector<int>{0});
  EXPECT_TRUE(header.tokens.empty());
  EXPECT_EQ(header.uuid.size(), 36u);

  Luks2Expectations expected;
  expected.uuid = header.uuid;
  ASSERT_OK_AND_ASSIGN(const OpenResult result, OpenLuks2(image, TestKey(1), "", expected));
  EXPECT_EQ(result.keyslot, 0);
}

TEST(Luks2HeaderTest, SwappedHeaderRejectedByUuid) {
  ScopedTempDir dir;
  const std::string image = MakeImage(dir, "disk.img", 1);
  const std::string other = MakeImage(dir, "other.img", 1);  // Same key, other volume.
  ASSERT_OK_AND_ASSIGN(const Luks2Header original, ReadLuks2Header(image));

  // Copy the other image's whole header area (up to the data offset) over
  // this image, as a host that swaps headers would.
  uint64_t header_bytes = 0;
  {
    TestCryptDevice cd = LoadForTest(other);
    header_bytes = crypt_get_data_offset(cd.get()) * 512;
  }
  ASSERT_GT(header_bytes, 0u);
  ASSERT_OK_AND_ASSIGN(const Bytes other_bytes, ReadFile(other, kImageBytes));
  {
    std::fstream out(image, std::ios::in | std::ios::out | std::ios::binary);
    out.write(reinterpret_cast<const char*>(other_bytes.data()),
              static_cast<std::streamsize>(header_bytes));
  }

  Luks2Expectations expected;
  expected.uuid = original.uuid;
  EXPECT_THAT(OpenLuks2(image, TestKey(1), "", expected),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("but the key is for volume " + original.uuid)));
}

TEST(Luks2HeaderTest, AddedKeyslotRejected) {
  ScopedTempDir dir;
  const std::string image = MakeImage(dir, "disk.img", 1);
  {
    TestCryptDevice cd = LoadForTest(image);
    UseFastPbkdf(cd.get());
    const SecretBytes key = TestKey(1);
    const ByteSpan bytes = key.Expose();
    ASSERT_EQ(crypt_keyslot_add_by_passphrase(cd.get(), 1,
                                              reinterpret_cast<const char*>(bytes.data()),
                                              bytes.size(), "attacker", 8),
              1);
  }
  EXPECT_THAT(OpenLuks2(image, TestKey(1), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("unexpected keyslot 1 is in use")));
}

TEST(Luks2HeaderTest, WrongCipherRejected) {
  ScopedTempDir dir;
  const std::string image = dir.File("cbc.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  FormatWithCipher(image, "aes", "cbc-essiv:sha256", 32, TestKey(1));
  EXPECT_THAT(OpenLuks2(image, TestKey(1), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cipher aes-cbc-essiv:sha256, want aes-xts-plain64")));
}

TEST(Luks2HeaderTest, ShortVolumeKeyRejected) {
  ScopedTempDir dir;
  const std::string image = dir.File("xts256.img");
  ASSERT_OK(CreateImageFile(image, kImageBytes));
  FormatWithCipher(image, "aes", "xts-plain64", 32, TestKey(1));
  EXPECT_THAT(OpenLuks2(image, TestKey(1), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("volume key of 256 bits, want 512")));
}

TEST(Luks2HeaderTest, TokenRejected) {
  ScopedTempDir dir;
  const std::string image = MakeImage(dir, "disk.img", 1);
  {
    TestCryptDevice cd = LoadForTest(image);
    ASSERT_EQ(crypt_token_json_set(cd.get(), CRYPT_ANY_TOKEN,
                                   R"({"type":"vouch-test","keyslots":[]})"),
              0);
  }
  EXPECT_THAT(OpenLuks2(image, TestKey(1), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("unexpected token 0")));
}

}  // namespace
}  // namespace vouch::agent
