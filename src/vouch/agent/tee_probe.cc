#include "vouch/agent/tee_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "vouch/agent/root_path.h"
#include "vouch/agent/tee_probe_internal.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

// CPUID leaves (AMD64 Architecture Programmer's Manual, volume 3, appendix
// E; Intel TDX Module specification, "CPUID Virtualization").
constexpr uint32_t kLeafVendor = 0x0;
constexpr uint32_t kLeafFeatures = 0x1;
constexpr uint32_t kLeafTdx = 0x21;
constexpr uint32_t kLeafHypervisor = 0x40000000;
constexpr uint32_t kLeafMaxExtended = 0x80000000;
constexpr uint32_t kLeafAmdMemoryEncryption = 0x8000001F;
constexpr uint32_t kHypervisorPresentBit = 1u << 31;  // Leaf 1, ECX.

constexpr size_t kMaxKernelLogBytes = 8 << 20;

class X86Cpuid final : public CpuidSource {
 public:
  std::optional<CpuidRegisters> Query(uint32_t leaf, uint32_t subleaf) const override {
#if defined(__x86_64__) || defined(__i386__)
    CpuidRegisters r;
    __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
    return r;
#else
    (void)leaf;
    (void)subleaf;
    return std::nullopt;
#endif
  }
};

std::string RegistersText(std::initializer_list<uint32_t> registers) {
  std::string text;
  for (const uint32_t r : registers) {
    for (int i = 0; i < 4; ++i) {
      text.push_back(static_cast<char>((r >> (8 * i)) & 0xFF));
    }
  }
  return text;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::unique_ptr<CpuidSource> HostCpuid() { return std::make_unique<X86Cpuid>(); }

std::string_view CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk:
      return "OK";
    case CheckStatus::kWarn:
      return "WARN";
    case CheckStatus::kFail:
      return "FAIL";
  }
  return "FAIL";
}

std::string_view TeeTypeName(TeeType tee) {
  switch (tee) {
    case TeeType::kNone:
      return "none";
    case TeeType::kSev:
      return "sev";
    case TeeType::kSevEs:
      return "sev-es";
    case TeeType::kSevSnp:
      return "sev-snp";
    case TeeType::kTdx:
      return "tdx";
  }
  return "none";
}

namespace internal {

void ReadCpuid(const CpuidSource& cpuid, Signals& signals) {
  const std::optional<CpuidRegisters> vendor = cpuid.Query(kLeafVendor, 0);
  if (!vendor) {
    return;
  }
  signals.cpuid_read = true;
  signals.cpu_vendor = RegistersText({vendor->ebx, vendor->edx, vendor->ecx});
  if (const auto features = cpuid.Query(kLeafFeatures, 0); features) {
    signals.hypervisor = (features->ecx & kHypervisorPresentBit) != 0;
  }
  if (signals.hypervisor) {
    if (const auto hv = cpuid.Query(kLeafHypervisor, 0); hv) {
      signals.hypervisor_vendor = RegistersText({hv->ebx, hv->ecx, hv->edx});
      while (!signals.hypervisor_vendor.empty() && signals.hypervisor_vendor.back() == '\0') {
        signals.hypervisor_vendor.pop_back();
      }
    }
  }
  // Intel: leaf 0x21 subleaf 0 returns "IntelTDX    " in EBX, EDX, ECX
  // inside a TD (Linux arch/x86/coco/tdx/tdx.c reads it in this order).
  if (vendor->eax >= kLeafTdx) {
    if (const auto tdx = cpuid.Query(kLeafTdx, 0); tdx) {
      signals.cpuid_tdx = RegistersText({tdx->ebx, tdx->edx, tdx->ecx}) == "IntelTDX    ";
    }
  }
  // AMD: leaf 0x8000001F EAX bit 1 SEV, bit 3 SEV-ES, bit 4 SEV-SNP.
  const auto max_extended = cpuid.Query(kLeafMaxExtended, 0);
  if (max_extended && max_extended->eax >= kLeafAmdMemoryEncryption) {
    if (const auto mem = cpuid.Query(kLeafAmdMemoryEncryption, 0); mem) {
      signals.cpuid_sev = (mem->eax & (1u << 1)) != 0;
      signals.cpuid_sev_es = (mem->eax & (1u << 3)) != 0;
      signals.cpuid_snp = (mem->eax & (1u << 4)) != 0;
    }
  }
}

void ReadCpuinfoFlags(const std::string& root, Signals& signals) {
  absl::StatusOr<Bytes> cpuinfo = ReadFile(UnderRoot(root, "proc/cpuinfo"), 16 << 20);
  if (!cpuinfo.ok()) {
    return;
  }
  signals.cpuinfo_read = true;
  for (const absl::string_view line : absl::StrSplit(ToString(*cpuinfo), '\n')) {
    if (!absl::StartsWith(line, "flags")) {
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      continue;
    }
    for (const absl::string_view flag :
         absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipEmpty())) {
      signals.cpuinfo_flags.insert(std::string(flag));
    }
    return;  // The first CPU is enough.
  }
}

