// Generic TPM 2.0 attestation against a real TPM. swtpm on loopback has the
// EK and the AK, and a CA made by the test plays the TPM manufacturer that
// certifies swtpm's EK. A real Server on 127.0.0.1 enrolls the AK by
// credential activation and verifies its quotes.
#include "vouch/server/tpm_attestation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/server.h"
#include "vouch/server/test_client.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/tpm/credential.h"
#include "vouch/tpm/event_log_builder.h"
#include "vouch/tpm/swtpm.h"
#include "vouch/tpm/tpm_client.h"

namespace vouch::server {
namespace {

using ::testing::HasSubstr;
using testing::Call;
using testing::ClientResponse;
using vouch::testing::StatusIs;

constexpr uint32_t kEkHandle = 0x81010001;
constexpr uint32_t kAkHandle = 0x81000003;
constexpr uint32_t kOtherAkHandle = 0x81000004;
constexpr uint32_t kEccEkHandle = 0x81010002;
constexpr char kAdminToken[] = "tpm-attestation-admin-token";

// SecureBootVariable is UEFI_VARIABLE_DATA for SecureBoot = `value`.
Bytes SecureBootVariable(uint8_t value) {
  Bytes data = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
                0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};
  const std::u16string name = u"SecureBoot";
  for (int i = 0; i < 8; ++i) data.push_back(i == 0 ? static_cast<uint8_t>(name.size()) : 0);
  for (int i = 0; i < 8; ++i) data.push_back(i == 0 ? 1 : 0);
  for (char16_t c : name) {
    data.push_back(static_cast<uint8_t>(c));
    data.push_back(static_cast<uint8_t>(c >> 8));
  }
  data.push_back(value);
  return data;
}

// TestCa is a self-signed CA that issues EK certificates.
struct TestCa {
  crypto::SslPtr<EVP_PKEY> key;
  crypto::Certificate cert;

  static TestCa Make(const std::string& name) {
    TestCa ca;
    ca.key = crypto::GenerateEcKey("P-256").value();
    crypto::CertificateSpec spec;
    spec.common_name = name;
    spec.organization = "vouch test TPM manufacturer";
    spec.subject_key = ca.key.get();
    spec.issuer_key = ca.key.get();
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    spec.is_ca = true;
    spec.signature = crypto::SignatureScheme::kEcdsaSha256;
    ca.cert = crypto::IssueCertificate(spec).value();
    return ca;
  }

