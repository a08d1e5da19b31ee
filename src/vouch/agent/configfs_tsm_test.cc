// The configfs-tsm provider runs against a plain folder. A test callback
// plays the kernel at two points (after mkdir, and between the writes and
// the reads), because configfs makes outblob from what was written to
// inblob, which a pre-filled folder could not check.
#include "vouch/agent/configfs_tsm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "vouch/agent/test_support.h"
#include "vouch/base/file.h"
#include "vouch/snp/cert_table.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::agent {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

void WriteText(const std::string& path, std::string_view text) {
  ASSERT_OK(WriteFileAtomic(path, AsBytes(text), 0600));
}

// FakeTsmKernel fills an entry like the kernel's configfs-tsm would for
// one provider, and counts writes in `generation`.
struct FakeTsmKernel {
  std::string provider = "sev_guest";
  Bytes outblob;
  Bytes auxblob;
  bool has_privlevel = true;
  int extra_writes_first_attempts = 0;  // Interfering writes on the first N entries.
  int attempts = 0;
  Bytes seen_inblob;
  std::string seen_privlevel;

  TsmKernelHookForTest Hook() {
    return [this](const std::string& entry, TsmStage stage) { Act(entry, stage); };
  }

  void Act(const std::string& entry, TsmStage stage) {
    if (stage == TsmStage::kCreated) {
      ++attempts;
      WriteText(entry + "/provider", provider + "\n");
      WriteText(entry + "/generation", "0\n");
      if (has_privlevel) {
        WriteText(entry + "/privlevel", "");
      }
      return;
    }
    seen_inblob = *ReadFile(entry + "/inblob");
    int writes = 1;
    if (has_privlevel) {
      seen_privlevel = ToString(*ReadFile(entry + "/privlevel"));
      ++writes;
    }
    if (attempts <= extra_writes_first_attempts) {
      ++writes;
    }
    WriteText(entry + "/generation", std::to_string(writes) + "\n");
    ASSERT_OK(WriteFileAtomic(entry + "/outblob", outblob, 0600));
    if (!auxblob.empty()) {
      ASSERT_OK(WriteFileAtomic(entry + "/auxblob", auxblob, 0600));
    }
  }
};

// In a plain folder the fake kernel's files stay in the entry, so rmdir
// leaves a filled entry behind where configfs would remove it. Only an
// entry that the fake kernel never filled can be checked for removal.
class ConfigfsTsmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    report_dir_ = dir_.File("sys/kernel/config/tsm/report");
    std::filesystem::create_directories(report_dir_);
  }

  size_t EntryCount() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(report_dir_)) {
      (void)e;
      ++n;
    }
    return n;
  }

  ScopedTempDir dir_;
  std::string report_dir_;
};

Bytes ReportDataOf(const Bytes& report) {
  return Bytes(report.begin() + 0x50, report.begin() + 0x90);
}

TEST_F(ConfigfsTsmTest, SnpReportWithCertificateTable) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  FakeTsmKernel kernel;
  kernel.outblob = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  snp::CertTableEntry vcek;
  vcek.guid = *snp::ParseGuid(snp::kVcekGuid);
  vcek.data = ReadVector("sev-snp/gosevguest-milan-vcek.der");
  kernel.auxblob = snp::BuildCertTable({vcek});
  ConfigfsTsmPlatform platform(report_dir_, 0, kernel.Hook());

  ASSERT_OK_AND_ASSIGN(const Evidence evidence,
                       platform.GetEvidence(ReportDataOf(kernel.outblob)));
  EXPECT_EQ(evidence.kind, "snp");
  EXPECT_EQ(evidence.report, kernel.outblob);
  ASSERT_EQ(evidence.certificates.size(), 1u);
  EXPECT_EQ(evidence.certificates[0].Der(), vcek.data);
  EXPECT_EQ(kernel.seen_inblob, ReportDataOf(kernel.outblob));
  EXPECT_EQ(kernel.seen_privlevel, "0");
  EXPECT_EQ(kernel.attempts, 1);
}

