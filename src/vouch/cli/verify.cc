// vouch verify: verify attestation evidence offline and print its claims.
//
// Exit status: 0 when the evidence verifies and passes the appraisal (claims
// on stdout), 1 when it is rejected (the failed check on stderr), 2 for
// usage and I/O errors, including evidence of an unknown format.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/byte_reader.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/cli/command.h"
#include "vouch/crypto/x509.h"
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
};

enum class EvidenceKind { kUnknown, kSevSnpReport };

// DetectEvidence recognizes a raw SEV-SNP attestation report by its length
// (1184 bytes) and a known version (2, 3 or 5) in its first four bytes.
EvidenceKind DetectEvidence(ByteSpan data) {
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

void PrintHuman(const snp::VerifiedReport& verified, const nlohmann::json& claims) {
  std::printf("verified: SEV-SNP attestation report version %u, %s, signed by a %s\n",
              verified.report.version, verified.product.c_str(),
              verified.signing_key == snp::VerifiedReport::kVcek ? "VCEK" : "VLEK");
  for (const auto& [name, value] : claims.items()) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    std::printf("%s: %s\n", name.c_str(), text.c_str());
  }
}

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

  absl::StatusOr<Bytes> evidence = ReadFile(flags.file, kMaxEvidenceBytes);
  if (!evidence.ok()) {
    PrintError("read evidence", evidence.status());
    return kExitUsage;
  }
  if (DetectEvidence(*evidence) != EvidenceKind::kSevSnpReport) {
    std::fprintf(stderr,
                 "vouch verify: %s: unknown evidence format (%zu bytes); vouch verifies raw "
                 "SEV-SNP attestation reports (1184 bytes, version 2, 3 or 5)\n",
                 flags.file.c_str(), evidence->size());
    return kExitUsage;
  }

  std::vector<std::string> collateral = flags.collateral;
  if (collateral.empty()) {
    const std::filesystem::path parent = std::filesystem::path(flags.file).parent_path();
    collateral.push_back(parent.empty() ? "." : parent.string());
  }
  absl::StatusOr<std::vector<crypto::Certificate>> certificates = LoadCollateral(collateral);
  if (!certificates.ok()) {
    PrintError("load collateral", certificates.status());
    return kExitUsage;
  }

  snp::VerifyOptions options;
  options.now = now;
  absl::StatusOr<snp::VerifiedReport> verified =
      snp::VerifyReport(*evidence, *certificates, options);
  if (!verified.ok()) {
    PrintError("rejected", verified.status());
    if (flags.collateral.empty()) {
      std::fprintf(stderr,
                   "vouch verify: the certificates came from %s, the folder of %s, because "
                   "--collateral is not set\n",
                   collateral.front().c_str(), flags.file.c_str());
    }
    return kExitRejected;
  }
  const absl::Status appraisal =
      snp::Appraise(*verified, {.allow_debug = flags.allow_debug, .max_vmpl = flags.max_vmpl});
  if (!appraisal.ok()) {
    PrintError("rejected after the signature and chain verified", appraisal);
    return kExitRejected;
  }

  const nlohmann::json claims = snp::SnpClaims(*verified);
  if (flags.json) {
    std::printf("%s\n", claims.dump(2).c_str());
  } else {
    PrintHuman(*verified, claims);
  }
  return kExitOk;
}

}  // namespace

Runner SetupVerify(CLI::App& sub) {
  auto flags = std::make_shared<VerifyFlags>();
  sub.add_option("--collateral", flags->collateral,
                 "Folder (or file) with the VCEK or VLEK and the AMD ASK/ASVK and ARK "
                 "certificates, PEM or DER, found by content; repeatable (default: the folder "
                 "holding FILE)");
  sub.add_option("--at", flags->at,
                 "Verification time, RFC 3339 such as 2025-06-01T00:00:00Z (default: now)");
  sub.add_flag("--json", flags->json, "Print the claims as one JSON object");
  sub.add_flag("--allow-debug", flags->allow_debug,
               "Accept a guest whose policy allows debugging (DEBUG, policy bit 19)");
  sub.add_option("--max-vmpl", flags->max_vmpl, "Highest VMPL accepted, 0 to 3 (default: 0)")
      ->check(CLI::Range(0, 3));
  sub.add_option("FILE", flags->file, "Evidence file: a raw SEV-SNP attestation report")
      ->required();
  return [flags] { return RunVerify(*flags); };
}

}  // namespace vouch::cli
