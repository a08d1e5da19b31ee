#include "vouch/agent/sev_guest.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "vouch/agent/root_path.h"
#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"
#include "vouch/snp/cert_table.h"

namespace vouch::agent {
namespace {

// Linux's sev-guest driver: VMM error codes in exitinfo2 bits 63:32.
constexpr uint32_t kVmmErrInvalidLen = SNP_GUEST_VMM_ERR_INVALID_LEN;
constexpr uint32_t kVmmErrBusy = SNP_GUEST_VMM_ERR_BUSY;

constexpr const char* kFirmwareStatusNames[] = {
    "SUCCESS",          "INVALID_PLATFORM_STATE", "INVALID_GUEST_STATE", "INVALID_CONFIG",
    "INVALID_LEN",      "ALREADY_OWNED",          "INVALID_CERTIFICATE", "POLICY_FAILURE",
    "INACTIVE",         "INVALID_ADDRESS",        "BAD_SIGNATURE",       "BAD_MEASUREMENT",
    "ASID_OWNED",       "INVALID_ASID",           "WBINVD_REQUIRED",     "DFFLUSH_REQUIRED",
    "INVALID_GUEST",    "INVALID_COMMAND",        "ACTIVE",              "HWERROR_PLATFORM",
    "HWERROR_UNSAFE",   "UNSUPPORTED",            "INVALID_PARAM",       "RESOURCE_LIMIT",
    "SECURE_DATA_INVALID",
};
static_assert(std::size(kFirmwareStatusNames) == SEV_RET_MAX, "one name per psp-sev.h code");

uint64_t AddressOf(void* p) { return reinterpret_cast<uintptr_t>(p); }

std::string FirmwareHint(uint32_t fw_error) {
  switch (fw_error) {
    case SEV_RET_INVALID_PARAM:
      return "; check the requested VMPL (--vmpl) against the VMPL this guest runs at";
    case SEV_RET_RESOURCE_LIMIT:
      return "; the firmware is rate-limiting requests, retry later";
    default:
      return "";
  }
}

}  // namespace

snp_report_req MakeSnpReportRequest(ByteSpan report_data, uint32_t vmpl) {
  snp_report_req request{};
  std::memcpy(request.user_data, report_data.data(),
              std::min(report_data.size(), sizeof(request.user_data)));
  request.vmpl = vmpl;
  return request;
}

std::string SnpFirmwareStatusName(uint32_t status) {
  if (status < std::size(kFirmwareStatusNames)) {
    return kFirmwareStatusNames[status];
  }
  return fmt::format("status 0x{:x}", status);
}

std::string DescribeSnpGuestError(int neg_errno, uint64_t exitinfo2) {
  const auto fw_error = static_cast<uint32_t>(exitinfo2 & 0xFFFFFFFFu);
  const auto vmm_error = static_cast<uint32_t>(exitinfo2 >> 32);
  std::string message = fmt::format("ioctl failed: {}", std::strerror(-neg_errno));
  if (vmm_error == kVmmErrInvalidLen) {
    message += "; the hypervisor reported the certificate buffer as too small";
  } else if (vmm_error == kVmmErrBusy) {
    message += "; the hypervisor is busy with another guest request, retry later";
  } else if (vmm_error != 0) {
    message += fmt::format("; hypervisor error {}", vmm_error);
  }
  if (fw_error != 0 && fw_error != 0xFFFFFFFFu) {
    message += fmt::format("; firmware error {} ({}){}", SnpFirmwareStatusName(fw_error),
                           fw_error, FirmwareHint(fw_error));
  }
  if (neg_errno == -ENOTTY || neg_errno == -EINVAL) {
    message += "; the kernel's sev-guest driver does not support this request";
  }
  return message;
}

absl::StatusOr<std::vector<crypto::Certificate>> SnpCertificatesFromTable(
    ByteSpan table, snp::SigningKey signing_key) {
  VOUCH_ASSIGN_OR_RETURN(const std::vector<snp::CertTableEntry> entries,
                         snp::ParseCertTable(table));
  const snp::CertTableEntryKind leaf_kind = signing_key == snp::SigningKey::kVlek
                                                ? snp::CertTableEntryKind::kVlek
                                                : snp::CertTableEntryKind::kVcek;
  std::vector<crypto::Certificate> chain;
  for (const snp::CertTableEntryKind kind :
       {leaf_kind, snp::CertTableEntryKind::kAsk, snp::CertTableEntryKind::kArk}) {
    for (const snp::CertTableEntry& entry : entries) {
      if (entry.kind != kind) {
        continue;
      }
      absl::StatusOr<crypto::Certificate> certificate = crypto::Certificate::FromDer(entry.data);
      if (!certificate.ok()) {
        return Prefix(fmt::format("snp certificate table: {} entry",
                                  snp::CertTableEntryKindName(kind)),
                      certificate.status());
      }
      chain.push_back(*std::move(certificate));
    }
  }
  return chain;
}

SevGuestPlatform::SevGuestPlatform(std::unique_ptr<IoctlDevice> device, uint32_t vmpl)
    : device_(std::move(device)), vmpl_(vmpl) {}

absl::StatusOr<Bytes> SevGuestPlatform::ReportFromResponse(const snp_report_resp& response,
                                                           ByteSpan report_data) const {
  ByteReader in(ByteSpan(response.data, sizeof(response.data)), "sev-guest MSG_REPORT_RSP");
  VOUCH_ASSIGN_OR_RETURN(const uint32_t status, in.U32Le("status"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t report_size, in.U32Le("report_size"));
  if (status != 0) {
    return Unavailablef("sev-guest: {}: firmware status {} ({})", device_->Path(),
                        SnpFirmwareStatusName(status), status);
  }
  if (report_size != snp::kReportSize) {
    return InvalidArgumentf("sev-guest: {}: report_size {}, want {}", device_->Path(),
                            report_size, snp::kReportSize);
  }
  VOUCH_RETURN_IF_ERROR(in.Skip(kSnpReportRspReport - in.offset(), "reserved"));
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan raw, in.Span(report_size, "report"));

  absl::StatusOr<snp::AttestationReport> report = snp::ParseReport(raw);
  if (!report.ok()) {
    return Prefix(fmt::format("sev-guest: {}", device_->Path()), report.status());
  }
  if (!std::equal(report_data.begin(), report_data.end(), report->report_data.begin())) {
    return InvalidArgumentf("sev-guest: {}: the report's REPORT_DATA differs from the request",
                            device_->Path());
  }
  if (report->vmpl != vmpl_) {
    return InvalidArgumentf("sev-guest: {}: report VMPL {}, requested {}", device_->Path(),
                            report->vmpl, vmpl_);
  }
  return Bytes(raw.begin(), raw.end());
}

absl::StatusOr<SnpReportResult> SevGuestPlatform::GetExtendedReport(ByteSpan report_data) {
  Bytes certs(kSnpFirstCertsBytes, 0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    snp_ext_report_req request{};
    request.data = MakeSnpReportRequest(report_data, vmpl_);
    request.certs_address = AddressOf(certs.data());
    request.certs_len = static_cast<uint32_t>(certs.size());
    snp_report_resp response{};
    snp_guest_request_ioctl io{};
    io.msg_version = kSnpMsgVersion;
    io.req_data = AddressOf(&request);
    io.resp_data = AddressOf(&response);

    const int r = device_->Ioctl(SNP_GET_EXT_REPORT, &io);
    const auto vmm_error = static_cast<uint32_t>(io.exitinfo2 >> 32);
    const bool too_small = r == -ENOSPC || (r < 0 && vmm_error == kVmmErrInvalidLen);
    if (too_small && attempt == 0 && request.certs_len > certs.size() &&
        request.certs_len <= snp::kMaxCertTableBytes) {
      certs.assign(request.certs_len, 0);  // The kernel wrote back the size it needs.
      continue;
    }
    if (r < 0) {
      return Unavailablef("sev-guest: {}: SNP_GET_EXT_REPORT: {}", device_->Path(),
                          DescribeSnpGuestError(r, io.exitinfo2));
    }
    SnpReportResult result;
    VOUCH_ASSIGN_OR_RETURN(result.report, ReportFromResponse(response, report_data));
    if (request.certs_len != 0 && !IsAllZero(ByteSpan(certs).first(
                                      std::min<size_t>(certs.size(), snp::kCertTableEntryBytes)))) {
      result.cert_table = std::move(certs);
    }
    return result;
  }
  return Unavailablef(
      "sev-guest: {}: SNP_GET_EXT_REPORT: the certificate buffer was still too small after "
      "a retry",
      device_->Path());
}

absl::StatusOr<SnpReportResult> SevGuestPlatform::GetReport(ByteSpan report_data, bool extended) {
  if (report_data.size() != kReportDataBytes) {
    return InvalidArgumentf("sev-guest: report data of {} bytes, want {}", report_data.size(),
                            kReportDataBytes);
  }
  if (extended) {
    return GetExtendedReport(report_data);
  }
  snp_report_req request = MakeSnpReportRequest(report_data, vmpl_);
  snp_report_resp response{};
  snp_guest_request_ioctl io{};
  io.msg_version = kSnpMsgVersion;
  io.req_data = AddressOf(&request);
  io.resp_data = AddressOf(&response);
  if (const int r = device_->Ioctl(SNP_GET_REPORT, &io); r < 0) {
    return Unavailablef("sev-guest: {}: SNP_GET_REPORT: {}", device_->Path(),
                        DescribeSnpGuestError(r, io.exitinfo2));
  }
  SnpReportResult result;
  VOUCH_ASSIGN_OR_RETURN(result.report, ReportFromResponse(response, report_data));
  return result;
}

absl::StatusOr<Evidence> SevGuestPlatform::GetEvidence(ByteSpan report_data) {
  VOUCH_ASSIGN_OR_RETURN(SnpReportResult result, GetReport(report_data, /*extended=*/true));
  VOUCH_ASSIGN_OR_RETURN(const snp::AttestationReport report, snp::ParseReport(result.report));
  Evidence evidence;
  evidence.kind = "snp";
  VOUCH_ASSIGN_OR_RETURN(evidence.certificates,
                         SnpCertificatesFromTable(result.cert_table, report.signing_key));
  evidence.report = std::move(result.report);
  return evidence;
}

absl::StatusOr<std::unique_ptr<Platform>> OpenSevGuest(const PlatformOptions& options) {
  absl::StatusOr<std::unique_ptr<IoctlDevice>> device =
      OpenIoctlDevice(UnderRoot(options.root, kSevGuestDevice));
  if (!device.ok()) {
    return Prefix("sev-guest", device.status());
  }
  return std::make_unique<SevGuestPlatform>(*std::move(device), options.vmpl);
}

}  // namespace vouch::agent
