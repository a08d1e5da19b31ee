#include "vouch/agent/configfs_tsm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "vouch/agent/root_path.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/random.h"
#include "vouch/snp/report.h"
#include "vouch/agent/sev_guest.h"

namespace vouch::agent {
namespace {

constexpr size_t kMaxSmallAttributeBytes = 4096;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status WriteAttribute(const std::string& path, ByteSpan data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailablef("configfs-tsm: open {} for writing: {}", path, std::strerror(errno));
  }
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Unavailablef("configfs-tsm: write {}: {}", path,
                          n < 0 ? std::strerror(errno) : "no progress");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> ReadAttribute(const std::string& path, size_t max_bytes) {
  absl::StatusOr<Bytes> bytes = ReadFile(path, max_bytes);
  if (!bytes.ok()) {
    return Unavailablef("configfs-tsm: {}", bytes.status().message());
  }
  return bytes;
}

absl::StatusOr<uint64_t> ReadGeneration(const std::string& entry) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes raw,
                         ReadAttribute(entry + "/generation", kMaxSmallAttributeBytes));
  const std::string text(absl::StripAsciiWhitespace(ToString(raw)));
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgumentf("configfs-tsm: {}/generation: \"{}\" is not a number", entry, text);
  }
  return value;
}

std::string NewEntryPath(const std::string& report_dir) {
  return fmt::format("{}/vouch-{}-{}", report_dir, ::getpid(),
                     HexEncode(crypto::RandomBytes(8)));
}

}  // namespace

ConfigfsTsmPlatform::ConfigfsTsmPlatform(std::string report_dir, uint32_t privlevel,
                                         TsmKernelHookForTest kernel_hook)
    : report_dir_(std::move(report_dir)),
      privlevel_(privlevel),
      kernel_hook_(std::move(kernel_hook)) {}

absl::StatusOr<TsmReport> ConfigfsTsmPlatform::TryOnce(ByteSpan report_data, bool& interfered) {
  interfered = false;
  const std::string entry = NewEntryPath(report_dir_);
  if (::mkdir(entry.c_str(), 0700) != 0) {
    return Unavailablef("configfs-tsm: mkdir {}: {}", entry, std::strerror(errno));
  }
  absl::Cleanup remove_entry = [&entry] { ::rmdir(entry.c_str()); };
  if (kernel_hook_) {
    kernel_hook_(entry, TsmStage::kCreated);
  }

  VOUCH_ASSIGN_OR_RETURN(const uint64_t generation_before, ReadGeneration(entry));
  uint64_t writes = 0;
  VOUCH_RETURN_IF_ERROR(WriteAttribute(entry + "/inblob", report_data));
  ++writes;
  if (Exists(entry + "/privlevel")) {
    VOUCH_RETURN_IF_ERROR(WriteAttribute(entry + "/privlevel", AsBytes(std::to_string(privlevel_))));
    ++writes;
  }
  if (kernel_hook_) {
    kernel_hook_(entry, TsmStage::kWritten);
  }

  TsmReport report;
  VOUCH_ASSIGN_OR_RETURN(report.outblob,
                         ReadAttribute(entry + "/outblob", kConfigfsTsmMaxBlobBytes));
  if (Exists(entry + "/auxblob")) {
    VOUCH_ASSIGN_OR_RETURN(report.auxblob,
                           ReadAttribute(entry + "/auxblob", kConfigfsTsmMaxBlobBytes));
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes provider,
                         ReadAttribute(entry + "/provider", kMaxSmallAttributeBytes));
  report.provider = std::string(absl::StripAsciiWhitespace(ToString(provider)));

  VOUCH_ASSIGN_OR_RETURN(const uint64_t generation_after, ReadGeneration(entry));
  if (generation_after != generation_before + writes) {
    interfered = true;
    return Unavailablef(
        "configfs-tsm: {}: generation went from {} to {} across {} writes; another process "
        "wrote to the entry",
        entry, generation_before, generation_after, writes);
  }
  if (report.outblob.empty()) {
    return Unavailablef("configfs-tsm: {}/outblob is empty", entry);
  }
  return report;
}

absl::StatusOr<TsmReport> ConfigfsTsmPlatform::GetReport(ByteSpan report_data) {
  if (report_data.size() != kReportDataBytes) {
    return InvalidArgumentf("configfs-tsm: report data of {} bytes, want {}", report_data.size(),
                            kReportDataBytes);
  }
  absl::Status last;
  for (int attempt = 0; attempt < kConfigfsTsmAttempts; ++attempt) {
    bool interfered = false;
    absl::StatusOr<TsmReport> report = TryOnce(report_data, interfered);
    if (report.ok() || !interfered) {
      return report;
    }
    last = report.status();
  }
  return Unavailablef("{} (gave up after {} attempts)", last.message(), kConfigfsTsmAttempts);
}

absl::StatusOr<Evidence> ConfigfsTsmPlatform::GetEvidence(ByteSpan report_data) {
  VOUCH_ASSIGN_OR_RETURN(TsmReport tsm, GetReport(report_data));
  Evidence evidence;
  if (tsm.provider == "sev_guest") {
    absl::StatusOr<snp::AttestationReport> report = snp::ParseReport(tsm.outblob);
    if (!report.ok()) {
      return Prefix("configfs-tsm: outblob", report.status());
    }
    if (!std::equal(report_data.begin(), report_data.end(), report->report_data.begin())) {
      return InvalidArgumentf("configfs-tsm: the report's REPORT_DATA differs from the request");
    }
    evidence.kind = "snp";
    absl::StatusOr<std::vector<crypto::Certificate>> chain =
        SnpCertificatesFromTable(tsm.auxblob, report->signing_key);
    if (!chain.ok()) {
      return Prefix("configfs-tsm: auxblob", chain.status());
    }
    evidence.certificates = *std::move(chain);
    evidence.report = std::move(tsm.outblob);
    return evidence;
  }
  if (tsm.provider == "tdx_guest") {
    // The quote is checked by the server; dcap/quote.h parses it.
    evidence.kind = "tdx";
    evidence.report = std::move(tsm.outblob);
    return evidence;
  }
  return absl::UnimplementedError(
      fmt::format("configfs-tsm: provider \"{}\" is not supported; want sev_guest or tdx_guest",
                  tsm.provider));
}

absl::StatusOr<std::unique_ptr<Platform>> OpenConfigfsTsm(const PlatformOptions& options) {
  const std::string dir = UnderRoot(options.root, kConfigfsTsmReportDir);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return NotFoundf(
        "configfs-tsm: {} is missing; it needs Linux 6.7 or later and configfs mounted at "
        "/sys/kernel/config",
        dir);
  }
  return std::make_unique<ConfigfsTsmPlatform>(dir, options.vmpl);
}

}  // namespace vouch::agent