  crypto::Certificate IssueEkCertificate(EVP_PKEY* ek_key, uint64_t serial) const {
    crypto::CertificateSpec spec;
    spec.common_name = "swtpm EK";
    spec.issuer = cert;
    spec.subject_key = ek_key;
    spec.issuer_key = key.get();
    spec.serial = serial;
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    spec.signature = crypto::SignatureScheme::kEcdsaSha256;
    return crypto::IssueCertificate(spec).value();
  }
};

class TpmAttestationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    data_dir_ = ::testing::TempDir() + "/vouch_tpm_attestation_" + std::to_string(getpid()) + "_" +
                std::to_string(counter++);
    std::filesystem::remove_all(data_dir_);
    std::filesystem::create_directories(data_dir_);
    std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all);

    ca_ = TestCa::Make("vouch test EK root");
    roots_file_ = data_dir_ + "/ek-roots.pem";
    ASSERT_OK(WriteFileAtomic(roots_file_, AsBytes(ca_.cert.Pem())));
    Config config;
    config.listen = "127.0.0.1:0";
    config.admin_token_sha256 = HashAdminToken(kAdminToken);
    config.data_dir = data_dir_ + "/server";
    config.tpm_ek_roots = roots_file_;
    ASSERT_OK_AND_ASSIGN(server_, Server::Start(config));

    ASSERT_OK_AND_ASSIGN(swtpm_, tpm::Swtpm::Start());
    ASSERT_OK_AND_ASSIGN(tpm_, tpm::TpmClient::Open(swtpm_->Tcti()));
    ASSERT_OK_AND_ASSIGN(ek_public_, tpm_->CreateEk(kEkHandle));
    ASSERT_OK_AND_ASSIGN(ek_, tpm::ParsePublicArea(ek_public_));
    ASSERT_OK(tpm_->CreateAk(kAkHandle).status());
    ASSERT_OK_AND_ASSIGN(ak_public_, tpm_->ReadPublicArea(kAkHandle));
    ASSERT_OK_AND_ASSIGN(const tpm::ObjectPublic ak, tpm::ParsePublicArea(ak_public_));
    ak_name_ = HexEncode(ak.name);
    ek_cert_ = ca_.IssueEkCertificate(ek_.key.get(), 0x1234);
  }

  void TearDown() override {
    tpm_.reset();
    swtpm_.reset();
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  nlohmann::json EnrollBody(const crypto::Certificate& ek_cert, ByteSpan ak_public) const {
    return {{"ekCertificate", ek_cert.Pem()},
            {"ekPublic", Base64UrlEncode(ek_public_)},
            {"akPublic", Base64UrlEncode(ak_public)}};
  }

  ClientResponse Post(const std::string& path, const nlohmann::json& body) {
    absl::StatusOr<ClientResponse> response = Call(server_->port(), "POST", path, body.dump());
    EXPECT_OK(response.status());
    return response.value_or(ClientResponse{});
  }

  // Enroll posts the enrollment of the AK at kAkHandle and returns the
  // response body.
  nlohmann::json Enroll() {
    const ClientResponse enrolled = Post("/tpm/enroll", EnrollBody(ek_cert_, ak_public_));
    EXPECT_EQ(enrolled.status, 200) << enrolled.body;
    return enrolled.Json();
  }

  // RecoverSecret runs TPM2_ActivateCredential on the enrollment response.
  SecretBytes RecoverSecret(const nlohmann::json& enrollment) {
    const Bytes blob = Base64UrlDecode(enrollment["credentialBlob"].get<std::string>()).value();
    const Bytes encrypted =
        Base64UrlDecode(enrollment["encryptedSecret"].get<std::string>()).value();
    absl::StatusOr<SecretBytes> secret =
        tpm_->ActivateCredential(kAkHandle, kEkHandle, blob, encrypted);
    EXPECT_OK(secret.status());
    return secret.ok() ? *std::move(secret) : SecretBytes();
  }

  ClientResponse Activate(const nlohmann::json& enrollment, const SecretBytes& secret) {
    return Post("/tpm/activate", {{"enrollmentId", enrollment["enrollmentId"]},
                                  {"secret", Base64UrlEncode(secret.Expose())}});
  }

  // AttestBody quotes PCRs 0..7 with the key at `handle` and a nonce from
  // POST /challenge, and returns the /attest/Tpm body naming `ak_name`.
  nlohmann::json AttestBody(uint32_t handle, const std::string& ak_name) {
    const ClientResponse challenge = Post("/challenge", nlohmann::json::object());
    EXPECT_EQ(challenge.status, 200) << challenge.body;
    const std::string nonce_text = challenge.Json()["nonce"].get<std::string>();
    const Bytes nonce = Base64UrlDecode(nonce_text).value();
    const std::vector<uint32_t> selected = {0, 1, 2, 3, 4, 5, 6, 7};
    absl::StatusOr<tpm::TpmClient::Quote> quote = tpm_->QuotePcrs(handle, nonce, selected);
    EXPECT_OK(quote.status());
    absl::StatusOr<std::vector<Bytes>> pcrs = tpm_->ReadPcrs();
    EXPECT_OK(pcrs.status());
    nlohmann::json values = nlohmann::json::object();
    for (uint32_t index : selected) values[std::to_string(index)] = HexEncode((*pcrs)[index]);
    return {{"akName", ak_name},
            {"quote", Base64UrlEncode(quote->attest)},
            {"signature", Base64UrlEncode(quote->signature)},
            {"pcrs", {{"sha256", values}}},
            {"nonce", nonce_text}};
  }

  // MeasureBoot extends PCRs as firmware would and returns the event log.
  Bytes MeasureBoot() {
    tpm::EventLogBuilder log({crypto::HashAlg::kSha256});
    log.Measure(0, tpm::kEvSCrtmVersion, AsBytes("simulated firmware 1.0"))
        .Measure(7, tpm::kEvEfiVariableDriverConfig, SecureBootVariable(1))
        .Measure(4, tpm::kEvEfiBootServicesApplication, AsBytes("bootx64.efi"))
        .Measure(7, tpm::kEvSeparator, Bytes(4, 0));
    for (const tpm::EventLogEntry& e : log.Entries()) {
      EXPECT_OK(tpm_->ExtendPcr(e.register_index, e.digests[0].second));
    }
    return log.Build();
  }

  std::string data_dir_;
  std::string roots_file_;
  TestCa ca_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<tpm::Swtpm> swtpm_;
  std::unique_ptr<tpm::TpmClient> tpm_;
  Bytes ek_public_;
  tpm::ObjectPublic ek_;
  Bytes ak_public_;
  std::string ak_name_;
  crypto::Certificate ek_cert_;
};

