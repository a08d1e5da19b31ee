#include "vouch/collateral/amd_crl_provider.h"

#include <fmt/format.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/time/clock.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/snp/certificates.h"
#include "vouch/snp/revocation.h"

namespace vouch::collateral {
namespace {

constexpr char kAmdSubfolder[] = "amd";

absl::StatusOr<crypto::Crl> ReadCrlFile(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(path, crypto::kMaxCrlBytes));
  absl::StatusOr<crypto::Crl> crl = crypto::Crl::Parse(data);
  if (!crl.ok()) {
    return Prefix(fmt::format("AMD CRL {}", path), crl.status());
  }
  return crl;
}

bool FileExists(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

}  // namespace

bool IsInvalidCrlError(const absl::Status& status) {
  if (status.ok()) {
    return false;
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return false;
    default:
      return true;
  }
}

absl::Status VerifyCrlUnderTrustedArk(const crypto::Crl& crl,
                                      const std::vector<crypto::Certificate>& pool,
                                      const std::vector<snp::TrustedRoot>& roots, absl::Time now) {
  for (const crypto::Certificate& certificate : pool) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(certificate.get())) !=
        0) {
      continue;
    }
    const absl::StatusOr<snp::AmdCertificate> classified =
        snp::ClassifyAmdCertificate(certificate);
    if (!classified.ok() || classified->kind != snp::AmdCertKind::kArk) {
      continue;
    }
    const Bytes spki_sha256 = certificate.SpkiSha256();
    const bool pinned = std::any_of(roots.begin(), roots.end(), [&](const snp::TrustedRoot& root) {
      return root.spki_sha256 == spki_sha256;
    });
    if (!pinned) {
      return Unauthenticatedf("snp revocation: the CRL's issuer {} has key SHA-256 {}, which no "
                              "trusted root pins",
                              crl.Issuer(), HexEncode(spki_sha256));
    }
    return snp::VerifyAmdCrl(crl, certificate, now);
  }
  return NotFoundf("snp revocation: the CRL's issuer {} is not a trusted ARK among the {} "
                   "certificates of the chain",
                   crl.Issuer(), pool.size());
}

absl::StatusOr<std::vector<crypto::Crl>> LoadAmdCrls(const std::string& path) {
  std::vector<crypto::Crl> crls;
  if (path.empty()) {
    return crls;
  }
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) {
    VOUCH_ASSIGN_OR_RETURN(crypto::Crl crl, ReadCrlFile(path));
    crls.push_back(std::move(crl));
    return crls;
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    if (entry.is_regular_file()) {
      files.push_back(entry.path().string());
    }
  }
  if (error) {
    return InvalidArgumentf("AMD CRLs {}: cannot list the folder: {}", path, error.message());
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    VOUCH_ASSIGN_OR_RETURN(crypto::Crl crl, ReadCrlFile(file));
    crls.push_back(std::move(crl));
  }
  if (crls.empty()) {
    return InvalidArgumentf("AMD CRLs {}: the folder has no files", path);
  }
  return crls;
}

AmdCrlProvider::AmdCrlProvider(AmdCrlProviderOptions options) : options_(std::move(options)) {
  if (options_.kds.has_value()) {
    kds_.emplace(*options_.kds);
  }
}

std::string AmdCrlProvider::FileName(std::string_view key_kind, std::string_view product) {
  return fmt::format("crl-{}-{}.der", key_kind, product);
}

absl::StatusOr<crypto::Crl> AmdCrlProvider::FindCrl(ByteSpan report_bytes,
                                                    const std::vector<crypto::Certificate>& pool,
                                                    const snp::VerifyOptions& options) const {
  const absl::StatusOr<snp::AttestationReport> report = snp::ParseReport(report_bytes);
  if (!report.ok() || report->signing_key == snp::SigningKey::kNone) {
    return NotFoundf("snp revocation: the report does not parse or is unsigned, so no CRL is "
                     "looked up");
  }
  const std::string_view key_kind = snp::AmdCrlKeyKind(
      report->signing_key == snp::SigningKey::kVlek ? snp::AmdCertKind::kVlek
                                                    : snp::AmdCertKind::kVcek);
  VOUCH_ASSIGN_OR_RETURN(const std::string product,
                         KdsProductForReport(*report, options_.product));
  const std::string file_name = FileName(key_kind, product);

  // 1. The collateral folder, as given.
  if (!options_.collateral_dir.empty()) {
    const std::filesystem::path path =
        std::filesystem::path(options_.collateral_dir) / kAmdSubfolder / file_name;
    if (FileExists(path)) {
      absl::StatusOr<crypto::Crl> crl = ReadCrlFile(path.string());
      if (!crl.ok()) {
        return Unauthenticatedf("snp revocation: {}", crl.status().message());
      }
      return crl;
    }
  }

  // 2. Memory, then the cache folder.
  absl::StatusOr<crypto::Crl> cached = FromCache(file_name, pool, options);
  if (cached.ok()) {
    return cached;
  }

  // 3. KDS.
  if (!kds_.has_value()) {
    return NotFoundf("snp revocation: no {} CRL for product {} in the collateral folder or the "
                     "cache, and no KDS URL is set",
                     key_kind, product);
  }
  return FromKds(key_kind, product, file_name, pool, options);
}

