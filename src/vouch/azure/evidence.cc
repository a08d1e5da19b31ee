#include "vouch/azure/evidence.h"

#include <fmt/format.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <utility>

#include "vouch/base/status.h"

namespace vouch::azure {
namespace {

constexpr size_t kPcrCount = 24;

// ReadBytes accepts a JSON array of byte values (Trustee v0) or a string in
// `encoding` ("hex" or "base64url").
absl::StatusOr<Bytes> ReadBytes(const nlohmann::json& value, std::string_view member,
                                std::string_view encoding) {
  if (value.is_array()) {
    Bytes out;
    out.reserve(value.size());
    for (const nlohmann::json& byte : value) {
      if (!byte.is_number_unsigned() || byte.get<uint64_t>() > 255) {
        return InvalidArgumentf("azure evidence: {} has an element that is not a byte", member);
      }
      out.push_back(static_cast<uint8_t>(byte.get<uint64_t>()));
    }
    return out;
  }
  if (!value.is_string()) {
    return InvalidArgumentf("azure evidence: {} is neither a byte array nor a string", member);
  }
  const std::string text = value.get<std::string>();
  absl::StatusOr<Bytes> decoded = encoding == "hex" ? HexDecode(text) : Base64UrlDecode(text);
  if (!decoded.ok()) {
    return Prefix(fmt::format("azure evidence: {} is not {}", member, encoding), decoded.status());
  }
  return decoded;
}

const nlohmann::json* Member(const nlohmann::json& json, std::string_view a, std::string_view b) {
  for (std::string_view name : {a, b}) {
    const auto it = json.find(std::string(name));
    if (it != json.end()) {
      return &*it;
    }
  }
  return nullptr;
}

absl::StatusOr<VtpmQuote> ReadTpmQuote(const nlohmann::json& quote) {
  if (!quote.is_object()) {
    return InvalidArgumentf("azure evidence: tpm_quote is not an object");
  }
  for (const char* name : {"signature", "message", "pcrs"}) {
    if (!quote.contains(name)) {
      return InvalidArgumentf("azure evidence: tpm_quote has no {}", name);
    }
  }
  VtpmQuote out;
  VOUCH_ASSIGN_OR_RETURN(out.signature, ReadBytes(quote["signature"], "tpm_quote.signature", "hex"));
  VOUCH_ASSIGN_OR_RETURN(out.message, ReadBytes(quote["message"], "tpm_quote.message", "hex"));
  const nlohmann::json& pcrs = quote["pcrs"];
  if (!pcrs.is_array() || pcrs.size() != kPcrCount) {
    return InvalidArgumentf("azure evidence: tpm_quote.pcrs must be an array of {} values",
                            kPcrCount);
  }
  for (size_t i = 0; i < pcrs.size(); ++i) {
    VOUCH_ASSIGN_OR_RETURN(Bytes pcr, ReadBytes(pcrs[i], fmt::format("tpm_quote.pcrs[{}]", i), "hex"));
    if (pcr.size() != 32) {
      return InvalidArgumentf("azure evidence: tpm_quote.pcrs[{}] has {} bytes, want 32", i,
                              pcr.size());
    }
    out.pcrs.push_back(std::move(pcr));
  }
  return out;
}

// ReadVcek accepts PEM text (v0), base64url DER (v1, v2) or a PEM chain.
absl::StatusOr<std::vector<crypto::Certificate>> ReadVcek(const nlohmann::json& value) {
  if (!value.is_string()) {
    return InvalidArgumentf("azure evidence: vcek is not a string");
  }
  const std::string text = value.get<std::string>();
  if (text.find("-----BEGIN") != std::string::npos) {
    return crypto::ParseCertificates(AsBytes(text));
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes der, ReadBytes(value, "vcek", "base64url"));
  VOUCH_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::FromDer(der));
  return std::vector<crypto::Certificate>{std::move(cert)};
}

std::string LayoutName(const nlohmann::json& json, bool tdx) {
  std::string version = "v0";
  if (json.contains("version") && json["version"].is_number_unsigned()) {
    version = fmt::format("v{}", json["version"].get<uint64_t>());
  }
  const bool vouch = json.contains("event_log") || json.contains("vcek_chain");
  if (vouch) {
    return "vouch";
  }
  return fmt::format("trustee-az-{}-vtpm-{}", tdx ? "tdx" : "snp", version);
}

absl::StatusOr<tpm::PcrBank> Sha256Bank(const VtpmQuote& quote) {
  tpm::PcrBank bank{crypto::HashAlg::kSha256, {}};
  for (uint32_t i = 0; i < quote.pcrs.size(); ++i) {
    bank.values[i] = quote.pcrs[i];
  }
  return bank;
}

absl::StatusOr<snp::VerifiedReport> VerifySnp(const AzureEvidence& evidence, const HclReport& hcl,
                                              const AzureVerifyOptions& options) {
  std::vector<crypto::Certificate> pool = evidence.certificates;
  pool.insert(pool.end(), options.snp_certificates.begin(), options.snp_certificates.end());
  snp::VerifyOptions verify;
  verify.now = options.now;
  verify.roots = options.snp_roots;
  verify.crls = options.snp_crls;
  verify.require_crl = options.snp_require_crl;
  absl::StatusOr<snp::VerifiedReport> verified = snp::VerifyReport(hcl.hardware_report, pool, verify);
  if (!verified.ok()) {
    return Prefix("azure evidence: SEV-SNP report", verified.status());
  }
  return verified;
}

absl::Status VerifyTdx(const AzureEvidence& evidence, const AzureVerifyOptions& options,
                       VerifiedAzureEvidence& out) {
  if (evidence.td_quote.empty()) {
    return InvalidArgumentf(
        "azure evidence: the HCL report holds a TDREPORT but no td_quote was sent; a TDREPORT "
        "alone is not verifiable outside the TD");
  }
  VOUCH_ASSIGN_OR_RETURN(out.td_report, ParseTdReport(out.hcl.hardware_report));
  const dcap::QuoteCollateral empty;
  const dcap::QuoteCollateral& collateral =
      options.tdx_collateral ? *options.tdx_collateral : empty;
  dcap::VerifyOptions dcap_options = options.dcap;
  dcap_options.now = options.now;
  absl::StatusOr<dcap::AuthenticQuote> authentic =
      dcap::VerifyQuoteSignatures(evidence.td_quote, collateral, dcap_options);
  if (!authentic.ok()) {
    return Prefix("azure evidence: TD quote", authentic.status());
  }
  if (!authentic->quote.td_body) {
    return InvalidArgumentf("azure evidence: td_quote is not a TDX quote");
  }
  VOUCH_RETURN_IF_ERROR(CompareTdQuoteWithTdReport(*authentic->quote.td_body, *out.td_report));
  if (options.tdx_collateral) {
    absl::StatusOr<dcap::VerifiedQuote> verified =
        dcap::VerifyQuote(evidence.td_quote, collateral, dcap_options);
    if (!verified.ok()) {
      return Prefix("azure evidence: TD quote", verified.status());
    }
    out.td_tcb = verified->tcb;
  }
  out.td_quote = *std::move(authentic);
  return absl::OkStatus();
}

absl::StatusOr<EventLogCheck> CheckEventLog(const AzureEvidence& evidence,
                                            const tpm::VerifiedQuote& quote) {
  EventLogCheck out;
  VOUCH_ASSIGN_OR_RETURN(out.events, tpm::ParseCryptoAgileEventLog(evidence.event_log));
  VOUCH_ASSIGN_OR_RETURN(out.replay, tpm::Replay(out.events, tpm::ReplayOptions{}));
  for (const tpm::PcrBank& bank : quote.quoted) {
    if (bank.alg != crypto::HashAlg::kSha256) {
      continue;
    }
    for (const auto& [index, value] : bank.values) {
      if (index >= out.replay.values.size()) {
        continue;
      }
      if (out.replay.covered[index]) {
        if (value != out.replay.values[index]) {
          return Unauthenticatedf(
              "azure evidence: event log replays PCR {} to {}, but the quote has {}", index,
              HexEncode(out.replay.values[index]), HexEncode(value));
        }
        out.verified_pcrs.push_back(index);
        continue;
      }
      if (value != out.replay.values[index]) {
        out.not_covered_pcrs.push_back(index);
      }
    }
  }
  return out;
}

template <size_t N>
absl::Status CompareField(const std::array<uint8_t, N>& quote, const std::array<uint8_t, N>& report,
                          std::string_view name) {
  if (quote == report) {
    return absl::OkStatus();
  }
  return Unauthenticatedf("azure evidence: TD quote {} {} differs from the HCL TDREPORT's {}", name,
                          HexEncode(quote), HexEncode(report));
}

}  // namespace

