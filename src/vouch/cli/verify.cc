// vouch verify: verify attestation evidence offline and print its claims.
//
// Exit status: 0 when the evidence verifies and passes the appraisal (claims
// on stdout), 1 when it is rejected (the failed check on stderr), 2 for
// usage and I/O errors, including evidence of an unknown format.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/azure/claims.h"
#include "vouch/azure/evidence.h"
#include "vouch/azure/hcl_report.h"
#include "vouch/base/byte_reader.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/cli/command.h"
#include "vouch/cli/verify.h"
#include "vouch/collateral/amd_crl_provider.h"
#include "vouch/collateral/vcek_provider.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/appraisal.h"
#include "vouch/dcap/claims.h"
#include "vouch/dcap/collateral_set.h"
#include "vouch/dcap/quote.h"
#include "vouch/dcap/verify.h"
#include "vouch/snp/appraisal.h"
#include "vouch/snp/claims.h"
#include "vouch/snp/report.h"
#include "vouch/snp/verify.h"

namespace vouch::cli {
namespace {

// Evidence files are small; the limit keeps a wrong path from reading a disk image.
constexpr size_t kMaxEvidenceBytes = 1 << 20;

struct VerifyFlags {
  std::string file;
  std::vector<std::string> collateral;
  std::string at;
  bool json = false;
  bool allow_debug = false;
  uint32_t max_vmpl = 0;
  std::string accept_tcb = "UpToDate";
  std::string nonce;
  std::string snp_min_tcb;
  std::string collateral_cache;
  std::string kds_url;
  std::string kds_product;
  std::vector<std::string> amd_crls;
  bool require_crl = false;
};

enum class EvidenceKind { kUnknown, kSevSnpReport, kDcapQuote };

// DetectEvidence recognizes a raw SEV-SNP attestation report by its length
// (1184 bytes) and a known version (2, 3 or 5) in its first four bytes.
// A DCAP quote is recognized by its header: version 3, 4 or 5, attestation
// key type 2 (ECDSA P-256), tee_type 0 (SGX) or 0x81 (TDX) and Intel's QE
// vendor id at offset 12.
EvidenceKind DetectEvidence(ByteSpan data) {
  if (data.size() > 48 && data.size() != snp::kReportSize) {
    ByteReader in(data, "evidence");
    const absl::StatusOr<uint16_t> version = in.U16Le("version");
    const absl::StatusOr<uint16_t> key_type = in.U16Le("attestation_key_type");
    const absl::StatusOr<uint32_t> tee_type = in.U32Le("tee_type");
    const bool intel_qe = std::equal(dcap::kIntelQeVendorId.begin(), dcap::kIntelQeVendorId.end(),
                                     data.begin() + 12);
    if (version.ok() && key_type.ok() && tee_type.ok() && intel_qe &&
        (*version == 3 || *version == 4 || *version == 5) && *key_type == 2 &&
        (*tee_type == dcap::kTeeTypeSgxValue || *tee_type == dcap::kTeeTypeTdxValue)) {
      return EvidenceKind::kDcapQuote;
    }
  }
  if (data.size() != snp::kReportSize) {
    return EvidenceKind::kUnknown;
  }
  ByteReader in(data, "evidence");
  const absl::StatusOr<uint32_t> version = in.U32Le("version");
  if (version.ok() && (*version == 2 || *version == 3 || *version == 5)) {
    return EvidenceKind::kSevSnpReport;
  }
  return EvidenceKind::kUnknown;
}

void PrintError(std::string_view step, const absl::Status& status) {
  std::fprintf(stderr, "vouch verify: %.*s: %s\n", static_cast<int>(step.size()), step.data(),
               std::string(status.message()).c_str());
}

// LoadCollateral reads certificates from each path: every certificate file
// in a folder, or the certificates of a single file.
absl::StatusOr<std::vector<crypto::Certificate>> LoadCollateral(
    const std::vector<std::string>& paths) {
  std::vector<crypto::Certificate> pool;
  for (const std::string& path : paths) {
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) {
      VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(path, crypto::kMaxCertificateInputBytes));
      absl::StatusOr<std::vector<crypto::Certificate>> parsed = crypto::ParseCertificates(data);
      if (!parsed.ok()) {
        return Prefix(fmt::format("collateral file {}", path), parsed.status());
      }
      pool.insert(pool.end(), parsed->begin(), parsed->end());
      continue;
    }
    VOUCH_ASSIGN_OR_RETURN(const std::vector<crypto::Certificate> loaded,
                           crypto::LoadCertificatesFromDir(path));
    pool.insert(pool.end(), loaded.begin(), loaded.end());
  }
  return pool;
}

