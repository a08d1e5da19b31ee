#include "vouch/agent/sev_guest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#include "vouch/snp/cert_table.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

// The UAPI layout of <linux/sev-guest.h> on x86-64, written out from the
// header's declarations and the System V ABI alignment rules (u64 aligned
// to 8). A kernel header change that moves a field breaks the build here.
static_assert(sizeof(snp_report_req) == 96);
static_assert(offsetof(snp_report_req, user_data) == 0);
static_assert(offsetof(snp_report_req, vmpl) == 64);
static_assert(offsetof(snp_report_req, rsvd) == 68);
static_assert(sizeof(snp_report_resp) == 4000);
static_assert(sizeof(snp_guest_request_ioctl) == 32);
static_assert(offsetof(snp_guest_request_ioctl, msg_version) == 0);
static_assert(offsetof(snp_guest_request_ioctl, req_data) == 8);
static_assert(offsetof(snp_guest_request_ioctl, resp_data) == 16);
static_assert(offsetof(snp_guest_request_ioctl, exitinfo2) == 24);
static_assert(offsetof(snp_guest_request_ioctl, fw_error) == 24);
static_assert(offsetof(snp_guest_request_ioctl, vmm_error) == 28);
static_assert(sizeof(snp_ext_report_req) == 112);
static_assert(offsetof(snp_ext_report_req, data) == 0);
static_assert(offsetof(snp_ext_report_req, certs_address) == 96);
static_assert(offsetof(snp_ext_report_req, certs_len) == 104);
// _IOWR('S', nr, 32-byte struct): direction 3 in bits 31:30, size in bits
// 29:16, type 0x53 in bits 15:8, number in bits 7:0.
static_assert(SNP_GET_REPORT == 0xC0205300u);
static_assert(SNP_GET_EXT_REPORT == 0xC0205302u);

template <typename T>
Bytes BytesOf(const T& value) {
  Bytes out(sizeof(T));
  std::memcpy(out.data(), &value, sizeof(T));
  return out;
}

template <typename T>
T* FromAddress(uint64_t address) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(address));
}

// FakeSevGuest answers SNP_GET_REPORT and SNP_GET_EXT_REPORT like the
// kernel driver, with a fixed report and certificate table.
class FakeSevGuest final : public IoctlDevice {
 public:
  FakeSevGuest(Bytes report, Bytes cert_table)
      : report_(std::move(report)), cert_table_(std::move(cert_table)) {}

  int Ioctl(unsigned long request, void* arg) override {  // NOLINT(runtime/int)
    auto* io = static_cast<snp_guest_request_ioctl*>(arg);
    requests.push_back(request);
    if (io->msg_version != kSnpMsgVersion) {
      return -EINVAL;
    }
    if (fail_errno != 0) {
      io->exitinfo2 = exitinfo2;
      return -fail_errno;
    }
    if (request == SNP_GET_EXT_REPORT) {
      auto* ext = FromAddress<snp_ext_report_req>(io->req_data);
      last_request = BytesOf(ext->data);
      certs_lens.push_back(ext->certs_len);
      // Like Linux 6.1: a short buffer gets VMM error INVALID_LEN, -EIO, and
      // the page-rounded size it needs in certs_len.
      const uint32_t needed = static_cast<uint32_t>((cert_table_.size() + 4095) / 4096 * 4096);
      if (ext->certs_len < needed) {
        ext->certs_len = needed;
        io->exitinfo2 = uint64_t{SNP_GUEST_VMM_ERR_INVALID_LEN} << 32;
        return -EIO;
      }
      // memcpy from an empty vector's null data() is undefined even for 0 bytes.
      if (cert_table_.empty()) {
        ext->certs_len = 0;
      } else {
        std::memcpy(FromAddress<uint8_t>(ext->certs_address), cert_table_.data(),
                    cert_table_.size());
      }
    } else if (request == SNP_GET_REPORT) {
      last_request = BytesOf(*FromAddress<snp_report_req>(io->req_data));
    } else {
      return -ENOTTY;
    }
    auto* response = FromAddress<snp_report_resp>(io->resp_data);
    const uint32_t size = static_cast<uint32_t>(report_.size());
    std::memcpy(response->data + kSnpReportRspStatus, &firmware_status, 4);
    std::memcpy(response->data + kSnpReportRspSize, &size, 4);
    std::memcpy(response->data + kSnpReportRspReport, report_.data(), report_.size());
    return 0;
  }

