#include "vouch/agent/tdx_guest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "vouch/testing/status_matchers.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

// Linux include/uapi/linux/tdx-guest.h: two byte arrays, no padding, and
// _IOWR('T', 1, 1088 bytes) = direction 3 << 30 | 0x440 << 16 | 'T' << 8 | 1.
static_assert(offsetof(TdxReportReq, reportdata) == 0);
static_assert(offsetof(TdxReportReq, tdreport) == 64);
static_assert(sizeof(TdxReportReq) == 1088);
static_assert(kTdxCmdGetReport0 == 0xC4405401u);

// TdReportBytes builds a TDREPORT_STRUCT with recognizable fields.
Bytes TdReportBytes(ByteSpan report_data) {
  Bytes report(kTdReportBytes, 0);
  report[0] = 0x81;  // REPORTTYPE.TYPE: TDX
  report[2] = 1;     // REPORTTYPE.VERSION
  std::copy(report_data.begin(), report_data.end(), report.begin() + 128);
  report[512] = 0x01;  // ATTRIBUTES: DEBUG
  std::fill(report.begin() + 528, report.begin() + 576, 0x4D);  // MRTD
  std::fill(report.begin() + 720, report.begin() + 768, 0x50);  // RTMR0
  std::fill(report.begin() + 864, report.begin() + 912, 0x53);  // RTMR3
  return report;
}

class FakeTdxGuest final : public IoctlDevice {
 public:
  int Ioctl(unsigned long request, void* arg) override {  // NOLINT(runtime/int)
    if (request != kTdxCmdGetReport0) {
      return -ENOTTY;
    }
    if (fail_errno != 0) {
      return -fail_errno;
    }
    auto* req = static_cast<TdxReportReq*>(arg);
    const Bytes report = TdReportBytes(ByteSpan(req->reportdata, 64));
    std::memcpy(req->tdreport, report.data(), report.size());
    if (corrupt_type) {
      req->tdreport[0] = 0x00;
    }
    return 0;
  }
  const std::string& Path() const override { return path_; }

  int fail_errno = 0;
  bool corrupt_type = false;

 private:
  std::string path_ = "/fake/dev/tdx_guest";
};

TEST(TdxUapiTest, RequestBytesMatchLayout) {
  Bytes data(64);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<uint8_t>(i);
  }
  const TdxReportReq request = MakeTdxReportRequest(data);
  Bytes bytes(sizeof(request));
  std::memcpy(bytes.data(), &request, sizeof(request));
  Bytes want = data;
  want.resize(1088, 0);
  EXPECT_EQ(bytes, want);
}

TEST(TdxGuestTest, FetchesAndParsesTdReport) {
  TdxGuestPlatform platform(std::make_unique<FakeTdxGuest>());
  const Bytes data(64, 0x42);
  ASSERT_OK_AND_ASSIGN(const Bytes raw, platform.GetTdReport(data));
  ASSERT_OK_AND_ASSIGN(const TdReport report, ParseTdReport(raw));
  EXPECT_EQ(report.report_type, 0x81);
  EXPECT_EQ(Bytes(report.report_data.begin(), report.report_data.end()), data);
  EXPECT_TRUE(report.debug());
  EXPECT_EQ(report.mrtd[0], 0x4D);
  EXPECT_EQ(report.mrtd[47], 0x4D);
  EXPECT_EQ(report.rtmr[0][0], 0x50);
  EXPECT_EQ(report.rtmr[3][47], 0x53);
  EXPECT_EQ(report.rtmr[1][0], 0x00);
}

TEST(TdxGuestTest, EvidenceNeedsConfigfsTsm) {
  TdxGuestPlatform platform(std::make_unique<FakeTdxGuest>());
  EXPECT_THAT(platform.GetEvidence(Bytes(64)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a TDX quote needs configfs-tsm")));
}

TEST(TdxGuestTest, IoctlFailureNamesRequest) {
  auto device = std::make_unique<FakeTdxGuest>();
  device->fail_errno = EACCES;
  TdxGuestPlatform platform(std::move(device));
  EXPECT_THAT(platform.GetTdReport(Bytes(64)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("TDX_CMD_GET_REPORT0 failed")));
}

TEST(TdxGuestTest, RejectsNonTdxReportType) {
  auto device = std::make_unique<FakeTdxGuest>();
  device->corrupt_type = true;
  TdxGuestPlatform platform(std::move(device));
  EXPECT_THAT(platform.GetTdReport(Bytes(64)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("REPORTTYPE.TYPE 0x00")));
}

TEST(ParseTdReportTest, RejectsEveryOtherSize) {
  const Bytes good = TdReportBytes(Bytes(64));
  EXPECT_OK(ParseTdReport(good).status());
  for (const size_t n : {size_t{0}, size_t{1}, size_t{1023}, size_t{1025}}) {
    Bytes bad = good;
    bad.resize(n);
    EXPECT_THAT(ParseTdReport(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << n;
  }
}

}  // namespace
}  // namespace vouch::agent