// AddVcek appends the VCEK, ASK and ARK that the cache folder or KDS has
// for `report` when `certificates` lack its signer and a cache or KDS is set.
absl::Status AddVcek(ByteSpan report, const EvidenceInput& input,
                     std::vector<crypto::Certificate>& certificates) {
  if (input.collateral_cache_dir.empty() && input.kds_url.empty()) {
    return absl::OkStatus();
  }
  collateral::VcekProviderOptions options;
  options.cache_dir = input.collateral_cache_dir;
  options.product = input.kds_product;
  if (!input.kds_url.empty()) {
    collateral::KdsClientOptions kds;
    kds.base_url = input.kds_url;
    options.kds = kds;
  }
  snp::VerifyOptions verify_options;
  verify_options.now = input.now;
  VOUCH_ASSIGN_OR_RETURN(
      const std::vector<crypto::Certificate> found,
      collateral::VcekProvider(std::move(options)).FindCertificates(report, certificates,
                                                                    verify_options));
  certificates.insert(certificates.end(), found.begin(), found.end());
  return absl::OkStatus();
}

// FindAmdCrl returns the CRL found for `report` in `collateral_dir`
// (amd/), the cache folder or KDS, or none. When no CRL is required, a
// lookup that finds nothing is skipped, and one that cannot reach KDS is
// skipped with a warning. An invalid CRL is always an error.
absl::StatusOr<std::vector<crypto::Crl>> FindAmdCrl(
    ByteSpan report, const EvidenceInput& input, const std::string& collateral_dir,
    const std::vector<crypto::Certificate>& certificates) {
  std::vector<crypto::Crl> crls;
  collateral::AmdCrlProviderOptions options;
  options.collateral_dir = collateral_dir;
  options.cache_dir = input.collateral_cache_dir;
  options.product = input.kds_product;
  if (!input.kds_url.empty()) {
    collateral::KdsClientOptions kds;
    kds.base_url = input.kds_url;
    options.kds = kds;
  }
  snp::VerifyOptions verify_options;
  verify_options.now = input.now;
  absl::StatusOr<crypto::Crl> found = collateral::AmdCrlProvider(std::move(options))
                                          .FindCrl(report, certificates, verify_options);
  if (found.ok()) {
    crls.push_back(*std::move(found));
    return crls;
  }
  if (collateral::IsInvalidCrlError(found.status())) {
    return found.status();
  }
  // With --amd-crl CRLs at hand, snp::VerifyReport decides whether one of
  // them covers the chain when a CRL is required.
  if (input.require_crl && input.amd_crls.empty()) {
    return Prefix("a CRL is required and none was found", found.status());
  }
  if (found.status().code() == absl::StatusCode::kUnavailable ||
      found.status().code() == absl::StatusCode::kDeadlineExceeded) {
    std::fprintf(stderr, "vouch verify: warning: AMD CRL: %s; revocation not checked\n",
                 std::string(found.status().message()).c_str());
  }
  return crls;
}

// LoadDcapCollateral reads Intel collateral (TCB info, QE identity, CRLs,
// certificates), identified by content, from each folder or file.
absl::StatusOr<dcap::CollateralSet> LoadDcapCollateral(const std::vector<std::string>& paths) {
  dcap::CollateralSet set;
  for (const std::string& path : paths) {
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) {
      VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(path, dcap::kMaxCollateralFileBytes));
      VOUCH_RETURN_IF_ERROR(set.AddFile(path, data).status());
      continue;
    }
    VOUCH_RETURN_IF_ERROR(set.AddDirectory(path));
  }
  return set;
}

