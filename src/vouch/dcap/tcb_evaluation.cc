#include "vouch/dcap/tcb_evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/crl.h"
#include "vouch/dcap/qe_identity.h"
#include "vouch/dcap/tcb_info.h"
#include "vouch/dcap/verify_cache.h"

namespace vouch::dcap {
namespace {

struct StatusNameEntry {
  TcbStatus status;
  std::string_view name;
};

constexpr StatusNameEntry kStatusNames[] = {
    {TcbStatus::kUpToDate, "UpToDate"},
    {TcbStatus::kSwHardeningNeeded, "SWHardeningNeeded"},
    {TcbStatus::kConfigurationNeeded, "ConfigurationNeeded"},
    {TcbStatus::kConfigurationAndSwHardeningNeeded, "ConfigurationAndSWHardeningNeeded"},
    {TcbStatus::kOutOfDate, "OutOfDate"},
    {TcbStatus::kOutOfDateConfigurationNeeded, "OutOfDateConfigurationNeeded"},
    {TcbStatus::kRevoked, "Revoked"},
};

// The evaluation's view of all collateral certificates, for chain searches.
std::vector<crypto::Certificate> AllCertificates(const QuoteCollateral& collateral,
                                                 const std::vector<crypto::Certificate>& pck_chain) {
  std::vector<crypto::Certificate> all;
  for (const auto* list : {&collateral.tcb_info_issuer_chain, &collateral.qe_identity_issuer_chain,
                           &collateral.pck_crl_issuer_chain, &collateral.intel_certificates,
                           &pck_chain}) {
    all.insert(all.end(), list->begin(), list->end());
  }
  return all;
}

// Converge merges a second status (TDX module or QE) into the platform's as
// Intel's QVL does (TcbLevelCheck.cpp, convergeTcbStatusWithQeTcbStatus and
// convergeTcbStatusWithTdxModuleStatus): OutOfDate lowers UpToDate and
// SWHardeningNeeded to OutOfDate and the configuration statuses to
// OutOfDateConfigurationNeeded; Revoked wins; anything else keeps the
// platform status.
TcbStatus Converge(TcbStatus platform, TcbStatus other) {
  if (other == TcbStatus::kOutOfDate) {
    if (platform == TcbStatus::kUpToDate || platform == TcbStatus::kSwHardeningNeeded) {
      return TcbStatus::kOutOfDate;
    }
    if (platform == TcbStatus::kConfigurationNeeded ||
        platform == TcbStatus::kConfigurationAndSwHardeningNeeded) {
      return TcbStatus::kOutOfDateConfigurationNeeded;
    }
  }
  if (other == TcbStatus::kRevoked) {
    return TcbStatus::kRevoked;
  }
  return platform;
}

bool SgxComponentsAtLeast(const PlatformTcb& platform, const TcbLevel& level) {
  for (size_t i = 0; i < 16; ++i) {
    if (platform.sgx_tcb_components[i] < level.sgx_components[i]) {
      return false;
    }
  }
  return platform.pce_svn >= level.pce_svn;
}

// TdxComponentsAtLeast compares TEE_TCB_SVN with the level's TDX components.
// From TDX module 1.5 on (TEE_TCB_SVN[1] != 0), components 0 and 1 are the
// module's SVN and version, checked through tdxModuleIdentities instead.
bool TdxComponentsAtLeast(const PlatformTcb& platform, const TcbLevel& level) {
  const size_t first = platform.tee_tcb_svn[1] != 0 ? 2 : 0;
  for (size_t i = first; i < 16; ++i) {
    if (platform.tee_tcb_svn[i] < (*level.tdx_components)[i]) {
      return false;
    }
  }
  return true;
}

// SelectPlatformLevel walks tcbLevels in document order (Intel lists them
// from the highest TCB down) as QVL's matchTcbLevels does: the first level
// whose SGX components and PCESVN the platform meets, and for TDX the first
// level whose SGX and TDX components it both meets.
absl::StatusOr<TcbLevel> SelectPlatformLevel(const TcbInfo& info, const PlatformTcb& platform) {
  bool sgx_matched = false;
  for (const TcbLevel& level : info.tcb_levels) {
    if (!SgxComponentsAtLeast(platform, level)) {
      continue;
    }
    sgx_matched = true;
    if (platform.tee_type == TeeType::kSgx || TdxComponentsAtLeast(platform, level)) {
      return level;
    }
  }
  return PermissionDeniedf(
      "dcap tcb: tcb level not supported: no {} level of {} matches sgx components {} pcesvn {}{}",
      sgx_matched ? "TDX" : "SGX", info.Describe(), HexEncode(platform.sgx_tcb_components),
      platform.pce_svn,
      platform.tee_type == TeeType::kTdx
          ? fmt::format(" tee_tcb_svn {}", HexEncode(platform.tee_tcb_svn))
          : std::string());
}

struct ModuleResult {
  std::optional<TdxModuleTcbLevel> level;
  std::string id;
};

absl::Status CheckModuleIdentity(const TdxModule& expected, const PlatformTcb& platform,
                                 std::string_view id) {
  if (platform.mr_signer_seam != expected.mrsigner) {
    return PermissionDeniedf("dcap tcb: tdx module {}: mrsigner_seam {}, want {}", id,
                             HexEncode(platform.mr_signer_seam), HexEncode(expected.mrsigner));
  }
  // QVL (QuoteVerifier.cpp, step 4.1.2.4.11.2) requires SEAMATTRIBUTES to be
  // all zero and equal to the expected attributes; the mask is not applied.
  if (platform.seam_attributes.size() != expected.attributes.size()) {
    return PermissionDeniedf("dcap tcb: tdx module {}: seam_attributes has {} bytes, want {}", id,
                             platform.seam_attributes.size(), expected.attributes.size());
  }
  for (size_t i = 0; i < platform.seam_attributes.size(); ++i) {
    if (platform.seam_attributes[i] != 0 || platform.seam_attributes[i] != expected.attributes[i]) {
      return PermissionDeniedf("dcap tcb: tdx module {}: seam_attributes {}, want {} (all zero)",
                               id, HexEncode(platform.seam_attributes),
                               HexEncode(expected.attributes));
    }
  }
  return absl::OkStatus();
}

// EvaluateTdxModule checks the TDX module: for module 1.0 (TEE_TCB_SVN[1]
// == 0) against "tdxModule", with no status of its own; later modules
// against the tdxModuleIdentities entry "TDX_%02X" and its TCB levels,
// selected by TEE_TCB_SVN[0] (QVL TdxModuleCheck.cpp).
absl::StatusOr<ModuleResult> EvaluateTdxModule(const TcbInfo& info, const PlatformTcb& platform) {
  const uint8_t module_version = platform.tee_tcb_svn[1];
  const uint8_t module_svn = platform.tee_tcb_svn[0];
  if (module_version == 0) {
    VOUCH_RETURN_IF_ERROR(CheckModuleIdentity(*info.tdx_module, platform, "tdxModule"));
    return ModuleResult{};
  }
  const std::string id = fmt::format("TDX_{:02X}", module_version);
  const auto identity = std::find_if(
      info.tdx_module_identities.begin(), info.tdx_module_identities.end(),
      [&](const TdxModuleIdentity& candidate) {
        std::string upper = candidate.id;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        return upper == id;
      });
  if (identity == info.tdx_module_identities.end()) {
    return PermissionDeniedf("dcap tcb: tdx module {} (tee_tcb_svn[1] = {}) not in {}", id,
                             module_version, info.Describe());
  }
  VOUCH_RETURN_IF_ERROR(CheckModuleIdentity(identity->module, platform, id));
  for (const TdxModuleTcbLevel& level : identity->tcb_levels) {
    if (module_svn >= level.isv_svn) {
      return ModuleResult{level, id};
    }
  }
  return PermissionDeniedf("dcap tcb: tcb level not supported: tdx module {} svn {} below every "
                           "level of {}",
                           id, module_svn, info.Describe());
}

// EvaluateQe checks the QE report against the QE identity as QVL's
// EnclaveReportVerifier does and selects the QE TCB level by ISVSVN.
absl::StatusOr<QeTcbLevel> EvaluateQe(const QeIdentity& identity, const PlatformTcb& platform) {
  const std::string what = identity.Describe();
  if ((platform.qe_miscselect & identity.miscselect_mask) != identity.miscselect) {
    return PermissionDeniedf("dcap tcb: qe report miscselect {:08x} (mask {:08x}) does not match "
                             "{} miscselect {:08x}",
                             platform.qe_miscselect, identity.miscselect_mask, what,
                             identity.miscselect);
  }
  if (platform.qe_attributes.size() != 16) {
    return InvalidArgumentf("dcap tcb: qe report attributes have {} bytes, want 16",
                            platform.qe_attributes.size());
  }
  for (size_t i = 0; i < 16; ++i) {
    if ((platform.qe_attributes[i] & identity.attributes_mask[i]) != identity.attributes[i]) {
      return PermissionDeniedf("dcap tcb: qe report attributes {} (mask {}) do not match {} "
                               "attributes {}",
                               HexEncode(platform.qe_attributes), HexEncode(identity.attributes_mask),
                               what, HexEncode(identity.attributes));
    }
  }
  if (platform.qe_mrsigner != identity.mrsigner) {
    return PermissionDeniedf("dcap tcb: qe report mrsigner {}, {} wants {}",
                             HexEncode(platform.qe_mrsigner), what, HexEncode(identity.mrsigner));
  }
  if (platform.qe_isv_prod_id != identity.isv_prod_id) {
    return PermissionDeniedf("dcap tcb: qe report isvprodid {}, {} wants {}",
                             platform.qe_isv_prod_id, what, identity.isv_prod_id);
  }
  for (const QeTcbLevel& level : identity.tcb_levels) {
    if (platform.qe_isv_svn >= level.isv_svn) {
      return level;
    }
  }
  return PermissionDeniedf("dcap tcb: tcb level not supported: qe isvsvn {} below every level of {}",
                           platform.qe_isv_svn, what);
}

// FindTrustedRoot returns the pinned root among `certificates`.
absl::StatusOr<crypto::Certificate> FindTrustedRoot(
    const std::vector<crypto::Certificate>& certificates, const std::vector<Bytes>& trusted_roots) {
  // A root that verified before for these trusted roots is found by
  // comparing certificates (X509_cmp), without pin digests or signatures.
  Bytes roots;
  for (const Bytes& root : trusted_roots) {
    roots.insert(roots.end(), root.begin(), root.end());
  }
  const std::string key = CacheKey({roots});
  BoundedCache<crypto::Certificate>& verified_roots = SharedCollateralCaches().roots;
  if (const std::optional<crypto::Certificate> cached =
          verified_roots.Lookup(key, absl::InfinitePast());
      cached.has_value()) {
    for (const crypto::Certificate& cert : certificates) {
      if (X509_cmp(cert.get(), cached->get()) == 0) {
        return cert;
      }
    }
  }
  for (const crypto::Certificate& cert : certificates) {
    if (std::find(trusted_roots.begin(), trusted_roots.end(), cert.SpkiSha256()) ==
        trusted_roots.end()) {
      continue;
    }
    if (cert.VerifySignedBy(cert).ok()) {
      verified_roots.Insert(key, cert);
      return cert;
    }
  }
  return Unauthenticatedf("dcap tcb: no pinned root certificate among the collateral and PCK chain");
}

absl::StatusOr<CollateralItem> CheckCrl(ByteSpan der_or_pem, std::string_view kind,
                                        const crypto::Certificate& issuer,
                                        const crypto::Certificate& subject, absl::Time now) {
  // A CRL whose signature verified under this issuer before is not parsed
  // or verified again. Its dates and the revocation are checked below.
  const unsigned char* name_der = nullptr;
  size_t name_size = 0;
  if (X509_NAME_get0_der(X509_get_subject_name(issuer.get()), &name_der, &name_size) != 1) {
    return Internalf("dcap tcb: {}: cannot encode the issuer name", kind);
  }
  const ASN1_BIT_STRING* issuer_key = X509_get0_pubkey_bitstr(issuer.get());
  const std::string key =
      CacheKey({der_or_pem, ByteSpan(name_der, name_size),
                ByteSpan(ASN1_STRING_get0_data(issuer_key),
                         static_cast<size_t>(ASN1_STRING_length(issuer_key)))});
  BoundedCache<crypto::Crl>& verified_crls = SharedCollateralCaches().crls;
  std::optional<crypto::Crl> crl = verified_crls.Lookup(key, now);
  if (!crl.has_value()) {
    absl::StatusOr<crypto::Crl> parsed = crypto::Crl::Parse(der_or_pem);
    if (!parsed.ok()) {
      return Prefix(fmt::format("dcap tcb: {}", kind), parsed.status());
    }
    VOUCH_RETURN_IF_ERROR(
        Prefix(fmt::format("dcap tcb: {}", kind), parsed->VerifySignedBy(issuer)));
    verified_crls.Insert(key, *parsed);
    crl = *std::move(parsed);
  }
  VOUCH_RETURN_IF_ERROR(Prefix(fmt::format("dcap tcb: {}", kind), crl->CheckValidAt(now)));
  if (crl->IsRevoked(subject)) {
    return PermissionDeniedf("tcb status Revoked: certificate {} serial {} is revoked by the {} "
                             "(issued {})",
                             subject.Subject(), HexEncode(crypto::SerialOf(subject)), kind,
                             FormatRfc3339(crl->ThisUpdate()));
  }
  return CollateralItem{std::string(kind), fmt::format("crl of {}", crl->IssuerCommonName()),
                        crl->ThisUpdate(), crl->NextUpdate(), 0};
}

// CheckRevocation verifies the root CA CRL against the PCK CA and the PCK
// CRL against the PCK certificate (QVL steps 4.1.2.4.6 and 4.1.2.4.7).
absl::Status CheckRevocation(const QuoteCollateral& collateral,
                             const std::vector<crypto::Certificate>& pck_chain,
                             const crypto::Certificate& root, absl::Time now,
                             const TcbEvaluationOptions& options, TcbVerdict& verdict) {
  if (pck_chain.size() < 2) {
    return InvalidArgumentf("dcap tcb: pck chain has {} certificates, want the PCK and its CA",
                            pck_chain.size());
  }
  const crypto::Certificate& pck = pck_chain[0];
  const crypto::Certificate& pck_ca = pck_chain[1];
  if (collateral.root_ca_crl.empty() || collateral.pck_crl.empty()) {
    if (options.require_crls) {
      return FailedPreconditionf("dcap tcb: collateral has no {}; revocation cannot be checked",
                                 collateral.root_ca_crl.empty() ? "root ca crl" : "pck crl");
    }
    verdict.revocation_checked = false;
  }
  if (!collateral.root_ca_crl.empty()) {
    VOUCH_ASSIGN_OR_RETURN(CollateralItem item,
                           CheckCrl(collateral.root_ca_crl, "root ca crl", root, pck_ca, now));
    verdict.collateral.push_back(std::move(item));
  }
  if (!collateral.pck_crl.empty()) {
    VOUCH_ASSIGN_OR_RETURN(CollateralItem item,
                           CheckCrl(collateral.pck_crl, "pck crl", pck_ca, pck, now));
    verdict.collateral.push_back(std::move(item));
  }
  return absl::OkStatus();
}

absl::Status CheckTcbInfoMatches(const TcbInfo& info, const PlatformTcb& platform) {
  if (info.tee_type != platform.tee_type) {
    return FailedPreconditionf("dcap tcb: {} is for {}, the quote is {}", info.Describe(),
                               TeeTypeName(info.tee_type), TeeTypeName(platform.tee_type));
  }
  if (platform.tee_type == TeeType::kTdx && info.version < 3) {
    return FailedPreconditionf("dcap tcb: {}: TDX needs tcb info version 3", info.Describe());
  }
  if (info.fmspc != platform.fmspc) {
    return FailedPreconditionf("dcap tcb: {}: fmspc {}, the PCK certificate has {}",
                               info.Describe(), HexEncode(info.fmspc), HexEncode(platform.fmspc));
  }
  if (info.pce_id != platform.pce_id) {
    return FailedPreconditionf("dcap tcb: {}: pceId {}, the PCK certificate has {}",
                               info.Describe(), HexEncode(info.pce_id), HexEncode(platform.pce_id));
  }
  return absl::OkStatus();
}

// SigningChainWindow returns the times at which every "Intel SGX TCB
// Signing" certificate among `certificates`, and each one's issuer, is
// valid. It bounds a cached TCB info or QE identity: the signing chain that
// verified it is among these certificates, so the window is never wider
// than that chain's.
std::pair<absl::Time, absl::Time> SigningChainWindow(
    const std::vector<crypto::Certificate>& certificates) {
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfiniteFuture();
  std::set<std::string> issuers;
  for (const crypto::Certificate& cert : certificates) {
    if (cert.SubjectCommonName() == kTcbSigningCommonName) {
      not_before = std::max(not_before, cert.NotBefore());
      not_after = std::min(not_after, cert.NotAfter());
      issuers.insert(cert.Issuer());
    }
  }
  for (const crypto::Certificate& cert : certificates) {
    if (issuers.contains(cert.Subject())) {
      not_before = std::max(not_before, cert.NotBefore());
      not_after = std::min(not_after, cert.NotAfter());
    }
  }
  return {not_before, not_after};
}

std::string CollateralKey(std::string_view kind, std::string_view document,
                          const std::vector<Bytes>& trusted_roots) {
  Bytes roots;
  for (const Bytes& root : trusted_roots) {
    roots.insert(roots.end(), root.begin(), root.end());
  }
  return CacheKey({AsBytes(kind), roots, AsBytes(document)});
}

// VerifiedTcbInfo parses and verifies the TCB info, or takes it from
// SharedCollateralCaches() when the same bytes verified before under the
// same roots. The issueDate and nextUpdate window is checked on every call.
absl::StatusOr<std::shared_ptr<const TcbInfo>> VerifiedTcbInfo(
    std::string_view document, const std::vector<crypto::Certificate>& certificates,
    const std::vector<Bytes>& trusted_roots, absl::Time now) {
  BoundedCache<std::shared_ptr<const TcbInfo>>& cache = SharedCollateralCaches().tcb_infos;
  const std::string key = CollateralKey("tcb info", document, trusted_roots);
  if (std::optional<std::shared_ptr<const TcbInfo>> cached = cache.Lookup(key, now);
      cached.has_value()) {
    const TcbInfo& info = **cached;
    VOUCH_RETURN_IF_ERROR(
        CheckCollateralWindow(info.Describe(), info.issue_date, info.next_update, now));
    return *std::move(cached);
  }
  VOUCH_ASSIGN_OR_RETURN(TcbInfo parsed, ParseTcbInfo(document));
  VOUCH_RETURN_IF_ERROR(VerifyTcbInfo(parsed, certificates, trusted_roots, now));
  auto info = std::make_shared<const TcbInfo>(std::move(parsed));
  const auto [not_before, not_after] = SigningChainWindow(certificates);
  cache.Insert(key, info, not_before, not_after);
  return info;
}

// VerifiedQeIdentity is VerifiedTcbInfo for the QE identity.
absl::StatusOr<std::shared_ptr<const QeIdentity>> VerifiedQeIdentity(
    std::string_view document, const std::vector<crypto::Certificate>& certificates,
    const std::vector<Bytes>& trusted_roots, absl::Time now) {
  BoundedCache<std::shared_ptr<const QeIdentity>>& cache = SharedCollateralCaches().qe_identities;
  const std::string key = CollateralKey("qe identity", document, trusted_roots);
  if (std::optional<std::shared_ptr<const QeIdentity>> cached = cache.Lookup(key, now);
      cached.has_value()) {
    const QeIdentity& identity = **cached;
    VOUCH_RETURN_IF_ERROR(CheckCollateralWindow(identity.Describe(), identity.issue_date,
                                                identity.next_update, now));
    return *std::move(cached);
  }
  VOUCH_ASSIGN_OR_RETURN(QeIdentity parsed, ParseQeIdentity(document));
  VOUCH_RETURN_IF_ERROR(VerifyQeIdentity(parsed, certificates, trusted_roots, now));
  auto identity = std::make_shared<const QeIdentity>(std::move(parsed));
  const auto [not_before, not_after] = SigningChainWindow(certificates);
  cache.Insert(key, identity, not_before, not_after);
  return identity;
}

void AddAdvisories(const std::vector<std::string>& ids, std::set<std::string>& out) {
  out.insert(ids.begin(), ids.end());
}

}  // namespace

std::string_view TcbStatusName(TcbStatus status) {
  for (const StatusNameEntry& entry : kStatusNames) {
    if (entry.status == status) {
      return entry.name;
    }
  }
  VOUCH_UNREACHABLE("TcbStatus");
}

absl::StatusOr<TcbStatus> ParseTcbStatus(std::string_view name) {
  for (const StatusNameEntry& entry : kStatusNames) {
    if (entry.name == name) {
      return entry.status;
    }
  }
  return InvalidArgumentf("tcb status \"{}\" unknown, want one of UpToDate, SWHardeningNeeded, "
                          "ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, "
                          "OutOfDateConfigurationNeeded, Revoked",
                          name);
}

std::string_view TeeTypeName(TeeType tee_type) { return tee_type == TeeType::kTdx ? "TDX" : "SGX"; }

absl::StatusOr<TcbVerdict> EvaluateTcb(const QuoteCollateral& collateral,
                                       const PlatformTcb& platform,
                                       const std::vector<crypto::Certificate>& pck_chain,
                                       absl::Time now, const TcbEvaluationOptions& options) {
  const std::vector<Bytes> trusted_roots = options.trusted_root_spki_sha256.empty()
                                               ? std::vector<Bytes>{IntelRootSpkiSha256()}
                                               : options.trusted_root_spki_sha256;
  const std::vector<crypto::Certificate> certificates = AllCertificates(collateral, pck_chain);
  TcbVerdict verdict;

  // TCB info: signature, chain, window, then FMSPC, PCE id and TEE type.
  if (collateral.tcb_info_json.empty()) {
    return FailedPreconditionf("dcap tcb: collateral has no tcb info for fmspc {}",
                               HexEncode(platform.fmspc));
  }
  VOUCH_ASSIGN_OR_RETURN(const std::shared_ptr<const TcbInfo> verified_info,
                         VerifiedTcbInfo(collateral.tcb_info_json, certificates, trusted_roots, now));
  const TcbInfo& info = *verified_info;
  VOUCH_RETURN_IF_ERROR(CheckTcbInfoMatches(info, platform));
  verdict.collateral.push_back(CollateralItem{"tcb info", info.Describe(), info.issue_date,
                                              info.next_update, info.tcb_evaluation_data_number});

  // QE identity: QE for SGX, TD_QE for TDX.
  if (collateral.qe_identity_json.empty()) {
    return FailedPreconditionf("dcap tcb: collateral has no qe identity");
  }
  VOUCH_ASSIGN_OR_RETURN(const std::shared_ptr<const QeIdentity> verified_identity,
                         VerifiedQeIdentity(collateral.qe_identity_json, certificates,
                                            trusted_roots, now));
  const QeIdentity& identity = *verified_identity;
  if (identity.tee_type() != platform.tee_type) {
    return FailedPreconditionf("dcap tcb: {} does not apply to a {} quote", identity.Describe(),
                               TeeTypeName(platform.tee_type));
  }
  verdict.collateral.push_back(CollateralItem{"qe identity", identity.Describe(),
                                              identity.issue_date, identity.next_update,
                                              identity.tcb_evaluation_data_number});

  // Revocation of the PCK CA (root CA CRL) and of the PCK (PCK CRL).
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate root, FindTrustedRoot(certificates, trusted_roots));
  VOUCH_RETURN_IF_ERROR(CheckRevocation(collateral, pck_chain, root, now, options, verdict));

