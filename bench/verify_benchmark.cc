// Verification cost against the raw signature cost, measured in one run.
//
// SEV-SNP: VerifyReport on a real Milan report (trustee-milan-v2 with its
// VCEK and the Milan ASK/ARK chain, parsed once before the loop) against a
// raw OpenSSL ECDSA P-384 SHA-384 verify of the 672 signed bytes.
// TDX: VerifyQuoteSignatures on a real version-4 quote (steps 1 to 5, chain
// from the quote) and VerifyQuote on a simulated quote with its collateral
// (every step). Both are compared with a raw ECDSA P-256 SHA-256 verify of
// 632 bytes, the header and TD report body of a version-4 quote. The endorsement-chain, signature-only
// and RSA-PSS entries split the SNP cost into its parts.
// The verifiers keep verified chains, QE reports and collateral in
// process-wide caches (snp/chain_cache.h, dcap/verify_cache.h). The plain
// entries run warm (every iteration after the first hits); the Cold entries
// clear the caches before each call.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "vouch/base/file.h"
#include "vouch/base/time.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/simulated.h"
#include "vouch/dcap/verify.h"
#include "vouch/dcap/verify_cache.h"
#include "vouch/snp/chain_cache.h"
#include "vouch/snp/report.h"
#include "vouch/snp/verify.h"
#include "vouch/testing/vectors.h"

