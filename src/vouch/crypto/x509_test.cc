#include "vouch/crypto/x509.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/objects.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/test_keys.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::crypto {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr std::string_view kVcekOidBootLoader = "1.3.6.1.4.1.3704.1.3.1";
constexpr std::string_view kVcekOidProductName = "1.3.6.1.4.1.3704.1.2";
constexpr std::string_view kVcekOidHwid = "1.3.6.1.4.1.3704.1.4";

struct AmdChainCase {
  std::string_view chain_file;  // intermediate (ASK or ASVK), then ARK
  std::string_view intermediate_cn;
  std::string_view ark_cn;
  // SHA-256 of the ARK SubjectPublicKeyInfo, computed with
  // `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum`.
  std::string_view ark_spki_sha256;
};

constexpr AmdChainCase kAmdChains[] = {
    {"amd-certs/milan_chain.pem", "SEV-Milan", "ARK-Milan",
     "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9"},
    {"amd-certs/milan_vlek_chain.pem", "SEV-VLEK-Milan", "ARK-Milan",
     "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9"},
    {"amd-certs/genoa_chain.pem", "SEV-Genoa", "ARK-Genoa",
     "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831"},
    {"amd-certs/genoa_vlek_chain.pem", "SEV-VLEK-Genoa", "ARK-Genoa",
     "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831"},
    {"amd-certs/turin_chain.pem", "SEV-Turin", "ARK-Turin",
     "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08"},
    {"amd-certs/turin_vlek_chain.pem", "SEV-VLEK-Turin", "ARK-Turin",
     "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08"},
};

struct LeafCase {
  std::string_view leaf_file;
  std::string_view chain_file;
};

constexpr LeafCase kAmdLeaves[] = {
    {"sev-snp/gosevguest-milan-vcek.der", "amd-certs/milan_chain.pem"},
    {"sev-snp/virtee-milan-vcek.der", "amd-certs/milan_chain.pem"},
    {"sev-snp/trustee-milan-v2-vcek.der", "amd-certs/milan_chain.pem"},
    {"sev-snp/constellation-azure-milan-vcek.der", "amd-certs/milan_chain.pem"},
    {"sev-snp/oak-genoa-vcek.der", "amd-certs/genoa_chain.pem"},
    {"sev-snp/virtee-turin-vcek-only.der", "amd-certs/turin_chain.pem"},
    {"sev-snp/trustee-aws-milan-vlek-v3-vlek.der", "amd-certs/milan_vlek_chain.pem"},
};

std::vector<Certificate> ReadChain(std::string_view file) {
  auto chain = ParseCertificates(ReadVector(std::string(file)));
  EXPECT_TRUE(chain.ok()) << file << ": " << chain.status();
  return chain.ok() ? *std::move(chain) : std::vector<Certificate>{};
}

absl::Time Utc(int year, int month, int day, int hour, int minute, int second) {
  return absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                         absl::UTCTimeZone());
}

