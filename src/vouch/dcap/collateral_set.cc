#include "vouch/dcap/collateral_set.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/dcap/pck.h"
#include "vouch/dcap/quote.h"

namespace vouch::dcap {
namespace {

constexpr std::string_view kPckPlatformCaCn = "Intel SGX PCK Platform CA";
constexpr std::string_view kIntelRootCaCn = "Intel SGX Root CA";

std::string_view TrimLeadingSpace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' ||
                           text.front() == '\t')) {
    text.remove_prefix(1);
  }
  return text;
}

bool IsText(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 || c == '\n' || c == '\r' || c == '\t';
  });
}

// JsonKind looks at the first member name of a JSON object: PCS documents
// begin with their body member ("tcbInfo", "enclaveIdentity"), and a
// QuoteCollateralV3 object has its known members anywhere.
std::optional<CollateralKind> JsonKind(std::string_view text) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return std::nullopt;
  }
  if (parsed.contains("tcbInfo")) {
    return CollateralKind::kTcbInfo;
  }
  if (parsed.contains("enclaveIdentity")) {
    return CollateralKind::kQeIdentity;
  }
  if (parsed.contains("tcbEvaluationDataNumbers")) {
    return CollateralKind::kTcbEvaluationNumbers;
  }
  if (parsed.contains("tcb_info") && parsed.contains("qe_identity")) {
    return CollateralKind::kQuoteCollateralJson;
  }
  return std::nullopt;
}

// Better orders candidates for Select: valid at `now` first, then the
// higher TCB evaluation data number, then the later issue date.
bool Better(bool a_valid, uint32_t a_eval, absl::Time a_issue, bool b_valid, uint32_t b_eval,
            absl::Time b_issue) {
  if (a_valid != b_valid) {
    return a_valid;
  }
  if (a_eval != b_eval) {
    return a_eval > b_eval;
  }
  return a_issue > b_issue;
}

bool InWindow(absl::Time issue, absl::Time next, absl::Time now) {
  return issue <= now && now <= next;
}

}  // namespace

std::string_view CollateralKindName(CollateralKind kind) {
  switch (kind) {
    case CollateralKind::kTcbInfo:
      return "tcb info";
    case CollateralKind::kQeIdentity:
      return "qe identity";
    case CollateralKind::kCrl:
      return "crl";
    case CollateralKind::kCertificates:
      return "certificates";
    case CollateralKind::kQuoteCollateralJson:
      return "quote collateral json";
    case CollateralKind::kTcbEvaluationNumbers:
      return "tcb evaluation data numbers";
  }
  VOUCH_UNREACHABLE("CollateralKind");
}

