// Wycheproof vectors (C2SP/wycheproof, testvectors_v1) for AES key wrap
// (RFC 3394 and RFC 5649), AES-256-GCM with 96-bit nonces and RSA-OAEP.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "vouch/base/bytes.h"
#include "vouch/crypto/aead.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/wycheproof_json.h"
#include "vouch/testing/vectors.h"

namespace vouch::crypto {
namespace {

using ::nlohmann::json;
using wycheproof::HexMember;
using wycheproof::IntMember;
using wycheproof::ReadDocument;
using wycheproof::StringMember;

// PrivateKeyPem wraps a DER PKCS#8 private key in a PEM block.
std::string PrivateKeyPem(ByteSpan der) {
  const std::string base64 = Base64Encode(der);
  std::string pem = "-----BEGIN PRIVATE KEY-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) {
    pem += base64.substr(i, 64) + "\n";
  }
  return pem + "-----END PRIVATE KEY-----\n";
}

void RunKeyWrapFile(const char* path, bool pad) {
  SCOPED_TRACE(path);
  const json document = ReadDocument(path);
  int checked = 0;
  for (const json& group : document["testGroups"]) {
    for (const json& test : group["tests"]) {
      SCOPED_TRACE("tcId " + std::to_string(IntMember(test, "tcId")) + " " +
                   StringMember(test, "comment"));
      const SecretBytes kek(HexMember(test, "key"));
      const Bytes msg = HexMember(test, "msg");
      const Bytes ct = HexMember(test, "ct");
      const std::string result = StringMember(test, "result");
      auto unwrapped = pad ? AesKeyUnwrapPad(kek, ct) : AesKeyUnwrap(kek, ct);
      if (result == "valid") {
        auto wrapped = pad ? AesKeyWrapPad(kek, msg) : AesKeyWrap(kek, msg);
        ASSERT_TRUE(wrapped.ok()) << wrapped.status();
        EXPECT_EQ(HexEncode(*wrapped), HexEncode(ct));
        ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
        EXPECT_EQ(HexEncode(unwrapped->Expose()), HexEncode(msg));
      } else {
        // "invalid" cases, and the "acceptable" ones (8-byte keys under
        // RFC 3394, which may go either way) that vouch rejects.
        EXPECT_FALSE(unwrapped.ok()) << result;
      }
      ++checked;
    }
  }
  std::cout << path << ": " << checked << " vectors checked\n";
  EXPECT_GT(checked, 100);
}

TEST(WycheproofCipherTest, AesKeyWrapPad) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  RunKeyWrapFile("wycheproof/aes_kwp_test.json", /*pad=*/true);
}

TEST(WycheproofCipherTest, AesKeyWrap) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  RunKeyWrapFile("wycheproof/aes_wrap_test.json", /*pad=*/false);
}

TEST(WycheproofCipherTest, AesGcm) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const json document = ReadDocument("wycheproof/aes_gcm_test.json");
  int checked = 0;
  int skipped_groups = 0;
  for (const json& group : document["testGroups"]) {
    // AesGcmOpen supports only 256-bit keys, 96-bit nonces and 128-bit tags.
    if (IntMember(group, "keySize") != 256 || IntMember(group, "ivSize") != 96 ||
        IntMember(group, "tagSize") != 128) {
      ++skipped_groups;
      continue;
    }
    for (const json& test : group["tests"]) {
      SCOPED_TRACE("tcId " + std::to_string(IntMember(test, "tcId")));
      const SecretBytes key(HexMember(test, "key"));
      Bytes sealed = HexMember(test, "iv");
      const Bytes ct = HexMember(test, "ct");
      const Bytes tag = HexMember(test, "tag");
      sealed.insert(sealed.end(), ct.begin(), ct.end());
      sealed.insert(sealed.end(), tag.begin(), tag.end());
      auto opened = AesGcmOpen(key, sealed, HexMember(test, "aad"));
      if (StringMember(test, "result") == "valid") {
        ASSERT_TRUE(opened.ok()) << opened.status();
        EXPECT_EQ(HexEncode(opened->Expose()), HexEncode(HexMember(test, "msg")));
      } else {
        EXPECT_FALSE(opened.ok());
      }
      ++checked;
    }
  }
  std::cout << "aes_gcm_test.json: " << checked << " vectors checked, " << skipped_groups
            << " groups skipped (other key, nonce or tag sizes)\n";
  EXPECT_GT(checked, 50);
}

struct OaepFile {
  const char* path;
  HashAlg hash;
};

TEST(WycheproofCipherTest, RsaOaepDecrypt) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const OaepFile files[] = {
      {"wycheproof/rsa_oaep_2048_sha1_mgf1sha1_test.json", HashAlg::kSha1},
      {"wycheproof/rsa_oaep_2048_sha256_mgf1sha256_test.json", HashAlg::kSha256},
      {"wycheproof/rsa_oaep_3072_sha256_mgf1sha256_test.json", HashAlg::kSha256},
      {"wycheproof/rsa_oaep_4096_sha256_mgf1sha256_test.json", HashAlg::kSha256},
  };
  for (const OaepFile& file : files) {
    SCOPED_TRACE(file.path);
    const json document = ReadDocument(file.path);
    int checked = 0;
    int skipped_tests = 0;
    for (const json& group : document["testGroups"]) {
      const std::string pem = PrivateKeyPem(HexMember(group, "privateKeyPkcs8"));
      auto key = PrivateKeyFromPem(AsBytes(pem));
      ASSERT_TRUE(key.ok()) << key.status();
      for (const json& test : group["tests"]) {
        SCOPED_TRACE("tcId " + std::to_string(IntMember(test, "tcId")));
        // RsaOaepDecrypt always uses an empty label.
        if (!HexMember(test, "label").empty()) {
          ++skipped_tests;
          continue;
        }
        auto decrypted = RsaOaepDecrypt(key->get(), file.hash, HexMember(test, "ct"));
        if (StringMember(test, "result") == "valid") {
          ASSERT_TRUE(decrypted.ok()) << decrypted.status();
          EXPECT_EQ(HexEncode(decrypted->Expose()), HexEncode(HexMember(test, "msg")));
        } else {
          EXPECT_FALSE(decrypted.ok());
        }
        ++checked;
      }
    }
    std::cout << file.path << ": " << checked << " vectors checked, " << skipped_tests
              << " skipped (non-empty label)\n";
    EXPECT_GT(checked, 10);
  }
}

}  // namespace
}  // namespace vouch::crypto