TEST_F(TpmAttestationTest, EnrollActivateAttestIssuesToken) {
  const nlohmann::json enrollment = Enroll();
  ASSERT_TRUE(enrollment.contains("enrollmentId"));
  const ClientResponse activated = Activate(enrollment, RecoverSecret(enrollment));
  ASSERT_EQ(activated.status, 200) << activated.body;
  EXPECT_EQ(activated.Json()["akName"], ak_name_);

  const Bytes log = MeasureBoot();
  nlohmann::json body = AttestBody(kAkHandle, ak_name_);
  body["eventLog"] = Base64UrlEncode(log);
  const ClientResponse attested = Post("/attest/Tpm", body);
  ASSERT_EQ(attested.status, 200) << attested.body;
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts,
                       crypto::JwsDecode(attested.Json()["token"].get<std::string>()));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["iss"], server_->issuer());
  EXPECT_EQ(claims["x-ms-attestation-type"], "tpm");
  EXPECT_EQ(claims["x-vouch-tpm-ak-name"], ak_name_);
  EXPECT_EQ(claims["x-vouch-tpm-ek-issuer"], ca_.cert.Subject());
  EXPECT_EQ(claims["x-vouch-tpm-ek-subject"], ek_cert_.Subject());
  EXPECT_EQ(claims["x-vouch-tpm-pcrs"]["sha256"]["7"], body["pcrs"]["sha256"]["7"]);
  EXPECT_EQ(claims["x-vouch-tpm-eventlog-verified-pcrs"], nlohmann::json({0, 4, 7}));
  EXPECT_EQ(claims["secureboot"], true);
  EXPECT_TRUE(claims.contains("x-ms-policy-hash"));

  // The same nonce admits one attestation.
  const ClientResponse replay = Post("/attest/Tpm", body);
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_THAT(replay.ErrorMessage(), HasSubstr("already used"));
}

TEST_F(TpmAttestationTest, RejectsEkCertificateFromUntrustedCa) {
  const TestCa other = TestCa::Make("vouch test EK root");  // same name, other key
  const crypto::Certificate cert = other.IssueEkCertificate(ek_.key.get(), 7);
  const ClientResponse response = Post("/tpm/enroll", EnrollBody(cert, ak_public_));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("manufacturer root"));
}

TEST_F(TpmAttestationTest, RejectsEkCertificateForOtherKey) {
  ASSERT_OK_AND_ASSIGN(auto other_key, crypto::GenerateRsaKey(2048));
  const crypto::Certificate cert = ca_.IssueEkCertificate(other_key.get(), 8);
  const ClientResponse response = Post("/tpm/enroll", EnrollBody(cert, ak_public_));
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("another key than ekPublic"));
}

TEST_F(TpmAttestationTest, RejectsAkWithoutRestrictedAttribute) {
  // TPMT_PUBLIC: type (2 bytes), nameAlg (2), objectAttributes (4, big-endian).
  Bytes unrestricted = ak_public_;
  ASSERT_GT(unrestricted.size(), 8u);
  ASSERT_NE(unrestricted[5] & 0x01, 0);  // TPMA_OBJECT restricted, bit 16
  unrestricted[5] &= static_cast<uint8_t>(~0x01);
  const ClientResponse response = Post("/tpm/enroll", EnrollBody(ek_cert_, unrestricted));
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("restricted"));

  // An EK (a decryption key) is no attestation key either.
  const ClientResponse ek_as_ak = Post("/tpm/enroll", EnrollBody(ek_cert_, ek_public_));
  EXPECT_EQ(ek_as_ak.status, 400) << ek_as_ak.body;
}

