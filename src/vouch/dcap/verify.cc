#include "vouch/dcap/verify.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/dcap/verify_cache.h"

namespace vouch::dcap {
namespace {

constexpr std::string_view kContext = "dcap verify";
constexpr size_t kCoordinateSize = 32;

// AttestationKey returns the P-256 public key x||y of the quote, checked to
// be a point on the curve.
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> AttestationKey(const Quote& quote) {
  const ByteSpan key(quote.attestation_key);
  const nlohmann::json jwk = {{"kty", "EC"},
                              {"crv", "P-256"},
                              {"x", Base64UrlEncode(key.first(kCoordinateSize))},
                              {"y", Base64UrlEncode(key.subspan(kCoordinateSize))}};
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> out = crypto::PublicKeyFromJwk(jwk);
  if (!out.ok()) {
    return Unauthenticatedf("{}: attestation key {} is not a P-256 public key", kContext,
                            HexEncode(key));
  }
  return out;
}

absl::Status VerifyRaw(EVP_PKEY* key, ByteSpan message, ByteSpan signature,
                       std::string_view step) {
  const absl::Status status =
      crypto::VerifyEcdsaRaw(key, crypto::HashAlg::kSha256, message,
                             signature.first(kCoordinateSize), signature.subspan(kCoordinateSize));
  if (!status.ok()) {
    return Unauthenticatedf("{}: {} does not verify", kContext, step);
  }
  return absl::OkStatus();
}

// CollateralCertificates returns every CA certificate of the collateral.
std::vector<crypto::Certificate> CollateralCertificates(const QuoteCollateral& collateral,
                                                        const VerifyOptions& options) {
  std::vector<crypto::Certificate> out = collateral.pck_crl_issuer_chain;
  out.insert(out.end(), collateral.intel_certificates.begin(),
             collateral.intel_certificates.end());
  out.insert(out.end(), collateral.tcb_info_issuer_chain.begin(),
             collateral.tcb_info_issuer_chain.end());
  out.insert(out.end(), options.pck_certificates.begin(), options.pck_certificates.end());
  return out;
}

absl::StatusOr<crypto::Certificate> FindBySubject(const std::vector<crypto::Certificate>& pool,
                                                  const std::string& subject,
                                                  std::string_view role) {
  for (const crypto::Certificate& certificate : pool) {
    if (certificate.Subject() == subject) {
      return certificate;
    }
  }
  return FailedPreconditionf("{}: pck chain: no {} certificate with subject {} in the collateral",
                             kContext, role, subject);
}

// ChainFromCollateral assembles the PCK chain of a type-3 quote: the PCK
// certificate among options.pck_certificates whose key verifies the QE
// report, then its CA and root by subject name.
absl::StatusOr<std::vector<crypto::Certificate>> ChainFromCollateral(
    const Quote& quote, const QuoteCollateral& collateral, const VerifyOptions& options) {
  const ByteSpan signature(quote.qe.qe_report_signature);
  for (const crypto::Certificate& candidate : options.pck_certificates) {
    if (candidate.SubjectCommonName() != kPckCommonName ||
        !VerifyRaw(candidate.PublicKey(), quote.qe.qe_report_raw, signature, "").ok()) {
      continue;
    }
    const std::vector<crypto::Certificate> pool = CollateralCertificates(collateral, options);
    VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate ca,
                           FindBySubject(pool, candidate.Issuer(), "PCK CA"));
    VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate root,
                           FindBySubject(pool, ca.Issuer(), "root"));
    return std::vector<crypto::Certificate>{candidate, ca, root};
  }
  crypto::ClearSslErrors();
  return FailedPreconditionf("{}: pck chain: the quote carries an encrypted PPID (certification "
                             "data type 3) and none of the {} PCK certificates given verifies its "
                             "QE report; fetch the PCK certificate for this platform",
                             kContext, options.pck_certificates.size());
}

