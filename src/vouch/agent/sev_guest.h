// The "sev-guest" platform: SEV-SNP attestation reports from the Linux
// sev-guest driver (/dev/sev-guest) through the SNP_GET_REPORT and
// SNP_GET_EXT_REPORT ioctls.
//
// The request structures are the kernel's own, from <linux/sev-guest.h>
// (linux-libc-dev). The response buffer contains MSG_REPORT_RSP (AMD SEV-SNP
// firmware ABI, publication 56860, "MSG_REPORT_RSP Message Structure"):
// STATUS u32 at 0x00, REPORT_SIZE u32 at 0x04, 24 reserved bytes, then the
// ATTESTATION_REPORT at 0x20. Firmware status codes (SEV_RET_*) come from
// <linux/psp-sev.h>.
#ifndef VOUCH_AGENT_SEV_GUEST_H_
#define VOUCH_AGENT_SEV_GUEST_H_

#include <linux/psp-sev.h>
#include <linux/sev-guest.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/agent/ioctl_device.h"
#include "vouch/agent/platform.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/report.h"

namespace vouch::agent {

inline constexpr std::string_view kSevGuestName = "sev-guest";
inline constexpr std::string_view kSevGuestDevice = "dev/sev-guest";  // Below the root.

// Message version of the guest request. The kernel passes it to the
// firmware as MSG_VERSION, which must be non-zero, and 1 is the only version.
inline constexpr uint8_t kSnpMsgVersion = 1;
// MSG_REPORT_RSP offsets.
inline constexpr size_t kSnpReportRspStatus = 0x00;
inline constexpr size_t kSnpReportRspSize = 0x04;
inline constexpr size_t kSnpReportRspReport = 0x20;
// First certificate buffer size for SNP_GET_EXT_REPORT: one page. The
// kernel rejects a buffer smaller than the host's table with
// SNP_GUEST_VMM_ERR_INVALID_LEN and returns the size it needs, and the
// provider retries once with that size.
inline constexpr uint32_t kSnpFirstCertsBytes = 4096;

// MakeSnpReportRequest fills the request that both ioctls carry.
// `report_data` must be exactly 64 bytes.
snp_report_req MakeSnpReportRequest(ByteSpan report_data, uint32_t vmpl);

// DescribeSnpGuestError turns a failed request into one plain sentence:
// `neg_errno` is the ioctl result, `exitinfo2` the kernel's
// snp_guest_request_ioctl.exitinfo2 (firmware error in bits 31:0, VMM error
// in bits 63:32).
std::string DescribeSnpGuestError(int neg_errno, uint64_t exitinfo2);

// SnpFirmwareStatusName returns the SEV firmware status name
// ("INVALID_PARAM") of a status code, or "status 0x.." when unknown.
std::string SnpFirmwareStatusName(uint32_t status);

// SnpCertificatesFromTable parses a certificate table (snp/cert_table.h)
// and returns the chain in Evidence order: the VCEK (or the VLEK when
// `signing_key` is kVlek), the ASK (or ASVK), then the ARK. Entries that are
// absent are skipped, so an empty table gives an empty chain.
absl::StatusOr<std::vector<crypto::Certificate>> SnpCertificatesFromTable(
    ByteSpan table, snp::SigningKey signing_key);

// SnpReportResult is what one request returned.
struct SnpReportResult {
  Bytes report;      // The raw ATTESTATION_REPORT.
  Bytes cert_table;  // Empty for SNP_GET_REPORT and when the host has none.
};

class SevGuestPlatform final : public Platform {
 public:
  // `device` handles the ioctls (the real /dev/sev-guest, or a fake in
  // tests). `vmpl` goes into every request.
  SevGuestPlatform(std::unique_ptr<IoctlDevice> device, uint32_t vmpl);

  // GetEvidence requests an extended report and puts the host's
  // certificates into Evidence::certificates. Where the host has no
  // certificate table, the evidence has none and the server uses its
  // collateral.
  absl::StatusOr<Evidence> GetEvidence(ByteSpan report_data) override;
  std::string_view Name() const override { return kSevGuestName; }

  // GetReport sends SNP_GET_REPORT (extended false) or SNP_GET_EXT_REPORT
  // (extended true) and checks the response: firmware status 0, a report of
  // 1184 bytes that ParseReport accepts, whose REPORT_DATA and VMPL are the
  // ones requested.
  absl::StatusOr<SnpReportResult> GetReport(ByteSpan report_data, bool extended);

 private:
  absl::StatusOr<Bytes> ReportFromResponse(const snp_report_resp& response,
                                           ByteSpan report_data) const;
  absl::StatusOr<SnpReportResult> GetExtendedReport(ByteSpan report_data);

  std::unique_ptr<IoctlDevice> device_;
  uint32_t vmpl_;
};

// OpenSevGuest opens <root>/dev/sev-guest.
absl::StatusOr<std::unique_ptr<Platform>> OpenSevGuest(const PlatformOptions& options);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_SEV_GUEST_H_