  // TCB levels: platform, TDX module, QE.
  VOUCH_ASSIGN_OR_RETURN(const TcbLevel platform_level, SelectPlatformLevel(info, platform));
  std::set<std::string> advisories;
  AddAdvisories(platform_level.advisory_ids, advisories);
  verdict.platform_status = platform_level.status;
  verdict.tcb_date = platform_level.tcb_date;
  TcbStatus merged = platform_level.status;
  if (platform.tee_type == TeeType::kTdx) {
    // Limitation: Intel's QVL (TDRelaunchCheck.cpp) also compares
    // TEE_TCB_SVN2 of TDX 1.5 quotes with the levels and may then report
    // "TDRelaunchAdvised" instead of OutOfDate. TcbStatus has no such value,
    // so an OutOfDate TD that a relaunch would fix stays OutOfDate here.
    VOUCH_ASSIGN_OR_RETURN(const ModuleResult module, EvaluateTdxModule(info, platform));
    if (module.level.has_value()) {
      verdict.tdx_module_id = module.id;
      verdict.tdx_module_status = module.level->status;
      AddAdvisories(module.level->advisory_ids, advisories);
      merged = Converge(merged, module.level->status);
    }
  }
  VOUCH_ASSIGN_OR_RETURN(const QeTcbLevel qe_level, EvaluateQe(identity, platform));
  verdict.qe_status = qe_level.status;
  AddAdvisories(qe_level.advisory_ids, advisories);
  verdict.status = Converge(merged, qe_level.status);
  verdict.advisory_ids.assign(advisories.begin(), advisories.end());
  return verdict;
}

