#include "vouch/snp/appraisal.h"

#include <charconv>
#include <set>

#include "absl/strings/str_split.h"
#include "vouch/base/status.h"

namespace vouch::snp {
namespace {

absl::StatusOr<uint8_t> ParseComponentValue(std::string_view name, std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 255) {
    return InvalidArgumentf("snp minimum TCB: {} value {:?} is not a number from 0 to 255", name,
                            text);
  }
  return static_cast<uint8_t>(value);
}

// CheckComponent returns PermissionDenied when `found` is below `minimum`.
absl::Status CheckComponent(std::string_view name, uint8_t found, uint8_t minimum) {
  if (found < minimum) {
    return PermissionDeniedf(
        "snp appraisal: reported TCB {} is {}, want at least {} (the minimum TCB setting)", name,
        found, minimum);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MinimumTcb> ParseMinimumTcb(std::string_view text) {
  MinimumTcb tcb;
  std::set<std::string> seen;
  for (const absl::string_view item : absl::StrSplit(AbslView(text), ',')) {
    const size_t equals = item.find('=');
    if (equals == absl::string_view::npos) {
      return InvalidArgumentf("snp minimum TCB: item {:?} is not name=value", StdView(item));
    }
    const std::string name(item.substr(0, equals));
    if (!seen.insert(name).second) {
      return InvalidArgumentf("snp minimum TCB: {} is given twice", name);
    }
    uint8_t* field = nullptr;
    if (name == "bootloader") {
      field = &tcb.boot_loader;
    } else if (name == "tee") {
      field = &tcb.tee;
    } else if (name == "snp") {
      field = &tcb.snp;
    } else if (name == "microcode") {
      field = &tcb.microcode;
    } else if (name == "fmc") {
      field = &tcb.fmc;
    } else {
      return InvalidArgumentf(
          "snp minimum TCB: unknown component {:?}, want bootloader, tee, snp, microcode or fmc",
          name);
    }
    VOUCH_ASSIGN_OR_RETURN(*field, ParseComponentValue(name, StdView(item.substr(equals + 1))));
  }
  return tcb;
}

std::string FormatMinimumTcb(const MinimumTcb& tcb) {
  return fmt::format("bootloader={},tee={},snp={},microcode={},fmc={}", tcb.boot_loader, tcb.tee,
                     tcb.snp, tcb.microcode, tcb.fmc);
}

absl::Status Appraise(const VerifiedReport& verified, const AppraisalPolicy& policy) {
  const AttestationReport& report = verified.report;
  if (report.debug_allowed() && !policy.allow_debug) {
    return PermissionDeniedf("snp appraisal: policy {:#x} has DEBUG (bit 19) set, want it clear: "
                             "the host can debug this guest (allow with --allow-debug)",
                             report.policy);
  }
  if (report.vmpl > policy.max_vmpl) {
    return PermissionDeniedf("snp appraisal: vmpl {}, want at most {} (allow with --max-vmpl {})",
                             report.vmpl, policy.max_vmpl, report.vmpl);
  }
  if (policy.min_reported_tcb.has_value()) {
    const MinimumTcb& minimum = *policy.min_reported_tcb;
    const TcbVersion& reported = report.reported_tcb;
    VOUCH_RETURN_IF_ERROR(CheckComponent("bootloader", reported.boot_loader, minimum.boot_loader));
    VOUCH_RETURN_IF_ERROR(CheckComponent("tee", reported.tee, minimum.tee));
    VOUCH_RETURN_IF_ERROR(CheckComponent("snp", reported.snp, minimum.snp));
    VOUCH_RETURN_IF_ERROR(CheckComponent("microcode", reported.microcode, minimum.microcode));
    if (report.is_turin()) {
      VOUCH_RETURN_IF_ERROR(CheckComponent("fmc", reported.fmc, minimum.fmc));
    }
  }
  return absl::OkStatus();
}

}  // namespace vouch::snp
