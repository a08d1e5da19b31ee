// Wycheproof ECDSA vectors (C2SP/wycheproof, testvectors_v1) through
// VerifyEcdsaDer and VerifyEcdsaP1363.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "vouch/base/bytes.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/wycheproof_json.h"
#include "vouch/testing/vectors.h"

namespace vouch::crypto {
namespace {

using ::nlohmann::json;
using wycheproof::HexMember;
using wycheproof::StringMember;

enum class SignatureForm { kDer, kP1363 };

struct WycheproofFile {
  const char* path;
  HashAlg hash;
  SignatureForm form;
};

constexpr WycheproofFile kFiles[] = {
    {"wycheproof/ecdsa_secp256r1_sha256_test.json", HashAlg::kSha256, SignatureForm::kDer},
    {"wycheproof/ecdsa_secp256r1_sha256_p1363_test.json", HashAlg::kSha256, SignatureForm::kP1363},
    {"wycheproof/ecdsa_secp384r1_sha384_test.json", HashAlg::kSha384, SignatureForm::kDer},
    {"wycheproof/ecdsa_secp384r1_sha384_p1363_test.json", HashAlg::kSha384, SignatureForm::kP1363},
};

TEST(WycheproofEcdsaTest, AllVectors) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const WycheproofFile& file : kFiles) {
    SCOPED_TRACE(file.path);
    const json document = json::parse(ToString(testing::ReadVector(file.path)), nullptr, false);
    ASSERT_TRUE(document.is_object());
    ASSERT_TRUE(document["testGroups"].is_array());

    int checked = 0;
    int skipped_groups = 0;
    for (const json& group : document["testGroups"]) {
      const std::string want_hash = file.hash == HashAlg::kSha256 ? "SHA-256" : "SHA-384";
      auto key = PublicKeyFromDer(HexMember(group, "publicKeyDer"));
      if (StringMember(group, "sha") != want_hash || !key.ok()) {
        ++skipped_groups;
        continue;
      }
      ASSERT_TRUE(group["tests"].is_array());
      for (const json& test : group["tests"]) {
        const Bytes message = HexMember(test, "msg");
        const Bytes signature = HexMember(test, "sig");
        const std::string result = StringMember(test, "result");
        const absl::Status status =
            file.form == SignatureForm::kDer
                ? VerifyEcdsaDer(key->get(), file.hash, message, signature)
                : VerifyEcdsaP1363(key->get(), file.hash, message, signature);
        if (result == "valid") {
          EXPECT_TRUE(status.ok()) << "tcId " << test["tcId"] << ": " << status;
        } else if (result == "invalid") {
          EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated)
              << "tcId " << test["tcId"] << " " << StringMember(test, "comment") << ": " << status;
        } else {
          ADD_FAILURE() << "tcId " << test["tcId"] << ": unexpected result \"" << result << "\"";
        }
        ++checked;
      }
    }
    std::cout << file.path << ": " << checked << " vectors checked, " << skipped_groups
              << " groups skipped\n";
    EXPECT_GT(checked, 200);
    EXPECT_EQ(skipped_groups, 0);
  }
}

}  // namespace
}  // namespace vouch::crypto
