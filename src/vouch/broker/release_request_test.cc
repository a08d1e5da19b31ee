#include "vouch/broker/release_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vouch/testing/status_matchers.h"

namespace vouch::broker {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

TEST(ReleaseRequestTest, ParsesAllMembers) {
  ASSERT_OK_AND_ASSIGN(
      const ReleaseRequest request,
      ParseReleaseRequest(R"({"target": "a.b.c", "nonce": "n", "enc": "RSA_AES_KEY_WRAP_384"})"));
  EXPECT_EQ(request.target, "a.b.c");
  EXPECT_EQ(request.nonce, "n");
  EXPECT_EQ(request.enc, KeyExportEnc::kRsaAesKeyWrap384);
}

TEST(ReleaseRequestTest, DefaultsToCkmRsaAesKeyWrap) {
  ASSERT_OK_AND_ASSIGN(const ReleaseRequest request, ParseReleaseRequest(R"({"target": "t"})"));
  EXPECT_EQ(request.enc, KeyExportEnc::kCkmRsaAesKeyWrap);
  EXPECT_FALSE(request.nonce.has_value());
}

TEST(ReleaseRequestTest, RejectsUnknownEncListingAccepted) {
  EXPECT_THAT(ParseReleaseRequest(R"({"target": "t", "enc": "RSA-OAEP"})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("enc \"RSA-OAEP\" is not supported, want CKM_RSA_AES_KEY_WRAP, "
                                 "RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384")));
}

TEST(ReleaseRequestTest, RejectsMalformedBodies) {
  const char* bodies[] = {
      "",
      "[]",
      R"({"nonce": "n"})",
      R"({"target": ""})",
      R"({"target": 5})",
      R"({"target": "t", "nonce": 5})",
      R"({"target": "t", "enc": 5})",
      R"({"target": "t", "extra": true})",
      R"({"target": "t", "target": "u"})",
  };
  for (const char* body : bodies) {
    EXPECT_THAT(ParseReleaseRequest(body), StatusIs(absl::StatusCode::kInvalidArgument)) << body;
  }
}

TEST(ReleaseRequestTest, RejectsDataAfterNulByte) {
  const std::string body = std::string(R"({"target": "t"})") + '\0' + R"({"target": "u"})";
  EXPECT_THAT(ParseReleaseRequest(body),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid JSON at byte 16")));
}

TEST(ReleaseRequestTest, RejectsLongNonce) {
  const std::string body = R"({"target": "t", "nonce": ")" + std::string(2000, 'n') + R"("})";
  EXPECT_THAT(ParseReleaseRequest(body),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit 1024")));
}

TEST(ReleaseRequestTest, RoundTripsThroughJson) {
  const ReleaseRequest request{"t", "n", KeyExportEnc::kRsaAesKeyWrap256};
  ASSERT_OK_AND_ASSIGN(const ReleaseRequest parsed,
                       ReleaseRequestFromJson(ReleaseRequestToJson(request)));
  EXPECT_EQ(parsed.target, "t");
  EXPECT_EQ(parsed.nonce, "n");
  EXPECT_EQ(parsed.enc, KeyExportEnc::kRsaAesKeyWrap256);
}

TEST(ReleaseRequestTest, OaepHashPerEnc) {
  EXPECT_EQ(OaepHashForEnc(KeyExportEnc::kCkmRsaAesKeyWrap), crypto::HashAlg::kSha1);
  EXPECT_EQ(OaepHashForEnc(KeyExportEnc::kRsaAesKeyWrap256), crypto::HashAlg::kSha256);
  EXPECT_EQ(OaepHashForEnc(KeyExportEnc::kRsaAesKeyWrap384), crypto::HashAlg::kSha384);
  EXPECT_EQ(EncName(KeyExportEnc::kRsaAesKeyWrap256), "RSA_AES_KEY_WRAP_256");
}

}  // namespace
}  // namespace vouch::broker
