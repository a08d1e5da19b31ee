#include "vouch/crypto/crl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/test_keys.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::crypto {
namespace {

using ::testing::HasSubstr;
using ::vouch::crypto::testing::EcTestKey;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

absl::Time Utc(int year, int month, int day) {
  return absl::FromCivil(absl::CivilSecond(year, month, day, 0, 0, 0), absl::UTCTimeZone());
}

Certificate ReadCert(const std::string& file) {
  auto certs = ParseCertificates(ReadVector(file));
  EXPECT_TRUE(certs.ok()) << file << ": " << certs.status();
  return certs.ok() ? certs->front() : Certificate();
}

std::string ToPem(ByteSpan der) {
  std::string pem = "-----BEGIN X509 CRL-----\n";
  const std::string b64 = Base64Encode(der);
  for (size_t i = 0; i < b64.size(); i += 64) {
    pem += b64.substr(i, 64) + "\n";
  }
  return pem + "-----END X509 CRL-----\n";
}

struct TestCa {
  Certificate cert;
  EVP_PKEY* key = nullptr;
};

TestCa MakeCa(const std::string& name, int key_index) {
  TestCa ca;
  ca.key = EcTestKey("P-256", key_index);
  CertificateSpec spec;
  spec.common_name = name;
  spec.subject_key = ca.key;
  spec.issuer_key = ca.key;
  spec.not_before = Utc(2024, 1, 1);
  spec.not_after = Utc(2034, 1, 1);
  spec.is_ca = true;
  spec.signature = SignatureScheme::kEcdsaSha256;
  auto cert = IssueCertificate(spec);
  EXPECT_TRUE(cert.ok()) << cert.status();
  ca.cert = *cert;
  return ca;
}

TEST(CrlTest, ParsesIntelRootCrlDer) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  auto crl = Crl::Parse(ReadVector("intel-certs/intel_sgx_root_ca_crl_2025-03-20.der"));
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_EQ(crl->IssuerCommonName(), "Intel SGX Root CA");
  EXPECT_EQ(crl->NumRevoked(), 0u);
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d", crl->ThisUpdate(), absl::UTCTimeZone()), "2025-03-20");
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d", crl->NextUpdate(), absl::UTCTimeZone()), "2026-04-03");
  const Certificate root = ReadCert("intel-certs/intel_sgx_root_ca.pem");
  EXPECT_TRUE(crl->VerifySignedBy(root).ok());
  EXPECT_TRUE(crl->CheckValidAt(Utc(2025, 6, 20)).ok());
  EXPECT_THAT(crl->CheckValidAt(Utc(2026, 5, 1)), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(crl->CheckValidAt(Utc(2025, 1, 1)), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(CrlTest, ParsesIntelPckCrlAsDerAndPem) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes der = ReadVector("intel-collateral/2025-10_automata/pck_platform_crl.der");
  auto from_der = Crl::Parse(der);
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  auto from_pem = Crl::Parse(AsBytes(ToPem(der)));
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_EQ(from_pem->Der(), der);
  EXPECT_EQ(from_der->NumRevoked(), 44u);
  EXPECT_EQ(from_der->IssuerCommonName(), "Intel SGX PCK Platform CA");
  const Certificate platform_ca = ReadCert("intel-certs/intel_sgx_pck_platform_ca.pem");
  EXPECT_TRUE(from_der->VerifySignedBy(platform_ca).ok());
  const Certificate processor_ca = ReadCert("intel-certs/intel_sgx_pck_processor_ca.pem");
  EXPECT_THAT(from_der->VerifySignedBy(processor_ca),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(CrlTest, RejectsGarbageAndEmptyInput) {
  EXPECT_THAT(Crl::Parse({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Crl::Parse(AsBytes("not a crl")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Crl::Parse(AsBytes("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(Crl::LooksLikeCrl(AsBytes("{\"tcbInfo\":{}}")));
}

TEST(CrlTest, RejectsEveryTruncationAndTrailingBytes) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes der = ReadVector("intel-certs/intel_sgx_root_ca_crl_2025-03-20.der");
  for (size_t n = 0; n < der.size(); ++n) {
    EXPECT_THAT(Crl::Parse(ByteSpan(der).first(n)), StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
  Bytes longer = der;
  longer.push_back(0);
  EXPECT_THAT(Crl::Parse(longer), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CrlTest, ByteFlipBreaksSignature) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Certificate root = ReadCert("intel-certs/intel_sgx_root_ca.pem");
  const Bytes der = ReadVector("intel-certs/intel_sgx_root_ca_crl_2025-03-20.der");
  for (size_t i = 0; i < der.size(); ++i) {
    Bytes flipped = der;
    flipped[i] ^= 0x01;
    auto crl = Crl::Parse(flipped);
    if (crl.ok()) {
      EXPECT_FALSE(crl->VerifySignedBy(root).ok()) << "offset " << i;
    }
  }
}

TEST(CrlTest, IssuedCrlListsRevokedSerials) {
  const TestCa ca = MakeCa("Test PCK CA", 0);
  CrlSpec spec;
  spec.issuer = &ca.cert;
  spec.issuer_key = ca.key;
  spec.this_update = Utc(2025, 1, 1);
  spec.next_update = Utc(2025, 2, 1);
  spec.revoked_serials = {Bytes{0x01, 0x02, 0x03}, Bytes{0x7e, 0x38}};
  auto crl = IssueCrl(spec);
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_EQ(crl->NumRevoked(), 2u);
  EXPECT_TRUE(crl->VerifySignedBy(ca.cert).ok());
  EXPECT_TRUE(crl->IsRevoked(Bytes{0x01, 0x02, 0x03}));
  EXPECT_TRUE(crl->IsRevoked(Bytes{0x00, 0x01, 0x02, 0x03}));
  EXPECT_FALSE(crl->IsRevoked(Bytes{0x01, 0x02}));

  const TestCa other = MakeCa("Test PCK CA", 1);
  EXPECT_THAT(crl->VerifySignedBy(other.cert), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(CrlTest, IsRevokedFindsCertificateSerial) {
  const TestCa ca = MakeCa("Test CA", 0);
  CertificateSpec leaf_spec;
  leaf_spec.common_name = "leaf";
  leaf_spec.issuer = ca.cert;
  leaf_spec.subject_key = EcTestKey("P-256", 2);
  leaf_spec.issuer_key = ca.key;
  leaf_spec.serial = 0x1234567;
  leaf_spec.not_before = Utc(2024, 1, 1);
  leaf_spec.not_after = Utc(2030, 1, 1);
  leaf_spec.signature = SignatureScheme::kEcdsaSha256;
  auto leaf = IssueCertificate(leaf_spec);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(HexEncode(SerialOf(*leaf)), "01234567");

  CrlSpec spec;
  spec.issuer = &ca.cert;
  spec.issuer_key = ca.key;
  spec.this_update = Utc(2025, 1, 1);
  spec.next_update = Utc(2025, 2, 1);
  spec.revoked_serials = {SerialOf(*leaf)};
  auto crl = IssueCrl(spec);
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_TRUE(crl->IsRevoked(*leaf));
  EXPECT_FALSE(crl->IsRevoked(ca.cert));
  EXPECT_THAT(crl->CheckValidAt(Utc(2025, 3, 1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("nextUpdate 2025-02-01")));
}

}  // namespace
}  // namespace vouch::crypto