TEST_F(ConfigfsTsmTest, TdxQuoteWithoutPrivlevel) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  FakeTsmKernel kernel;
  kernel.provider = "tdx_guest";
  kernel.has_privlevel = false;
  kernel.outblob = ReadVector("tdx/gotdxguest-spr-e4-v4-50806f.dat");
  ConfigfsTsmPlatform platform(report_dir_, 0, kernel.Hook());

  ASSERT_OK_AND_ASSIGN(const Evidence evidence, platform.GetEvidence(Bytes(64, 7)));
  EXPECT_EQ(evidence.kind, "tdx");
  EXPECT_EQ(evidence.report, kernel.outblob);
  EXPECT_TRUE(evidence.certificates.empty());
  EXPECT_EQ(kernel.seen_inblob, Bytes(64, 7));
}

TEST_F(ConfigfsTsmTest, RetriesAfterConcurrentWriter) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  FakeTsmKernel kernel;
  kernel.outblob = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  kernel.extra_writes_first_attempts = 1;
  ConfigfsTsmPlatform platform(report_dir_, 0, kernel.Hook());
  ASSERT_OK(platform.GetEvidence(ReportDataOf(kernel.outblob)).status());
  EXPECT_EQ(kernel.attempts, 2);
}

TEST_F(ConfigfsTsmTest, GivesUpAfterRepeatedInterference) {
  FakeTsmKernel kernel;
  kernel.outblob = Bytes(10, 1);
  kernel.extra_writes_first_attempts = 100;
  ConfigfsTsmPlatform platform(report_dir_, 0, kernel.Hook());
  EXPECT_THAT(platform.GetReport(Bytes(64)),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("another process wrote to the entry")));
  EXPECT_EQ(kernel.attempts, kConfigfsTsmAttempts);
}

TEST_F(ConfigfsTsmTest, RejectsSnpReportForOtherReportData) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  FakeTsmKernel kernel;
  kernel.outblob = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  ConfigfsTsmPlatform platform(report_dir_, 0, kernel.Hook());
  EXPECT_THAT(platform.GetEvidence(Bytes(64, 0xEE)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("REPORT_DATA differs")));
}

TEST_F(ConfigfsTsmTest, RejectsUnknownProvider) {
  FakeTsmKernel kernel;
  kernel.provider = "arm_cca_guest";
  kernel.outblob = Bytes(10, 1);
  ConfigfsTsmPlatform platform(report_dir_, 0, kernel.Hook());
  EXPECT_THAT(platform.GetEvidence(Bytes(64)),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("arm_cca_guest")));
}

TEST_F(ConfigfsTsmTest, MissingGenerationFailsClearly) {
  ConfigfsTsmPlatform platform(report_dir_, 0);
  EXPECT_THAT(platform.GetReport(Bytes(64)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("generation")));
}

TEST_F(ConfigfsTsmTest, RemovesEmptyEntryOnFailure) {
  // Without a kernel the entry stays empty, so rmdir succeeds.
  ConfigfsTsmPlatform platform(report_dir_, 0);
  ASSERT_FALSE(platform.GetReport(Bytes(64)).ok());
  EXPECT_EQ(EntryCount(), 0u);
}

TEST_F(ConfigfsTsmTest, HostileAuxblobIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  FakeTsmKernel kernel;
  kernel.outblob = ReadVector("sev-snp/gosevguest-milan-v2.bin");
  kernel.auxblob = Bytes(100, 0xFF);  // No terminating entry.
  ConfigfsTsmPlatform platform(report_dir_, 0, kernel.Hook());
  EXPECT_THAT(platform.GetEvidence(ReportDataOf(kernel.outblob)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("auxblob")));
}

TEST(OpenConfigfsTsmTest, MissingFolderIsNotFound) {
  ScopedTempDir dir;
  PlatformOptions options;
  options.root = dir.path();
  EXPECT_THAT(OpenConfigfsTsm(options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("Linux 6.7")));
}

}  // namespace
}  // namespace vouch::agent