TEST_F(TpmAttestationTest, RejectsWrongSecretOnce) {
  const nlohmann::json enrollment = Enroll();
  const SecretBytes secret = RecoverSecret(enrollment);
  const ClientResponse wrong =
      Activate(enrollment, crypto::RandomSecret(kTpmCredentialSecretBytes));
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_THAT(wrong.ErrorMessage(), HasSubstr("does not match"));
  // The wrong attempt used the enrollment up.
  const ClientResponse right = Activate(enrollment, secret);
  EXPECT_EQ(right.status, 401) << right.body;
  EXPECT_THAT(right.ErrorMessage(), HasSubstr("already used"));
}

TEST_F(TpmAttestationTest, RejectsReusedEnrollmentId) {
  const nlohmann::json enrollment = Enroll();
  const SecretBytes secret = RecoverSecret(enrollment);
  const ClientResponse first = Activate(enrollment, secret);
  ASSERT_EQ(first.status, 200) << first.body;
  const ClientResponse second = Activate(enrollment, secret);
  EXPECT_EQ(second.status, 401) << second.body;
  EXPECT_THAT(second.ErrorMessage(), HasSubstr("already used"));

  const ClientResponse unknown =
      Post("/tpm/activate", {{"enrollmentId", std::string(32, 'a')},
                             {"secret", Base64UrlEncode(secret.Expose())}});
  EXPECT_EQ(unknown.status, 401) << unknown.body;
}

TEST_F(TpmAttestationTest, RejectsExpiredEnrollment) {
  // A second TpmAttestation on the server's store, with the time passed in.
  TpmAttestationOptions options;
  options.ek_roots = {ca_.cert};
  ASSERT_OK_AND_ASSIGN(const auto attestation,
                       TpmAttestation::Create(server_->service().store(), std::move(options)));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(const nlohmann::json enrollment,
                       attestation->Enroll(EnrollBody(ek_cert_, ak_public_), now));
  const SecretBytes secret = RecoverSecret(enrollment);
  const nlohmann::json activate = {{"enrollmentId", enrollment["enrollmentId"]},
                                   {"secret", Base64UrlEncode(secret.Expose())}};
  EXPECT_THAT(attestation->Activate(activate, now + kTpmEnrollmentLifetime + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
}

TEST_F(TpmAttestationTest, RejectsQuoteByNonEnrolledAk) {
  const nlohmann::json enrollment = Enroll();
  ASSERT_EQ(Activate(enrollment, RecoverSecret(enrollment)).status, 200);
  // Another unique field makes the TPM derive another key.
  ASSERT_OK(tpm_->CreateAk(kOtherAkHandle, AsBytes("another key")).status());
  ASSERT_OK_AND_ASSIGN(const Bytes other_area, tpm_->ReadPublicArea(kOtherAkHandle));
  ASSERT_OK_AND_ASSIGN(const tpm::ObjectPublic other, tpm::ParsePublicArea(other_area));
  const std::string other_name = HexEncode(other.name);
  ASSERT_NE(other_name, ak_name_);

  const ClientResponse unknown = Post("/attest/Tpm", AttestBody(kOtherAkHandle, other_name));
  EXPECT_EQ(unknown.status, 401) << unknown.body;
  EXPECT_THAT(unknown.ErrorMessage(), HasSubstr("not enrolled"));

  // The other key's quote, claimed to come from the enrolled AK.
  const ClientResponse forged = Post("/attest/Tpm", AttestBody(kOtherAkHandle, ak_name_));
  EXPECT_EQ(forged.status, 401) << forged.body;
}

TEST_F(TpmAttestationTest, RejectsPcrNotMatchingEventLog) {
  const nlohmann::json enrollment = Enroll();
  ASSERT_EQ(Activate(enrollment, RecoverSecret(enrollment)).status, 200);
  const Bytes log = MeasureBoot();
  ASSERT_OK(tpm_->ExtendPcr(4, crypto::Sha256(AsBytes("unlogged"))));
  nlohmann::json body = AttestBody(kAkHandle, ak_name_);
  body["eventLog"] = Base64UrlEncode(log);
  const ClientResponse response = Post("/attest/Tpm", body);
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("PCR 4"));
}

TEST(TpmAttestationConfigTest, EnrollWithoutRootsIsUnavailable) {
  const std::string dir =
      ::testing::TempDir() + "/vouch_tpm_attestation_noroots_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  Config config;
  config.listen = "127.0.0.1:0";
  config.admin_token_sha256 = HashAdminToken(kAdminToken);
  config.data_dir = dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server, Server::Start(config));
  const nlohmann::json body = {{"ekCertificate", ""}, {"ekPublic", ""}, {"akPublic", ""}};
  ASSERT_OK_AND_ASSIGN(const ClientResponse response,
                       Call(server->port(), "POST", "/tpm/enroll", body.dump()));
  EXPECT_EQ(response.status, 503) << response.body;
  EXPECT_THAT(response.ErrorMessage(), HasSubstr("TPM enrollment is not configured"));
  server.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(TpmAttestationTest, LoadTpmEkRootsRejectsLeafCertificate) {
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> roots, LoadTpmEkRoots(roots_file_));
  EXPECT_EQ(roots.size(), 1u);
  const std::string leaf_file = data_dir_ + "/leaf.pem";
  ASSERT_OK(WriteFileAtomic(leaf_file, AsBytes(ek_cert_.Pem())));
  EXPECT_THAT(LoadTpmEkRoots(leaf_file),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a CA certificate")));
  EXPECT_FALSE(LoadTpmEkRoots(data_dir_ + "/missing.pem").ok());
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Certificate> none, LoadTpmEkRoots(""));
  EXPECT_TRUE(none.empty());
}