TEST(AmdCertificateTest, ChainsVerifyLinkByLink) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const AmdChainCase& c : kAmdChains) {
    SCOPED_TRACE(std::string(c.chain_file));
    const std::vector<Certificate> chain = ReadChain(c.chain_file);
    ASSERT_EQ(chain.size(), 2u);
    const Certificate& intermediate = chain[0];
    const Certificate& ark = chain[1];

    EXPECT_EQ(intermediate.SubjectCommonName(), c.intermediate_cn);
    EXPECT_EQ(intermediate.IssuerCommonName(), c.ark_cn);
    EXPECT_EQ(ark.SubjectCommonName(), c.ark_cn);
    EXPECT_EQ(ark.IssuerCommonName(), c.ark_cn);
    EXPECT_EQ(X509_get_signature_nid(ark.get()), NID_rsassaPss);
    EXPECT_EQ(HexEncode(ark.SpkiSha256()), c.ark_spki_sha256);
    EXPECT_TRUE(intermediate.IsCa());
    EXPECT_TRUE(ark.IsCa());

    EXPECT_OK(intermediate.VerifySignedBy(ark));
    EXPECT_OK(ark.VerifySignedBy(ark));
    EXPECT_THAT(ark.VerifySignedBy(intermediate), StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_THAT(intermediate.VerifySignedBy(intermediate),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST(AmdCertificateTest, LeavesVerifyUnderTheirIntermediate) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const LeafCase& c : kAmdLeaves) {
    SCOPED_TRACE(std::string(c.leaf_file));
    ASSERT_OK_AND_ASSIGN(const Certificate leaf,
                         Certificate::FromDer(ReadVector(std::string(c.leaf_file))));
    const std::vector<Certificate> chain = ReadChain(c.chain_file);
    ASSERT_EQ(chain.size(), 2u);

    EXPECT_OK(leaf.VerifySignedBy(chain[0]));
    EXPECT_THAT(leaf.VerifySignedBy(chain[1]), StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_FALSE(leaf.IsCa());
    EXPECT_TRUE(EVP_PKEY_is_a(leaf.PublicKey(), "EC"));
    EXPECT_EQ(EVP_PKEY_get_bits(leaf.PublicKey()), 384);
  }
}

TEST(AmdCertificateTest, InvalidVceksFailUnderMilanAsk) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<Certificate> chain = ReadChain("amd-certs/milan_chain.pem");
  ASSERT_EQ(chain.size(), 2u);
  for (const char* file :
       {"sev-snp/negative/test-vcek-invalid-legacy.der", "sev-snp/negative/test-vcek-invalid-new.der"}) {
    SCOPED_TRACE(file);
    ASSERT_OK_AND_ASSIGN(const Certificate leaf, Certificate::FromDer(ReadVector(file)));
    EXPECT_THAT(leaf.VerifySignedBy(chain[0]),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
  }
}

TEST(AmdCertificateTest, VcekFieldsAndExtensions) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes der = ReadVector("sev-snp/gosevguest-milan-vcek.der");
  ASSERT_OK_AND_ASSIGN(const Certificate vcek, Certificate::FromDer(der));

  EXPECT_EQ(vcek.Der(), der);
  EXPECT_EQ(vcek.Sha256(), Sha256(der));
  EXPECT_EQ(vcek.SubjectCommonName(), "SEV-VCEK");
  EXPECT_EQ(vcek.IssuerCommonName(), "SEV-Milan");
  EXPECT_THAT(vcek.Subject(), HasSubstr("CN=SEV-VCEK"));
  EXPECT_THAT(vcek.Subject(), HasSubstr("O=Advanced Micro Devices"));
  EXPECT_THAT(vcek.Issuer(), HasSubstr("CN=SEV-Milan"));
  EXPECT_EQ(vcek.NotBefore(), Utc(2022, 9, 24, 0, 55, 28));
  EXPECT_EQ(vcek.NotAfter(), Utc(2029, 9, 24, 0, 55, 28));
  ASSERT_OK_AND_ASSIGN(const Bytes spki, PublicKeyToDer(vcek.PublicKey()));
  EXPECT_EQ(vcek.SpkiSha256(), Sha256(spki));

  const std::optional<Bytes> boot_loader = vcek.ExtensionValue(kVcekOidBootLoader);
  ASSERT_TRUE(boot_loader.has_value());
  ASSERT_GE(boot_loader->size(), 3u);
  EXPECT_EQ((*boot_loader)[0], 0x02);  // INTEGER

  const std::optional<Bytes> product = vcek.ExtensionValue(kVcekOidProductName);
  ASSERT_TRUE(product.has_value());
  EXPECT_EQ(*product, (Bytes{0x16, 0x08, 'M', 'i', 'l', 'a', 'n', '-', 'B', '0'}));  // IA5String

  const std::optional<Bytes> hwid = vcek.ExtensionValue(kVcekOidHwid);
  ASSERT_TRUE(hwid.has_value());
  // AMD puts the 64-byte hwID directly in extnValue, with no inner OCTET
  // STRING header.
  EXPECT_EQ(hwid->size(), 64u);

  EXPECT_FALSE(vcek.ExtensionValue("1.3.6.1.4.1.3704.1.3.99").has_value());
  EXPECT_FALSE(vcek.ExtensionValue("basicConstraints").has_value());
  EXPECT_FALSE(vcek.ExtensionValue("").has_value());
  EXPECT_FALSE(vcek.ExtensionValue("1.3.6.1.4.1.3704.1.3.1 ").has_value());
  EXPECT_FALSE(vcek.ExtensionValue("1.3.6.1.4.1.3704.1.3.01").has_value());
}

TEST(AmdCertificateTest, CheckValidAt) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const Certificate vcek,
                       Certificate::FromDer(ReadVector("sev-snp/gosevguest-milan-vcek.der")));
  EXPECT_OK(vcek.CheckValidAt(Utc(2025, 1, 1, 0, 0, 0)));
  EXPECT_OK(vcek.CheckValidAt(vcek.NotBefore()));
  EXPECT_OK(vcek.CheckValidAt(vcek.NotAfter()));
  EXPECT_THAT(vcek.CheckValidAt(vcek.NotBefore() - absl::Seconds(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("SEV-VCEK")));
  EXPECT_THAT(vcek.CheckValidAt(vcek.NotAfter() + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("2029")));
}