absl::StatusOr<VerifiedEvidence> VerifyDcapQuote(ByteSpan evidence, const EvidenceInput& input,
                                                 const std::vector<std::string>& collateral_paths,
                                                 EvidenceFailure& failure) {
  failure = {"load collateral", kExitUsage, ""};
  VOUCH_ASSIGN_OR_RETURN(const dcap::CollateralSet set, LoadDcapCollateral(collateral_paths));

  failure = {"rejected", kExitRejected, ""};
  if (input.collateral.empty()) {
    failure.hint = fmt::format("the collateral came from {}, the folder of the quote, because "
                               "--collateral is not set",
                               collateral_paths.front());
  }
  dcap::VerifyOptions options;
  options.now = input.now;
  absl::StatusOr<dcap::QuoteSelector> selector = dcap::SelectorForQuote(evidence);
  if (selector.status().code() == absl::StatusCode::kFailedPrecondition) {
    // An encrypted PPID (certification data type 3): the PCK certificate
    // must be among the collateral files, and its key must verify the QE
    // report.
    options.pck_certificates = set.certificates();
    VOUCH_ASSIGN_OR_RETURN(const dcap::AuthenticQuote authentic,
                           dcap::VerifyQuoteSignatures(evidence, {}, options));
    selector = dcap::QuoteSelector{authentic.quote.tee_type(), authentic.pck_extensions.fmspc,
                                   authentic.pck_chain.pck.Issuer()};
  }
  VOUCH_RETURN_IF_ERROR(selector.status());
  VOUCH_ASSIGN_OR_RETURN(const dcap::QuoteCollateral collateral, set.Select(*selector, input.now));
  VOUCH_ASSIGN_OR_RETURN(const dcap::VerifiedQuote verified,
                         dcap::VerifyQuote(evidence, collateral, options));
  failure = {"rejected after the signatures, chain and collateral verified", kExitRejected, ""};
  VOUCH_RETURN_IF_ERROR(dcap::Appraise(verified, input.dcap_appraisal));

  failure = {};
  const bool tdx = verified.quote.tee_type() == dcap::TeeType::kTdx;
  VerifiedEvidence result;
  result.kind = tdx ? "TdxVm" : "SgxEnclave";
  result.claims = dcap::DcapClaims(verified);
  const std::string advisories =
      verified.tcb.advisory_ids.empty()
          ? "none"
          : fmt::format("{}", fmt::join(verified.tcb.advisory_ids, ", "));
  result.summary = fmt::format("verified: {} quote version {}, TCB status {}, advisories {}",
                               tdx ? "TDX" : "SGX", verified.quote.header.version,
                               dcap::TcbStatusName(verified.tcb.status), advisories);
  return result;
}

// Azure vTPM evidence (Trustee az-snp-vtpm / az-tdx-vtpm JSON, or vouch's
// layout): the TPM quote's qualifying data must equal --nonce. SEV-SNP
// certificates (ASK, ARK, VCEK) and, for TDX, Intel collateral come from the
// collateral paths; without --collateral a TD quote's TCB is not evaluated.
bool IsAzureEvidence(ByteSpan data) {
  // JSON allows whitespace before the object (Trustee's v1 file starts with
  // a newline).
  const auto first = std::find_if(data.begin(), data.end(), [](uint8_t c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r';
  });
  if (first == data.end() || *first != '{') {
    return false;
  }
  const nlohmann::json json = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
  return !json.is_discarded() && azure::LooksLikeAzureEvidence(json);
}

