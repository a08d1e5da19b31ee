// Wycheproof RSA signature vectors (C2SP/wycheproof, testvectors_v1):
// RSASSA-PSS and RSASSA-PKCS1-v1_5.
//
// The SHA-256 files go through JwsVerify (PS256 and RS256), the function that
// checks attestation tokens. AMD's certificate chain (ARK, ASK, VCEK) is
// signed with RSASSA-PSS, SHA-384, MGF1-SHA-384 and a 48-byte salt, and
// Certificate::VerifySignedBy hands it to X509_verify, which reads those
// parameters from the certificate's signatureAlgorithm. X509_verify needs a
// DER TBSCertificate, not an arbitrary message, so the 4096-bit SHA-384 file
// goes through the same OpenSSL call that X509_verify makes
// (EVP_DigestVerify with the PSS parameters set on the context).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/crypto/wycheproof_json.h"
#include "vouch/testing/vectors.h"

namespace vouch::crypto {
namespace {

using ::nlohmann::json;
using wycheproof::HexMember;
using wycheproof::IntMember;
using wycheproof::ReadDocument;
using wycheproof::StringMember;

// VerifyAmdPss verifies an RSASSA-PSS signature with SHA-384, MGF1-SHA-384
// and exactly 48 bytes of salt, the parameters of AMD's certificates.
absl::Status VerifyAmdPss(EVP_PKEY* key, ByteSpan message, ByteSpan signature) {
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // Owned by ctx.
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pkey_ctx, EVP_sha384(), nullptr, key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_ctx, EVP_sha384()) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, 48) != 1) {
    return SslError("rsa-pss verify: init");
  }
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                       message.size()) != 1) {
    return SslError(absl::StatusCode::kUnauthenticated, "rsa-pss: signature does not verify");
  }
  return absl::OkStatus();
}

absl::Status VerifyJws(EVP_PKEY* key, JwsAlg alg, ByteSpan message, ByteSpan signature) {
  JwsParts parts;
  parts.header = {{"alg", std::string(JwsAlgName(alg))}};
  parts.signing_input = ToString(message);
  parts.signature = Bytes(signature.begin(), signature.end());
  const JwsAlg allowed[] = {alg};
  return JwsVerify(parts, key, allowed);
}

enum class Verifier { kJwsPs256, kJwsRs256, kAmdPss };

struct RsaFile {
  const char* path;
  Verifier verifier;
  const char* sha;   // "sha" of every group
  int salt_length;   // "sLen" of every group, -1 for PKCS#1 v1.5
};

constexpr RsaFile kFiles[] = {
    {"wycheproof/rsa_pss_4096_sha384_mgf1_48_test.json", Verifier::kAmdPss, "SHA-384", 48},
    {"wycheproof/rsa_pss_2048_sha256_mgf1_32_test.json", Verifier::kJwsPs256, "SHA-256", 32},
    {"wycheproof/rsa_signature_2048_sha256_test.json", Verifier::kJwsRs256, "SHA-256", -1},
    {"wycheproof/rsa_signature_3072_sha256_test.json", Verifier::kJwsRs256, "SHA-256", -1},
};

absl::Status Verify(Verifier verifier, EVP_PKEY* key, ByteSpan message, ByteSpan signature) {
  switch (verifier) {
    case Verifier::kJwsPs256:
      return VerifyJws(key, JwsAlg::kPs256, message, signature);
    case Verifier::kJwsRs256:
      return VerifyJws(key, JwsAlg::kRs256, message, signature);
    case Verifier::kAmdPss:
      return VerifyAmdPss(key, message, signature);
  }
  return absl::InternalError("unknown verifier");
}

TEST(WycheproofRsaTest, SignatureVectors) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const RsaFile& file : kFiles) {
    SCOPED_TRACE(file.path);
    const json document = ReadDocument(file.path);
    int checked = 0;
    int skipped_groups = 0;
    for (const json& group : document["testGroups"]) {
      absl::StatusOr<SslPtr<EVP_PKEY>> key = PublicKeyFromDer(HexMember(group, "publicKeyDer"));
      const bool salt_matches =
          file.salt_length < 0 || IntMember(group, "sLen") == file.salt_length;
      if (StringMember(group, "sha") != file.sha || !salt_matches || !key.ok()) {
        std::cout << file.path << ": skipped group with sha " << StringMember(group, "sha")
                  << ", sLen " << IntMember(group, "sLen") << ", key "
                  << (key.ok() ? "ok" : key.status().ToString()) << "\n";
        ++skipped_groups;
        continue;
      }
      ASSERT_TRUE(group["tests"].is_array());
      for (const json& test : group["tests"]) {
        const Bytes message = HexMember(test, "msg");
        const Bytes signature = HexMember(test, "sig");
        const std::string result = StringMember(test, "result");
        const absl::Status status = Verify(file.verifier, key->get(), message, signature);
        if (result == "valid") {
          EXPECT_TRUE(status.ok()) << "tcId " << test["tcId"] << ": " << status;
        } else if (result == "invalid") {
          EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated)
              << "tcId " << test["tcId"] << " " << StringMember(test, "comment") << ": " << status;
        } else if (result != "acceptable") {
          ADD_FAILURE() << "tcId " << test["tcId"] << ": unexpected result \"" << result << "\"";
        }
        ++checked;
      }
    }
    std::cout << file.path << ": " << checked << " vectors checked, " << skipped_groups
              << " groups skipped\n";
    EXPECT_GT(checked, 100);
    EXPECT_EQ(skipped_groups, 0);
  }
}

// RSASSA-PKCS1-v1_5 with SHA-384 (rsa_signature_4096_sha384_test.json) has no
// verify function in vouch outside the TPM quote check, which takes a whole
// TPMS_ATTEST, so that file is not run here.

}  // namespace
}  // namespace vouch::crypto