absl::StatusOr<PckChain> VerifyChainStep(const Quote& quote, const QuoteCollateral& collateral,
                                         const VerifyOptions& options) {
  std::vector<crypto::Certificate> certificates;
  if (quote.has_pck_chain()) {
    absl::StatusOr<std::vector<crypto::Certificate>> parsed =
        crypto::ParseCertificates(AsBytes(quote.qe.pck_chain_pem));
    if (!parsed.ok()) {
      return Prefix(fmt::format("{}: pck chain in the quote", kContext), parsed.status());
    }
    certificates = *std::move(parsed);
  } else {
    VOUCH_ASSIGN_OR_RETURN(certificates, ChainFromCollateral(quote, collateral, options));
  }
  PckChainOptions chain_options;
  chain_options.now = options.now;
  chain_options.trusted_root_spki_sha256 = options.trusted_root_spki_sha256;
  absl::StatusOr<PckChain> chain = VerifyPckChain(certificates, chain_options);
  if (!chain.ok()) {
    return Prefix(kContext, chain.status());
  }
  return chain;
}

// The QE binds the attestation key: report_data = SHA-256(AK || auth data)
// followed by 32 zero bytes.
absl::Status CheckQeReportData(const Quote& quote) {
  Bytes bound(quote.attestation_key.begin(), quote.attestation_key.end());
  bound.insert(bound.end(), quote.qe.qe_auth_data.begin(), quote.qe.qe_auth_data.end());
  const Bytes digest = crypto::Sha256(bound);
  const ByteSpan report_data(quote.qe.qe_report.report_data);
  if (!std::equal(digest.begin(), digest.end(), report_data.begin())) {
    return Unauthenticatedf("{}: qe report data: bytes 0..31 are {}, want SHA-256 of the "
                            "attestation key and QE auth data {}",
                            kContext, HexEncode(report_data.first(32)), HexEncode(digest));
  }
  if (!IsAllZero(report_data.subspan(32))) {
    return Unauthenticatedf("{}: qe report data: bytes 32..63 are {}, want zero", kContext,
                            HexEncode(report_data.subspan(32)));
  }
  return absl::OkStatus();
}

std::string PckChainKey(const Quote& quote, const VerifyOptions& options) {
  Bytes roots;
  for (const Bytes& root : options.trusted_root_spki_sha256) {
    roots.insert(roots.end(), root.begin(), root.end());
  }
  return CacheKey({roots, AsBytes(quote.qe.pck_chain_pem)});
}

// The QE report key covers every input of steps 2 and 3 and the attestation
// key parsed after them.
std::string QeReportKey(const Quote& quote, ByteSpan pck_sha256) {
  return CacheKey({quote.qe.qe_report_raw, quote.qe.qe_report_signature, quote.attestation_key,
                   quote.qe.qe_auth_data, pck_sha256});
}

// ChainWindow returns the latest notBefore and the earliest notAfter of the
// chain: the times at which VerifyPckChain accepts all three certificates.
std::pair<absl::Time, absl::Time> ChainWindow(const PckChain& chain) {
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfiniteFuture();
  for (const crypto::Certificate& certificate : chain.certificates()) {
    not_before = std::max(not_before, certificate.NotBefore());
    not_after = std::min(not_after, certificate.NotAfter());
  }
  return {not_before, not_after};
}

}  // namespace