absl::Status LoadAzureCollateral(const azure::AzureEvidence& evidence, const EvidenceInput& input,
                                 const std::vector<std::string>& paths,
                                 azure::AzureVerifyOptions& options) {
  const bool explicit_paths = !input.collateral.empty();
  if (!evidence.td_quote.empty()) {
    if (!explicit_paths) {
      return absl::OkStatus();
    }
    VOUCH_ASSIGN_OR_RETURN(const dcap::CollateralSet set, LoadDcapCollateral(paths));
    VOUCH_ASSIGN_OR_RETURN(const dcap::QuoteSelector selector,
                           dcap::SelectorForQuote(evidence.td_quote));
    VOUCH_ASSIGN_OR_RETURN(options.tdx_collateral, set.Select(selector, input.now));
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<crypto::Certificate>> certificates = LoadCollateral(paths);
  if (certificates.ok()) {
    options.snp_certificates = *std::move(certificates);
  } else if (explicit_paths) {
    return certificates.status();
  }
  // The evidence's own folder may hold files that are not certificates, so
  // a failed load there is not an error.
  absl::StatusOr<azure::HclReport> hcl = azure::ParseHclReport(evidence.hcl_report);
  if (hcl.ok() && hcl->report_type == azure::HclReportType::kSnp) {
    std::vector<crypto::Certificate> pool = evidence.certificates;
    pool.insert(pool.end(), options.snp_certificates.begin(), options.snp_certificates.end());
    const size_t before = pool.size();
    VOUCH_RETURN_IF_ERROR(AddVcek(hcl->hardware_report, input, pool));
    options.snp_certificates.insert(options.snp_certificates.end(), pool.begin() + before,
                                    pool.end());
  }
  return absl::OkStatus();
}

std::string TdTcbSummary(const azure::VerifiedAzureEvidence& verified) {
  if (!verified.td_quote) {
    return "";
  }
  if (!verified.td_tcb) {
    return "; TD quote TCB not evaluated (no --collateral)";
  }
  const std::string advisories =
      verified.td_tcb->advisory_ids.empty()
          ? "none"
          : fmt::format("{}", fmt::join(verified.td_tcb->advisory_ids, ", "));
  return fmt::format("; TD quote TCB status {}, advisories {}",
                     dcap::TcbStatusName(verified.td_tcb->status), advisories);
}

absl::StatusOr<VerifiedEvidence> VerifyAzureFile(ByteSpan data, const EvidenceInput& input,
                                                 const std::vector<std::string>& collateral,
                                                 EvidenceFailure& failure) {
  failure = {"read evidence", kExitUsage, ""};
  VOUCH_ASSIGN_OR_RETURN(const azure::AzureEvidence evidence, azure::ParseAzureEvidenceJson(data));
  failure.step = "--nonce";
  if (input.nonce_hex.empty()) {
    return InvalidArgumentf("Azure vTPM evidence needs --nonce HEX, the TPM quote's expected "
                            "qualifying data");
  }
  azure::AzureVerifyOptions options;
  options.now = input.now;
  VOUCH_ASSIGN_OR_RETURN(options.expected_nonce, HexDecode(input.nonce_hex));

  failure.step = "load collateral";
  VOUCH_RETURN_IF_ERROR(LoadAzureCollateral(evidence, input, collateral, options));

  failure = {"rejected", kExitRejected, ""};
  VOUCH_ASSIGN_OR_RETURN(const azure::VerifiedAzureEvidence verified,
                         azure::VerifyAzureEvidence(evidence, options));
  failure = {"rejected after the evidence verified", kExitRejected, ""};
  if (verified.snp) {
    VOUCH_RETURN_IF_ERROR(snp::Appraise(*verified.snp, input.appraisal));
  } else if (verified.td_tcb) {
    // The same appraisal as for a bare TD quote: TCB status, advisories, DEBUG.
    dcap::VerifiedQuote quote;
    quote.quote = verified.td_quote->quote;
    quote.pck_chain = verified.td_quote->pck_chain;
    quote.pck_extensions = verified.td_quote->pck_extensions;
    quote.tcb = *verified.td_tcb;
    VOUCH_RETURN_IF_ERROR(dcap::Appraise(quote, input.dcap_appraisal));
  } else if (verified.td_quote->quote.td_body->debug() && !input.dcap_appraisal.allow_debug) {
    return PermissionDeniedf("tdx appraisal: the TD is debuggable (TD attribute DEBUG)");
  }

  failure = {};
  VerifiedEvidence result;
  result.kind = "AzureGuest";
  result.claims = azure::AzureClaims(verified);
  result.summary = fmt::format(
      "verified: Azure {} vTPM evidence ({}), TPM quote of {} PCRs with the expected nonce{}",
      verified.snp ? "SEV-SNP" : "TDX", evidence.layout,
      result.claims["x-ms-azurevm-attested-pcrs"].size(),
      TdTcbSummary(verified));
  return result;
}

}  // namespace