TEST_F(TpmAttestationTest, EnrollsAkWithEccEk) {
  for (const auto type : {tpm::TpmClient::EkType::kEccP256, tpm::TpmClient::EkType::kEccP384}) {
    SCOPED_TRACE(type == tpm::TpmClient::EkType::kEccP256 ? "P-256" : "P-384");
    ASSERT_OK_AND_ASSIGN(const Bytes ecc_ek_public, tpm_->CreateEk(kEccEkHandle, type));
    ASSERT_OK_AND_ASSIGN(const tpm::ObjectPublic ecc_ek, tpm::ParsePublicArea(ecc_ek_public));
    const crypto::Certificate ecc_ek_cert = ca_.IssueEkCertificate(ecc_ek.key.get(), 0x5678);
    const ClientResponse enrolled = Post("/tpm/enroll", {{"ekCertificate", ecc_ek_cert.Pem()},
                                                         {"ekPublic", Base64UrlEncode(ecc_ek_public)},
                                                         {"akPublic", Base64UrlEncode(ak_public_)}});
    ASSERT_EQ(enrolled.status, 200) << enrolled.body;
    const nlohmann::json enrollment = enrolled.Json();
    const Bytes blob = Base64UrlDecode(enrollment["credentialBlob"].get<std::string>()).value();
    const Bytes encrypted =
        Base64UrlDecode(enrollment["encryptedSecret"].get<std::string>()).value();
    ASSERT_OK_AND_ASSIGN(const SecretBytes secret,
                         tpm_->ActivateCredential(kAkHandle, kEccEkHandle, blob, encrypted));
    const ClientResponse activated = Activate(enrollment, secret);
    ASSERT_EQ(activated.status, 200) << activated.body;
    EXPECT_EQ(activated.Json()["akName"], ak_name_);

    // The RSA EK of the same TPM cannot recover a credential made for the
    // ECC EK.
    EXPECT_FALSE(tpm_->ActivateCredential(kAkHandle, kEkHandle, blob, encrypted).ok());
  }
}

// EK certificate revocation: the fixture's EK certificate (serial 0x1234)
// checked against CRLs of the test CA, through a TpmAttestation on the
// server's store.
class TpmEkRevocationTest : public TpmAttestationTest {
 protected:
  crypto::Crl IssueCrl(EVP_PKEY* signing_key, absl::Time this_update, absl::Time next_update,
                       std::vector<Bytes> revoked) const {
    crypto::CrlSpec spec;
    spec.issuer = &ca_.cert;
    spec.issuer_key = signing_key;
    spec.this_update = this_update;
    spec.next_update = next_update;
    spec.revoked_serials = std::move(revoked);
    return crypto::IssueCrl(spec).value();
  }

  absl::StatusOr<nlohmann::json> EnrollWith(std::vector<crypto::Crl> crls) {
    TpmAttestationOptions options;
    options.ek_roots = {ca_.cert};
    options.ek_crls = std::move(crls);
    VOUCH_ASSIGN_OR_RETURN(const auto attestation,
                           TpmAttestation::Create(server_->service().store(), std::move(options)));
    return attestation->Enroll(EnrollBody(ek_cert_, ak_public_), absl::Now());
  }
};

