// The "tdx-guest" platform: the TDREPORT of this TD from the Linux tdx-guest
// driver (/dev/tdx_guest, TDX_CMD_GET_REPORT0).
//
// A TDREPORT is MAC'ed for the local CPU only. A remote verifier needs a
// quote, which the Quoting Enclave on the host makes from the TDREPORT. This
// provider fetches and decodes the TDREPORT (for `vouch check`), but its
// GetEvidence fails with a message that points to configfs-tsm, through
// which Linux 6.7 and later fetch quotes.
//
// Debian 12's linux-libc-dev has no <linux/tdx-guest.h>, so the request is
// declared here as Linux include/uapi/linux/tdx-guest.h defines it:
//
//   struct tdx_report_req { __u8 reportdata[64]; __u8 tdreport[1024]; };
//   #define TDX_CMD_GET_REPORT0 _IOWR('T', 1, struct tdx_report_req)
#ifndef VOUCH_AGENT_TDX_GUEST_H_
#define VOUCH_AGENT_TDX_GUEST_H_

#include <sys/ioctl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/agent/ioctl_device.h"
#include "vouch/agent/platform.h"
#include "vouch/base/bytes.h"

namespace vouch::agent {

inline constexpr std::string_view kTdxGuestName = "tdx-guest";
inline constexpr std::string_view kTdxGuestDevice = "dev/tdx_guest";  // Below the root.

inline constexpr size_t kTdReportBytes = 1024;

struct TdxReportReq {
  uint8_t reportdata[kReportDataBytes];
  uint8_t tdreport[kTdReportBytes];
};
static_assert(sizeof(TdxReportReq) == 1088);

inline constexpr unsigned long kTdxCmdGetReport0 =  // NOLINT(runtime/int)
    _IOWR('T', 1, TdxReportReq);

// TdReport contains the fields of a TDREPORT_STRUCT that `vouch check`
// shows. Offsets from Intel TDX Module ABI specification, TDREPORT_STRUCT:
// REPORTMACSTRUCT at 0 (REPORTTYPE 0, CPUSVN 16, TEE_TCB_INFO_HASH 32,
// TEE_INFO_HASH 80, REPORTDATA 128, MAC 224), TEE_TCB_INFO at 256, TDINFO at
// 512 (ATTRIBUTES 512, XFAM 520, MRTD 528, MRCONFIGID 576, MROWNER 624,
// MROWNERCONFIG 672, RTMR0..3 720..911, SERVTD_HASH 912).
struct TdReport {
  uint8_t report_type = 0;  // 0x81 for TDX.
  uint8_t report_subtype = 0;
  uint8_t report_version = 0;
  std::array<uint8_t, 16> cpu_svn{};
  std::array<uint8_t, 64> report_data{};
  uint64_t attributes = 0;
  uint64_t xfam = 0;
  std::array<uint8_t, 48> mrtd{};
  std::array<uint8_t, 48> mrconfigid{};
  std::array<uint8_t, 48> mrowner{};
  std::array<uint8_t, 48> mrownerconfig{};
  std::array<std::array<uint8_t, 48>, 4> rtmr{};

  // TDATTRIBUTES bit 0: the TD runs in debug mode, so its memory is not
  // protected from the host.
  bool debug() const { return (attributes & 1) != 0; }
};

// ParseTdReport decodes a 1024-byte TDREPORT_STRUCT. InvalidArgument for
// another size or a REPORTTYPE.TYPE other than 0x81.
absl::StatusOr<TdReport> ParseTdReport(ByteSpan tdreport);

// MakeTdxReportRequest fills the request with `report_data` (64 bytes).
TdxReportReq MakeTdxReportRequest(ByteSpan report_data);

class TdxGuestPlatform final : public Platform {
 public:
  explicit TdxGuestPlatform(std::unique_ptr<IoctlDevice> device);

  // GetEvidence fails with FailedPrecondition: a TDREPORT alone cannot be
  // verified remotely (see the file comment).
  absl::StatusOr<Evidence> GetEvidence(ByteSpan report_data) override;
  std::string_view Name() const override { return kTdxGuestName; }

  // GetTdReport returns the raw TDREPORT for `report_data` after checking
  // that it parses and carries that REPORTDATA.
  absl::StatusOr<Bytes> GetTdReport(ByteSpan report_data);

 private:
  std::unique_ptr<IoctlDevice> device_;
};

// OpenTdxGuest opens <root>/dev/tdx_guest.
absl::StatusOr<std::unique_ptr<TdxGuestPlatform>> OpenTdxGuest(const PlatformOptions& options);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_TDX_GUEST_H_
