// TCG crypto-agile event logs: parsing and register replay.
//
// Format: TCG PC Client Platform Firmware Profile (PFP) 1.05, section 10.2.
// The first event is a TCG_PCClientPCREvent in the SHA-1 layout whose event
// data is the "Spec ID Event03" structure; it lists the digest algorithms and
// sizes that every later TCG_PCR_EVENT2 carries. TDX's CCEL (ACPI CC event log)
// uses the same format, with register index 0 = MRTD and 1..4 = RTMR0..3.
#ifndef VOUCH_TPM_EVENT_LOG_H_
#define VOUCH_TPM_EVENT_LOG_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"

namespace vouch::tpm {

// Event types (PFP 1.05, section 10.4.1) that the replay and the claims use.
inline constexpr uint32_t kEvPostCode = 0x00000001;
inline constexpr uint32_t kEvNoAction = 0x00000003;
inline constexpr uint32_t kEvSeparator = 0x00000004;
inline constexpr uint32_t kEvAction = 0x00000005;
inline constexpr uint32_t kEvEventTag = 0x00000006;
inline constexpr uint32_t kEvSCrtmVersion = 0x00000008;
inline constexpr uint32_t kEvIpl = 0x0000000D;
inline constexpr uint32_t kEvEfiVariableDriverConfig = 0x80000001;
inline constexpr uint32_t kEvEfiVariableBoot = 0x80000002;
inline constexpr uint32_t kEvEfiBootServicesApplication = 0x80000003;
inline constexpr uint32_t kEvEfiAction = 0x80000007;
inline constexpr uint32_t kEvEfiPlatformFirmwareBlob = 0x80000008;
inline constexpr uint32_t kEvEfiHandoffTables = 0x80000009;
inline constexpr uint32_t kEvEfiVariableAuthority = 0x800000E0;

// TPM_ALG_ID values (TPM 2.0 Part 2, table 9) for the digests we replay.
inline constexpr uint16_t kTpmAlgSha1 = 0x0004;
inline constexpr uint16_t kTpmAlgSha256 = 0x000B;
inline constexpr uint16_t kTpmAlgSha384 = 0x000C;
inline constexpr uint16_t kTpmAlgSha512 = 0x000D;

// TpmAlgToHash maps a TPM_ALG_ID to a hash, or nullopt for other algorithms.
std::optional<crypto::HashAlg> TpmAlgToHash(uint16_t alg_id);
// HashToTpmAlg returns the TPM_ALG_ID of `alg`.
uint16_t HashToTpmAlg(crypto::HashAlg alg);

// One event of the log. `digests` holds one digest per algorithm that the
// event carries, in log order. Digests of algorithms vouch cannot compute
// (such as SM3) are skipped during parsing because their size comes from the
// Spec ID event, so the entry lists only SHA-1/256/384/512 digests.
struct EventLogEntry {
  uint32_t register_index = 0;
  uint32_t event_type = 0;
  std::vector<std::pair<crypto::HashAlg, Bytes>> digests;
  Bytes event_data;

  // Digest returns the digest for `alg`, or nullptr when the event has none.
  const Bytes* Digest(crypto::HashAlg alg) const;
};

// ParseCryptoAgileEventLog parses a whole crypto-agile log. The returned list
// starts with the Spec ID event itself (EV_NO_ACTION, one SHA-1
// digest of zeros, its event data unchanged). Parsing stops at the first
// event header whose register index and event type are both 0 or both
// 0xFFFFFFFF, and only when every byte from there on is 0x00 or 0xFF (the
// unused tail of a fixed-size area such as the 256 KiB CCEL). Any other
// malformed or truncated event, or a digest size different from the Spec ID
// event's, is kInvalidArgument naming the event number and field.
absl::StatusOr<std::vector<EventLogEntry>> ParseCryptoAgileEventLog(ByteSpan log);

// Replay rules for the initial register values.
enum class InitialValues {
  // TCG PC Client: every PCR starts at zero, DRTM PCRs 17..22 at all ones,
  // and an EV_NO_ACTION "StartupLocality" event in PCR 0 sets PCR 0's
  // start value to zero with the locality in its last byte (PFP 1.05,
  // sections 3.3.4.1 and 10.4.5.3).
  kTcgPcClient,
  // Every register starts at zero (TDX RTMRs, other measurement registers).
  kZero,
};

struct ReplayOptions {
  crypto::HashAlg alg = crypto::HashAlg::kSha256;
  // Number of registers; events for an index at or above it are rejected.
  size_t register_count = 24;
  InitialValues initial_values = InitialValues::kTcgPcClient;
  // Explicit start values per register (each HashSize(alg) bytes). When not
  // empty it must have register_count entries and replaces `initial_values`;
  // the StartupLocality event then changes nothing.
  std::vector<Bytes> explicit_initial_values;
};

struct ReplayResult {
  // Register values after replay, register_count entries of HashSize(alg).
  std::vector<Bytes> values;
  // covered[i] is true when at least one event extended register i. A
  // register that is not covered keeps its start value in `values`, so a
  // quoted value different from it was extended by something not in the log.
  std::vector<bool> covered;
  // Number of extending events per register.
  std::vector<size_t> event_counts;
  // Locality from the StartupLocality event, when the log has one.
  std::optional<uint8_t> startup_locality;
};

// Replay extends each register with the `alg` digest of each event for it
// (new = H(old || digest)), skipping EV_NO_ACTION events, which never extend.
// Fails with kInvalidArgument when an extending event has no `alg` digest,
// names a register at or above register_count, or the options are
// inconsistent.
absl::StatusOr<ReplayResult> Replay(const std::vector<EventLogEntry>& events,
                                    const ReplayOptions& options);

// RegisterMismatch names one register whose replayed value differs from the
// reported one.
struct RegisterMismatch {
  size_t register_index = 0;
  Bytes replayed;
  Bytes reported;
  bool covered = false;
};

// CompareRegisters compares replayed values with reported ones (such as
// quoted PCRs) for the registers in `indices` and returns every mismatch.
// Returns kInvalidArgument when an index has no replayed or reported value.
absl::StatusOr<std::vector<RegisterMismatch>> CompareRegisters(
    const ReplayResult& replay, const std::vector<std::pair<size_t, Bytes>>& reported);

}  // namespace vouch::tpm

#endif  // VOUCH_TPM_EVENT_LOG_H_
