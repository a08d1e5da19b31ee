#include "vouch/collateral/vcek_provider.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/snp/certificates.h"

namespace vouch::collateral {
namespace {

constexpr char kAmdSubfolder[] = "amd";
constexpr size_t kMaxCacheFileBytes = 64 << 10;

bool ChipIdMasked(const snp::AttestationReport& report) {
  const ByteSpan hwid = report.hardware_id();
  return report.mask_chip_key ||
         std::all_of(hwid.begin(), hwid.end(), [](uint8_t b) { return b == 0; });
}

// MatchVcek checks that `certificate` is a VCEK for the chip and
// REPORTED_TCB of `report`, the same fields that snp::VerifyReport matches.
absl::Status MatchVcek(const crypto::Certificate& certificate,
                       const snp::AttestationReport& report) {
  VOUCH_ASSIGN_OR_RETURN(const snp::AmdCertificate classified,
                         snp::ClassifyAmdCertificate(certificate));
  if (classified.kind != snp::AmdCertKind::kVcek) {
    return Unauthenticatedf("certificate {} is a {}, want a VCEK", certificate.Subject(),
                            snp::AmdCertKindName(classified.kind));
  }
  VOUCH_ASSIGN_OR_RETURN(const snp::EndorsementKeyExtensions ext,
                         snp::ReadEndorsementKeyExtensions(certificate));
  const ByteSpan hwid = report.hardware_id();
  if (!ext.hardware_id.has_value() ||
      !std::equal(hwid.begin(), hwid.end(), ext.hardware_id->begin(), ext.hardware_id->end())) {
    return Unauthenticatedf("VCEK hwID {} is not the report's chip id {}",
                            ext.hardware_id ? HexEncode(*ext.hardware_id) : "(none)",
                            HexEncode(hwid));
  }
  const snp::TcbVersion& tcb = report.reported_tcb;
  const bool fmc_matches = report.is_turin() ? ext.fmc_spl == tcb.fmc : !ext.fmc_spl.has_value();
  if (ext.boot_loader_spl != tcb.boot_loader || ext.tee_spl != tcb.tee || ext.snp_spl != tcb.snp ||
      ext.microcode_spl != tcb.microcode || !fmc_matches) {
    return Unauthenticatedf(
        "VCEK SPLs bl={} tee={} snp={} ucode={}{} are not the report's REPORTED_TCB bl={} tee={} "
        "snp={} ucode={}",
        ext.boot_loader_spl, ext.tee_spl, ext.snp_spl, ext.microcode_spl,
        ext.fmc_spl ? fmt::format(" fmc={}", *ext.fmc_spl) : "", tcb.boot_loader, tcb.tee, tcb.snp,
        tcb.microcode);
  }
  return absl::OkStatus();
}

// HasSigner is true when `available` has the certificate that signed
// `report`: any VLEK for a VLEK-signed report (VerifyReport picks the one
// whose key verifies), or a VCEK matching the chip and TCB.
bool HasSigner(const snp::AttestationReport& report,
               const std::vector<crypto::Certificate>& available) {
  for (const crypto::Certificate& certificate : available) {
    if (report.signing_key == snp::SigningKey::kVlek) {
      const absl::StatusOr<snp::AmdCertificate> classified =
          snp::ClassifyAmdCertificate(certificate);
      if (classified.ok() && classified->kind == snp::AmdCertKind::kVlek) {
        return true;
      }
    } else if (MatchVcek(certificate, report).ok()) {
      return true;
    }
  }
  return false;
}

std::string ChainFileName(std::string_view product) {
  return fmt::format("chain-{}.pem", product);
}

}  // namespace

VcekProvider::VcekProvider(VcekProviderOptions options) : options_(std::move(options)) {
  if (options_.kds.has_value()) {
    kds_.emplace(*options_.kds);
  }
}

std::string VcekProvider::CacheFileName(std::string_view product,
                                        const snp::AttestationReport& report) {
  const snp::TcbVersion& tcb = report.reported_tcb;
  std::string fmc;
  if (report.is_turin()) {
    fmc = fmt::format("-fmc{}", tcb.fmc);
  }
  return fmt::format("vcek-{}-{}{}-bl{}-tee{}-snp{}-ucode{}.der", product,
                     HexEncode(report.hardware_id()), fmc, tcb.boot_loader, tcb.tee, tcb.snp,
                     tcb.microcode);
}

absl::StatusOr<std::vector<crypto::Certificate>> VcekProvider::FindCertificates(
    ByteSpan report_bytes, const std::vector<crypto::Certificate>& available,
    const snp::VerifyOptions& options) const {
  const absl::StatusOr<snp::AttestationReport> report = snp::ParseReport(report_bytes);
  if (!report.ok() || report->signing_key == snp::SigningKey::kNone ||
      HasSigner(*report, available)) {
    return std::vector<crypto::Certificate>{};
  }
  if (report->signing_key == snp::SigningKey::kVlek) {
    return FailedPreconditionf(
        "snp: the report is signed by a VLEK (SIGNING_KEY 1) and no VLEK came with it; send the "
        "VLEK and its ASVK and ARK with the evidence (vouch looks up only VCEKs, never VLEKs)");
  }
  if (ChipIdMasked(*report)) {
    return FailedPreconditionf(
        "snp: the report's chip id is masked (MASK_CHIP_ID {}), so its VCEK cannot be looked "
        "up; send the VCEK with the evidence",
        report->mask_chip_key ? "set" : "clear, CHIP_ID all zeros");
  }
  VOUCH_ASSIGN_OR_RETURN(const std::string product,
                         KdsProductForReport(*report, options_.product));

  absl::StatusOr<std::vector<crypto::Certificate>> cached = FromCache(product, *report);
  if (cached.ok() || cached.status().code() != absl::StatusCode::kNotFound) {
    return cached;
  }
  if (!kds_.has_value()) {
    return NotFoundf(
        "snp: no VCEK for product {}, {} in the request, the collateral folder or the cache, and "
        "no KDS URL is set (--kds-url); send the VCEK with the evidence or set a KDS URL",
        product, DescribeVcekKey(*report));
  }
  return FromKds(product, *report, available, options);
}

absl::StatusOr<std::vector<crypto::Certificate>> VcekProvider::FromCache(
    const std::string& product, const snp::AttestationReport& report) const {
  if (options_.cache_dir.empty()) {
    return NotFoundf("no cache folder");
  }
  const std::filesystem::path dir = std::filesystem::path(options_.cache_dir) / kAmdSubfolder;
  const std::filesystem::path vcek_path = dir / CacheFileName(product, report);
  const std::filesystem::path chain_path = dir / ChainFileName(product);
  std::error_code error;
  if (!std::filesystem::exists(vcek_path, error) || !std::filesystem::exists(chain_path, error)) {
    return NotFoundf("no cached VCEK {}", vcek_path.string());
  }

  // A cached file that fails to read or match is replaced by a fresh fetch
  // instead of failing every later request for this chip.
  absl::StatusOr<Bytes> der = ReadFile(vcek_path.string(), kMaxCacheFileBytes);
  absl::StatusOr<crypto::Certificate> vcek =
      der.ok() ? crypto::Certificate::FromDer(*der) : absl::StatusOr<crypto::Certificate>(der.status());
  absl::Status matched = vcek.ok() ? MatchVcek(*vcek, report) : vcek.status();
  absl::StatusOr<Bytes> pem = ReadFile(chain_path.string(), kMaxCacheFileBytes);
  absl::StatusOr<std::vector<crypto::Certificate>> chain =
      pem.ok() ? crypto::ParseCertificates(*pem)
               : absl::StatusOr<std::vector<crypto::Certificate>>(pem.status());
  if (!matched.ok() || !chain.ok()) {
    const absl::Status& fault = matched.ok() ? chain.status() : matched;
    spdlog::warn("vcek cache: ignoring {} or {}: {}", vcek_path.string(), chain_path.string(),
                 fault.message());
    return NotFoundf("cached VCEK {} is unusable", vcek_path.string());
  }

  std::vector<crypto::Certificate> out;
  out.push_back(*std::move(vcek));
  out.insert(out.end(), chain->begin(), chain->end());
  return out;
}

absl::StatusOr<std::vector<crypto::Certificate>> VcekProvider::FromKds(
    const std::string& product, const snp::AttestationReport& report,
    const std::vector<crypto::Certificate>& available, const snp::VerifyOptions& options) const {
  VOUCH_ASSIGN_OR_RETURN(crypto::Certificate vcek, kds_->FetchVcek(product, report));
  if (const absl::Status matched = MatchVcek(vcek, report); !matched.ok()) {
    return Unauthenticatedf("kds: the VCEK returned for product {}, {} is rejected and not "
                            "cached: {}",
                            product, DescribeVcekKey(report), matched.message());
  }

  // The chain comes from the cache when an earlier fetch stored it.
  std::vector<crypto::Certificate> chain;
  bool chain_fetched = false;
  if (!options_.cache_dir.empty()) {
    const std::filesystem::path chain_path =
        std::filesystem::path(options_.cache_dir) / kAmdSubfolder / ChainFileName(product);
    std::error_code error;
    if (std::filesystem::exists(chain_path, error)) {
      absl::StatusOr<Bytes> pem = ReadFile(chain_path.string(), kMaxCacheFileBytes);
      absl::StatusOr<std::vector<crypto::Certificate>> cached =
          pem.ok() ? crypto::ParseCertificates(*pem)
                   : absl::StatusOr<std::vector<crypto::Certificate>>(pem.status());
      if (cached.ok()) {
        chain = *std::move(cached);
      } else {
        spdlog::warn("vcek cache: ignoring {}: {}", chain_path.string(), cached.status().message());
      }
    }
  }
  if (chain.empty()) {
    VOUCH_ASSIGN_OR_RETURN(chain, kds_->FetchCertChain(product));
    chain_fetched = true;
  }

  std::vector<crypto::Certificate> pool = chain;
  pool.insert(pool.end(), available.begin(), available.end());
  const absl::StatusOr<snp::VerifiedChain> verified =
      snp::VerifyEndorsementChain(vcek, pool, options);
  if (!verified.ok()) {
    return Unauthenticatedf("kds: the VCEK returned for product {}, {} is rejected and not "
                            "cached: {}",
                            product, DescribeVcekKey(report), verified.status().message());
  }
  spdlog::info("kds: fetched the VCEK for product {}, {}", product, DescribeVcekKey(report));

  if (!options_.cache_dir.empty()) {
    // A failed cache write costs a later fetch, not this verification.
    absl::Status stored = StoreInCache(CacheFileName(product, report), {vcek}, /*der=*/true);
    if (stored.ok() && chain_fetched) {
      stored = StoreInCache(ChainFileName(product), chain, /*der=*/false);
    }
    if (!stored.ok()) {
      spdlog::warn("vcek cache {}: {}", options_.cache_dir, stored.message());
    }
  }

  std::vector<crypto::Certificate> out;
  out.push_back(std::move(vcek));
  out.insert(out.end(), chain.begin(), chain.end());
  return out;
}

absl::Status VcekProvider::StoreInCache(const std::string& file_name,
                                        const std::vector<crypto::Certificate>& certificates,
                                        bool der) const {
  const std::filesystem::path dir = std::filesystem::path(options_.cache_dir) / kAmdSubfolder;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Unavailablef("create {}: {}", dir.string(), error.message());
  }
  std::string data;
  for (const crypto::Certificate& certificate : certificates) {
    data += der ? ToString(certificate.Der()) : certificate.Pem();
  }
  return WriteFileAtomic((dir / file_name).string(), AsBytes(data));
}

}  // namespace vouch::collateral