TEST(AmdCertificateTest, ByteFlipsNeverVerify) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<Certificate> chain = ReadChain("amd-certs/milan_chain.pem");
  ASSERT_EQ(chain.size(), 2u);
  const Bytes good = ReadVector("sev-snp/gosevguest-milan-vcek.der");
  int parsed = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes flipped = good;
    flipped[i] ^= 0x01;
    auto certificate = Certificate::FromDer(flipped);
    if (!certificate.ok()) {
      EXPECT_THAT(certificate, StatusIs(absl::StatusCode::kInvalidArgument)) << "offset " << i;
      continue;
    }
    ++parsed;
    EXPECT_THAT(certificate->VerifySignedBy(chain[0]),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "offset " << i;
  }
  EXPECT_GT(parsed, 0);  // Flips in names, extensions and the signature still parse.
}

TEST(ParseCertificatesTest, PemChainWithTextAround) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::string pem = ToString(ReadVector("amd-certs/milan_chain.pem"));
  const std::string text = "Milan chain\n" + pem + "\ntrailing notes\n";
  ASSERT_OK_AND_ASSIGN(const std::vector<Certificate> chain, ParseCertificates(AsBytes(text)));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0].SubjectCommonName(), "SEV-Milan");

  ASSERT_OK_AND_ASSIGN(const std::vector<Certificate> again,
                       ParseCertificates(AsBytes(chain[0].Pem())));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].Der(), chain[0].Der());
}

TEST(ParseCertificatesTest, ConcatenatedDer) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<Certificate> chain = ReadChain("amd-certs/milan_chain.pem");
  ASSERT_EQ(chain.size(), 2u);
  Bytes der = ReadVector("sev-snp/gosevguest-milan-vcek.der");
  for (const Certificate& c : chain) {
    const Bytes one = c.Der();
    der.insert(der.end(), one.begin(), one.end());
  }
  ASSERT_OK_AND_ASSIGN(const std::vector<Certificate> parsed, ParseCertificates(der));
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0].SubjectCommonName(), "SEV-VCEK");
  EXPECT_EQ(parsed[2].SubjectCommonName(), "ARK-Milan");
}

