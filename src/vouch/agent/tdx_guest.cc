#include "vouch/agent/tdx_guest.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "vouch/agent/root_path.h"
#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

constexpr uint8_t kTdxReportType = 0x81;

template <size_t N>
absl::Status ReadArray(ByteReader& in, std::array<uint8_t, N>& out, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan bytes, in.Span(N, field));
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TdReport> ParseTdReport(ByteSpan tdreport) {
  if (tdreport.size() != kTdReportBytes) {
    return InvalidArgumentf("tdreport: {} bytes, want {}", tdreport.size(), kTdReportBytes);
  }
  TdReport report;
  ByteReader in(tdreport, "tdreport");
  // REPORTMACSTRUCT.
  VOUCH_ASSIGN_OR_RETURN(report.report_type, in.U8("reporttype.type"));
  VOUCH_ASSIGN_OR_RETURN(report.report_subtype, in.U8("reporttype.subtype"));
  VOUCH_ASSIGN_OR_RETURN(report.report_version, in.U8("reporttype.version"));
  if (report.report_type != kTdxReportType) {
    return InvalidArgumentf("tdreport: REPORTTYPE.TYPE 0x{:02x}, want 0x{:02x} (TDX)",
                            report.report_type, kTdxReportType);
  }
  VOUCH_RETURN_IF_ERROR(in.Skip(13, "reporttype.reserved, reserved"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, report.cpu_svn, "cpusvn"));
  VOUCH_RETURN_IF_ERROR(in.Skip(96, "tee_tcb_info_hash, tee_info_hash"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, report.report_data, "reportdata"));
  VOUCH_RETURN_IF_ERROR(in.Skip(64, "reserved, mac"));
  // TEE_TCB_INFO and its padding.
  VOUCH_RETURN_IF_ERROR(in.Skip(256, "tee_tcb_info"));
  // TDINFO.
  VOUCH_ASSIGN_OR_RETURN(report.attributes, in.U64Le("attributes"));
  VOUCH_ASSIGN_OR_RETURN(report.xfam, in.U64Le("xfam"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, report.mrtd, "mrtd"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, report.mrconfigid, "mrconfigid"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, report.mrowner, "mrowner"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, report.mrownerconfig, "mrownerconfig"));
  for (auto& rtmr : report.rtmr) {
    VOUCH_RETURN_IF_ERROR(ReadArray(in, rtmr, "rtmr"));
  }
  return report;
}

TdxReportReq MakeTdxReportRequest(ByteSpan report_data) {
  TdxReportReq request{};
  std::memcpy(request.reportdata, report_data.data(),
              std::min(report_data.size(), sizeof(request.reportdata)));
  return request;
}

TdxGuestPlatform::TdxGuestPlatform(std::unique_ptr<IoctlDevice> device)
    : device_(std::move(device)) {}

absl::StatusOr<Bytes> TdxGuestPlatform::GetTdReport(ByteSpan report_data) {
  if (report_data.size() != kReportDataBytes) {
    return InvalidArgumentf("tdx-guest: report data of {} bytes, want {}", report_data.size(),
                            kReportDataBytes);
  }
  TdxReportReq request = MakeTdxReportRequest(report_data);
  if (const int r = device_->Ioctl(kTdxCmdGetReport0, &request); r < 0) {
    return Unavailablef("tdx-guest: {}: TDX_CMD_GET_REPORT0 failed: {}{}", device_->Path(),
                        std::strerror(-r),
                        r == -ENOTTY ? "; the kernel's tdx-guest driver is too old" : "");
  }
  const ByteSpan raw(request.tdreport, sizeof(request.tdreport));
  absl::StatusOr<TdReport> report = ParseTdReport(raw);
  if (!report.ok()) {
    return Prefix(fmt::format("tdx-guest: {}", device_->Path()), report.status());
  }
  if (!std::equal(report_data.begin(), report_data.end(), report->report_data.begin())) {
    return InvalidArgumentf("tdx-guest: {}: the TDREPORT's REPORTDATA differs from the request",
                            device_->Path());
  }
  return Bytes(raw.begin(), raw.end());
}

absl::StatusOr<Evidence> TdxGuestPlatform::GetEvidence(ByteSpan /*report_data*/) {
  return FailedPreconditionf(
      "tdx-guest: {} gives only a TDREPORT, which a remote server cannot verify; a TDX quote "
      "needs configfs-tsm (Linux 6.7 or later with CONFIG_TSM_REPORTS and the tdx-guest "
      "driver, mounted at /sys/kernel/config) and a Quote Generation Service on the host",
      device_->Path());
}

absl::StatusOr<std::unique_ptr<TdxGuestPlatform>> OpenTdxGuest(const PlatformOptions& options) {
  absl::StatusOr<std::unique_ptr<IoctlDevice>> device =
      OpenIoctlDevice(UnderRoot(options.root, kTdxGuestDevice));
  if (!device.ok()) {
    return Prefix("tdx-guest", device.status());
  }
  return std::make_unique<TdxGuestPlatform>(*std::move(device));
}

}  // namespace vouch::agent