absl::StatusOr<VerifiedEvidence> VerifyEvidenceFile(const EvidenceInput& input,
                                                    EvidenceFailure& failure) {
  failure = {"read evidence", kExitUsage, ""};
  VOUCH_ASSIGN_OR_RETURN(const Bytes evidence, ReadFile(input.file, kMaxEvidenceBytes));
  const EvidenceKind kind = DetectEvidence(evidence);
  const bool azure_vtpm = kind == EvidenceKind::kUnknown && IsAzureEvidence(evidence);
  if (kind == EvidenceKind::kUnknown && !azure_vtpm) {
    failure.step = input.file;
    return InvalidArgumentf("unknown evidence format ({} bytes); vouch verifies raw SEV-SNP "
                            "attestation reports (1184 bytes, version 2, 3 or 5) and SGX/TDX "
                            "DCAP quotes (version 3, 4 or 5), and Azure vTPM evidence JSON",
                            evidence.size());
  }

  std::vector<std::string> collateral = input.collateral;
  if (collateral.empty()) {
    const std::filesystem::path parent = std::filesystem::path(input.file).parent_path();
    collateral.push_back(parent.empty() ? "." : parent.string());
  }
  if (kind == EvidenceKind::kDcapQuote) {
    return VerifyDcapQuote(evidence, input, collateral, failure);
  }
  if (azure_vtpm) {
    return VerifyAzureFile(evidence, input, collateral, failure);
  }
  failure.step = "load collateral";
  VOUCH_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> certificates,
                         LoadCollateral(collateral));
  failure = {"find the VCEK", kExitRejected, ""};
  VOUCH_RETURN_IF_ERROR(AddVcek(evidence, input, certificates));
  failure = {"load --amd-crl", kExitUsage, ""};
  std::vector<crypto::Crl> crls;
  for (const std::string& path : input.amd_crls) {
    VOUCH_ASSIGN_OR_RETURN(const std::vector<crypto::Crl> loaded, collateral::LoadAmdCrls(path));
    crls.insert(crls.end(), loaded.begin(), loaded.end());
  }
  failure = {"find the AMD CRL", kExitRejected, ""};
  std::string collateral_dir;
  for (const std::string& path : collateral) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      collateral_dir = path;
      break;
    }
  }
  VOUCH_ASSIGN_OR_RETURN(const std::vector<crypto::Crl> found,
                         FindAmdCrl(evidence, input, collateral_dir, certificates));
  crls.insert(crls.end(), found.begin(), found.end());

  failure = {"rejected", kExitRejected, ""};
  if (input.collateral.empty()) {
    failure.hint = fmt::format("the certificates came from {}, the folder of {}, because "
                               "--collateral is not set",
                               collateral.front(), input.file);
  }
  snp::VerifyOptions options;
  options.now = input.now;
  options.crls = std::move(crls);
  options.require_crl = input.require_crl;
  VOUCH_ASSIGN_OR_RETURN(const snp::VerifiedReport verified,
                         snp::VerifyReport(evidence, certificates, options));
  failure = {"rejected after the signature and chain verified", kExitRejected, ""};
  VOUCH_RETURN_IF_ERROR(snp::Appraise(verified, input.appraisal));

  failure = {};
  VerifiedEvidence result;
  result.kind = "SevSnpVm";
  result.claims = snp::SnpClaims(verified);
  result.summary = fmt::format("verified: SEV-SNP attestation report version {}, {}, signed by a {}",
                               verified.report.version, verified.product,
                               verified.signing_key == snp::VerifiedReport::kVcek ? "VCEK" : "VLEK");
  return result;
}

namespace {

int RunVerify(const VerifyFlags& flags) {
  absl::Time now = absl::Now();
  if (!flags.at.empty()) {
    absl::StatusOr<absl::Time> at = ParseRfc3339(flags.at);
    if (!at.ok()) {
      PrintError("--at", at.status());
      return kExitUsage;
    }
    now = *at;
  }

  absl::StatusOr<std::vector<dcap::TcbStatus>> accepted =
      dcap::ParseAcceptedTcbStatuses(flags.accept_tcb);
  if (!accepted.ok()) {
    PrintError("--accept-tcb", accepted.status());
    return kExitUsage;
  }

  EvidenceInput input = {flags.file, flags.collateral, now,
                         {.allow_debug = flags.allow_debug, .max_vmpl = flags.max_vmpl}};
  if (!flags.snp_min_tcb.empty()) {
    absl::StatusOr<snp::MinimumTcb> min_tcb = snp::ParseMinimumTcb(flags.snp_min_tcb);
    if (!min_tcb.ok()) {
      PrintError("--snp-min-tcb", min_tcb.status());
      return kExitUsage;
    }
    input.appraisal.min_reported_tcb = *min_tcb;
  }
  input.dcap_appraisal.tcb.statuses = *std::move(accepted);
  input.dcap_appraisal.allow_debug = flags.allow_debug;
  input.nonce_hex = flags.nonce;
  input.collateral_cache_dir = flags.collateral_cache;
  input.kds_url = flags.kds_url;
  input.kds_product = flags.kds_product;
  input.amd_crls = flags.amd_crls;
  input.require_crl = flags.require_crl;
  EvidenceFailure failure;
  const absl::StatusOr<VerifiedEvidence> evidence = VerifyEvidenceFile(input, failure);
  if (!evidence.ok()) {
    PrintError(failure.step, evidence.status());
    if (!failure.hint.empty()) {
      std::fprintf(stderr, "vouch verify: %s\n", failure.hint.c_str());
    }
    return failure.exit_status;
  }

  if (flags.json) {
    std::printf("%s\n", evidence->claims.dump(2).c_str());
    return kExitOk;
  }
  std::printf("%s\n", evidence->summary.c_str());
  for (const auto& [name, value] : evidence->claims.items()) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    std::printf("%s: %s\n", name.c_str(), text.c_str());
  }
  return kExitOk;
}

}  // namespace