// ReadKernelLog reads <root>/dev/kmsg without blocking. On the real device
// each read returns one record "prio,seq,time,flags;message"; a plain file
// (in tests) returns lines. EAGAIN marks the end of the log.
void ReadKernelLog(const std::string& root, Signals& signals) {
  const std::string path = UnderRoot(root, "dev/kmsg");
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    signals.kernel_log_error = fmt::format("{}: {}", path, std::strerror(errno));
    return;
  }
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  std::string log;
  char buffer[8192];
  while (log.size() < kMaxKernelLogBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EPIPE)) {
      continue;  // EPIPE: a record was overwritten while reading.
    }
    if (n <= 0) {
      break;
    }
    log.append(buffer, static_cast<size_t>(n));
    if (log.back() != '\n') {
      log.push_back('\n');
    }
  }
  signals.kernel_log_read = true;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (const size_t semicolon = line.find(';'); semicolon != absl::string_view::npos) {
      line = line.substr(semicolon + 1);
    }
    if (line.find("Memory Encryption Features active:") != absl::string_view::npos) {
      signals.kernel_memory_encryption = std::string(line);
    }
    if (line.find("tdx: Guest detected") != absl::string_view::npos) {
      signals.kernel_tdx = true;
    }
    if (line.find("SEV: Status:") != absl::string_view::npos ||
        line.find("Memory Encryption Features active: AMD") != absl::string_view::npos) {
      signals.kernel_sev_status = std::string(line);
    }
  }
}

void ReadInterfaces(const std::string& root, Signals& signals) {
  signals.has_configfs_tsm = Exists(UnderRoot(root, "sys/kernel/config/tsm/report"));
  signals.has_sev_guest = Exists(UnderRoot(root, "dev/sev-guest"));
  signals.has_tdx_guest = Exists(UnderRoot(root, "dev/tdx_guest"));
  signals.has_ccel = Exists(UnderRoot(root, "sys/firmware/acpi/tables/CCEL"));
  signals.has_tpm = Exists(UnderRoot(root, "dev/tpmrm0"));
}

TeeType DecideTee(const Signals& signals) {
  // The feature list follows the last colon: "SEV: Status: SEV SEV-ES".
  const size_t colon = signals.kernel_sev_status.rfind(':');
  const std::string sev =
      colon == std::string::npos ? "" : signals.kernel_sev_status.substr(colon + 1);
  if (signals.cpuid_tdx || signals.kernel_tdx || signals.cpuinfo_flags.contains("tdx_guest") ||
      signals.has_tdx_guest) {
    return TeeType::kTdx;
  }
  // The sev-guest driver binds only in an SEV-SNP guest.
  if (sev.find("SEV-SNP") != std::string::npos || signals.has_sev_guest) {
    return TeeType::kSevSnp;
  }
  if (sev.find("SEV-ES") != std::string::npos) {
    return TeeType::kSevEs;
  }
  if (sev.find("SEV") != std::string::npos) {
    return TeeType::kSev;
  }
  return TeeType::kNone;
}

}  // namespace internal
}  // namespace vouch::agent