std::optional<CollateralKind> IdentifyCollateral(ByteSpan data) {
  if (data.empty()) {
    return std::nullopt;
  }
  const std::string_view text = TrimLeadingSpace(
      std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  if (!text.empty() && text.front() == '{') {
    return JsonKind(text);
  }
  // PEM files are text. A binary file that embeds a PEM block (a quote
  // carries its PCK chain that way) is not a certificate file.
  if (IsText(text) && text.find("-----BEGIN X509 CRL-----") != std::string_view::npos) {
    return CollateralKind::kCrl;
  }
  if (IsText(text) && text.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    return CollateralKind::kCertificates;
  }
  // DER: a CRL or certificates; the parsers decide.
  if (data[0] == 0x30) {
    if (crypto::Crl::LooksLikeCrl(data)) {
      return CollateralKind::kCrl;
    }
    if (crypto::ParseCertificates(data).ok()) {
      return CollateralKind::kCertificates;
    }
  }
  return std::nullopt;
}

absl::Status CollateralSet::AddTcbInfo(const std::string& source, std::string document) {
  absl::StatusOr<TcbInfo> parsed = ParseTcbInfo(document);
  if (!parsed.ok()) {
    return Prefix(source, parsed.status());
  }
  tcb_infos_.push_back({source, std::move(document), *std::move(parsed)});
  return absl::OkStatus();
}

absl::Status CollateralSet::AddQeIdentity(const std::string& source, std::string document) {
  absl::StatusOr<QeIdentity> parsed = ParseQeIdentity(document);
  if (!parsed.ok()) {
    return Prefix(source, parsed.status());
  }
  qe_identities_.push_back({source, std::move(document), *std::move(parsed)});
  return absl::OkStatus();
}

absl::Status CollateralSet::AddCrl(const std::string& source, Bytes data) {
  absl::StatusOr<crypto::Crl> parsed = crypto::Crl::Parse(data);
  if (!parsed.ok()) {
    return Prefix(source, parsed.status());
  }
  crls_.push_back({source, std::move(data), *std::move(parsed)});
  return absl::OkStatus();
}

// AddQuoteCollateralJson splits a QuoteCollateralV3 object into PCS-format
// parts. Its tcb_info and qe_identity strings are the exact signed bytes.
absl::Status CollateralSet::AddQuoteCollateralJson(const std::string& source,
                                                   std::string_view text) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  auto string_field = [&](const char* name) -> absl::StatusOr<std::string> {
    const auto it = parsed.find(name);
    if (it == parsed.end() || !it->is_string()) {
      return InvalidArgumentf("{}: quote collateral member \"{}\" missing or not a string", source,
                              name);
    }
    return it->get<std::string>();
  };
  VOUCH_ASSIGN_OR_RETURN(const std::string tcb_info, string_field("tcb_info"));
  VOUCH_ASSIGN_OR_RETURN(const std::string tcb_signature, string_field("tcb_info_signature"));
  VOUCH_ASSIGN_OR_RETURN(const std::string qe_identity, string_field("qe_identity"));
  VOUCH_ASSIGN_OR_RETURN(const std::string qe_signature, string_field("qe_identity_signature"));
  VOUCH_RETURN_IF_ERROR(AddTcbInfo(
      source + " tcb_info",
      "{\"tcbInfo\":" + tcb_info + ",\"signature\":" + nlohmann::json(tcb_signature).dump() + "}"));
  VOUCH_RETURN_IF_ERROR(AddQeIdentity(source + " qe_identity",
                                      "{\"enclaveIdentity\":" + qe_identity + ",\"signature\":" +
                                          nlohmann::json(qe_signature).dump() + "}"));
  for (const char* name : {"root_ca_crl", "pck_crl"}) {
    if (!parsed.contains(name)) {
      continue;
    }
    VOUCH_ASSIGN_OR_RETURN(const std::string hex, string_field(name));
    absl::StatusOr<Bytes> der = HexDecode(hex);
    if (!der.ok()) {
      return InvalidArgumentf("{}: quote collateral member \"{}\" is not hex", source, name);
    }
    VOUCH_RETURN_IF_ERROR(AddCrl(fmt::format("{} {}", source, name), *std::move(der)));
  }
  for (const char* name : {"tcb_info_issuer_chain", "qe_identity_issuer_chain",
                           "pck_crl_issuer_chain"}) {
    if (!parsed.contains(name)) {
      continue;
    }
    VOUCH_ASSIGN_OR_RETURN(const std::string pem, string_field(name));
    absl::StatusOr<std::vector<crypto::Certificate>> certs = crypto::ParseCertificates(AsBytes(pem));
    if (!certs.ok()) {
      return Prefix(fmt::format("{} {}", source, name), certs.status());
    }
    AddCertificates(*certs);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<CollateralKind>> CollateralSet::AddFile(const std::string& source,
                                                                     ByteSpan data) {
  const std::optional<CollateralKind> kind = IdentifyCollateral(data);
  if (!kind.has_value()) {
    ignored_.push_back(fmt::format("{}: not collateral", source));
    return kind;
  }
  switch (*kind) {
    case CollateralKind::kTcbInfo:
      VOUCH_RETURN_IF_ERROR(AddTcbInfo(source, ToString(data)));
      break;
    case CollateralKind::kQeIdentity:
      VOUCH_RETURN_IF_ERROR(AddQeIdentity(source, ToString(data)));
      break;
    case CollateralKind::kCrl:
      VOUCH_RETURN_IF_ERROR(AddCrl(source, Bytes(data.begin(), data.end())));
      break;
    case CollateralKind::kCertificates: {
      absl::StatusOr<std::vector<crypto::Certificate>> certs = crypto::ParseCertificates(data);
      if (!certs.ok()) {
        return Prefix(source, certs.status());
      }
      AddCertificates(*certs);
      break;
    }
    case CollateralKind::kQuoteCollateralJson:
      VOUCH_RETURN_IF_ERROR(AddQuoteCollateralJson(
          source, std::string_view(reinterpret_cast<const char*>(data.data()), data.size())));
      break;
    case CollateralKind::kTcbEvaluationNumbers:
      ignored_.push_back(fmt::format("{}: tcb evaluation data numbers (not used)", source));
      break;
  }
  return kind;
}

absl::Status CollateralSet::AddDirectory(const std::string& dir) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  std::filesystem::directory_iterator it(dir, error);
  if (error) {
    return NotFoundf("collateral folder {}: {}", dir, error.message());
  }
  for (const auto& entry : it) {
    if (entry.is_regular_file(error)) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& file : files) {
    if (std::filesystem::file_size(file, error) > kMaxCollateralFileBytes) {
      ignored_.push_back(fmt::format("{}: larger than {} bytes", file.string(),
                                     kMaxCollateralFileBytes));
      continue;
    }
    VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(file.string(), kMaxCollateralFileBytes));
    VOUCH_RETURN_IF_ERROR(AddFile(file.string(), data).status());
  }
  return absl::OkStatus();
}

