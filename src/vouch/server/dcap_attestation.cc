#include "vouch/server/dcap_attestation.h"

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/ccel.h"
#include "vouch/dcap/claims.h"
#include "vouch/dcap/tcb_info.h"
#include "vouch/dcap/verify.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/attestation_policies.h"
#include "vouch/server/status_mapping.h"
#include "vouch/server/request_json.h"

namespace vouch::server {
namespace {

constexpr std::string_view kContext = "dcap attest request";

absl::Status ParseRuntimeData(const nlohmann::json& body, DcapAttestRequest& out) {
  if (!body.contains("runtimeData") || !body["runtimeData"].is_object()) {
    return InvalidArgumentf("{}: runtimeData must be an object with data and dataType", kContext);
  }
  const nlohmann::json& runtime = body["runtimeData"];
  VOUCH_RETURN_IF_ERROR(CheckMembers(kContext, runtime, "runtimeData", {"data", "dataType"}));
  const nlohmann::json type = runtime.value("dataType", nlohmann::json());
  if (type != "JSON" && type != "Binary") {
    return InvalidArgumentf("{}: runtimeData.dataType must be \"JSON\" or \"Binary\"", kContext);
  }
  VOUCH_ASSIGN_OR_RETURN(out.runtime_data, DecodeMember(kContext, runtime, "runtimeData", "data"));
  if (out.runtime_data.size() > kMaxDcapRuntimeDataBytes) {
    return InvalidArgumentf("{}: runtime data is {} bytes, the limit is {}", kContext,
                            out.runtime_data.size(), kMaxDcapRuntimeDataBytes);
  }
  out.runtime_data_is_json = type == "JSON";
  if (!out.runtime_data_is_json) {
    return absl::OkStatus();
  }
  VOUCH_ASSIGN_OR_RETURN(out.runtime_json,
                         policy::ParseStrictJson(ToString(out.runtime_data),
                                                 "dcap attest request: runtime data"));
  if (!out.runtime_json.is_object()) {
    return InvalidArgumentf("{}: JSON runtime data must be an object, found {}", kContext,
                            policy::JsonTypeName(out.runtime_json));
  }
  return absl::OkStatus();
}

absl::Status ParseNonce(const nlohmann::json& body, DcapAttestRequest& out) {
  if (!body.contains("nonce") || body["nonce"].is_null()) {
    return absl::OkStatus();
  }
  if (!body["nonce"].is_string()) {
    return InvalidArgumentf("{}: nonce must be a string, found {}", kContext,
                            policy::JsonTypeName(body["nonce"]));
  }
  std::string nonce = body["nonce"].get<std::string>();
  constexpr size_t kMaxNonceBytes = 1024;
  if (nonce.size() > kMaxNonceBytes) {
    return InvalidArgumentf("{}: nonce is {} bytes, the limit is {}", kContext, nonce.size(),
                            kMaxNonceBytes);
  }
  out.nonce = std::move(nonce);
  return absl::OkStatus();
}

absl::Status ParseEventLog(const nlohmann::json& body, DcapAttestRequest& out) {
  if (!body.contains("eventLog") || body["eventLog"].is_null()) {
    return absl::OkStatus();
  }
  VOUCH_ASSIGN_OR_RETURN(Bytes log, DecodeMember(kContext, body, "body", "eventLog"));
  if (log.size() > kMaxDcapEventLogBytes) {
    return InvalidArgumentf("{}: eventLog is {} bytes, the limit is {}", kContext, log.size(),
                            kMaxDcapEventLogBytes);
  }
  out.event_log = std::move(log);
  return absl::OkStatus();
}

// CheckBinding returns the hash that binds the runtime data: "SHA-256" when
// report data bytes 0..31 are SHA-256(runtime data), else "SHA-512" when all
// 64 bytes are SHA-512(runtime data).
absl::StatusOr<std::string> CheckBinding(ByteSpan report_data, ByteSpan runtime_data) {
  const Bytes sha256 = crypto::Sha256(runtime_data);
  if (std::equal(sha256.begin(), sha256.end(), report_data.begin())) {
    return std::string("SHA-256");
  }
  const Bytes sha512 = crypto::Hash(crypto::HashAlg::kSha512, runtime_data);
  if (std::equal(sha512.begin(), sha512.end(), report_data.begin(), report_data.end())) {
    return std::string("SHA-512");
  }
  return InvalidArgumentf("runtime data binding: report data is {}, want SHA-256 of the runtime "
                          "data {} in bytes 0..31, or SHA-512 {} in all 64 bytes",
                          HexEncode(report_data), HexEncode(sha256), HexEncode(sha512));
}

absl::StatusOr<dcap::VerifiedQuote> VerifyEvidence(const DcapAttestRequest& request,
                                                   DcapEvidence evidence,
                                                   const DcapAttestationOptions& options,
                                                   absl::Time now) {
  VOUCH_ASSIGN_OR_RETURN(const dcap::Quote quote, dcap::ParseQuote(request.quote));
  const dcap::TeeType want =
      evidence == DcapEvidence::kTdxVm ? dcap::TeeType::kTdx : dcap::TeeType::kSgx;
  if (quote.tee_type() != want) {
    return InvalidArgumentf("dcap attest: the quote is a {} quote, but this route takes {} quotes",
                            dcap::TeeTypeName(quote.tee_type()), dcap::TeeTypeName(want));
  }
  return VerifyDcapQuote(request.quote, options, now,
                         request.collateral.has_value() ? &*request.collateral : nullptr);
}

std::vector<std::string> ClaimTypesFor(DcapEvidence evidence) {
  std::vector<std::string> types = evidence == DcapEvidence::kTdxVm ? dcap::TdxClaimTypes()
                                                                    : dcap::SgxClaimTypes();
  for (const char* type : {"x-ms-runtime", "x-vouch-runtime-data", "x-vouch-runtime-data-hash",
                           "nonce"}) {
    types.emplace_back(type);
  }
  if (evidence == DcapEvidence::kTdxVm) {
    types.emplace_back("x-vouch-tdx-eventlog-rtmrs");
  }
  if (evidence == DcapEvidence::kSgxEnclave) {
    types.emplace_back("x-ms-sgx-ehd");
  }
  return types;
}

}  // namespace

absl::StatusOr<dcap::QuoteCollateral> SelectCollateral(const DcapAttestationOptions& options,
                                                       const dcap::QuoteSelector& selector,
                                                       absl::Time now) {
  absl::StatusOr<dcap::QuoteCollateral> collateral = options.collateral.Select(selector, now);
  if (!collateral.ok() && options.provider != nullptr) {
    absl::StatusOr<collateral::ProvidedCollateral> provided = options.provider->Get(selector, now);
    if (provided.ok()) {
      return std::move(provided->collateral);
    }
    collateral = Prefix(std::string(collateral.status().message()), provided.status());
  }
  if (!collateral.ok()) {
    // Without collateral the quote cannot be verified: HTTP 401, as for an
    // expired certificate.
    return Unauthenticatedf("dcap evidence did not verify: no collateral for this quote (FMSPC "
                            "{}): {}",
                            HexEncode(selector.fmspc), collateral.status().message());
  }
  return collateral;
}

absl::StatusOr<dcap::VerifiedQuote> VerifyDcapQuote(
    ByteSpan quote, const DcapAttestationOptions& options, absl::Time now,
    const dcap::QuoteCollateral* request_collateral) {
  dcap::VerifyOptions verify_options;
  verify_options.now = now;
  dcap::QuoteSelector selector;
  absl::StatusOr<dcap::QuoteSelector> from_quote = dcap::SelectorForQuote(quote);
  if (from_quote.ok()) {
    selector = *std::move(from_quote);
  } else if (from_quote.status().code() == absl::StatusCode::kFailedPrecondition) {
    // Certification data type 3: an encrypted PPID instead of the chain.
    if (options.provider == nullptr) {
      return Unauthenticatedf("dcap evidence did not verify: the quote carries an encrypted PPID "
                              "(certification data type 3) and no PCK certificate source is "
                              "configured (--collateral-cache or --pcs-url)");
    }
    absl::StatusOr<collateral::ProvidedPckCertificates> pck =
        options.provider->GetPckCertificates(quote, now);
    if (!pck.ok()) {
      if (pck.status().code() == absl::StatusCode::kInvalidArgument) {
        return pck.status();
      }
      return Unauthenticatedf("dcap evidence did not verify: no PCK certificate for the "
                              "quote's encrypted PPID: {}",
                              pck.status().message());
    }
    verify_options.pck_certificates = std::move(pck->certificates);
    // The provider checked the chain up to a root it trusts; the selector
    // comes from the PCK certificate that verified the QE report.
    dcap::VerifyOptions chain_options = verify_options;
    if (options.simulated.has_value()) {
      chain_options.trusted_root_spki_sha256.push_back(options.simulated->RootSpkiSha256());
    }
    absl::StatusOr<dcap::AuthenticQuote> authentic =
        dcap::VerifyQuoteSignatures(quote, {}, chain_options);
    if (!authentic.ok()) {
      if (authentic.status().code() == absl::StatusCode::kInvalidArgument) {
        return authentic.status();
      }
      return Unauthenticatedf("dcap evidence did not verify: {}", authentic.status().message());
    }
    selector = dcap::QuoteSelector{authentic->quote.tee_type(), authentic->pck_extensions.fmspc,
                                   authentic->pck_chain.pck.Issuer()};
  } else {
    return from_quote.status();
  }

  if (options.simulated.has_value() &&
      std::equal(selector.fmspc.begin(), selector.fmspc.end(), dcap::kSimulatedFmspc.begin(),
                 dcap::kSimulatedFmspc.end())) {
    // Simulated evidence: the simulated root and collateral, and no other.
    // The collateral must be for the quote's TEE type (TCB info and QE
    // identity "TDX" and "TD_QE", or "SGX" and "QE"), because the other
    // type's does not verify.
    VOUCH_ASSIGN_OR_RETURN(const dcap::QuoteCollateral simulated,
                           options.simulated->Collateral(now, selector.tee_type));
    dcap::VerifyOptions simulated_options = options.simulated->VerifyOptionsAt(now);
    simulated_options.pck_certificates = verify_options.pck_certificates;
    absl::StatusOr<dcap::VerifiedQuote> verified =
        dcap::VerifyQuote(quote, simulated, simulated_options);
    if (!verified.ok() && verified.status().code() != absl::StatusCode::kInvalidArgument) {
      return Unauthenticatedf("simulated dcap evidence did not verify: {}",
                              verified.status().message());
    }
    return verified;
  }

  dcap::QuoteCollateral collateral;
  if (request_collateral != nullptr) {
    collateral = *request_collateral;
  } else {
    VOUCH_ASSIGN_OR_RETURN(collateral, SelectCollateral(options, selector, now));
  }
  absl::StatusOr<dcap::VerifiedQuote> verified =
      dcap::VerifyQuote(quote, collateral, verify_options);
  if (verified.ok() || verified.status().code() == absl::StatusCode::kInvalidArgument ||
      verified.status().code() == absl::StatusCode::kPermissionDenied) {
    return verified;
  }
  // Expired collateral or a certificate outside its validity means the
  // evidence does not verify now, as a bad signature does: HTTP 401.
  return Unauthenticatedf("dcap evidence did not verify: {}", verified.status().message());
}

namespace {

absl::StatusOr<std::vector<crypto::Certificate>> ChainMember(const nlohmann::json& object,
                                                            const std::string& key) {
  if (!object.contains(key)) {
    return std::vector<crypto::Certificate>{};
  }
  if (!object[key].is_string()) {
    return InvalidArgumentf("{}: collateral.{} must be a PEM string", kContext, key);
  }
  absl::StatusOr<std::vector<crypto::Certificate>> chain =
      crypto::ParseCertificates(AsBytes(object[key].get<std::string>()));
  if (!chain.ok()) {
    return Prefix(fmt::format("{}: collateral.{}", kContext, key), chain.status());
  }
  return chain;
}

// ParseCollateral reads the optional "collateral" member: TCB info and QE
// identity as JSON text, issuer chains as PEM, CRLs as base64url DER.
absl::Status ParseCollateral(const nlohmann::json& body, DcapAttestRequest& out) {
  if (!body.contains("collateral")) {
    return absl::OkStatus();
  }

  const nlohmann::json& object = body["collateral"];
  if (!object.is_object()) {
    return InvalidArgumentf("{}: collateral must be an object", kContext);
  }
  VOUCH_RETURN_IF_ERROR(CheckMembers(kContext, object, "collateral",
                                     {"tcbInfo", "tcbInfoIssuerChain", "qeIdentity",
                                      "qeIdentityIssuerChain", "pckCrl", "pckCrlIssuerChain",
                                      "rootCaCrl"}));

  dcap::QuoteCollateral collateral;
  for (const auto& [key, field] : {std::pair{"tcbInfo", &collateral.tcb_info_json},
                                   std::pair{"qeIdentity", &collateral.qe_identity_json}}) {
    if (!object.contains(key) || !object[key].is_string()) {
      return InvalidArgumentf("{}: collateral.{} must be the JSON text of the document",
                              kContext, key);
    }
    *field = object[key].get<std::string>();
  }

  VOUCH_ASSIGN_OR_RETURN(collateral.tcb_info_issuer_chain,
                         ChainMember(object, "tcbInfoIssuerChain"));
  VOUCH_ASSIGN_OR_RETURN(collateral.qe_identity_issuer_chain,
                         ChainMember(object, "qeIdentityIssuerChain"));
  VOUCH_ASSIGN_OR_RETURN(collateral.pck_crl_issuer_chain,
                         ChainMember(object, "pckCrlIssuerChain"));

  for (const auto& [key, field] : {std::pair{"pckCrl", &collateral.pck_crl},
                                   std::pair{"rootCaCrl", &collateral.root_ca_crl}}) {
    if (object.contains(key)) {
      VOUCH_ASSIGN_OR_RETURN(*field, DecodeMember(kContext, object, "collateral", key));
    }
  }
  out.collateral = std::move(collateral);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DcapAttestRequest> ParseDcapAttestRequest(std::string_view body) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json json,
                         policy::ParseStrictJson(body, "dcap attest request"));
  if (!json.is_object()) {
    return InvalidArgumentf("{}: body must be a JSON object, found {}", kContext,
                            policy::JsonTypeName(json));
  }
  VOUCH_RETURN_IF_ERROR(
      CheckMembers(kContext, json, "body",
                   {"quote", "runtimeData", "nonce", "eventLog", "collateral"}));
  DcapAttestRequest request;
  VOUCH_ASSIGN_OR_RETURN(request.quote, DecodeMember(kContext, json, "body", "quote"));
  VOUCH_RETURN_IF_ERROR(ParseRuntimeData(json, request));
  VOUCH_RETURN_IF_ERROR(ParseNonce(json, request));
  VOUCH_RETURN_IF_ERROR(ParseEventLog(json, request));
  VOUCH_RETURN_IF_ERROR(ParseCollateral(json, request));
  return request;
}

nlohmann::json DcapAttestRequestJson(ByteSpan quote, ByteSpan runtime_data, bool json,
                                     const std::optional<std::string>& nonce) {
  nlohmann::json body = {
      {"quote", Base64UrlEncode(quote)},
      {"runtimeData",
       {{"data", Base64UrlEncode(runtime_data)}, {"dataType", json ? "JSON" : "Binary"}}}};
  if (nonce.has_value()) {
    body["nonce"] = *nonce;
  }
  return body;
}

absl::StatusOr<nlohmann::json> AttestDcap(const DcapAttestRequest& request, DcapEvidence evidence,
                                          const DcapAttestationOptions& options, absl::Time now) {
  const absl::Time at = options.verification_time_for_test.value_or(now);
  if (request.event_log.has_value() && evidence != DcapEvidence::kTdxVm) {
    return InvalidArgumentf("{}: eventLog is accepted only by /attest/TdxVm", kContext);
  }
  VOUCH_ASSIGN_OR_RETURN(const dcap::VerifiedQuote verified,
                         VerifyEvidence(request, evidence, options, at));

  // The event log is checked before the runtime data binding, so that a
  // tampered log is reported even when the binding would also fail.
  std::optional<dcap::CcelReplay> replay;
  if (request.event_log.has_value()) {
    VOUCH_ASSIGN_OR_RETURN(replay, dcap::VerifyCcel(*request.event_log, *verified.quote.td_body));
  }

  VOUCH_ASSIGN_OR_RETURN(const std::string binding,
                         CheckBinding(verified.quote.report_data(), request.runtime_data));

  VOUCH_RETURN_IF_ERROR(dcap::Appraise(verified, options.appraisal));

  nlohmann::json claims = dcap::DcapClaims(verified);
  if (options.simulated.has_value() &&
      verified.pck_chain.root.SpkiSha256() == options.simulated->RootSpkiSha256()) {
    claims["x-vouch-simulated"] = true;
  }
  if (replay.has_value()) {
    claims.update(dcap::CcelClaims(*replay));
  }
  claims["x-vouch-runtime-data-hash"] = binding;
  if (request.runtime_data_is_json) {
    claims["x-ms-runtime"] = request.runtime_json;
  } else {
    claims["x-vouch-runtime-data"] = Base64UrlEncode(request.runtime_data);
  }
  if (evidence == DcapEvidence::kSgxEnclave) {
    claims["x-ms-sgx-ehd"] = Base64UrlEncode(request.runtime_data);
  }
  if (request.nonce.has_value()) {
    claims["nonce"] = *request.nonce;
  }
  return claims;
}

absl::StatusOr<std::unique_ptr<DcapAttestation>> DcapAttestation::Create(const Config& config) {
  std::unique_ptr<DcapAttestation> out(new DcapAttestation());
  DcapAttestationOptions& options = out->options_;
  if (!config.collateral_dir.empty()) {
    const absl::Status loaded = options.collateral.AddDirectory(config.collateral_dir);
    if (!loaded.ok()) {
      return Prefix(fmt::format("dcap collateral folder {}", config.collateral_dir), loaded);
    }
  }
  absl::StatusOr<std::vector<dcap::TcbStatus>> statuses =
      dcap::ParseAcceptedTcbStatuses(config.accept_tcb);
  if (!statuses.ok()) {
    return Prefix("config: accept_tcb", statuses.status());
  }
  options.appraisal.tcb.statuses = *std::move(statuses);
  options.appraisal.allow_debug = config.allow_debug;
  options.verification_time_for_test = config.dcap_verification_time_for_test;
  if (config.allow_simulated_snp) {
    absl::StatusOr<dcap::SimulatedTdx> simulated =
        dcap::SimulatedTdx::LoadOrCreate(config.data_dir + "/" + kSimulatedTdxDir);
    if (!simulated.ok()) {
      return Prefix("simulated tdx", simulated.status());
    }
    options.simulated = *std::move(simulated);
  }
  if (!config.collateral_cache_dir.empty() || !config.pcs_url.empty()) {
    collateral::ProviderOptions provider_options;
    if (!config.collateral_cache_dir.empty()) {
      provider_options.cache_dir = config.collateral_cache_dir;
    }
    if (!config.pcs_url.empty()) {
      collateral::PcsClientOptions pcs;
      pcs.base_url = config.pcs_url;
      provider_options.pcs = pcs;
    }
    // Intel's root, and the simulated root only when simulated evidence is
    // allowed (its PCK certificates may then be fetched and cached too).
    provider_options.trusted_root_spki_sha256 = {dcap::IntelRootSpkiSha256()};
    if (options.simulated.has_value()) {
      provider_options.trusted_root_spki_sha256.push_back(options.simulated->RootSpkiSha256());
    }
    absl::StatusOr<std::unique_ptr<collateral::CollateralProvider>> provider =
        collateral::CollateralProvider::Create(std::move(provider_options));
    if (!provider.ok()) {
      return Prefix("dcap collateral", provider.status());
    }
    options.provider = *std::move(provider);
  }
  RegisterKnownClaims(kTdxVmKind, ClaimTypesFor(DcapEvidence::kTdxVm));
  RegisterKnownClaims(kSgxEnclaveKind, ClaimTypesFor(DcapEvidence::kSgxEnclave));
  return out;
}

absl::Status DcapAttestation::AddRoutes(Router& router, IssueToken issue) const {
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/attest/TdxVm", [this, issue](const HttpRequest& r) {
    return Handle(r, DcapEvidence::kTdxVm, issue);
  }));
  return router.Add("POST", "/attest/SgxEnclave", [this, issue](const HttpRequest& r) {
    return Handle(r, DcapEvidence::kSgxEnclave, issue);
  });
}

absl::StatusOr<HttpResponse> DcapAttestation::Handle(const HttpRequest& request,
                                                     DcapEvidence evidence,
                                                     const IssueToken& issue) const {
  const std::optional<std::string> type = request.Header("content-type");
  if (type.has_value()) {
    const std::string_view media_type = std::string_view(*type).substr(0, type->find(';'));
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(AbslView(media_type)),
                                "application/json")) {
      return ErrorResponseFor(415, fmt::format("Content-Type {:?} is not supported, want "
                                               "application/json",
                                               *type));
    }
  }
  VOUCH_ASSIGN_OR_RETURN(const DcapAttestRequest attest, ParseDcapAttestRequest(request.body));
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims,
                         AttestDcap(attest, evidence, options_, absl::Now()));
  return issue(evidence == DcapEvidence::kTdxVm ? kTdxVmKind : kSgxEnclaveKind,
               std::move(claims));
}

}  // namespace vouch::server
