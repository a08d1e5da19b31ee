// TDX RTMR replay from a CCEL event log (the ACPI "CC event log" of a TD).
//
// The CCEL is a TCG crypto-agile event log (see tpm/event_log.h) with SHA-384
// digests. Its register index is the TDX measurement register index plus
// one: 0 is MRTD, which the TDX module measures at build time and no event
// extends, and 1..4 are RTMR0..3, which all start at zero. Replaying the
// SHA-384 digests of the events for index 1..4 must give the quote's
// RTMR0..3.
#ifndef VOUCH_DCAP_CCEL_H_
#define VOUCH_DCAP_CCEL_H_

#include <array>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/dcap/quote.h"

namespace vouch::dcap {

inline constexpr size_t kRtmrCount = 4;
inline constexpr size_t kRtmrSize = 48;  // SHA-384

// Per-RTMR result of a replay.
enum class RtmrCoverage {
  // Events extend this RTMR and their replay equals the quote's value.
  kVerified,
  // No event extends this RTMR, so the log says nothing about its value.
  // The quote's value is reported, not checked.
  kNotCovered,
};

// RtmrCoverageName returns "verified" or "not covered".
std::string_view RtmrCoverageName(RtmrCoverage coverage);

// CcelReplay is the result of VerifyCcel.
struct CcelReplay {
  std::array<RtmrCoverage, kRtmrCount> coverage{};
  std::array<size_t, kRtmrCount> event_counts{};
  // The replayed values: for a register that is not covered, 48 zero bytes.
  std::array<Bytes, kRtmrCount> replayed;
  // Number of events in the log, the Spec ID event included.
  size_t event_count = 0;
};

// VerifyCcel parses a CCEL event log (trailing 0x00 or 0xFF bytes of a
// fixed-size area are allowed), replays RTMR0..3 and compares each covered
// RTMR with the quote's `body`. Errors:
// - InvalidArgument: a malformed log, an extending event without a SHA-384
//   digest, or an event for a register index above 4.
// - Unauthenticated: a covered RTMR whose replay differs from the quote,
//   naming the RTMR, both values and its event count.
// An RTMR without events is kNotCovered, never a match.
absl::StatusOr<CcelReplay> VerifyCcel(ByteSpan log, const TdReportBody& body);

// CcelClaims returns the claim "x-vouch-tdx-eventlog-rtmrs": an object with
// "rtmr0".."rtmr3", each "verified" or "not covered".
nlohmann::json CcelClaims(const CcelReplay& replay);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_CCEL_H_
