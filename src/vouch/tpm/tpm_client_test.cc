// TpmClient against a real software TPM (swtpm on loopback), and quotes from
// it through VerifyQuote.
#include "vouch/tpm/tpm_client.h"

#include <gmock/gmock.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <tss2/tss2_tpm2_types.h>
#include <unistd.h>

#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/tpm/attest.h"
#include "vouch/tpm/credential.h"
#include "vouch/tpm/event_log.h"
#include "vouch/tpm/event_log_builder.h"
#include "vouch/tpm/swtpm.h"

namespace vouch::tpm {
namespace {

using ::testing::HasSubstr;
using vouch::testing::StatusIs;

constexpr uint32_t kAkHandle = 0x81000003;

class TpmClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Swtpm>> swtpm = Swtpm::Start();
    ASSERT_OK(swtpm.status());
    swtpm_ = *std::move(swtpm);
    absl::StatusOr<std::unique_ptr<TpmClient>> client = TpmClient::Open(swtpm_->Tcti());
    ASSERT_OK(client.status());
    client_ = *std::move(client);
  }

  std::unique_ptr<Swtpm> swtpm_;
  std::unique_ptr<TpmClient> client_;
};

TEST_F(TpmClientTest, QuoteVerifiesWithNonceAndPcrs) {
  ASSERT_OK_AND_ASSIGN(auto ak, client_->CreateAk(kAkHandle));
  ASSERT_OK(client_->ExtendPcr(7, crypto::Sha256(AsBytes("secure boot"))));
  const Bytes nonce = crypto::Sha256(AsBytes("nonce"));
  std::vector<uint32_t> all;
  for (uint32_t i = 0; i < 24; ++i) all.push_back(i);
  ASSERT_OK_AND_ASSIGN(const TpmClient::Quote quote, client_->QuotePcrs(kAkHandle, nonce, all));
  ASSERT_OK_AND_ASSIGN(const std::vector<Bytes> pcrs, client_->ReadPcrs());
  PcrBank bank{crypto::HashAlg::kSha256, {}};
  for (uint32_t i = 0; i < pcrs.size(); ++i) bank.values[i] = pcrs[i];

  ASSERT_OK_AND_ASSIGN(const QuoteSignature signature, ParseSignature(quote.signature));
  EXPECT_EQ(signature.scheme, SignatureScheme::kRsassa);
  ASSERT_OK_AND_ASSIGN(const VerifiedQuote verified,
                       VerifyQuote(quote.attest, signature, ak.get(), nonce, {bank}));
  EXPECT_EQ(verified.quoted[0].values.size(), 24u);
  // PCR 17..22 of a fresh TPM are all ones, the others zero, as Replay assumes.
  EXPECT_EQ(pcrs[17], Bytes(32, 0xFF));
  EXPECT_EQ(pcrs[0], Bytes(32, 0x00));

  EXPECT_THAT(VerifyQuote(quote.attest, signature, ak.get(), Bytes(32, 0), {bank}),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("nonce")));
  ASSERT_OK_AND_ASSIGN(auto same, client_->ReadPublicKey(kAkHandle));
  EXPECT_EQ(EVP_PKEY_eq(same.get(), ak.get()), 1);
}

TEST_F(TpmClientTest, EventLogReplayMatchesExtendedPcrs) {
  EventLogBuilder log({crypto::HashAlg::kSha256});
  log.Measure(0, kEvSCrtmVersion, AsBytes("firmware"))
      .Measure(4, kEvEfiBootServicesApplication, AsBytes("bootloader"))
      .Measure(4, kEvSeparator, Bytes(4, 0));
  for (const EventLogEntry& e : log.Entries()) {
    ASSERT_OK(client_->ExtendPcr(e.register_index, e.digests[0].second));
  }
  ASSERT_OK_AND_ASSIGN(const auto events, ParseCryptoAgileEventLog(log.Build()));
  ASSERT_OK_AND_ASSIGN(const ReplayResult replay, Replay(events, {}));
  ASSERT_OK_AND_ASSIGN(const std::vector<Bytes> pcrs, client_->ReadPcrs());
  for (uint32_t i = 0; i < 24; ++i) {
    EXPECT_EQ(HexEncode(replay.values[i]), HexEncode(pcrs[i])) << "PCR " << i;
  }
}