bool LooksLikeAzureEvidence(const nlohmann::json& json) {
  return json.is_object() && Member(json, "hcl_report", "report") != nullptr &&
         Member(json, "tpm_quote", "quote") != nullptr;
}

absl::StatusOr<AzureEvidence> ParseAzureEvidence(const nlohmann::json& json) {
  if (!LooksLikeAzureEvidence(json)) {
    return InvalidArgumentf(
        "azure evidence: want a JSON object with hcl_report (or report) and tpm_quote (or quote)");
  }
  AzureEvidence out;
  VOUCH_ASSIGN_OR_RETURN(out.hcl_report,
                         ReadBytes(*Member(json, "hcl_report", "report"), "hcl_report", "base64url"));
  VOUCH_ASSIGN_OR_RETURN(out.tpm_quote, ReadTpmQuote(*Member(json, "tpm_quote", "quote")));
  if (json.contains("vcek")) {
    VOUCH_ASSIGN_OR_RETURN(out.certificates, ReadVcek(json["vcek"]));
  }
  if (json.contains("vcek_chain")) {
    if (!json["vcek_chain"].is_string()) {
      return InvalidArgumentf("azure evidence: vcek_chain is not a PEM string");
    }
    VOUCH_ASSIGN_OR_RETURN(auto chain, crypto::ParseCertificates(
                                           AsBytes(json["vcek_chain"].get<std::string>())));
    out.certificates.insert(out.certificates.end(), chain.begin(), chain.end());
  }
  if (json.contains("td_quote")) {
    VOUCH_ASSIGN_OR_RETURN(out.td_quote, ReadBytes(json["td_quote"], "td_quote", "base64url"));
  }
  if (json.contains("event_log")) {
    VOUCH_ASSIGN_OR_RETURN(out.event_log, ReadBytes(json["event_log"], "event_log", "base64url"));
  }
  out.layout = LayoutName(json, !out.td_quote.empty());
  return out;
}

