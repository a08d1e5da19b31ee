// vouch collateral: manage the local cache of Intel SGX/TDX collateral.
//
//   vouch collateral import DIR... [--cache DIR]
//     Loads folders of PCS-format files (TCB info, QE identity, CRLs,
//     certificates; file names do not matter), verifies every signature up
//     to the pinned Intel SGX Root CA, and stores them in the cache. This is
//     the air-gapped path: nothing is fetched.
//   vouch collateral show [--cache DIR] [--at TIME]
//     Lists the cached documents with their issue and next-update dates.
//
// Exit status: 0 on success, 1 when a document does not verify, 2 for usage
// and I/O errors.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/cli/command.h"
#include "vouch/collateral/cache.h"
#include "vouch/dcap/collateral_set.h"
#include "vouch/dcap/tcb_info.h"

namespace vouch::cli {
namespace {

constexpr char kDefaultCacheDir[] = "/var/cache/vouch/collateral";

struct CollateralFlags {
  std::vector<std::string> import_dirs;
  std::string cache_dir = kDefaultCacheDir;
  std::string at;
};

void PrintError(std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "vouch collateral: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               std::string(status.message()).c_str());
}

int RunImport(const CollateralFlags& flags) {
  dcap::CollateralSet set;
  for (const std::string& dir : flags.import_dirs) {
    if (absl::Status loaded = set.AddDirectory(dir); !loaded.ok()) {
      PrintError("import", loaded);
      return kExitUsage;
    }
  }
  if (set.empty()) {
    std::fprintf(stderr, "vouch collateral: import: no TCB info, QE identity or CRL found\n");
    return kExitUsage;
  }
  if (absl::Status verified = dcap::VerifySignedCollateral(set, {dcap::IntelRootSpkiSha256()});
      !verified.ok()) {
    PrintError("import rejected", verified);
    return kExitRejected;
  }
  const collateral::CollateralCache cache(flags.cache_dir);
  if (absl::Status stored = cache.StoreSet(set); !stored.ok()) {
    PrintError("import", stored);
    return kExitUsage;
  }
  std::printf("imported into %s: %zu tcb info, %zu qe identity, %zu crl, %zu certificates\n",
              flags.cache_dir.c_str(), set.tcb_infos().size(), set.qe_identities().size(),
              set.crls().size(), set.certificates().size());
  for (const std::string& ignored : set.ignored()) {
    std::printf("ignored %s\n", ignored.c_str());
  }
  return kExitOk;
}

std::string Window(absl::Time issue, absl::Time next, absl::Time now) {
  const char* state = now > next ? "expired" : (now < issue ? "not yet valid" : "valid");
  return fmt::format("issued {}, next update {} ({})", FormatRfc3339(issue), FormatRfc3339(next),
                     state);
}

int RunShow(const CollateralFlags& flags) {
  absl::Time now = absl::Now();
  if (!flags.at.empty()) {
    absl::StatusOr<absl::Time> at = ParseRfc3339(flags.at);
    if (!at.ok()) {
      PrintError("--at", at.status());
      return kExitUsage;
    }
    now = *at;
  }
  const collateral::CollateralCache cache(flags.cache_dir);
  absl::StatusOr<dcap::CollateralSet> set = cache.Load();
  if (!set.ok()) {
    PrintError("show", set.status());
    return kExitUsage;
  }
  std::printf("collateral cache %s\n", flags.cache_dir.c_str());
  for (const dcap::TcbInfoEntry& entry : set->tcb_infos()) {
    const dcap::TcbInfo& info = entry.parsed;
    std::printf("%s, evaluation data number %u: %s\n", info.Describe().c_str(),
                info.tcb_evaluation_data_number,
                Window(info.issue_date, info.next_update, now).c_str());
  }
  for (const dcap::QeIdentityEntry& entry : set->qe_identities()) {
    const dcap::QeIdentity& identity = entry.parsed;
    std::printf("%s, evaluation data number %u: %s\n", identity.Describe().c_str(),
                identity.tcb_evaluation_data_number,
                Window(identity.issue_date, identity.next_update, now).c_str());
  }
  for (const dcap::CrlEntry& entry : set->crls()) {
    std::printf("crl of %s, %zu revoked: %s\n", entry.parsed.IssuerCommonName().c_str(),
                entry.parsed.NumRevoked(),
                Window(entry.parsed.ThisUpdate(), entry.parsed.NextUpdate(), now).c_str());
  }
  for (const crypto::Certificate& cert : set->certificates()) {
    std::printf("certificate %s, valid %s to %s\n", cert.SubjectCommonName().c_str(),
                FormatRfc3339(cert.NotBefore()).c_str(), FormatRfc3339(cert.NotAfter()).c_str());
  }
  return kExitOk;
}

}  // namespace

Runner SetupCollateral(CLI::App& sub) {
  auto flags = std::make_shared<CollateralFlags>();
  sub.require_subcommand(1);
  CLI::App* import = sub.add_subcommand(
      "import", "Verify folders of Intel PCS collateral files and store them in the cache");
  import->add_option("DIR", flags->import_dirs,
                     "Folder with TCB info, QE identity, CRL and certificate files in PCS "
                     "format, found by content; repeatable")
      ->required();
  import->add_option("--cache", flags->cache_dir,
                     "Collateral cache folder (default: /var/cache/vouch/collateral)");
  CLI::App* show = sub.add_subcommand("show", "List the cached collateral and its dates");
  show->add_option("--cache", flags->cache_dir,
                   "Collateral cache folder (default: /var/cache/vouch/collateral)");
  show->add_option("--at", flags->at,
                   "Time for the valid/expired column, RFC 3339 (default: now)");
  return [flags, import] { return import->parsed() ? RunImport(*flags) : RunShow(*flags); };
}

}  // namespace vouch::cli