TEST_F(TpmClientTest, NvDefineWriteRead) {
  constexpr uint32_t kIndex = 0x01400001;
  ASSERT_OK_AND_ASSIGN(bool exists, client_->NvExists(kIndex));
  EXPECT_FALSE(exists);
  Bytes data(2000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  ASSERT_OK(client_->NvDefine(kIndex, data.size()));
  ASSERT_OK(client_->NvWrite(kIndex, data));
  ASSERT_OK_AND_ASSIGN(const Bytes read, client_->NvRead(kIndex));
  EXPECT_EQ(read, data);
  ASSERT_OK_AND_ASSIGN(exists, client_->NvExists(kIndex));
  EXPECT_TRUE(exists);
  EXPECT_THAT(client_->NvDefine(kIndex, 10), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                      HasSubstr("already exists")));
  ASSERT_OK(client_->NvUndefine(kIndex));
}

TEST_F(TpmClientTest, MissingIndexAndKeyNameTheProblem) {
  EXPECT_THAT(client_->NvRead(0x01400002),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("0x01400002")));
  EXPECT_THAT(client_->QuotePcrs(0x81000010, Bytes(8, 1), {0}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("0x81000010")));
}

TEST(TpmClientOpenTest, UnreachableTpmFailsFast) {
  // Nothing listens on port 1 of the loopback address.
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<TpmClient>> client =
      TpmClient::Open("swtpm:host=127.0.0.1,port=1", absl::Seconds(2));
  if (client.ok()) {
    EXPECT_FALSE((*client)->ReadPcrs(1).ok());
  } else {
    EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

// A listener that accepts and never replies, where swtpm's control port
// should be: Open returns kDeadlineExceeded instead of blocking.
TEST(TpmClientOpenTest, SilentControlPortTimesOut) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t size = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size), 0);
  const uint16_t control_port = ntohs(address.sin_port);

  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<TpmClient>> client = TpmClient::Open(
      "swtpm:host=127.0.0.1,port=" + std::to_string(control_port - 1), absl::Milliseconds(500));
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                        HasSubstr("did not answer CMD_GET_CAPABILITY")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ::close(listener);
}