absl::StatusOr<AzureEvidence> ParseAzureEvidenceJson(ByteSpan text) {
  if (text.size() > kMaxEvidenceJsonBytes) {
    return InvalidArgumentf("azure evidence: {} bytes, at most {}", text.size(),
                            kMaxEvidenceJsonBytes);
  }
  const nlohmann::json json = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (json.is_discarded()) {
    return InvalidArgumentf("azure evidence: not valid JSON");
  }
  return ParseAzureEvidence(json);
}

nlohmann::json ToVouchJson(const AzureEvidence& evidence) {
  nlohmann::json pcrs = nlohmann::json::array();
  for (const Bytes& pcr : evidence.tpm_quote.pcrs) {
    pcrs.push_back(HexEncode(pcr));
  }
  nlohmann::json out = {
      {"version", 1},
      {"hcl_report", Base64UrlEncode(evidence.hcl_report)},
      {"tpm_quote",
       {{"signature", HexEncode(evidence.tpm_quote.signature)},
        {"message", HexEncode(evidence.tpm_quote.message)},
        {"pcrs", pcrs}}},
  };
  if (!evidence.td_quote.empty()) {
    out["td_quote"] = Base64UrlEncode(evidence.td_quote);
  }
  if (!evidence.event_log.empty()) {
    out["event_log"] = Base64UrlEncode(evidence.event_log);
  }
  if (!evidence.certificates.empty()) {
    std::string pem;
    for (const crypto::Certificate& cert : evidence.certificates) {
      pem += cert.Pem();
    }
    out["vcek_chain"] = pem;
  }
  return out;
}

