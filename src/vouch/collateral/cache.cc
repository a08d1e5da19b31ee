#include "vouch/collateral/cache.h"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/hash.h"
#include "vouch/dcap/qe_identity.h"
#include "vouch/dcap/tcb_info.h"

namespace vouch::collateral {
namespace {

std::string TeeName(dcap::TeeType tee_type) {
  return tee_type == dcap::TeeType::kTdx ? "tdx" : "sgx";
}

absl::Status EnsureDir(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Unavailablef("collateral cache {}: cannot create the folder: {}", dir, error.message());
  }
  return absl::OkStatus();
}

// IsNewerOnDisk is true when `path` contains a document of the same kind whose
// issue date is later than `issue_date`.
template <typename Parse>
bool IsNewerOnDisk(const std::string& path, absl::Time issue_date, Parse parse) {
  absl::StatusOr<Bytes> existing = ReadFile(path, dcap::kMaxCollateralFileBytes);
  if (!existing.ok()) {
    return false;
  }
  const std::optional<absl::Time> existing_issue = parse(*existing);
  return existing_issue.has_value() && *existing_issue > issue_date;
}

absl::Status StoreTcbInfo(const std::string& dir, const std::string& document) {
  absl::StatusOr<dcap::TcbInfo> info = dcap::ParseTcbInfo(document);
  if (!info.ok()) {
    return Prefix("collateral cache: tcb info", info.status());
  }
  const std::string path =
      fmt::format("{}/tcbinfo-{}-{}.json", dir, TeeName(info->tee_type), HexEncode(info->fmspc));
  if (IsNewerOnDisk(path, info->issue_date, [](const Bytes& data) -> std::optional<absl::Time> {
        absl::StatusOr<dcap::TcbInfo> old = dcap::ParseTcbInfo(ToString(data));
        return old.ok() ? std::optional(old->issue_date) : std::nullopt;
      })) {
    return absl::OkStatus();
  }
  return WriteFileAtomic(path, AsBytes(document));
}

absl::Status StoreQeIdentity(const std::string& dir, const std::string& document) {
  absl::StatusOr<dcap::QeIdentity> identity = dcap::ParseQeIdentity(document);
  if (!identity.ok()) {
    return Prefix("collateral cache: qe identity", identity.status());
  }
  const std::string path = fmt::format("{}/qeidentity-{}.json", dir, TeeName(identity->tee_type()));
  if (IsNewerOnDisk(path, identity->issue_date,
                    [](const Bytes& data) -> std::optional<absl::Time> {
                      absl::StatusOr<dcap::QeIdentity> old = dcap::ParseQeIdentity(ToString(data));
                      return old.ok() ? std::optional(old->issue_date) : std::nullopt;
                    })) {
    return absl::OkStatus();
  }
  return WriteFileAtomic(path, AsBytes(document));
}

absl::Status StoreCrl(const std::string& dir, ByteSpan data) {
  absl::StatusOr<crypto::Crl> crl = crypto::Crl::Parse(data);
  if (!crl.ok()) {
    return Prefix("collateral cache: crl", crl.status());
  }
  const std::string cn = crl->IssuerCommonName();
  std::string name;
  if (cn == "Intel SGX Root CA") {
    name = "crl-root.der";
  } else if (cn == "Intel SGX PCK Platform CA") {
    name = "crl-pck-platform.der";
  } else if (cn == "Intel SGX PCK Processor CA") {
    name = "crl-pck-processor.der";
  } else {
    return InvalidArgumentf("collateral cache: crl of {} is not an Intel SGX CA's", cn);
  }
  const std::string path = dir + "/" + name;
  if (IsNewerOnDisk(path, crl->ThisUpdate(), [](const Bytes& old) -> std::optional<absl::Time> {
        absl::StatusOr<crypto::Crl> parsed = crypto::Crl::Parse(old);
        return parsed.ok() ? std::optional(parsed->ThisUpdate()) : std::nullopt;
      })) {
    return absl::OkStatus();
  }
  return WriteFileAtomic(path, crl->Der());
}

absl::Status StoreCertificates(const std::string& dir,
                               const std::vector<crypto::Certificate>& certificates) {
  for (const crypto::Certificate& cert : certificates) {
    const std::string path =
        fmt::format("{}/certs-{}.pem", dir, HexEncode(cert.Sha256()).substr(0, 16));
    VOUCH_RETURN_IF_ERROR(WriteFileAtomic(path, AsBytes(cert.Pem())));
  }
  return absl::OkStatus();
}

bool Fresh(absl::Time issue, absl::Time next, absl::Time now) { return issue <= now && now <= next; }

std::string PckCertificatePath(const std::string& dir, const dcap::EncryptedPpid& ppid) {
  Bytes key = ppid.encrypted_ppid;
  key.insert(key.end(), ppid.cpu_svn.begin(), ppid.cpu_svn.end());
  for (const uint16_t value : {ppid.pce_svn, ppid.pce_id}) {
    key.push_back(static_cast<uint8_t>(value & 0xff));
    key.push_back(static_cast<uint8_t>(value >> 8));
  }
  return fmt::format("{}/pckcert-{}.pem", dir, HexEncode(crypto::Sha256(key)).substr(0, 32));
}

}  // namespace

absl::StatusOr<dcap::CollateralSet> CollateralCache::Load() const {
  dcap::CollateralSet set;
  std::error_code error;
  if (!std::filesystem::exists(dir_, error)) {
    return set;
  }
  VOUCH_RETURN_IF_ERROR(set.AddDirectory(dir_));
  return set;
}