absl::StatusOr<std::vector<TcbStatus>> ParseAcceptedTcbStatuses(std::string_view list) {
  std::vector<TcbStatus> statuses;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) {
      end = list.size();
    }
    std::string_view name = list.substr(start, end - start);
    while (!name.empty() && name.front() == ' ') {
      name.remove_prefix(1);
    }
    while (!name.empty() && name.back() == ' ') {
      name.remove_suffix(1);
    }
    VOUCH_ASSIGN_OR_RETURN(const TcbStatus status, ParseTcbStatus(name));
    if (status == TcbStatus::kRevoked) {
      return InvalidArgumentf("tcb status Revoked can never be accepted");
    }
    statuses.push_back(status);
    start = end + 1;
  }
  return statuses;
}

absl::Status CheckTcbAccepted(const TcbVerdict& verdict, const TcbAcceptance& acceptance) {
  if (verdict.status == TcbStatus::kRevoked ||
      std::find(acceptance.statuses.begin(), acceptance.statuses.end(), verdict.status) ==
          acceptance.statuses.end()) {
    std::vector<std::string_view> names;
    for (const TcbStatus status : acceptance.statuses) {
      names.push_back(TcbStatusName(status));
    }
    return PermissionDeniedf("tcb status {} is not accepted (accepted: {}; advisories: {})",
                             TcbStatusName(verdict.status), fmt::join(names, ","),
                             verdict.advisory_ids.empty() ? "none"
                                                          : fmt::format("{}", fmt::join(verdict.advisory_ids, ",")));
  }
  if (acceptance.advisory_ids.has_value()) {
    for (const std::string& id : verdict.advisory_ids) {
      if (std::find(acceptance.advisory_ids->begin(), acceptance.advisory_ids->end(), id) ==
          acceptance.advisory_ids->end()) {
        return PermissionDeniedf("tcb status {}: advisory {} is not accepted",
                                 TcbStatusName(verdict.status), id);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace vouch::dcap
