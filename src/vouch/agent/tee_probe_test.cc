#include "vouch/agent/tee_probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "vouch/agent/configfs_tsm.h"
#include "vouch/agent/tdx_guest.h"
#include "vouch/agent/test_support.h"
#include "vouch/base/file.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;
using Json = nlohmann::json;

uint32_t Text4(const char* text) {
  uint32_t value = 0;
  std::memcpy(&value, text, 4);
  return value;
}

class FakeCpuid final : public CpuidSource {
 public:
  std::optional<CpuidRegisters> Query(uint32_t leaf, uint32_t subleaf) const override {
    const auto it = leaves.find({leaf, subleaf});
    if (it == leaves.end()) {
      return CpuidRegisters{};
    }
    return it->second;
  }

  // Intel or AMD vendor string, the hypervisor bit and "KVMKVMKVM".
  static FakeCpuid Vm(bool intel, uint32_t max_leaf) {
    FakeCpuid cpuid;
    cpuid.leaves[{0, 0}] = intel ? CpuidRegisters{max_leaf, Text4("Genu"), Text4("ntel"),
                                                  Text4("ineI")}
                                 : CpuidRegisters{max_leaf, Text4("Auth"), Text4("cAMD"),
                                                  Text4("enti")};
    cpuid.leaves[{1, 0}] = CpuidRegisters{0, 0, 1u << 31, 0};
    cpuid.leaves[{0x40000000, 0}] = CpuidRegisters{0, Text4("KVMK"), Text4("VMKV"), Text4("M\0\0\0")};
    return cpuid;
  }

  std::map<std::pair<uint32_t, uint32_t>, CpuidRegisters> leaves;
};

FakeCpuid SnpCpuid() {
  FakeCpuid cpuid = FakeCpuid::Vm(/*intel=*/false, 0x10);
  cpuid.leaves[{0x80000000, 0}] = CpuidRegisters{0x80000021, 0, 0, 0};
  cpuid.leaves[{0x8000001F, 0}] = CpuidRegisters{(1u << 1) | (1u << 3) | (1u << 4), 0, 0, 0};
  return cpuid;
}

FakeCpuid TdxCpuid() {
  FakeCpuid cpuid = FakeCpuid::Vm(/*intel=*/true, 0x21);
  cpuid.leaves[{0x21, 0}] = CpuidRegisters{0, Text4("Inte"), Text4("    "), Text4("lTDX")};
  return cpuid;
}

void WriteText(const std::string& path, std::string_view text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  ASSERT_OK(WriteFileAtomic(path, AsBytes(text), 0600));
}

// KernelFor returns a configfs-tsm hook that answers with `outblob`,
// copying the request's report data into an SNP report at 0x50.
TsmKernelHookForTest KernelFor(std::string provider, Bytes outblob, bool patch_snp_report_data) {
  return [provider, outblob, patch_snp_report_data](const std::string& entry, TsmStage stage) {
    if (stage == TsmStage::kCreated) {
      WriteText(entry + "/provider", provider + "\n");
      WriteText(entry + "/generation", "0\n");
      return;
    }
    Bytes out = outblob;
    if (patch_snp_report_data) {
      const Bytes inblob = *ReadFile(entry + "/inblob");
      std::copy(inblob.begin(), inblob.end(), out.begin() + 0x50);
    }
    WriteText(entry + "/generation", "1\n");
    ASSERT_OK(WriteFileAtomic(entry + "/outblob", out, 0600));
  };
}

ProbeOptions OptionsWithKernel(const std::string& root, const CpuidSource* cpuid,
                               TsmKernelHookForTest hook) {
  ProbeOptions options;
  options.root = root;
  options.cpuid = cpuid;
  options.open_platform = [hook](std::string_view, const PlatformOptions& platform) {
    return absl::StatusOr<std::unique_ptr<Platform>>(std::make_unique<ConfigfsTsmPlatform>(
        platform.root + "/sys/kernel/config/tsm/report", platform.vmpl, hook));
  };
  return options;
}

const CheckLine* FindLine(const ProbeResult& result, std::string_view name) {
  for (const CheckLine& line : result.lines) {
    if (line.name == name) {
      return &line;
    }
  }
  return nullptr;
}

std::string Dump(const ProbeResult& result) { return result.ToJson().dump(2); }

