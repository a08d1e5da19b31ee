#include "vouch/snp/revocation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "vouch/base/file.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/keys.h"
#include "vouch/snp/chain_cache.h"
#include "vouch/snp/simulated.h"
#include "vouch/snp/snp_vectors.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::snp::testing::LoadPool;
using ::vouch::snp::testing::RealReport;
using ::vouch::snp::testing::RealReports;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

// The simulated chain of simulated_test.cc, made once per build folder
// (its RSA-4096 keys take seconds to generate).
std::string SharedDir() { return std::string(VOUCH_BINARY_DIR) + "/snp_test_simulated"; }

class AmdRevocationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<SimulatedSnp> loaded = SimulatedSnp::LoadOrCreate(SharedDir());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    platform_ = new SimulatedSnp(*std::move(loaded));
    ark_key_ = LoadKey(kSimulatedArkKeyFile);
    ask_key_ = LoadKey(kSimulatedAskKeyFile);
  }
  static void TearDownTestSuite() {
    delete platform_;
    EVP_PKEY_free(ark_key_);
    EVP_PKEY_free(ask_key_);
  }

  static EVP_PKEY* LoadKey(const char* file) {
    absl::StatusOr<Bytes> pem = ReadFile(SharedDir() + "/" + file);
    EXPECT_TRUE(pem.ok()) << pem.status();
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key =
        pem.ok() ? crypto::PrivateKeyFromPem(*pem)
                 : absl::StatusOr<crypto::SslPtr<EVP_PKEY>>(pem.status());
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? key->release() : nullptr;
  }

  void SetUp() override {
    ASSERT_NE(platform_, nullptr);
    ASSERT_OK_AND_ASSIGN(report_, platform_->GetReport(Bytes(64, 0x5a)));
    options_.roots = {platform_->Root()};
    options_.now = absl::Now();
  }

  const crypto::Certificate& Vcek() const { return pool()[0]; }
  const crypto::Certificate& Ask() const { return pool()[1]; }
  const crypto::Certificate& Ark() const { return pool()[2]; }
  const std::vector<crypto::Certificate>& pool() const {
    static const std::vector<crypto::Certificate> certificates = platform_->Certificates();
    return certificates;
  }

  // Crl issues an ARK-signed CRL valid from an hour ago for `valid_for`.
  crypto::Crl Crl(std::vector<Bytes> revoked = {}, absl::Duration valid_for = absl::Hours(24),
                  absl::Time this_update = absl::Now() - absl::Hours(1)) const {
    AmdCrlSpec spec;
    spec.ark = &Ark();
    spec.ark_key = ark_key_;
    spec.this_update = this_update;
    spec.next_update = this_update + valid_for;
    spec.revoked_serials = std::move(revoked);
    absl::StatusOr<crypto::Crl> crl = IssueAmdCrl(spec);
    EXPECT_TRUE(crl.ok()) << crl.status();
    return *std::move(crl);
  }

  static SimulatedSnp* platform_;
  static EVP_PKEY* ark_key_;
  static EVP_PKEY* ask_key_;  // an RSA-4096 key that is not the ARK's
  Bytes report_;
  VerifyOptions options_;
};

SimulatedSnp* AmdRevocationTest::platform_ = nullptr;
EVP_PKEY* AmdRevocationTest::ark_key_ = nullptr;
EVP_PKEY* AmdRevocationTest::ask_key_ = nullptr;

TEST_F(AmdRevocationTest, IssuedCrlIsRsaPssSha384) {
  const crypto::Crl crl = Crl();
  const X509_ALGOR* algorithm = nullptr;
  X509_CRL_get0_signature(crl.get(), nullptr, &algorithm);
  ASSERT_NE(algorithm, nullptr);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  EXPECT_EQ(OBJ_obj2nid(oid), NID_rsassaPss);
  EXPECT_OK(VerifyAmdCrl(crl, Ark(), absl::Now()));
}

TEST_F(AmdRevocationTest, GoodCrlAccepted) {
  options_.crls = {Crl({Bytes{0x01, 0x02}})};
  options_.require_crl = true;
  ASSERT_OK_AND_ASSIGN(const VerifiedReport verified, VerifyReport(report_, pool(), options_));
  EXPECT_TRUE(verified.simulated());
}

TEST_F(AmdRevocationTest, RevokedAskRejectedWithSerial) {
  const Bytes serial = crypto::SerialOf(Ask());
  options_.crls = {Crl({serial})};
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("the ASK SEV-Simulated (serial " + HexEncode(serial) +
                                 ") is revoked")));
}