TEST(ParseCertificatesTest, RejectsEmptyAndGarbage) {
  EXPECT_THAT(ParseCertificates({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCertificates(AsBytes("hello")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCertificates(Bytes{0x30, 0x03, 0x02, 0x01, 0x00}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCertificates(Bytes{0x30, 0x80, 0x00, 0x00}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCertificates(AsBytes("-----BEGIN CERTIFICATE-----\nAAAA\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("END")));
  EXPECT_THAT(
      ParseCertificates(AsBytes("-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----\n")),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ParseCertificates(AsBytes("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCertificates(AsBytes("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCertificates(Bytes(kMaxCertificateInputBytes + 1, 0x30)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
  EXPECT_THAT(Certificate::FromDer({}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseCertificatesTest, RejectsEveryDerTruncation) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes good = ReadVector("sev-snp/gosevguest-milan-vcek.der");
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_THAT(ParseCertificates(ByteSpan(good).first(n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
}

TEST(ParseCertificatesTest, RejectsTrailingBytesAfterDer) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes der = ReadVector("sev-snp/gosevguest-milan-vcek.der");
  const Bytes good = der;
  der.push_back(0x00);
  EXPECT_THAT(ParseCertificates(der), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Certificate::FromDer(der),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trailing")));
  Bytes two = good;
  two.insert(two.end(), good.begin(), good.begin() + 10);
  EXPECT_THAT(ParseCertificates(two), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseCertificatesTest, RejectsTruncatedPemBlocks) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::string pem = ToString(ReadVector("amd-certs/milan_chain.pem"));
  const size_t first_end = pem.find("-----END CERTIFICATE-----");
  ASSERT_NE(first_end, std::string::npos);
  // Every cut inside the first block's body or END line leaves no complete
  // certificate in the first block.
  for (size_t n = 40; n < first_end + 24; n += 7) {
    EXPECT_THAT(ParseCertificates(AsBytes(std::string_view(pem).substr(0, n))),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
}

TEST(ParseCertificatesTest, RejectsTooManyCertificates) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes one = ReadVector("sev-snp/gosevguest-milan-vcek.der");
  Bytes many;
  for (size_t i = 0; i <= kMaxCertificatesPerInput; ++i) {
    many.insert(many.end(), one.begin(), one.end());
  }
  EXPECT_THAT(ParseCertificates(many),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than")));
}

class CertificateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("vouch_crypto_certs_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "nested");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, ByteSpan data) {
    std::ofstream out(dir_ / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  }

  std::filesystem::path dir_;
};

TEST_F(CertificateDirTest, LoadsCertificateFilesAndSkipsOthers) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Write("a-chain.pem", ReadVector("amd-certs/milan_chain.pem"));
  Write("b-vcek.der", ReadVector("sev-snp/gosevguest-milan-vcek.der"));
  Write("README", AsBytes("not a certificate\n"));
  Write("empty", {});
  Write("nested/c-vcek.der", ReadVector("sev-snp/virtee-milan-vcek.der"));

  ASSERT_OK_AND_ASSIGN(const std::vector<Certificate> certificates,
                       LoadCertificatesFromDir(dir_.string()));
  ASSERT_EQ(certificates.size(), 3u);  // Not the file in the nested folder.
  EXPECT_EQ(certificates[0].SubjectCommonName(), "SEV-Milan");
  EXPECT_EQ(certificates[1].SubjectCommonName(), "ARK-Milan");
  EXPECT_EQ(certificates[2].SubjectCommonName(), "SEV-VCEK");
}

TEST_F(CertificateDirTest, EmptyFolderGivesNoCertificates) {
  ASSERT_OK_AND_ASSIGN(const std::vector<Certificate> certificates,
                       LoadCertificatesFromDir(dir_.string()));
  EXPECT_TRUE(certificates.empty());
}

TEST_F(CertificateDirTest, MissingFolderIsAnError) {
  EXPECT_THAT(LoadCertificatesFromDir((dir_ / "absent").string()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(CertificateTest, CopiesShareTheX509) {
  ASSERT_OK_AND_ASSIGN(
      const Certificate original,
      IssueCertificate({.common_name = "copy",
                        .subject_key = testing::EcTestKey("P-256"),
                        .issuer_key = testing::EcTestKey("P-256"),
                        .not_before = absl::UnixEpoch(),
                        .not_after = absl::UnixEpoch() + absl::Hours(1),
                        .signature = SignatureScheme::kEcdsaSha256}));
  Certificate copy = original;
  EXPECT_EQ(copy.get(), original.get());
  Certificate assigned;
  EXPECT_TRUE(assigned.empty());
  assigned = copy;
  EXPECT_EQ(assigned.get(), original.get());
  Certificate moved = std::move(copy);
  EXPECT_EQ(moved.get(), original.get());
}

TEST(CertificateTest, VerifySignedByRejectsEmpty) {
  ASSERT_OK_AND_ASSIGN(
      const Certificate certificate,
      IssueCertificate({.common_name = "self",
                        .subject_key = testing::EcTestKey("P-256"),
                        .issuer_key = testing::EcTestKey("P-256"),
                        .not_before = absl::UnixEpoch(),
                        .not_after = absl::UnixEpoch() + absl::Hours(1),
                        .signature = SignatureScheme::kEcdsaSha256}));
  EXPECT_THAT(certificate.VerifySignedBy(Certificate()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Certificate().VerifySignedBy(certificate),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A three-level chain shaped like AMD's: RSA-PSS/SHA-384 root and
// intermediate, and an EC P-384 leaf with custom extensions.
class IssueCertificateTest : public ::testing::Test {
 protected:
  static CertificateSpec RootSpec() {
    return CertificateSpec{.common_name = "ARK-Test",
                           .organization = "Vouch Test",
                           .organizational_unit = "Engineering",
                           .country = "US",
                           .subject_key = testing::RsaTestKey(2048, 1),
                           .issuer_key = testing::RsaTestKey(2048, 1),
                           .serial = 0,
                           .not_before = Utc(2024, 1, 1, 0, 0, 0),
                           .not_after = Utc(2049, 1, 1, 0, 0, 0),
                           .is_ca = true,
                           .signature = SignatureScheme::kRsaPssSha384};
  }
};

TEST_F(IssueCertificateTest, RsaPssChainVerifies) {
  ASSERT_OK_AND_ASSIGN(const Certificate root, IssueCertificate(RootSpec()));

  CertificateSpec ask_spec = RootSpec();
  ask_spec.common_name = "SEV-Test";
  ask_spec.issuer = root;
  ask_spec.subject_key = testing::RsaTestKey(2048);
  ASSERT_OK_AND_ASSIGN(const Certificate ask, IssueCertificate(ask_spec));

  CertificateSpec leaf_spec{.common_name = "SEV-VCEK",
                            .issuer = ask,
                            .subject_key = testing::EcTestKey("P-384"),
                            .issuer_key = testing::RsaTestKey(2048),
                            .serial = 0,
                            .not_before = Utc(2024, 1, 1, 0, 0, 0),
                            .not_after = Utc(2031, 1, 1, 0, 0, 0),
                            .signature = SignatureScheme::kRsaPssSha384,
                            .extensions = {{std::string(kVcekOidBootLoader), {0x02, 0x01, 0x07}},
                                           {"1.3.6.1.4.1.3704.1.4", Bytes(66, 0xab), true}}};
  ASSERT_OK_AND_ASSIGN(const Certificate leaf, IssueCertificate(leaf_spec));

  EXPECT_OK(root.VerifySignedBy(root));
  EXPECT_OK(ask.VerifySignedBy(root));
  EXPECT_OK(leaf.VerifySignedBy(ask));
  EXPECT_THAT(leaf.VerifySignedBy(root), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(ask.VerifySignedBy(leaf), StatusIs(absl::StatusCode::kUnauthenticated));

  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_rsassaPss);
  EXPECT_TRUE(root.IsCa());
  EXPECT_TRUE(ask.IsCa());
  EXPECT_FALSE(leaf.IsCa());
  EXPECT_EQ(root.Subject(), "CN=ARK-Test,O=Vouch Test,C=US,OU=Engineering");
  EXPECT_EQ(ask.IssuerCommonName(), "ARK-Test");
  EXPECT_EQ(leaf.NotAfter(), Utc(2031, 1, 1, 0, 0, 0));
  EXPECT_EQ(leaf.ExtensionValue(kVcekOidBootLoader), (Bytes{0x02, 0x01, 0x07}));
  EXPECT_EQ(leaf.ExtensionValue("1.3.6.1.4.1.3704.1.4"), Bytes(66, 0xab));
  EXPECT_EQ(EVP_PKEY_eq(leaf.PublicKey(), testing::EcTestKey("P-384")), 1);
}

TEST_F(IssueCertificateTest, SameNameDifferentKeyFails) {
  ASSERT_OK_AND_ASSIGN(const Certificate root, IssueCertificate(RootSpec()));
  CertificateSpec impostor_spec = RootSpec();
  impostor_spec.subject_key = testing::RsaTestKey(2048);
  impostor_spec.issuer_key = testing::RsaTestKey(2048);
  ASSERT_OK_AND_ASSIGN(const Certificate impostor, IssueCertificate(impostor_spec));
  EXPECT_THAT(impostor.VerifySignedBy(root),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

TEST_F(IssueCertificateTest, EverySignatureScheme) {
  struct SchemeCase {
    SignatureScheme scheme;
    EVP_PKEY* key;
    int signature_nid;
  };
  const SchemeCase cases[] = {
      {SignatureScheme::kRsaPssSha384, testing::RsaTestKey(2048), NID_rsassaPss},
      {SignatureScheme::kRsaSha256, testing::RsaTestKey(2048), NID_sha256WithRSAEncryption},
      {SignatureScheme::kEcdsaSha256, testing::EcTestKey("P-256"), NID_ecdsa_with_SHA256},
      {SignatureScheme::kEcdsaSha384, testing::EcTestKey("P-384"), NID_ecdsa_with_SHA384},
  };
  for (const SchemeCase& c : cases) {
    SCOPED_TRACE(c.signature_nid);
    CertificateSpec spec = RootSpec();
    spec.subject_key = c.key;
    spec.issuer_key = c.key;
    spec.signature = c.scheme;
    ASSERT_OK_AND_ASSIGN(const Certificate certificate, IssueCertificate(spec));
    EXPECT_EQ(X509_get_signature_nid(certificate.get()), c.signature_nid);
    EXPECT_OK(certificate.VerifySignedBy(certificate));
  }
}

TEST_F(IssueCertificateTest, RejectsBadSpecs) {
  CertificateSpec no_key = RootSpec();
  no_key.issuer_key = nullptr;
  EXPECT_THAT(IssueCertificate(no_key), StatusIs(absl::StatusCode::kInvalidArgument));

  CertificateSpec wrong_scheme = RootSpec();
  wrong_scheme.signature = SignatureScheme::kEcdsaSha384;
  EXPECT_THAT(IssueCertificate(wrong_scheme),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("EC issuer key")));

  CertificateSpec rsa_with_ec = RootSpec();
  rsa_with_ec.issuer_key = testing::EcTestKey("P-256");
  EXPECT_THAT(IssueCertificate(rsa_with_ec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RSA issuer key")));

  CertificateSpec empty_window = RootSpec();
  empty_window.not_after = empty_window.not_before;
  EXPECT_THAT(IssueCertificate(empty_window), StatusIs(absl::StatusCode::kInvalidArgument));

  CertificateSpec no_name = RootSpec();
  no_name.common_name.clear();
  EXPECT_THAT(IssueCertificate(no_name), StatusIs(absl::StatusCode::kInvalidArgument));

  CertificateSpec bad_oid = RootSpec();
  bad_oid.extensions.push_back({"not.an.oid", {0x05, 0x00}});
  EXPECT_THAT(IssueCertificate(bad_oid),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("OID")));

  CertificateSpec empty_issuer = RootSpec();
  empty_issuer.issuer = Certificate();
  EXPECT_THAT(IssueCertificate(empty_issuer), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::crypto