TEST_F(TpmEkRevocationTest, CrlWithoutEkSerialAllowsEnrollment) {
  const absl::Time now = absl::Now();
  EXPECT_OK(EnrollWith({IssueCrl(ca_.key.get(), now - absl::Hours(1), now + absl::Hours(1),
                                 {Bytes{0x12, 0x35}})})
                .status());
}

TEST_F(TpmEkRevocationTest, RejectsRevokedEkNamingSerial) {
  const absl::Time now = absl::Now();
  EXPECT_THAT(EnrollWith({IssueCrl(ca_.key.get(), now - absl::Hours(1), now + absl::Hours(1),
                                   {Bytes{0x12, 0x34}})}),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("certificate serial 1234 (\"CN=swtpm EK\")")));
  EXPECT_THAT(EnrollWith({IssueCrl(ca_.key.get(), now - absl::Hours(1), now + absl::Hours(1),
                                   {Bytes{0x12, 0x34}})}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("is revoked")));
}

TEST_F(TpmEkRevocationTest, RejectsCrlWithBadSignature) {
  const absl::Time now = absl::Now();
  // Same issuer name, signed by another key: the CRL does not verify, so
  // enrollment fails even though the CRL lists no serial.
  const crypto::SslPtr<EVP_PKEY> other_key = crypto::GenerateEcKey("P-256").value();
  EXPECT_THAT(
      EnrollWith({IssueCrl(other_key.get(), now - absl::Hours(1), now + absl::Hours(1), {})}),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("does not verify")));
}

TEST_F(TpmEkRevocationTest, RejectsExpiredCrl) {
  const absl::Time now = absl::Now();
  EXPECT_THAT(
      EnrollWith({IssueCrl(ca_.key.get(), now - absl::Hours(48), now - absl::Hours(24), {})}),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("is not current")));
}

TEST_F(TpmEkRevocationTest, CrlOfOtherCaIsIgnored) {
  const absl::Time now = absl::Now();
  const TestCa other = TestCa::Make("another EK root");
  crypto::CrlSpec spec;
  spec.issuer = &other.cert;
  spec.issuer_key = other.key.get();
  spec.this_update = now - absl::Hours(48);
  spec.next_update = now - absl::Hours(24);
  spec.revoked_serials = {Bytes{0x12, 0x34}};
  EXPECT_OK(EnrollWith({crypto::IssueCrl(spec).value()}).status());
}

TEST_F(TpmEkRevocationTest, ServerLoadsCrlFolderAndRejectsRevokedEk) {
  const absl::Time now = absl::Now();
  const std::string crl_dir = data_dir_ + "/crls";
  std::filesystem::create_directories(crl_dir);
  const crypto::Crl crl =
      IssueCrl(ca_.key.get(), now - absl::Hours(1), now + absl::Hours(1), {Bytes{0x12, 0x34}});
  ASSERT_OK(WriteFileAtomic(crl_dir + "/test-ca.crl", crl.Der()));
  ASSERT_OK_AND_ASSIGN(const std::vector<crypto::Crl> loaded, LoadTpmEkCrls(crl_dir));
  EXPECT_EQ(loaded.size(), 1u);

  server_.reset();
  Config config;
  config.listen = "127.0.0.1:0";
  config.admin_token_sha256 = HashAdminToken(kAdminToken);
  config.data_dir = data_dir_ + "/server";
  config.tpm_ek_roots = roots_file_;
  config.tpm_ek_crls = crl_dir;
  ASSERT_OK_AND_ASSIGN(server_, Server::Start(config));
  const ClientResponse enrolled = Post("/tpm/enroll", EnrollBody(ek_cert_, ak_public_));
  EXPECT_EQ(enrolled.status, 401) << enrolled.body;
  EXPECT_THAT(enrolled.ErrorMessage(), HasSubstr("serial 1234"));

  // A file that is not a CRL fails the load instead of being skipped.
  ASSERT_OK(WriteFileAtomic(crl_dir + "/notes.txt", AsBytes("not a CRL")));
  EXPECT_THAT(LoadTpmEkCrls(crl_dir),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("notes.txt")));
}

}  // namespace
}  // namespace vouch::server