  const std::string& Path() const override { return path_; }

  int fail_errno = 0;
  uint64_t exitinfo2 = 0;
  uint32_t firmware_status = 0;
  std::vector<unsigned long> requests;  // NOLINT(runtime/int)
  std::vector<uint32_t> certs_lens;
  Bytes last_request;

 private:
  Bytes report_;
  Bytes cert_table_;
  std::string path_ = "/fake/dev/sev-guest";
};

Bytes ReportDataOf(const Bytes& report) {
  return Bytes(report.begin() + 0x50, report.begin() + 0x90);
}

snp::CertTableEntry Entry(std::string_view guid, Bytes data) {
  snp::CertTableEntry entry;
  entry.guid = *snp::ParseGuid(guid);
  entry.data = std::move(data);
  return entry;
}

// MilanCertTable builds the table a Milan host serves: VCEK, ASK, ARK.
Bytes MilanCertTable(const std::string& vcek_vector) {
  const Bytes vcek = ReadVector(vcek_vector);
  const absl::StatusOr<std::vector<crypto::Certificate>> chain =
      crypto::ParseCertificates(ReadVector("amd-certs/milan_chain.pem"));
  EXPECT_TRUE(chain.ok() && chain->size() == 2);
  return snp::BuildCertTable({Entry(snp::kVcekGuid, vcek), Entry(snp::kAskGuid, (*chain)[0].Der()),
                              Entry(snp::kArkGuid, (*chain)[1].Der())});
}

TEST(SnpUapiTest, ReportRequestBytesMatchLayout) {
  Bytes data(64);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<uint8_t>(0xA0 + i);
  }
  Bytes want = data;
  want.insert(want.end(), {0x02, 0x00, 0x00, 0x00});  // vmpl 2, little-endian
  want.resize(96, 0x00);                              // rsvd
  EXPECT_EQ(BytesOf(MakeSnpReportRequest(data, 2)), want);
}

TEST(SnpUapiTest, ExtendedRequestBytesMatchLayout) {
  snp_ext_report_req request{};
  request.data = MakeSnpReportRequest(Bytes(64, 0x11), 1);
  request.certs_address = 0x1122334455667788;
  request.certs_len = 0x3000;
  const Bytes bytes = BytesOf(request);
  ASSERT_EQ(bytes.size(), 112u);
  EXPECT_EQ(bytes[64], 0x01);
  EXPECT_EQ(Bytes(bytes.begin() + 96, bytes.begin() + 104),
            (Bytes{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}));
  EXPECT_EQ(Bytes(bytes.begin() + 104, bytes.begin() + 108), (Bytes{0x00, 0x30, 0x00, 0x00}));
}

TEST(SnpUapiTest, GuestRequestSplitsExitinfo2) {
  snp_guest_request_ioctl io{};
  io.exitinfo2 = 0x0000000200000016;
  EXPECT_EQ(io.fw_error, 0x16u);
  EXPECT_EQ(io.vmm_error, 2u);
}

TEST(SevGuestTest, ExtendedReportRetriesWithKernelSize) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  auto device =
      std::make_unique<FakeSevGuest>(report, MilanCertTable("sev-snp/gosevguest-milan-vcek.der"));
  FakeSevGuest* fake = device.get();
  SevGuestPlatform platform(std::move(device), 0);

  ASSERT_OK_AND_ASSIGN(const Evidence evidence, platform.GetEvidence(ReportDataOf(report)));
  EXPECT_EQ(evidence.kind, "snp");
  EXPECT_EQ(evidence.report, report);
  ASSERT_EQ(evidence.certificates.size(), 3u);
  EXPECT_EQ(evidence.certificates[0].Der(), ReadVector("sev-snp/gosevguest-milan-vcek.der"));
  EXPECT_THAT(evidence.certificates[2].Subject(), HasSubstr("ARK-Milan"));
  // First a one-page buffer, then the two pages the fake kernel asked for.
  EXPECT_EQ(fake->certs_lens, (std::vector<uint32_t>{4096, 8192}));
  EXPECT_EQ(Bytes(fake->last_request.begin(), fake->last_request.begin() + 64),
            ReportDataOf(report));
}

