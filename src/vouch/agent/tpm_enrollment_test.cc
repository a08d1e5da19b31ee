// The TPM enrollment client against swtpm on loopback and a vouch server in
// this process. The test plays the TPM manufacturer: a CA made here
// certifies swtpm's EK, and the certificate goes into the EK certificate
// NV index as on a real TPM.
#include "vouch/agent/tpm_enrollment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"

#include "vouch/base/file.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/config.h"
#include "vouch/server/server.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/tpm/credential.h"
#include "vouch/tpm/swtpm.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using vouch::testing::StatusIs;

constexpr char kAdminToken[] = "tpm-enrollment-admin-token";
// Where the test creates the EK for its certificate; the agent recreates
// the same key at TpmEnrollmentOptions::ek_handle.
constexpr uint32_t kProvisioningEkHandle = 0x81010010;

crypto::Certificate MakeCa(crypto::SslPtr<EVP_PKEY>& key) {
  key = crypto::GenerateEcKey("P-256").value();
  crypto::CertificateSpec spec;
  spec.common_name = "vouch test EK root";
  spec.subject_key = key.get();
  spec.issuer_key = key.get();
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24);
  spec.is_ca = true;
  spec.signature = crypto::SignatureScheme::kEcdsaSha256;
  return crypto::IssueCertificate(spec).value();
}

class TpmEnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    data_dir_ = ::testing::TempDir() + "/vouch_tpm_enrollment_" + std::to_string(getpid()) + "_" +
                std::to_string(counter++);
    std::filesystem::remove_all(data_dir_);
    std::filesystem::create_directories(data_dir_);
    std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all);
    ca_cert_ = MakeCa(ca_key_);
    const std::string roots = data_dir_ + "/ek-roots.pem";
    ASSERT_OK(WriteFileAtomic(roots, AsBytes(ca_cert_.Pem())));

    server::Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_ + "/server";
    config.admin_token_sha256 = server::HashAdminToken(kAdminToken);
    config.tpm_ek_roots = roots;
    ASSERT_OK_AND_ASSIGN(server_, server::Server::Start(config));
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());

    ASSERT_OK_AND_ASSIGN(swtpm_, tpm::Swtpm::Start());
    ASSERT_OK_AND_ASSIGN(tpm_, tpm::TpmClient::Open(swtpm_->Tcti()));
  }

  void TearDown() override {
    tpm_.reset();
    swtpm_.reset();
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  // ProvisionEkCertificate plays the TPM manufacturer: it certifies the EK
  // of `type` with `issuer` and stores the DER certificate, followed by
  // zero padding, at `index`.
  void ProvisionEkCertificate(tpm::TpmClient::EkType type, uint32_t index,
                              const crypto::Certificate& issuer, EVP_PKEY* issuer_key) {
    ASSERT_OK_AND_ASSIGN(const Bytes ek_area, tpm_->CreateEk(kProvisioningEkHandle, type));
    ASSERT_OK_AND_ASSIGN(const tpm::ObjectPublic ek, tpm::ParsePublicArea(ek_area));
    crypto::CertificateSpec spec;
    spec.common_name = "swtpm EK";
    spec.issuer = issuer;
    spec.subject_key = ek.key.get();
    spec.issuer_key = issuer_key;
    spec.serial = 0x42;
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    spec.signature = crypto::SignatureScheme::kEcdsaSha256;
    ASSERT_OK_AND_ASSIGN(const crypto::Certificate cert, crypto::IssueCertificate(spec));
    Bytes contents = cert.Der();
    contents.resize(contents.size() + 16, 0);
    ASSERT_OK(tpm_->NvDefine(index, contents.size()));
    ASSERT_OK(tpm_->NvWrite(index, contents));
  }

  std::string data_dir_;
  std::string url_;
  crypto::SslPtr<EVP_PKEY> ca_key_;
  crypto::Certificate ca_cert_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<tpm::Swtpm> swtpm_;
  std::unique_ptr<tpm::TpmClient> tpm_;
  const HttpClient http_;
};