// The cache decides freshness only: snp::VerifyReport verifies whatever CRL
// it returns under the chain's ARK. A CRL whose issuer is not in the pool
// (another chain of the same product name, such as the simulated one) is
// returned while it is current, and the verifier then ignores it.
absl::StatusOr<crypto::Crl> AmdCrlProvider::FromCache(const std::string& file_name,
                                                      const std::vector<crypto::Certificate>& pool,
                                                      const snp::VerifyOptions& options) const {
  const auto usable = [&](const crypto::Crl& crl) {
    const absl::Status verified = VerifyCrlUnderTrustedArk(crl, pool, options.roots, options.now);
    return verified.ok() ||
           (verified.code() == absl::StatusCode::kNotFound && crl.CheckValidAt(options.now).ok());
  };
  std::optional<crypto::Crl> remembered;
  {
    std::lock_guard<std::mutex> lock(*mu_);
    const auto it = verified_.find(file_name);
    if (it != verified_.end()) {
      remembered = it->second;
    }
  }
  if (remembered.has_value() && usable(*remembered)) {
    return *std::move(remembered);
  }
  if (options_.cache_dir.empty()) {
    return NotFoundf("no cache folder");
  }
  const std::filesystem::path path =
      std::filesystem::path(options_.cache_dir) / kAmdSubfolder / file_name;
  if (!FileExists(path)) {
    return NotFoundf("no cached CRL {}", path.string());
  }
  absl::StatusOr<crypto::Crl> crl = ReadCrlFile(path.string());
  if (!crl.ok() || !usable(*crl)) {
    // Past nextUpdate is the usual case: the CRL is fetched again.
    spdlog::info("amd crl cache: not using {}: {}", path.string(),
                 crl.ok() ? "not current, or it does not verify under the chain's ARK"
                          : crl.status().message());
    return NotFoundf("cached CRL {} is unusable", path.string());
  }
  Remember(file_name, *crl);
  return crl;
}

absl::StatusOr<crypto::Crl> AmdCrlProvider::FromKds(std::string_view key_kind,
                                                    const std::string& product,
                                                    const std::string& file_name,
                                                    const std::vector<crypto::Certificate>& pool,
                                                    const snp::VerifyOptions& options) const {
  {
    std::lock_guard<std::mutex> lock(*mu_);
    const auto it = failures_.find(file_name);
    if (it != failures_.end() && absl::Now() < it->second.retry_after) {
      return it->second.status;
    }
  }

  absl::StatusOr<crypto::Crl> crl = kds_->FetchCrl(key_kind, product);
  if (!crl.ok()) {
    spdlog::warn("kds: {} CRL for product {}: {}; next request in {}", key_kind, product,
                 crl.status().message(), absl::FormatDuration(options_.retry_interval));
    std::lock_guard<std::mutex> lock(*mu_);
    failures_.insert_or_assign(file_name,
                               Failure{absl::Now() + options_.retry_interval, crl.status()});
    return crl.status();
  }
  // A CRL that does not verify, or is not current, is rejected (Unauthenticated),
  // unless the pool has no ARK of its issuer's name (NotFound): then it does
  // not belong to this chain.
  // NOTE: such a CRL is neither cached nor remembered, so each report with
  // that chain requests it from KDS again. Only the simulated chain, whose reports carry
  // a Milan CPUID, meets this with AMD's KDS.
  const absl::Status verified = VerifyCrlUnderTrustedArk(*crl, pool, options.roots, options.now);
  if (!verified.ok()) {
    const absl::StatusCode code = verified.code() == absl::StatusCode::kNotFound
                                      ? absl::StatusCode::kNotFound
                                      : absl::StatusCode::kUnauthenticated;
    return absl::Status(code, fmt::format("kds: the {} CRL for product {} is rejected and not "
                                          "cached: {}",
                                          key_kind, product, verified.message()));
  }

  spdlog::info("kds: fetched the {} CRL for product {} (thisUpdate {}, nextUpdate {}, {} revoked)",
               key_kind, product, absl::FormatTime(crl->ThisUpdate()),
               absl::FormatTime(crl->NextUpdate()), crl->NumRevoked());
  Remember(file_name, *crl);
  {
    std::lock_guard<std::mutex> lock(*mu_);
    failures_.erase(file_name);
  }
  if (!options_.cache_dir.empty()) {
    // A failed cache write costs a later fetch, not this verification.
    const std::filesystem::path dir = std::filesystem::path(options_.cache_dir) / kAmdSubfolder;
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    const absl::Status stored =
        error ? Unavailablef("create {}: {}", dir.string(), error.message())
              : WriteFileAtomic((dir / file_name).string(), crl->Der());
    if (!stored.ok()) {
      spdlog::warn("amd crl cache {}: {}", options_.cache_dir, stored.message());
    }
  }
  return crl;
}

void AmdCrlProvider::Remember(const std::string& file_name, const crypto::Crl& crl) const {
  std::lock_guard<std::mutex> lock(*mu_);
  verified_.insert_or_assign(file_name, crl);
}

}  // namespace vouch::collateral