TEST(TeeProbeTest, NoTeeTreeIsNotConfidential) {
  ScopedTempDir dir;
  FakeCpuid cpuid = FakeCpuid::Vm(/*intel=*/true, 0x20);
  WriteText(dir.File("proc/cpuinfo"), "flags\t\t: fpu vme hypervisor\n");
  WriteText(dir.File("dev/kmsg"), "6,1,0,-;Linux version 6.1\n");
  ProbeOptions options;
  options.root = dir.path();
  options.cpuid = &cpuid;

  const ProbeResult result = ProbeTee(options);
  EXPECT_EQ(result.tee, TeeType::kNone) << Dump(result);
  EXPECT_FALSE(result.confidential());
  EXPECT_FALSE(result.memory_encryption_active);
  const CheckLine* tee = FindLine(result, "tee");
  ASSERT_NE(tee, nullptr);
  EXPECT_EQ(tee->status, CheckStatus::kFail);
  EXPECT_THAT(tee->detail, HasSubstr("this VM is not confidential"));
  EXPECT_FALSE(tee->action.empty());
  EXPECT_EQ(FindLine(result, "evidence interfaces")->status, CheckStatus::kFail);
  EXPECT_EQ(result.ToJson()["confidential"], false);
}

TEST(TeeProbeTest, SnpTreeFetchesAndDecodesReport) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ScopedTempDir dir;
  FakeCpuid cpuid = SnpCpuid();
  WriteText(dir.File("proc/cpuinfo"), "flags\t\t: fpu sev sev_es sev_snp hypervisor\n");
  WriteText(dir.File("dev/kmsg"),
            "6,300,0,-;Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP\n");
  std::filesystem::create_directories(dir.File("sys/kernel/config/tsm/report"));
  // Policy 0x30000: debugging not allowed.
  const Bytes report = ReadVector("sev-snp/virtee-milan-v2.bin");

  const ProbeResult result =
      ProbeTee(OptionsWithKernel(dir.path(), &cpuid, KernelFor("sev_guest", report, true)));
  EXPECT_EQ(result.tee, TeeType::kSevSnp) << Dump(result);
  EXPECT_TRUE(result.confidential()) << Dump(result);
  EXPECT_TRUE(result.memory_encryption_active);
  EXPECT_EQ(result.report["measurement"], HexEncode(ByteSpan(report).subspan(0x90, 48)));
  EXPECT_EQ(result.report["vmpl"], 0);
  EXPECT_EQ(result.report["policy"], "0x30000");
  EXPECT_EQ(result.report["debug"], false);
  EXPECT_EQ(result.report["reported_tcb"]["snp"], 8);
  EXPECT_EQ(result.report["reported_tcb"]["microcode"], 115);
  EXPECT_EQ(FindLine(result, "kernel messages")->detail,
            "Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP");
  // No auxblob: a warning, not a failure.
  EXPECT_EQ(FindLine(result, "certificates")->status, CheckStatus::kWarn);
  EXPECT_EQ(FindLine(result, "policy")->status, CheckStatus::kOk);
}

TEST(TeeProbeTest, SnpDebugPolicyFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ScopedTempDir dir;
  FakeCpuid cpuid = SnpCpuid();
  WriteText(dir.File("dev/kmsg"), "Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP\n");
  std::filesystem::create_directories(dir.File("sys/kernel/config/tsm/report"));
  Bytes report = ReadVector("sev-snp/virtee-milan-v2.bin");
  report[8 + 2] |= 0x08;  // POLICY bit 19: DEBUG.

  const ProbeResult result =
      ProbeTee(OptionsWithKernel(dir.path(), &cpuid, KernelFor("sev_guest", report, true)));
  EXPECT_EQ(result.tee, TeeType::kSevSnp);
  EXPECT_FALSE(result.confidential());
  const CheckLine* policy = FindLine(result, "policy");
  ASSERT_NE(policy, nullptr) << Dump(result);
  EXPECT_EQ(policy->status, CheckStatus::kFail);
  EXPECT_THAT(policy->detail, HasSubstr("allows debugging"));
}

TEST(TeeProbeTest, TdxTreeDecodesQuote) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ScopedTempDir dir;
  FakeCpuid cpuid = TdxCpuid();
  WriteText(dir.File("proc/cpuinfo"), "flags\t\t: fpu tdx_guest hypervisor\n");
  WriteText(dir.File("dev/kmsg"), "6,1,0,-;tdx: Guest detected\n");
  std::filesystem::create_directories(dir.File("sys/kernel/config/tsm/report"));
  const Bytes quote = ReadVector("tdx/gotdxguest-spr-e4-v4-50806f.dat");

  const ProbeResult result =
      ProbeTee(OptionsWithKernel(dir.path(), &cpuid, KernelFor("tdx_guest", quote, false)));
  EXPECT_EQ(result.tee, TeeType::kTdx) << Dump(result);
  EXPECT_TRUE(result.confidential()) << Dump(result);
  EXPECT_EQ(FindLine(result, "cpuid")->status, CheckStatus::kOk);
  EXPECT_EQ(result.report["mrtd"], HexEncode(ByteSpan(quote).subspan(48 + 136, 48)));
  EXPECT_EQ(result.report["rtmrs"].size(), 4u);
  EXPECT_EQ(result.report["debug"], false);
}