absl::StatusOr<dcap::QuoteCollateral> CollateralCache::Lookup(const dcap::QuoteSelector& selector,
                                                              absl::Time now) const {
  VOUCH_ASSIGN_OR_RETURN(const dcap::CollateralSet set, Load());
  absl::StatusOr<dcap::QuoteCollateral> selected = set.Select(selector, now);
  if (!selected.ok()) {
    return NotFoundf("collateral cache {}: {}", dir_, selected.status().message());
  }
  VOUCH_ASSIGN_OR_RETURN(const dcap::TcbInfo info, dcap::ParseTcbInfo(selected->tcb_info_json));
  VOUCH_ASSIGN_OR_RETURN(const dcap::QeIdentity identity,
                         dcap::ParseQeIdentity(selected->qe_identity_json));
  if (!Fresh(info.issue_date, info.next_update, now) ||
      !Fresh(identity.issue_date, identity.next_update, now)) {
    return NotFoundf("collateral cache {}: {} or {} is past its next update", dir_,
                     info.Describe(), identity.Describe());
  }
  if (selected->root_ca_crl.empty() || selected->pck_crl.empty()) {
    return NotFoundf("collateral cache {}: no root ca crl or pck crl", dir_);
  }
  for (const Bytes* data : {&selected->root_ca_crl, &selected->pck_crl}) {
    VOUCH_ASSIGN_OR_RETURN(const crypto::Crl crl, crypto::Crl::Parse(*data));
    if (!Fresh(crl.ThisUpdate(), crl.NextUpdate(), now)) {
      return NotFoundf("collateral cache {}: crl of {} is past its next update", dir_,
                       crl.IssuerCommonName());
    }
  }
  return selected;
}

absl::Status CollateralCache::Store(const dcap::QuoteCollateral& collateral) const {
  // Parse everything first so that a bad part writes nothing.
  if (!collateral.tcb_info_json.empty()) {
    VOUCH_RETURN_IF_ERROR(dcap::ParseTcbInfo(collateral.tcb_info_json).status());
  }
  if (!collateral.qe_identity_json.empty()) {
    VOUCH_RETURN_IF_ERROR(dcap::ParseQeIdentity(collateral.qe_identity_json).status());
  }
  for (const Bytes* crl : {&collateral.root_ca_crl, &collateral.pck_crl}) {
    if (!crl->empty()) {
      VOUCH_RETURN_IF_ERROR(crypto::Crl::Parse(*crl).status());
    }
  }
  VOUCH_RETURN_IF_ERROR(EnsureDir(dir_));
  if (!collateral.tcb_info_json.empty()) {
    VOUCH_RETURN_IF_ERROR(StoreTcbInfo(dir_, collateral.tcb_info_json));
  }
  if (!collateral.qe_identity_json.empty()) {
    VOUCH_RETURN_IF_ERROR(StoreQeIdentity(dir_, collateral.qe_identity_json));
  }
  for (const Bytes* crl : {&collateral.root_ca_crl, &collateral.pck_crl}) {
    if (!crl->empty()) {
      VOUCH_RETURN_IF_ERROR(StoreCrl(dir_, *crl));
    }
  }
  for (const auto* chain : {&collateral.tcb_info_issuer_chain, &collateral.qe_identity_issuer_chain,
                            &collateral.pck_crl_issuer_chain, &collateral.intel_certificates}) {
    VOUCH_RETURN_IF_ERROR(StoreCertificates(dir_, *chain));
  }
  return absl::OkStatus();
}

absl::Status CollateralCache::StorePckCertificate(
    const dcap::EncryptedPpid& ppid, const std::vector<crypto::Certificate>& certificates) const {
  if (certificates.empty()) {
    return InvalidArgumentf("collateral cache {}: no pck certificate to store", dir_);
  }
  std::string pem;
  for (const crypto::Certificate& cert : certificates) {
    pem += cert.Pem();
  }
  VOUCH_RETURN_IF_ERROR(EnsureDir(dir_));
  return WriteFileAtomic(PckCertificatePath(dir_, ppid), AsBytes(pem));
}

absl::StatusOr<std::vector<crypto::Certificate>> CollateralCache::LookupPckCertificate(
    const dcap::EncryptedPpid& ppid, absl::Time now) const {
  const std::string path = PckCertificatePath(dir_, ppid);
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return NotFoundf("collateral cache {}: no pck certificate for this encrypted ppid", dir_);
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(path, dcap::kMaxCollateralFileBytes));
  absl::StatusOr<std::vector<crypto::Certificate>> certificates = crypto::ParseCertificates(data);
  if (!certificates.ok()) {
    return Prefix(fmt::format("collateral cache {}", path), certificates.status());
  }
  if (certificates->empty() || !certificates->front().CheckValidAt(now).ok()) {
    return NotFoundf("collateral cache {}: pck certificate is not valid at this time", path);
  }
  return certificates;
}

absl::Status CollateralCache::StoreSet(const dcap::CollateralSet& set) const {
  VOUCH_RETURN_IF_ERROR(EnsureDir(dir_));
  for (const dcap::TcbInfoEntry& entry : set.tcb_infos()) {
    VOUCH_RETURN_IF_ERROR(StoreTcbInfo(dir_, entry.document));
  }
  for (const dcap::QeIdentityEntry& entry : set.qe_identities()) {
    VOUCH_RETURN_IF_ERROR(StoreQeIdentity(dir_, entry.document));
  }
  for (const dcap::CrlEntry& entry : set.crls()) {
    VOUCH_RETURN_IF_ERROR(StoreCrl(dir_, entry.data));
  }
  return StoreCertificates(dir_, set.certificates());
}

}  // namespace vouch::collateral