Runner SetupVerify(CLI::App& sub) {
  auto flags = std::make_shared<VerifyFlags>();
  sub.add_option("--collateral", flags->collateral,
                 "Folder (or file) with the collateral, found by content: for SEV-SNP the VCEK "
                 "or VLEK and the AMD ASK/ASVK and ARK certificates (PEM or DER); for SGX and "
                 "TDX Intel's TCB info, QE identity, CRLs and certificates in PCS format; "
                 "repeatable (default: the folder holding FILE)");
  sub.add_option("--accept-tcb", flags->accept_tcb,
                 "SGX/TDX TCB statuses to accept, comma separated, such as "
                 "UpToDate,SWHardeningNeeded (default: UpToDate; Revoked is never accepted)");
  sub.add_option("--at", flags->at,
                 "Verification time, RFC 3339 such as 2025-06-01T00:00:00Z (default: now)");
  sub.add_option("--collateral-cache", flags->collateral_cache,
                 "SEV-SNP: cache folder of VCEKs (subfolder amd), read when the collateral has "
                 "no VCEK for the report, and written after a KDS fetch");
  sub.add_option("--kds-url", flags->kds_url,
                 "SEV-SNP: AMD KDS (https://kdsintf.amd.com or a caching proxy) to fetch the "
                 "VCEK missing from the collateral and cache (default: unset, no request)");
  sub.add_option("--kds-product", flags->kds_product,
                 "SEV-SNP: KDS product (Milan, Genoa or Turin) of version 2 reports, which "
                 "carry no CPUID");
  sub.add_option("--amd-crl", flags->amd_crls,
                 "SEV-SNP: AMD CRL (DER or PEM file, or a folder of them) to check the ASK or "
                 "ASVK against, besides the CRL found in the collateral folder "
                 "(amd/crl-vcek-<product>.der), the cache or KDS; repeatable");
  sub.add_flag("--snp-require-crl", flags->require_crl,
               "SEV-SNP: reject the report when no AMD CRL of its chain's ARK is found "
               "(default: off, revocation is checked only when a CRL is found)");
  sub.add_option("--nonce", flags->nonce,
                 "Azure vTPM evidence: the expected TPM quote qualifying data, hex (required "
                 "for that evidence)");
  sub.add_flag("--json", flags->json, "Print the claims as one JSON object");
  sub.add_flag("--allow-debug", flags->allow_debug,
               "Accept a guest whose policy allows debugging (SEV-SNP policy bit 19, TDX TD "
               "attribute DEBUG, SGX attribute DEBUG)");
  sub.add_option("--max-vmpl", flags->max_vmpl, "Highest VMPL accepted, 0 to 3 (default: 0)")
      ->check(CLI::Range(0, 3));
  sub.add_option("--snp-min-tcb", flags->snp_min_tcb,
                 "Lowest accepted SEV-SNP reported TCB, as for `vouch serve`: "
                 "bootloader=N,tee=N,snp=N,microcode=N[,fmc=N] (names left out are 0; fmc "
                 "applies to Turin only; default: any TCB that the VCEK or VLEK certifies)");
  sub.add_option("FILE", flags->file,
                 "Evidence file: a raw SEV-SNP attestation report, an SGX/TDX DCAP quote, or "
                 "Azure vTPM evidence JSON (Trustee az-snp-vtpm / az-tdx-vtpm)")
      ->required();
  return [flags] { return RunVerify(*flags); };
}

}  // namespace vouch::cli