void CollateralSet::AddCertificates(const std::vector<crypto::Certificate>& certificates) {
  for (const crypto::Certificate& cert : certificates) {
    const Bytes der = cert.Der();
    const bool known = std::any_of(certificates_.begin(), certificates_.end(),
                                   [&](const crypto::Certificate& c) { return c.Der() == der; });
    if (!known) {
      certificates_.push_back(cert);
    }
  }
}

absl::StatusOr<QuoteCollateral> CollateralSet::Select(const QuoteSelector& selector,
                                                      absl::Time now) const {
  QuoteCollateral out;
  const TcbInfoEntry* tcb = nullptr;
  for (const TcbInfoEntry& entry : tcb_infos_) {
    const TcbInfo& info = entry.parsed;
    if (info.tee_type != selector.tee_type || info.fmspc != selector.fmspc) {
      continue;
    }
    if (tcb == nullptr ||
        Better(InWindow(info.issue_date, info.next_update, now), info.tcb_evaluation_data_number,
               info.issue_date, InWindow(tcb->parsed.issue_date, tcb->parsed.next_update, now),
               tcb->parsed.tcb_evaluation_data_number, tcb->parsed.issue_date)) {
      tcb = &entry;
    }
  }
  if (tcb == nullptr) {
    return NotFoundf("collateral: no {} tcb info for fmspc {} among {} tcb info documents",
                     TeeTypeName(selector.tee_type), HexEncode(selector.fmspc), tcb_infos_.size());
  }
  out.tcb_info_json = tcb->document;

  const QeIdentityEntry* qe = nullptr;
  for (const QeIdentityEntry& entry : qe_identities_) {
    const QeIdentity& identity = entry.parsed;
    if (identity.tee_type() != selector.tee_type) {
      continue;
    }
    if (qe == nullptr ||
        Better(InWindow(identity.issue_date, identity.next_update, now),
               identity.tcb_evaluation_data_number, identity.issue_date,
               InWindow(qe->parsed.issue_date, qe->parsed.next_update, now),
               qe->parsed.tcb_evaluation_data_number, qe->parsed.issue_date)) {
      qe = &entry;
    }
  }
  if (qe == nullptr) {
    return NotFoundf("collateral: no {} identity among {} qe identity documents",
                     selector.tee_type == TeeType::kTdx ? "TD_QE" : "QE", qe_identities_.size());
  }
  out.qe_identity_json = qe->document;

  const CrlEntry* root_crl = nullptr;
  const CrlEntry* pck_crl = nullptr;
  // CrlBetter prefers, for an unknown PCK issuer, the Platform CA's CRL, then
  // a CRL valid at `now`, then the latest thisUpdate.
  auto crl_better = [&](const CrlEntry& a, const CrlEntry* b) {
    if (b == nullptr) {
      return true;
    }
    const bool a_platform = a.parsed.IssuerCommonName() == kPckPlatformCaCn;
    const bool b_platform = b->parsed.IssuerCommonName() == kPckPlatformCaCn;
    if (a_platform != b_platform) {
      return a_platform;
    }
    return Better(InWindow(a.parsed.ThisUpdate(), a.parsed.NextUpdate(), now), 0,
                  a.parsed.ThisUpdate(),
                  InWindow(b->parsed.ThisUpdate(), b->parsed.NextUpdate(), now), 0,
                  b->parsed.ThisUpdate());
  };
  for (const CrlEntry& entry : crls_) {
    const crypto::Crl& crl = entry.parsed;
    if (crl.IssuerCommonName() == kIntelRootCaCn) {
      if (crl_better(entry, root_crl)) {
        root_crl = &entry;
      }
      continue;
    }
    const bool matches = selector.pck_issuer.empty()
                             ? crl.IssuerCommonName().find("PCK") != std::string::npos
                             : crl.Issuer() == selector.pck_issuer;
    if (matches && crl_better(entry, pck_crl)) {
      pck_crl = &entry;
    }
  }
  if (root_crl != nullptr) {
    out.root_ca_crl = root_crl->data;
  }
  if (pck_crl != nullptr) {
    out.pck_crl = pck_crl->data;
  }
  out.intel_certificates = certificates_;
  return out;
}

