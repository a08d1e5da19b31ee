#include "vouch/server/azure_attestation.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "vouch/azure/claims.h"
#include "vouch/azure/hcl_report.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/random.h"
#include "vouch/dcap/appraisal.h"
#include "vouch/server/attestation_policies.h"
#include "vouch/server/status_mapping.h"
#include "vouch/snp/appraisal.h"

namespace vouch::server {
namespace {

std::optional<HttpResponse> RejectNonJson(const HttpRequest& request) {
  const std::optional<std::string> type = request.Header("content-type");
  if (!type.has_value()) {
    return std::nullopt;
  }
  const std::string_view media_type = std::string_view(*type).substr(0, type->find(';'));
  if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(AbslView(media_type)),
                             "application/json")) {
    return std::nullopt;
  }
  return ErrorResponseFor(
      415, fmt::format("Content-Type {:?} is not supported, want application/json", *type));
}

// VerifyFailure maps verification errors to the HTTP meaning: malformed
// evidence stays InvalidArgument, and a missing certificate or collateral is
// Unauthenticated like a bad signature.
absl::Status VerifyFailure(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument ||
      status.code() == absl::StatusCode::kUnauthenticated ||
      status.code() == absl::StatusCode::kPermissionDenied) {
    return status;
  }
  return Unauthenticatedf("azure evidence did not verify: {}", status.message());
}

// CheckUserDataBinding requires the bound "user-data" to start with
// SHA-256(runtime data).
absl::Status CheckUserDataBinding(const azure::BoundRuntimeClaims& runtime, ByteSpan runtime_data) {
  const auto user_data = runtime.claims.find("user-data");
  if (user_data == runtime.claims.end() || !user_data->is_string()) {
    return InvalidArgumentf("runtime data binding: the HCL runtime claims have no user-data");
  }
  absl::StatusOr<Bytes> decoded = HexDecode(user_data->get<std::string>());
  const Bytes digest = crypto::Sha256(runtime_data);
  if (!decoded.ok() || decoded->size() < digest.size() ||
      CRYPTO_memcmp(decoded->data(), digest.data(), digest.size()) != 0) {
    return Unauthenticatedf(
        "runtime data binding: the HCL user-data does not start with SHA-256 of runtime_data; "
        "write it to NV index 0x01400002 before reading the HCL report");
  }
  return absl::OkStatus();
}

absl::Status AppraiseTdx(const azure::VerifiedAzureEvidence& verified,
                         const AzureAttestationOptions& options) {
  dcap::VerifiedQuote quote;
  quote.quote = verified.td_quote->quote;
  quote.pck_chain = verified.td_quote->pck_chain;
  quote.pck_extensions = verified.td_quote->pck_extensions;
  quote.tcb = *verified.td_tcb;
  return dcap::Appraise(quote, options.dcap->appraisal);
}

}  // namespace

absl::StatusOr<AzureAttestRequest> ParseAzureAttestRequest(std::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return InvalidArgumentf("azure attest request: body is not a JSON object");
  }
  AzureAttestRequest out;
  VOUCH_ASSIGN_OR_RETURN(out.evidence, azure::ParseAzureEvidence(json));
  if (!json.contains("nonce") || !json["nonce"].is_string()) {
    return InvalidArgumentf(
        "azure attest request: nonce is missing; get one from POST /challenge and quote with it");
  }
  absl::StatusOr<Bytes> nonce = Base64UrlDecode(json["nonce"].get<std::string>());
  if (!nonce.ok() || nonce->empty() || nonce->size() > 64) {
    return InvalidArgumentf("azure attest request: nonce is not base64url of 1 to 64 bytes");
  }
  out.nonce = *std::move(nonce);
  if (!json.contains("runtime_data")) {
    return out;
  }
  if (!json["runtime_data"].is_string()) {
    return InvalidArgumentf("azure attest request: runtime_data is not a base64url string");
  }
  VOUCH_ASSIGN_OR_RETURN(Bytes runtime, Base64UrlDecode(json["runtime_data"].get<std::string>()));
  if (runtime.size() > kMaxAzureRuntimeDataBytes) {
    return InvalidArgumentf("azure attest request: runtime_data has {} bytes, at most {}",
                            runtime.size(), kMaxAzureRuntimeDataBytes);
  }
  nlohmann::json runtime_json = nlohmann::json::parse(runtime.begin(), runtime.end(), nullptr, false);
  if (!runtime_json.is_object()) {
    return InvalidArgumentf("azure attest request: runtime_data is not a JSON object");
  }
  out.runtime_data = std::move(runtime);
  out.runtime_json = std::move(runtime_json);
  return out;
}

