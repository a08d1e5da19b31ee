#include "vouch/dcap/ccel.h"

#include <algorithm>
#include <string>
#include <vector>

#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/tpm/event_log.h"

namespace vouch::dcap {
namespace {

// CCEL register index 0 is MRTD and RTMRn is index n + 1. Events for index 0
// are replayed but not compared: MRTD is checked against reference values by
// policy, not against the log.
constexpr size_t kCcelRegisterCount = 1 + kRtmrCount;

}  // namespace

std::string_view RtmrCoverageName(RtmrCoverage coverage) {
  switch (coverage) {
    case RtmrCoverage::kVerified:
      return "verified";
    case RtmrCoverage::kNotCovered:
      return "not covered";
  }
  return "unknown";
}

absl::StatusOr<CcelReplay> VerifyCcel(ByteSpan log, const TdReportBody& body) {
  absl::StatusOr<std::vector<tpm::EventLogEntry>> events = tpm::ParseCryptoAgileEventLog(log);
  if (!events.ok()) {
    return Prefix("ccel event log", events.status());
  }

  tpm::ReplayOptions options;
  options.alg = crypto::HashAlg::kSha384;
  options.register_count = kCcelRegisterCount;
  options.initial_values = tpm::InitialValues::kZero;
  absl::StatusOr<tpm::ReplayResult> replay = tpm::Replay(*events, options);
  if (!replay.ok()) {
    return Prefix("ccel event log replay", replay.status());
  }

  CcelReplay out;
  out.event_count = events->size();
  for (size_t rtmr = 0; rtmr < kRtmrCount; ++rtmr) {
    const size_t index = rtmr + 1;
    out.replayed[rtmr] = replay->values[index];
    out.event_counts[rtmr] = replay->event_counts[index];
    if (!replay->covered[index]) {
      out.coverage[rtmr] = RtmrCoverage::kNotCovered;
      continue;
    }
    const std::array<uint8_t, kRtmrSize>& quoted = body.rtmr[rtmr];
    if (!std::equal(quoted.begin(), quoted.end(), out.replayed[rtmr].begin(),
                    out.replayed[rtmr].end())) {
      return Unauthenticatedf(
          "ccel event log: RTMR{} replayed from {} events is {}, but the quote has {}", rtmr,
          out.event_counts[rtmr], HexEncode(out.replayed[rtmr]), HexEncode(quoted));
    }
    out.coverage[rtmr] = RtmrCoverage::kVerified;
  }
  return out;
}

nlohmann::json CcelClaims(const CcelReplay& replay) {
  nlohmann::json rtmrs = nlohmann::json::object();
  for (size_t rtmr = 0; rtmr < kRtmrCount; ++rtmr) {
    rtmrs["rtmr" + std::to_string(rtmr)] = std::string(RtmrCoverageName(replay.coverage[rtmr]));
  }
  return {{"x-vouch-tdx-eventlog-rtmrs", rtmrs}};
}

}  // namespace vouch::dcap