absl::StatusOr<QuoteSelector> SelectorForQuote(ByteSpan quote_bytes) {
  VOUCH_ASSIGN_OR_RETURN(const Quote quote, ParseQuote(quote_bytes));
  if (!quote.has_pck_chain()) {
    return FailedPreconditionf(
        "collateral: the quote carries no PCK certificate chain (certification data type 3)");
  }
  VOUCH_ASSIGN_OR_RETURN(const std::vector<crypto::Certificate> chain,
                         crypto::ParseCertificates(AsBytes(quote.qe.pck_chain_pem)));
  VOUCH_ASSIGN_OR_RETURN(const PckExtensions extensions, ReadPckExtensions(chain.front()));
  return QuoteSelector{quote.tee_type(), extensions.fmspc, chain.front().Issuer()};
}

namespace {

// IssuedByTrustedRoot is true when `cert` is a pinned self-signed root or is
// signed by one among `certificates`.
bool IssuedByTrustedRoot(const crypto::Certificate& cert,
                         const std::vector<crypto::Certificate>& certificates,
                         const std::vector<Bytes>& trusted_roots) {
  for (const crypto::Certificate& root : certificates) {
    if (std::find(trusted_roots.begin(), trusted_roots.end(), root.SpkiSha256()) !=
            trusted_roots.end() &&
        root.VerifySignedBy(root).ok() && cert.VerifySignedBy(root).ok()) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status VerifySignedCollateral(const CollateralSet& set,
                                    const std::vector<Bytes>& trusted_roots) {
  for (const TcbInfoEntry& entry : set.tcb_infos()) {
    VOUCH_RETURN_IF_ERROR(Prefix(entry.source, VerifyTcbInfo(entry.parsed, set.certificates(),
                                                             trusted_roots,
                                                             entry.parsed.issue_date)));
  }
  for (const QeIdentityEntry& entry : set.qe_identities()) {
    VOUCH_RETURN_IF_ERROR(Prefix(entry.source,
                                 VerifyQeIdentity(entry.parsed, set.certificates(), trusted_roots,
                                                  entry.parsed.issue_date)));
  }
  for (const CrlEntry& entry : set.crls()) {
    absl::Status verified = Unauthenticatedf("{}: no certificate named {} among the {} collateral "
                                             "certificates verifies this crl",
                                             entry.source, entry.parsed.Issuer(),
                                             set.certificates().size());
    for (const crypto::Certificate& issuer : set.certificates()) {
      if (entry.parsed.VerifySignedBy(issuer).ok() &&
          IssuedByTrustedRoot(issuer, set.certificates(), trusted_roots)) {
        verified = absl::OkStatus();
        break;
      }
    }
    VOUCH_RETURN_IF_ERROR(verified);
  }
  return absl::OkStatus();
}

}  // namespace vouch::dcap