TEST_F(TpmClientTest, OtherUniqueFieldGivesOtherAk) {
  ASSERT_OK_AND_ASSIGN(auto first, client_->CreateAk(kAkHandle));
  ASSERT_OK_AND_ASSIGN(auto same, client_->CreateAk(kAkHandle));
  ASSERT_OK_AND_ASSIGN(auto other, client_->CreateAk(kAkHandle, AsBytes("another key")));
  EXPECT_EQ(EVP_PKEY_eq(first.get(), same.get()), 1);
  EXPECT_NE(EVP_PKEY_eq(first.get(), other.get()), 1);
  ASSERT_OK_AND_ASSIGN(auto persisted, client_->ReadPublicKey(kAkHandle));
  EXPECT_EQ(EVP_PKEY_eq(other.get(), persisted.get()), 1);
  EXPECT_THAT(client_->CreateAk(kAkHandle, Bytes(513, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Credential activation as a verifier and a TPM run it for enrollment: the
// verifier makes the credential in software for the EK and the AK's name,
// and only this TPM, with that AK, recovers it.
TEST_F(TpmClientTest, ActivateCredentialRecoversSecret) {
  constexpr uint32_t kEkHandle = 0x81010001;
  ASSERT_OK_AND_ASSIGN(const Bytes ek_area, client_->CreateEk(kEkHandle));
  ASSERT_OK(client_->CreateAk(kAkHandle).status());
  ASSERT_OK_AND_ASSIGN(const Bytes ak_area, client_->ReadPublicArea(kAkHandle));
  ASSERT_OK_AND_ASSIGN(const ObjectPublic ek, ParsePublicArea(ek_area));
  ASSERT_OK_AND_ASSIGN(const ObjectPublic ak, ParsePublicArea(ak_area));
  EXPECT_EQ(ek.symmetric_bits, 128);
  EXPECT_EQ(ek.name.size(), 34u);
  ASSERT_OK(CheckAttestationKeyAttributes(ak));
  EXPECT_THAT(CheckAttestationKeyAttributes(ek),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sign")));

  const SecretBytes secret = crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(const MadeCredential made, MakeCredential(ek, ak.name, secret));
  ASSERT_OK_AND_ASSIGN(const SecretBytes recovered,
                       client_->ActivateCredential(kAkHandle, kEkHandle, made.credential_blob,
                                                   made.encrypted_secret));
  EXPECT_TRUE(recovered == secret);

  // A credential for another key's name: the TPM's integrity check fails.
  Bytes other_name = ak.name;
  other_name.back() ^= 1;
  ASSERT_OK_AND_ASSIGN(const MadeCredential other, MakeCredential(ek, other_name, secret));
  EXPECT_THAT(client_->ActivateCredential(kAkHandle, kEkHandle, other.credential_blob,
                                          other.encrypted_secret),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another key")));

  // A flipped byte of the blob fails the same check.
  Bytes tampered = made.credential_blob;
  tampered.back() ^= 1;
  EXPECT_FALSE(
      client_->ActivateCredential(kAkHandle, kEkHandle, tampered, made.encrypted_secret).ok());
}

// The same round trip with ECC endorsement keys: the seed comes from ECDH
// with an ephemeral key on the EK's curve and KDFe, which only the TPM
// holding the EK's private key can repeat.
TEST_F(TpmClientTest, ActivateCredentialWithEccEk) {
  constexpr uint32_t kEkHandle = 0x81010002;
  ASSERT_OK(client_->CreateAk(kAkHandle).status());
  ASSERT_OK_AND_ASSIGN(const Bytes ak_area, client_->ReadPublicArea(kAkHandle));
  ASSERT_OK_AND_ASSIGN(const ObjectPublic ak, ParsePublicArea(ak_area));
  const struct {
    TpmClient::EkType type;
    const char* curve;
    uint16_t symmetric_bits;
    size_t name_size;
  } cases[] = {
      {TpmClient::EkType::kEccP256, "P-256", 128, 2 + 32},
      {TpmClient::EkType::kEccP384, "P-384", 256, 2 + 48},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.curve);
    ASSERT_OK_AND_ASSIGN(const Bytes ek_area, client_->CreateEk(kEkHandle, c.type));
    ASSERT_OK_AND_ASSIGN(const ObjectPublic ek, ParsePublicArea(ek_area));
    EXPECT_EQ(ek.type, TPM2_ALG_ECC);
    EXPECT_EQ(ek.symmetric_bits, c.symmetric_bits);
    EXPECT_EQ(ek.name.size(), c.name_size);
    ASSERT_OK_AND_ASSIGN(const std::string curve, crypto::EcCurveName(ek.key.get()));
    EXPECT_EQ(curve, c.curve);

    const SecretBytes secret = crypto::RandomSecret(32);
    ASSERT_OK_AND_ASSIGN(const MadeCredential made, MakeCredential(ek, ak.name, secret));
    ASSERT_OK_AND_ASSIGN(const SecretBytes recovered,
                         client_->ActivateCredential(kAkHandle, kEkHandle, made.credential_blob,
                                                     made.encrypted_secret));
    EXPECT_TRUE(recovered == secret);

    // Another ephemeral point: the TPM derives another seed, and the
    // integrity check fails.
    ASSERT_OK_AND_ASSIGN(const MadeCredential second, MakeCredential(ek, ak.name, secret));
    EXPECT_FALSE(client_->ActivateCredential(kAkHandle, kEkHandle, made.credential_blob,
                                             second.encrypted_secret)
                     .ok());

    // A credential for another key's name fails the same check.
    Bytes other_name = ak.name;
    other_name.back() ^= 1;
    ASSERT_OK_AND_ASSIGN(const MadeCredential other, MakeCredential(ek, other_name, secret));
    EXPECT_THAT(client_->ActivateCredential(kAkHandle, kEkHandle, other.credential_blob,
                                            other.encrypted_secret),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another key")));
  }
}

}  // namespace
}  // namespace vouch::tpm