absl::StatusOr<nlohmann::json> AttestAzure(const AzureAttestRequest& request,
                                           const AzureAttestationOptions& options, absl::Time now) {
  azure::AzureVerifyOptions verify;
  verify.now = now;
  verify.expected_nonce = request.nonce;
  verify.snp_roots = options.snp.roots;
  verify.snp_certificates = options.snp.collateral;
  const bool tdx = !request.evidence.td_quote.empty();
  if (tdx) {
    if (options.dcap == nullptr) {
      return Unauthenticatedf("azure evidence did not verify: no Intel collateral for TD quotes");
    }
    verify.now = options.dcap->verification_time_for_test.value_or(now);
    absl::StatusOr<dcap::QuoteSelector> selector = dcap::SelectorForQuote(request.evidence.td_quote);
    if (!selector.ok()) {
      return Prefix("azure evidence: TD quote", selector.status());
    }
    absl::StatusOr<dcap::QuoteCollateral> collateral =
        options.dcap->collateral.Select(*selector, verify.now);
    if (!collateral.ok()) {
      return VerifyFailure(Prefix("azure evidence: TD quote collateral", collateral.status()));
    }
    verify.tdx_collateral = *std::move(collateral);
  } else {
    // A vTPM keeps only the HCL report, so agents rarely send the VCEK: look
    // it up by the SEV-SNP report's chip id and TCB, then find the CRLs of
    // its chain. An HCL report that does not parse is left to
    // VerifyAzureEvidence, which names the fault.
    absl::StatusOr<azure::HclReport> hcl = azure::ParseHclReport(request.evidence.hcl_report);
    if (hcl.ok() && hcl->report_type == azure::HclReportType::kSnp) {
      std::vector<crypto::Certificate> pool = request.evidence.certificates;
      pool.insert(pool.end(), verify.snp_certificates.begin(), verify.snp_certificates.end());
      if (options.snp.vcek_provider != nullptr) {
        VOUCH_ASSIGN_OR_RETURN(pool, FindSnpCertificates(hcl->hardware_report, std::move(pool),
                                                         options.snp, verify.now));
      }
      VOUCH_ASSIGN_OR_RETURN(verify.snp_crls,
                             FindSnpCrls(hcl->hardware_report, pool, options.snp, verify.now));
      verify.snp_require_crl = options.snp.require_crl;
      verify.snp_certificates = std::move(pool);
    }
  }

  absl::StatusOr<azure::VerifiedAzureEvidence> verified =
      azure::VerifyAzureEvidence(request.evidence, verify);
  if (!verified.ok()) {
    return VerifyFailure(verified.status());
  }
  if (verified->snp) {
    VOUCH_RETURN_IF_ERROR(snp::Appraise(*verified->snp, options.snp.appraisal));
  } else {
    VOUCH_RETURN_IF_ERROR(AppraiseTdx(*verified, options));
  }
  if (request.runtime_data) {
    VOUCH_RETURN_IF_ERROR(CheckUserDataBinding(verified->runtime, *request.runtime_data));
  }
  return azure::AzureClaims(*verified, request.runtime_json);
}

std::vector<std::string> AzureClaimTypes() {
  return {"x-ms-attestation-type",
          "x-ms-azurevm-attestation-protocol-ver",
          "x-ms-azurevm-attested-pcrs",
          "x-ms-azurevm-vmid",
          "x-ms-isolation-tee",
          "x-ms-runtime",
          "secureboot",
          "x-vouch-azurevm-configured-secureboot",
          "x-vouch-azurevm-eventlog-verified-pcrs",
          "x-vouch-azurevm-eventlog-uncovered-pcrs",
          "x-vouch-simulated"};
}

absl::StatusOr<std::unique_ptr<AzureAttestation>> AzureAttestation::Create(
    store::Store& store, AzureAttestationOptions options) {
  RegisterKnownClaims(kAzureGuestKind, AzureClaimTypes());
  return std::unique_ptr<AzureAttestation>(new AzureAttestation(store, std::move(options)));
}

absl::Status AzureAttestation::AddRoutes(Router& router, IssueToken issue) const {
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/challenge", [this](const HttpRequest& request) {
    return HandleChallenge(request);
  }));
  return router.Add("POST", "/attest/AzureGuest",
                    [this, issue](const HttpRequest& request) { return HandleAttest(request, issue); });
}

absl::StatusOr<std::pair<Bytes, absl::Time>> AzureAttestation::IssueChallenge(
    absl::Time now) const {
  Bytes nonce = crypto::RandomBytes(kChallengeNonceBytes);
  const absl::Time expires = now + options_.challenge_lifetime;
  VOUCH_RETURN_IF_ERROR(store_.PutNonce(nonce, expires));
  return std::make_pair(std::move(nonce), expires);
}

absl::StatusOr<HttpResponse> AzureAttestation::HandleChallenge(const HttpRequest&) const {
  const absl::Time now = absl::Now();
  // Expired nonces are purged as new ones are issued, so the table stays
  // about as large as one challenge lifetime's worth of requests.
  VOUCH_RETURN_IF_ERROR(store_.PurgeExpiredNonces(now).status());
  VOUCH_ASSIGN_OR_RETURN(const auto challenge, IssueChallenge(now));
  return JsonResponse(200, {{"nonce", Base64UrlEncode(challenge.first)},
                            {"expires", FormatRfc3339(challenge.second)}});
}

absl::StatusOr<HttpResponse> AzureAttestation::HandleAttest(const HttpRequest& request,
                                                            const IssueToken& issue) const {
  if (std::optional<HttpResponse> rejected = RejectNonJson(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const AzureAttestRequest attest, ParseAzureAttestRequest(request.body));
  const absl::Time now = absl::Now();
  const absl::Status consumed = store_.ConsumeNonce(attest.nonce, now);
  if (absl::IsNotFound(consumed)) {
    return Unauthenticatedf("nonce was not issued by POST /challenge or was already used");
  }
  if (absl::IsFailedPrecondition(consumed)) {
    return Unauthenticatedf("nonce expired; get a new one from POST /challenge");
  }
  VOUCH_RETURN_IF_ERROR(consumed);
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, AttestAzure(attest, options_, now));
  return issue(std::move(claims));
}

}  // namespace vouch::server