TEST_F(TpmEnrollmentTest, EnrollsRsaEkAndAttests) {
  ProvisionEkCertificate(tpm::TpmClient::EkType::kRsa2048, kRsaEkCertificateIndex, ca_cert_,
                         ca_key_.get());
  const TpmEnrollmentOptions options;
  ASSERT_OK_AND_ASSIGN(const std::string ak_name, EnrollTpmAk(http_, url_, *tpm_, options));
  EXPECT_EQ(ak_name.size(), 2u * 34);

  ASSERT_OK_AND_ASSIGN(const std::string token, AttestTpm(http_, url_, *tpm_, ak_name, options));
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts, crypto::JwsDecode(token));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["iss"], server_->issuer());
  EXPECT_EQ(claims["x-ms-attestation-type"], "tpm");
  EXPECT_EQ(claims["x-vouch-tpm-ak-name"], ak_name);
  EXPECT_EQ(claims["x-vouch-tpm-ek-subject"], "CN=swtpm EK");
  EXPECT_EQ(claims["x-vouch-tpm-pcrs"]["sha256"].size(), 24u);

  // Each attestation takes a fresh nonce.
  ASSERT_OK(AttestTpm(http_, url_, *tpm_, ak_name, options).status());
}

TEST_F(TpmEnrollmentTest, EnrollsEccEkWhenNoRsaCertificate) {
  ProvisionEkCertificate(tpm::TpmClient::EkType::kEccP256, kEccEkCertificateIndex, ca_cert_,
                         ca_key_.get());
  const TpmEnrollmentOptions options;
  ASSERT_OK_AND_ASSIGN(const std::string ak_name, EnrollTpmAk(http_, url_, *tpm_, options));
  ASSERT_OK(AttestTpm(http_, url_, *tpm_, ak_name, options).status());
}

TEST_F(TpmEnrollmentTest, MissingEkCertificateNamesIndices) {
  EXPECT_THAT(EnrollTpmAk(http_, url_, *tpm_, TpmEnrollmentOptions{}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("0x01c00002")));
}

TEST_F(TpmEnrollmentTest, UntrustedEkCertificateIsRejectedByServer) {
  crypto::SslPtr<EVP_PKEY> other_key;
  const crypto::Certificate other_ca = MakeCa(other_key);
  ProvisionEkCertificate(tpm::TpmClient::EkType::kRsa2048, kRsaEkCertificateIndex, other_ca,
                         other_key.get());
  EXPECT_THAT(EnrollTpmAk(http_, url_, *tpm_, TpmEnrollmentOptions{}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("manufacturer root")));
}

TEST_F(TpmEnrollmentTest, AttestWithoutEnrollmentIsRejected) {
  ASSERT_OK(tpm_->CreateAk(TpmEnrollmentOptions{}.ak_handle).status());
  EXPECT_THAT(AttestTpm(http_, url_, *tpm_, std::string(68, 'a'), TpmEnrollmentOptions{}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not enrolled")));
}

// RunVouch runs the built `vouch` binary with `args` and returns its exit
// status and combined output.
std::pair<int, std::string> RunVouch(const std::string& args) {
  const std::string command =
      std::string(VOUCH_BINARY_DIR) + "/src/vouch/cli/vouch " + args + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {-1, "popen failed"};
  }
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// The same flow through `vouch tpm enroll` and `vouch tpm attest`.
TEST_F(TpmEnrollmentTest, CliEnrollsAndAttests) {
  const std::string vouch = std::string(VOUCH_BINARY_DIR) + "/src/vouch/cli/vouch";
  ASSERT_TRUE(std::filesystem::exists(vouch)) << vouch << " is missing: build the vouch target";
  ProvisionEkCertificate(tpm::TpmClient::EkType::kRsa2048, kRsaEkCertificateIndex, ca_cert_,
                         ca_key_.get());
  const std::string tcti = swtpm_->Tcti();
  // swtpm serves one connection at a time.
  tpm_.reset();

  const std::string common = " --server " + url_ + " --tpm-tcti '" + tcti + "'";
  const auto [attest_first, not_enrolled] = RunVouch("tpm attest" + common);
  EXPECT_EQ(attest_first, 1) << not_enrolled;

  const auto [enroll_status, enrolled] = RunVouch("tpm enroll" + common);
  ASSERT_EQ(enroll_status, 0) << enrolled;
  EXPECT_THAT(enrolled, HasSubstr("enrolled AK 000b"));

  const auto [attest_status, token] = RunVouch("tpm attest" + common);
  ASSERT_EQ(attest_status, 0) << token;
  ASSERT_OK_AND_ASSIGN(const crypto::JwsParts parts,
                       crypto::JwsDecode(std::string(absl::StripAsciiWhitespace(token))));
  const nlohmann::json claims = nlohmann::json::parse(parts.payload);
  EXPECT_EQ(claims["x-ms-attestation-type"], "tpm");
}

}  // namespace
}  // namespace vouch::agent