absl::StatusOr<AuthenticQuote> VerifyQuoteSignatures(ByteSpan quote_bytes,
                                                     const QuoteCollateral& collateral,
                                                     const VerifyOptions& options) {
  AuthenticQuote out;
  VOUCH_ASSIGN_OR_RETURN(out.quote, ParseQuote(quote_bytes));
  const Quote& quote = out.quote;

  QuoteVerifyCaches& caches = SharedQuoteVerifyCaches();

  // Step 1: the PCK chain, from the cache when the quote carries a chain
  // that verified before and is still valid.
  std::optional<std::string> chain_key;
  std::optional<VerifiedPckChain> cached_chain;
  if (quote.has_pck_chain()) {
    chain_key = PckChainKey(quote, options);
    cached_chain = caches.pck_chains.Lookup(*chain_key, options.now);
  }
  Bytes pck_sha256;
  if (cached_chain.has_value()) {
    out.pck_chain = cached_chain->chain;
    pck_sha256 = cached_chain->pck_sha256;
  } else {
    VOUCH_ASSIGN_OR_RETURN(out.pck_chain, VerifyChainStep(quote, collateral, options));
    pck_sha256 = out.pck_chain.pck.Sha256();
  }

  // Steps 2 and 3: the QE report, skipped when the same QE report, signature
  // and attestation key verified before under the same PCK certificate.
  const std::string qe_key = QeReportKey(quote, pck_sha256);
  std::optional<std::shared_ptr<EVP_PKEY>> attestation_key =
      caches.qe_reports.Lookup(qe_key, options.now);
  const bool qe_report_cached = attestation_key.has_value();
  if (!qe_report_cached) {
    VOUCH_RETURN_IF_ERROR(VerifyRaw(out.pck_chain.pck.PublicKey(), quote.qe.qe_report_raw,
                                    quote.qe.qe_report_signature,
                                    "qe report signature by the PCK key"));
    VOUCH_RETURN_IF_ERROR(CheckQeReportData(quote));
    VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> parsed, AttestationKey(quote));
    attestation_key = std::shared_ptr<EVP_PKEY>(parsed.release(), EVP_PKEY_free);
  }

  // Step 4: the quote signature, on every call.
  VOUCH_RETURN_IF_ERROR(VerifyRaw(attestation_key->get(), quote.signed_bytes(), quote.signature,
                                  "quote signature by the attestation key"));

  // Step 5: the PCK extensions.
  if (cached_chain.has_value()) {
    out.pck_extensions = cached_chain->extensions;
  } else {
    absl::StatusOr<PckExtensions> extensions = ReadPckExtensions(out.pck_chain.pck);
    if (!extensions.ok()) {
      return Prefix(kContext, extensions.status());
    }
    out.pck_extensions = *std::move(extensions);
  }

  // Every step passed: remember what verified.
  if (chain_key.has_value() && !cached_chain.has_value()) {
    const auto [not_before, not_after] = ChainWindow(out.pck_chain);
    caches.pck_chains.Insert(*chain_key,
                             VerifiedPckChain{out.pck_chain, out.pck_extensions, pck_sha256},
                             not_before, not_after);
  }
  if (!qe_report_cached) {
    caches.qe_reports.Insert(qe_key, *attestation_key);
  }
  return out;
}

PlatformTcb PlatformTcbOf(const AuthenticQuote& authentic) {
  const Quote& quote = authentic.quote;
  const PckExtensions& ext = authentic.pck_extensions;
  PlatformTcb platform;
  platform.tee_type = quote.tee_type();
  platform.fmspc = ext.fmspc;
  platform.pce_id = ext.pce_id;
  platform.sgx_tcb_components = ext.sgx_tcb_components;
  platform.pce_svn = ext.pce_svn;
  if (quote.td_body.has_value()) {
    const TdReportBody& td = *quote.td_body;
    platform.tee_tcb_svn = td.tee_tcb_svn;
    platform.mr_signer_seam.assign(td.mr_signer_seam.begin(), td.mr_signer_seam.end());
    platform.seam_attributes.assign(td.seam_attributes.begin(), td.seam_attributes.end());
  }
  const SgxReportBody& qe = quote.qe.qe_report;
  platform.qe_mrsigner.assign(qe.mr_signer.begin(), qe.mr_signer.end());
  platform.qe_isv_prod_id = qe.isv_prod_id;
  platform.qe_isv_svn = qe.isv_svn;
  platform.qe_miscselect = qe.misc_select;
  platform.qe_attributes.assign(qe.attributes.begin(), qe.attributes.end());
  return platform;
}

absl::StatusOr<VerifiedQuote> VerifyQuote(ByteSpan quote, const QuoteCollateral& collateral,
                                          const VerifyOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(AuthenticQuote authentic,
                         VerifyQuoteSignatures(quote, collateral, options));

  absl::StatusOr<TcbVerdict> verdict =
      EvaluateTcb(collateral, PlatformTcbOf(authentic), authentic.pck_chain.certificates(),
                  options.now, options.tcb);
  if (!verdict.ok()) {
    return Prefix(fmt::format("{}: tcb", kContext), verdict.status());
  }
  return VerifiedQuote{std::move(authentic.quote), std::move(authentic.pck_chain),
                       std::move(authentic.pck_extensions), *std::move(verdict)};
}

}  // namespace vouch::dcap