tpm::QuoteSignature QuoteSignatureFromBytes(ByteSpan signature) {
  absl::StatusOr<tpm::QuoteSignature> parsed = tpm::ParseSignature(signature);
  if (parsed.ok()) {
    return *std::move(parsed);
  }
  tpm::QuoteSignature raw;
  raw.scheme = tpm::SignatureScheme::kRsassa;
  raw.hash = crypto::HashAlg::kSha256;
  raw.signature.assign(signature.begin(), signature.end());
  return raw;
}

absl::Status CompareTdQuoteWithTdReport(const dcap::TdReportBody& body, const TdReport& report) {
  VOUCH_RETURN_IF_ERROR(CompareField(body.report_data, report.report_data, "report_data"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.tee_tcb_svn, report.tee_tcb_svn, "tee_tcb_svn"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.mr_seam, report.mr_seam, "mr_seam"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.mr_signer_seam, report.mr_signer_seam, "mr_signer_seam"));
  VOUCH_RETURN_IF_ERROR(
      CompareField(body.seam_attributes, report.seam_attributes, "seam_attributes"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.td_attributes, report.td_attributes, "td_attributes"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.xfam, report.xfam, "xfam"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.mr_td, report.mr_td, "mr_td"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.mr_config_id, report.mr_config_id, "mr_config_id"));
  VOUCH_RETURN_IF_ERROR(CompareField(body.mr_owner, report.mr_owner, "mr_owner"));
  VOUCH_RETURN_IF_ERROR(
      CompareField(body.mr_owner_config, report.mr_owner_config, "mr_owner_config"));
  for (size_t i = 0; i < 4; ++i) {
    VOUCH_RETURN_IF_ERROR(CompareField(body.rtmr[i], report.rtmr[i], fmt::format("rtmr{}", i)));
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifiedAzureEvidence> VerifyAzureEvidence(const AzureEvidence& evidence,
                                                          const AzureVerifyOptions& options) {
  VerifiedAzureEvidence out;
  VOUCH_ASSIGN_OR_RETURN(out.hcl, ParseHclReport(evidence.hcl_report));
  out.type = out.hcl.report_type;

  if (out.type == HclReportType::kSnp) {
    VOUCH_ASSIGN_OR_RETURN(out.snp, VerifySnp(evidence, out.hcl, options));
  } else {
    VOUCH_RETURN_IF_ERROR(VerifyTdx(evidence, options, out));
  }

  VOUCH_ASSIGN_OR_RETURN(out.runtime, VerifyRuntimeDataBinding(out.hcl));
  VOUCH_ASSIGN_OR_RETURN(EVP_PKEY* const ak, AttestationKey(out.runtime));

  VOUCH_ASSIGN_OR_RETURN(const ByteSpan attest, tpm::StripTpm2bAttest(evidence.tpm_quote.message));
  VOUCH_ASSIGN_OR_RETURN(const tpm::PcrBank bank, Sha256Bank(evidence.tpm_quote));
  const tpm::QuoteSignature signature = QuoteSignatureFromBytes(evidence.tpm_quote.signature);
  // The quote counts only when HCLAkPub, the key the hardware report binds,
  // signed it. A key of another type or size fails here as well.
  const absl::Status signed_by_ak = tpm::VerifyQuoteSignature(attest, signature, ak);
  if (!signed_by_ak.ok()) {
    return Unauthenticatedf(
        "azure evidence: the TPM quote is not signed by HCLAkPub, the attestation key in the "
        "bound runtime claims ({}); quote with the AK at persistent handle {:#010x}",
        signed_by_ak.message(), kAkPersistentHandle);
  }
  VOUCH_ASSIGN_OR_RETURN(out.quote,
                         tpm::VerifyQuote(attest, signature, ak, options.expected_nonce, {bank}));

  if (!evidence.event_log.empty()) {
    VOUCH_ASSIGN_OR_RETURN(out.event_log, CheckEventLog(evidence, out.quote));
  }
  return out;
}

}  // namespace vouch::azure