namespace vouch::bench {
namespace {

// Size of the signed part of an SEV-SNP report (bytes 0x000 to 0x29F).
constexpr size_t kSnpSignedBytes = 0x2a0;
// Header (48 bytes) and TD report body (584 bytes) of a version-4 TDX quote.
constexpr size_t kTdxSignedBytes = 48 + 584;

Bytes ReadVectorOrDie(const std::string& relative) {
  const std::string path = testing::VectorsDir() + "/" + relative;
  absl::StatusOr<Bytes> bytes = ReadFile(path);
  if (!bytes.ok()) {
    std::fprintf(stderr, "failed to read vector %s: %s\n", path.c_str(),
                 std::string(bytes.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(bytes);
}

std::vector<crypto::Certificate> LoadCertificates(const std::vector<std::string>& files) {
  std::vector<crypto::Certificate> certificates;
  for (const std::string& file : files) {
    absl::StatusOr<std::vector<crypto::Certificate>> parsed =
        crypto::ParseCertificates(ReadVectorOrDie(file));
    if (!parsed.ok()) {
      std::fprintf(stderr, "failed to parse certificates in %s\n", file.c_str());
      std::exit(1);
    }
    certificates.insert(certificates.end(), parsed->begin(), parsed->end());
  }
  return certificates;
}

absl::Time TimeOrDie(const char* rfc3339) {
  absl::StatusOr<absl::Time> time = ParseRfc3339(rfc3339);
  if (!time.ok()) {
    std::exit(1);
  }
  return *time;
}

template <typename T>
T ValueOrDie(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(value.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(value);
}

// RawVerifier signs one random message with a fresh key and verifies that
// signature with EVP_DigestVerify, a new context per call as a verifier does.
class RawVerifier {
 public:
  RawVerifier(crypto::SslPtr<EVP_PKEY> key, const EVP_MD* md, size_t message_bytes, bool pss)
      : key_(std::move(key)), md_(md), pss_(pss) {
    message_ = crypto::RandomBytes(message_bytes);
    crypto::SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    size_t size = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md_, nullptr, key_.get()) != 1 ||
        (pss_ && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1) ||
        EVP_DigestSign(ctx.get(), nullptr, &size, message_.data(), message_.size()) != 1) {
      std::exit(1);
    }
    signature_.resize(size);
    if (EVP_DigestSign(ctx.get(), signature_.data(), &size, message_.data(), message_.size()) !=
        1) {
      std::exit(1);
    }
    signature_.resize(size);
  }

  bool Verify() const {
    crypto::SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md_, nullptr, key_.get()) != 1) {
      return false;
    }
    if (pss_ && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1) {
      return false;
    }
    return EVP_DigestVerify(ctx.get(), signature_.data(), signature_.size(), message_.data(),
                            message_.size()) == 1;
  }

 private:
  crypto::SslPtr<EVP_PKEY> key_;
  const EVP_MD* md_;
  bool pss_;
  Bytes message_;
  Bytes signature_;
};

void RunRaw(benchmark::State& state, const RawVerifier& verifier) {
  for (auto _ : state) {
    if (!verifier.Verify()) {
      state.SkipWithError("raw verify failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RawEcdsaP384Verify(benchmark::State& state) {
  static const RawVerifier* verifier = new RawVerifier(
      ValueOrDie(crypto::GenerateEcKey("P-384"), "P-384 key"), EVP_sha384(), kSnpSignedBytes,
      false);
  RunRaw(state, *verifier);
}
BENCHMARK(BM_RawEcdsaP384Verify);

void BM_RawEcdsaP256Verify(benchmark::State& state) {
  static const RawVerifier* verifier = new RawVerifier(
      ValueOrDie(crypto::GenerateEcKey("P-256"), "P-256 key"), EVP_sha256(), kTdxSignedBytes,
      false);
  RunRaw(state, *verifier);
}
BENCHMARK(BM_RawEcdsaP256Verify);

// AMD signs the ASK, ASVK and VCEK certificates with RSA-4096 RSASSA-PSS.
void BM_RawRsaPss4096Verify(benchmark::State& state) {
  static const RawVerifier* verifier = new RawVerifier(
      ValueOrDie(crypto::GenerateRsaKey(4096), "RSA key"), EVP_sha384(), 1500, true);
  RunRaw(state, *verifier);
}
BENCHMARK(BM_RawRsaPss4096Verify);

// EVP_PKEY_public_check on an RSA-2048 key: OpenSSL 3.0 runs the SP 800-56B
// public key checks (a GCD and a primality test of the modulus). The key
// broker runs it on the guest's key from the runtime data in every release
// (crypto::PublicKeyFromJwk).
void BM_RsaPublicCheck2048(benchmark::State& state) {
  static const crypto::SslPtr<EVP_PKEY>* key =
      new crypto::SslPtr<EVP_PKEY>(ValueOrDie(crypto::GenerateRsaKey(2048), "RSA key"));
  for (auto _ : state) {
    crypto::SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
      state.SkipWithError("public check failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RsaPublicCheck2048);

// RSA-3072 PKCS#1 v1.5 SHA-256 signing (RS256), as the token issuer and the
// release response use it.
void BM_RsaSign3072(benchmark::State& state) {
  static const crypto::SslPtr<EVP_PKEY>* key =
      new crypto::SslPtr<EVP_PKEY>(ValueOrDie(crypto::GenerateRsaKey(3072), "RSA key"));
  const Bytes message = crypto::RandomBytes(1024);
  Bytes signature(512);
  for (auto _ : state) {
    crypto::SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    size_t size = signature.size();
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->get()) != 1 ||
        EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size()) != 1) {
      state.SkipWithError("sign failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RsaSign3072);

// ECDSA signing with SHA-256 on P-256 (ES256) and SHA-384 on P-384 (ES384),
// the token signing algorithms of `vouch serve --signing-key-type ec-p256`
// and `ec-p384`.
void EcdsaSign(benchmark::State& state, const char* curve, const EVP_MD* digest) {
  const crypto::SslPtr<EVP_PKEY> key = ValueOrDie(crypto::GenerateEcKey(curve), "EC key");
  const Bytes message = crypto::RandomBytes(1024);
  Bytes signature(160);
  for (auto _ : state) {
    crypto::SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    size_t size = signature.size();
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size()) != 1) {
      state.SkipWithError("sign failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_EcdsaP256Sign(benchmark::State& state) { EcdsaSign(state, "P-256", EVP_sha256()); }
BENCHMARK(BM_EcdsaP256Sign);

void BM_EcdsaP384Sign(benchmark::State& state) { EcdsaSign(state, "P-384", EVP_sha384()); }
BENCHMARK(BM_EcdsaP384Sign);

struct SnpInput {
  Bytes report;
  std::vector<crypto::Certificate> certificates;
  snp::VerifyOptions options;
};

const SnpInput& Snp() {
  static const SnpInput* input = [] {
    auto* in = new SnpInput;
    in->report = ReadVectorOrDie("sev-snp/trustee-milan-v2.bin");
    in->certificates =
        LoadCertificates({"sev-snp/trustee-milan-v2-vcek.der", "amd-certs/milan_chain.pem"});
    in->options.now = TimeOrDie("2025-06-01T00:00:00Z");
    return in;
  }();
  return *input;
}

void BM_SnpVerifyReport(benchmark::State& state) {
  const SnpInput& in = Snp();
  for (auto _ : state) {
    absl::StatusOr<snp::VerifiedReport> verified =
        snp::VerifyReport(in.report, in.certificates, in.options);
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnpVerifyReport);

void BM_SnpVerifyReportCold(benchmark::State& state) {
  const SnpInput& in = Snp();
  for (auto _ : state) {
    snp::SharedChainCache().Clear();
    absl::StatusOr<snp::VerifiedReport> verified =
        snp::VerifyReport(in.report, in.certificates, in.options);
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnpVerifyReportCold);

void BM_SnpEndorsementChain(benchmark::State& state) {
  const SnpInput& in = Snp();
  for (auto _ : state) {
    snp::SharedChainCache().Clear();
    absl::StatusOr<snp::VerifiedChain> chain =
        snp::VerifyEndorsementChain(in.certificates[0], in.certificates, in.options);
    if (!chain.ok()) {
      state.SkipWithError(std::string(chain.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(chain);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnpEndorsementChain);

// The floor that a cache of verified endorsement chains would reach: parse
// the report and verify its signature with the VCEK, nothing else.
void BM_SnpReportSignatureOnly(benchmark::State& state) {
  const SnpInput& in = Snp();
  EVP_PKEY* vcek = in.certificates[0].PublicKey();
  for (auto _ : state) {
    absl::StatusOr<snp::AttestationReport> report = snp::ParseReport(in.report);
    if (!report.ok()) {
      state.SkipWithError(std::string(report.status().message()).c_str());
      return;
    }
    const Bytes r_be(report->signature_r.rbegin(), report->signature_r.rend());
    const Bytes s_be(report->signature_s.rbegin(), report->signature_s.rend());
    const absl::Status verified =
        crypto::VerifyEcdsaRaw(vcek, crypto::HashAlg::kSha384, report->signed_bytes(), r_be, s_be);
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnpReportSignatureOnly);

void BM_TdxVerifyQuoteSignatures(benchmark::State& state) {
  static const Bytes* quote = new Bytes(ReadVectorOrDie("tdx/dcapqvl-v4-b0c06f.dat"));
  dcap::VerifyOptions options;
  options.now = TimeOrDie("2025-06-20T12:00:00Z");
  const dcap::QuoteCollateral collateral;
  for (auto _ : state) {
    absl::StatusOr<dcap::AuthenticQuote> authentic =
        dcap::VerifyQuoteSignatures(*quote, collateral, options);
    if (!authentic.ok()) {
      state.SkipWithError(std::string(authentic.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(authentic);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TdxVerifyQuoteSignatures);

void BM_TdxVerifyQuoteSignaturesCold(benchmark::State& state) {
  static const Bytes* quote = new Bytes(ReadVectorOrDie("tdx/dcapqvl-v4-b0c06f.dat"));
  dcap::VerifyOptions options;
  options.now = TimeOrDie("2025-06-20T12:00:00Z");
  const dcap::QuoteCollateral collateral;
  for (auto _ : state) {
    dcap::SharedQuoteVerifyCaches().Clear();
    absl::StatusOr<dcap::AuthenticQuote> authentic =
        dcap::VerifyQuoteSignatures(*quote, collateral, options);
    if (!authentic.ok()) {
      state.SkipWithError(std::string(authentic.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(authentic);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TdxVerifyQuoteSignaturesCold);

struct SimulatedTdxInput {
  Bytes quote;
  dcap::QuoteCollateral collateral;
  dcap::VerifyOptions options;
};

const SimulatedTdxInput& SimulatedTdx() {
  static const SimulatedTdxInput* input = [] {
    char dir_template[] = "/tmp/vouch-bench-tdx-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
      std::exit(1);
    }
    const std::string dir = std::string(dir_template) + "/pki";
    const dcap::SimulatedTdx platform =
        ValueOrDie(dcap::SimulatedTdx::LoadOrCreate(dir), "simulated TDX");
    auto* in = new SimulatedTdxInput;
    const absl::Time now = absl::Now();
    in->quote = ValueOrDie(platform.GetQuote(Bytes(64, 0x5a)), "simulated quote");
    in->collateral = ValueOrDie(platform.Collateral(now), "simulated collateral");
    in->options = platform.VerifyOptionsAt(now);
    std::filesystem::remove_all(dir_template);
    return in;
  }();
  return *input;
}

void BM_TdxVerifyQuoteSimulated(benchmark::State& state) {
  const SimulatedTdxInput& in = SimulatedTdx();
  for (auto _ : state) {
    absl::StatusOr<dcap::VerifiedQuote> verified =
        dcap::VerifyQuote(in.quote, in.collateral, in.options);
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TdxVerifyQuoteSimulated);

void BM_TdxVerifyQuoteSimulatedCold(benchmark::State& state) {
  const SimulatedTdxInput& in = SimulatedTdx();
  for (auto _ : state) {
    dcap::SharedQuoteVerifyCaches().Clear();
    dcap::SharedCollateralCaches().Clear();
    absl::StatusOr<dcap::VerifiedQuote> verified =
        dcap::VerifyQuote(in.quote, in.collateral, in.options);
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TdxVerifyQuoteSimulatedCold);

void BM_TdxVerifyQuoteSignaturesSimulated(benchmark::State& state) {
  const SimulatedTdxInput& in = SimulatedTdx();
  for (auto _ : state) {
    absl::StatusOr<dcap::AuthenticQuote> authentic =
        dcap::VerifyQuoteSignatures(in.quote, in.collateral, in.options);
    if (!authentic.ok()) {
      state.SkipWithError(std::string(authentic.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(authentic);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TdxVerifyQuoteSignaturesSimulated);

}  // namespace
}  // namespace vouch::bench

BENCHMARK_MAIN();