TEST(TeeProbeTest, TdxWithoutConfigfsFetchesTdReportOnly) {
  ScopedTempDir dir;
  FakeCpuid cpuid = TdxCpuid();
  WriteText(dir.File("dev/tdx_guest"), "");

  class Device final : public IoctlDevice {
   public:
    int Ioctl(unsigned long, void* arg) override {  // NOLINT(runtime/int)
      auto* request = static_cast<TdxReportReq*>(arg);
      request->tdreport[0] = 0x81;
      std::memcpy(request->tdreport + 128, request->reportdata, 64);
      std::memset(request->tdreport + 528, 0x4D, 48);
      return 0;
    }
    const std::string& Path() const override { return path_; }
    std::string path_ = "fake";
  };
  ProbeOptions options;
  options.root = dir.path();
  options.cpuid = &cpuid;
  options.open_platform = [](std::string_view, const PlatformOptions&) {
    return absl::StatusOr<std::unique_ptr<Platform>>(
        std::make_unique<TdxGuestPlatform>(std::make_unique<Device>()));
  };

  const ProbeResult result = ProbeTee(options);
  EXPECT_EQ(result.tee, TeeType::kTdx);
  EXPECT_FALSE(result.confidential()) << "no quote, so it cannot attest";
  EXPECT_EQ(FindLine(result, "tdx quote")->status, CheckStatus::kWarn);
  EXPECT_EQ(FindLine(result, "evidence")->status, CheckStatus::kFail);
  EXPECT_EQ(result.report["mrtd"], HexEncode(Bytes(48, 0x4D)));
}

TEST(TeeProbeTest, SevEsWithoutSnpFails) {
  ScopedTempDir dir;
  WriteText(dir.File("dev/kmsg"), "Memory Encryption Features active: AMD SEV SEV-ES\n");
  ProbeOptions options;
  options.root = dir.path();
  const ProbeResult result = ProbeTee(options);
  EXPECT_EQ(result.tee, TeeType::kSevEs);
  EXPECT_FALSE(result.confidential());
  EXPECT_THAT(FindLine(result, "tee")->detail, HasSubstr("without SEV-SNP"));
}

TEST(TeeProbeTest, UnreadableKernelLogWarns) {
  ScopedTempDir dir;
  ProbeOptions options;
  options.root = dir.path();  // No dev/kmsg.
  const ProbeResult result = ProbeTee(options);
  const CheckLine* kernel = FindLine(result, "kernel messages");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->status, CheckStatus::kWarn);
  EXPECT_THAT(kernel->action, HasSubstr("run as root"));
}

TEST(TeeProbeTest, HostCpuidRunsOnThisMachine) {
  const std::unique_ptr<CpuidSource> cpuid = HostCpuid();
#if defined(__x86_64__)
  const std::optional<CpuidRegisters> vendor = cpuid->Query(0, 0);
  ASSERT_TRUE(vendor.has_value());
  EXPECT_GT(vendor->eax, 0u);
#endif
}

TEST(DescribeTest, TdxQuoteVersion5) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes quote = ReadVector("tdx/gotdxguest-v5-90c06f.dat");
  ASSERT_OK_AND_ASSIGN(const Json fields, DescribeTdxQuote(quote));
  EXPECT_EQ(fields["quote_version"], 5);
  EXPECT_EQ(fields["mrtd"], HexEncode(ByteSpan(quote).subspan(54 + 136, 48)));
}

TEST(DescribeTest, TdxQuoteTruncatedAndWrongType) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes quote = ReadVector("tdx/gotdxguest-spr-e4-v4-50806f.dat");
  EXPECT_THAT(DescribeTdxQuote(ByteSpan(quote).first(200)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Bytes sgx = quote;
  sgx[4] = 0;
  EXPECT_THAT(DescribeTdxQuote(sgx),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tee_type")));
}

TEST(DecodeJwtClaimsTest, ReadsPayload) {
  const std::string jwt = Base64UrlEncode(AsBytes(R"({"alg":"none"})")) + "." +
                          Base64UrlEncode(AsBytes(R"({"iss":"x","n":1})")) + ".";
  ASSERT_OK_AND_ASSIGN(const Json claims, DecodeJwtClaims(jwt));
  EXPECT_EQ(claims["iss"], "x");
  EXPECT_THAT(DecodeJwtClaims("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeJwtClaims("a.bm90IGpzb24.c"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vouch::agent