TEST(SevGuestTest, VlekReportTakesVlekFromTable) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/trustee-aws-milan-vlek-v3.bin");
  const Bytes vlek = ReadVector("sev-snp/trustee-aws-milan-vlek-v3-vlek.der");
  const Bytes table = snp::BuildCertTable({Entry(snp::kVlekGuid, vlek)});
  SevGuestPlatform platform(std::make_unique<FakeSevGuest>(report, table), /*vmpl=*/1);

  ASSERT_OK_AND_ASSIGN(const Evidence evidence, platform.GetEvidence(ReportDataOf(report)));
  ASSERT_EQ(evidence.certificates.size(), 1u);
  EXPECT_EQ(evidence.certificates[0].Der(), vlek);
}

TEST(SevGuestTest, HostWithoutCertificatesGivesEmptyChain) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  SevGuestPlatform platform(std::make_unique<FakeSevGuest>(report, Bytes{}), 0);
  ASSERT_OK_AND_ASSIGN(const Evidence evidence, platform.GetEvidence(ReportDataOf(report)));
  EXPECT_TRUE(evidence.certificates.empty());
}

TEST(SevGuestTest, PlainReportUsesSnpGetReport) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/virtee-milan-v2.bin");
  auto device = std::make_unique<FakeSevGuest>(report, Bytes{});
  FakeSevGuest* fake = device.get();
  SevGuestPlatform platform(std::move(device), 0);
  ASSERT_OK_AND_ASSIGN(const SnpReportResult result,
                       platform.GetReport(ReportDataOf(report), /*extended=*/false));
  EXPECT_EQ(result.report, report);
  EXPECT_EQ(fake->requests, (std::vector<unsigned long>{SNP_GET_REPORT}));  // NOLINT
}

TEST(SevGuestTest, RejectsReportForOtherReportData) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  SevGuestPlatform platform(std::make_unique<FakeSevGuest>(report, Bytes{}), 0);
  EXPECT_THAT(platform.GetEvidence(Bytes(64, 0x5A)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("REPORT_DATA differs")));
}

TEST(SevGuestTest, RejectsReportForOtherVmpl) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  SevGuestPlatform platform(std::make_unique<FakeSevGuest>(report, Bytes{}), 2);
  EXPECT_THAT(platform.GetEvidence(ReportDataOf(report)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("report VMPL 0, requested 2")));
}

TEST(SevGuestTest, FirmwareStatusInResponseIsReported) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  auto device = std::make_unique<FakeSevGuest>(report, Bytes{});
  device->firmware_status = SEV_RET_INVALID_PARAM;
  SevGuestPlatform platform(std::move(device), 0);
  EXPECT_THAT(platform.GetEvidence(ReportDataOf(report)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("INVALID_PARAM")));
}

TEST(SevGuestTest, IoctlErrorsBecomePlainMessages) {
  const auto describe = [](int fail_errno, uint64_t exitinfo2) {
    auto device = std::make_unique<FakeSevGuest>(Bytes(snp::kReportSize), Bytes{});
    device->fail_errno = fail_errno;
    device->exitinfo2 = exitinfo2;
    SevGuestPlatform platform(std::move(device), 0);
    return platform.GetEvidence(Bytes(64)).status();
  };
  EXPECT_THAT(describe(EIO, SEV_RET_INVALID_PARAM),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("firmware error INVALID_PARAM (22); check the requested VMPL")));
  EXPECT_THAT(describe(EAGAIN, uint64_t{SNP_GUEST_VMM_ERR_BUSY} << 32),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("hypervisor is busy")));
  EXPECT_THAT(describe(EIO, uint64_t{7} << 32),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("hypervisor error 7")));
  EXPECT_THAT(describe(ENOTTY, 0),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("does not support")));
}

TEST(SevGuestTest, RejectsWrongReportDataSize) {
  SevGuestPlatform platform(std::make_unique<FakeSevGuest>(Bytes{}, Bytes{}), 0);
  EXPECT_THAT(platform.GetEvidence(Bytes(32)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SevGuestTest, HostileCertTableIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes report = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  Bytes table = snp::BuildCertTable({Entry(snp::kVcekGuid, Bytes(100, 0x30))});
  SevGuestPlatform platform(std::make_unique<FakeSevGuest>(report, table), 0);
  EXPECT_THAT(platform.GetEvidence(ReportDataOf(report)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("VCEK entry")));
}

}  // namespace
}  // namespace vouch::agent