// The simulated ASK and VCEK both have serial 01. The ARK's CRL names ARK
// serials only, so listing 01 revokes the ASK, not the VCEK by coincidence.
TEST_F(AmdRevocationTest, OnlyIntermediateSerialLookedUp) {
  ASSERT_EQ(crypto::SerialOf(Vcek()), crypto::SerialOf(Ask()));
  options_.crls = {Crl({crypto::SerialOf(Vcek())})};
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("the ASK SEV-Simulated")));
}

// A CRL given after the chain was cached still applies to it.
TEST_F(AmdRevocationTest, CachedChainStillChecked) {
  SharedChainCache().Clear();
  ASSERT_OK(VerifyReport(report_, pool(), options_).status());
  const uint64_t hits = SharedChainCache().hits();

  options_.crls = {Crl({crypto::SerialOf(Ask())})};
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("is revoked")));
  EXPECT_EQ(SharedChainCache().hits(), hits + 1);

  // And a CRL past its nextUpdate on a cache hit.
  options_.crls = {Crl()};
  SharedChainCache().Clear();
  ASSERT_OK(VerifyReport(report_, pool(), options_).status());
  options_.now = absl::Now() + absl::Hours(48);
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("nextUpdate")));
}

TEST_F(AmdRevocationTest, CrlOfAnotherKeyRejected) {
  // Same issuer name, signed by an RSA key that is not the ARK's.
  const crypto::Certificate& ark = Ark();
  AmdCrlSpec spec;
  spec.ark = &ark;
  spec.ark_key = ask_key_;
  spec.this_update = absl::Now() - absl::Hours(1);
  spec.next_update = absl::Now() + absl::Hours(1);
  ASSERT_OK_AND_ASSIGN(const crypto::Crl forged, IssueAmdCrl(spec));
  options_.crls = {forged};
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("snp revocation: signature: the CRL of")));
}

TEST_F(AmdRevocationTest, ExpiredCrlRejectedWithDates) {
  options_.crls = {Crl({}, absl::Hours(1), absl::Now() - absl::Hours(3))};
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("snp revocation: dates")));
}

TEST_F(AmdRevocationTest, FutureCrlRejected) {
  options_.crls = {Crl({}, absl::Hours(24), absl::Now() + absl::Hours(2))};
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("thisUpdate")));
}

TEST_F(AmdRevocationTest, RequiredCrlAbsentRejected) {
  options_.require_crl = true;
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a CRL is required, but none of the 0 CRLs")));
}

TEST_F(AmdRevocationTest, OtherIssuersCrlIgnoredUnlessRequired) {
  // A CRL whose issuer is some other CA does not apply to this chain.
  crypto::CrlSpec spec;
  const crypto::Certificate& other = Vcek();  // any name but the ARK's
  spec.issuer = &other;
  spec.issuer_key = ask_key_;
  spec.this_update = absl::Now() - absl::Hours(1);
  spec.next_update = absl::Now() + absl::Hours(1);
  spec.revoked_serials = {crypto::SerialOf(Ask())};
  ASSERT_OK_AND_ASSIGN(const crypto::Crl unrelated, crypto::IssueCrl(spec));
  options_.crls = {unrelated};
  EXPECT_OK(VerifyReport(report_, pool(), options_).status());

  options_.require_crl = true;
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is required")));
}

TEST_F(AmdRevocationTest, EveryMatchingCrlMustPass) {
  options_.crls = {Crl(), Crl({}, absl::Hours(1), absl::Now() - absl::Hours(3))};
  EXPECT_THAT(VerifyReport(report_, pool(), options_),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Real chains verify as before when no CRL is given, and a CRL of the
// simulated ARK does not apply to them.
TEST_F(AmdRevocationTest, RealChainsVerifyWithoutCrl) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const RealReport& c : RealReports()) {
    SCOPED_TRACE(c.report);
    VerifyOptions options;
    options.now = testing::At(c.time);
    ASSERT_OK(VerifyReport(ReadVector(c.report), LoadPool({c.leaf, c.chain}), options).status());
    options.crls = {Crl()};
    ASSERT_OK(VerifyReport(ReadVector(c.report), LoadPool({c.leaf, c.chain}), options).status());
    options.require_crl = true;
    EXPECT_THAT(VerifyReport(ReadVector(c.report), LoadPool({c.leaf, c.chain}), options),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr(std::string("issued by ARK-") + c.product)));
  }
}

}  // namespace
}  // namespace vouch::snp
