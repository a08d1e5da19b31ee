#include "vouch/agent/simulated_tdx_platform.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/dcap/simulated.h"

namespace vouch::agent {
namespace {

class SimulatedTdxPlatform final : public Platform {
 public:
  explicit SimulatedTdxPlatform(dcap::SimulatedTdx tdx) : tdx_(std::move(tdx)) {}

  absl::StatusOr<Evidence> GetEvidence(ByteSpan report_data) override {
    if (report_data.size() != kReportDataBytes) {
      return InvalidArgumentf("platform {}: report_data is {} bytes, want {}", Name(),
                              report_data.size(), kReportDataBytes);
    }
    Evidence evidence;
    evidence.kind = "tdx";
    VOUCH_ASSIGN_OR_RETURN(evidence.report, tdx_.GetQuote(report_data));
    evidence.simulated = true;
    return evidence;
  }

  std::string_view Name() const override { return kSimulatedTdxName; }

 private:
  dcap::SimulatedTdx tdx_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Platform>> OpenSimulatedTdx(const PlatformOptions& options) {
  if (::mkdir(options.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return InvalidArgumentf("platform simulated-tdx: create folder {}: {}", options.data_dir,
                            std::strerror(errno));
  }
  absl::StatusOr<dcap::SimulatedTdx> tdx =
      dcap::SimulatedTdx::LoadOrCreate(options.data_dir + "/simulated-tdx");
  if (!tdx.ok()) {
    return Prefix("platform simulated-tdx", tdx.status());
  }
  return std::make_unique<SimulatedTdxPlatform>(*std::move(tdx));
}

}  // namespace vouch::agent
