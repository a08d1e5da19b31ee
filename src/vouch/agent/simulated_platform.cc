#include "vouch/agent/simulated_platform.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/snp/simulated.h"

namespace vouch::agent {
namespace {

class SimulatedSnpPlatform final : public Platform {
 public:
  SimulatedSnpPlatform(snp::SimulatedSnp snp, uint32_t vmpl) : snp_(std::move(snp)), vmpl_(vmpl) {}

  absl::StatusOr<Evidence> GetEvidence(ByteSpan report_data) override {
    if (report_data.size() != kReportDataBytes) {
      return InvalidArgumentf("platform {}: report_data is {} bytes, want {}", Name(),
                              report_data.size(), kReportDataBytes);
    }
    Evidence evidence;
    evidence.kind = "snp";
    VOUCH_ASSIGN_OR_RETURN(evidence.report, snp_.GetReport(report_data, vmpl_));
    evidence.certificates = snp_.Certificates();
    evidence.simulated = true;
    return evidence;
  }

  std::string_view Name() const override { return kSimulatedSnpName; }

 private:
  snp::SimulatedSnp snp_;
  uint32_t vmpl_;
};

// MakeDir creates `path` with mode 0700 unless it exists already.
absl::Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    return absl::OkStatus();
  }
  return InvalidArgumentf("platform simulated-snp: create folder {}: {}", path,
                          std::strerror(errno));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Platform>> OpenSimulatedSnp(const PlatformOptions& options) {
  VOUCH_RETURN_IF_ERROR(MakeDir(options.data_dir));
  const std::string dir = options.data_dir + "/simulated-snp";
  VOUCH_RETURN_IF_ERROR(MakeDir(dir));

  absl::StatusOr<snp::SimulatedSnp> snp = snp::SimulatedSnp::LoadOrCreate(dir);
  if (!snp.ok()) {
    return Prefix("platform simulated-snp", snp.status());
  }
  return std::make_unique<SimulatedSnpPlatform>(*std::move(snp), options.vmpl);
}

}  // namespace vouch::agent
