#include "vouch/tpm/event_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"

namespace vouch::tpm {
namespace {

// "Spec ID Event03" with its terminating NUL (PFP 1.05, section 10.4.5.1).
constexpr std::string_view kSpecIdSignature("Spec ID Event03\0", 16);
// "StartupLocality" with its terminating NUL (PFP 1.05, section 10.4.5.3).
constexpr std::string_view kStartupLocalitySignature("StartupLocality\0", 16);
constexpr size_t kSha1Size = 20;
// Upper bound on the algorithms one Spec ID event may list. TPM 2.0 defines
// far fewer hash algorithms, so a larger count is corrupt input.
constexpr uint32_t kMaxAlgorithms = 16;

struct AlgorithmSize {
  uint16_t alg_id = 0;
  uint16_t digest_size = 0;
};

bool AllBytesAre(ByteSpan bytes, uint8_t value) {
  return std::all_of(bytes.begin(), bytes.end(), [value](uint8_t b) { return b == value; });
}

// ParseSpecIdEventData reads TCG_EfiSpecIdEvent (PFP 1.05, section 10.4.5.1).
absl::StatusOr<std::vector<AlgorithmSize>> ParseSpecIdEventData(ByteSpan data) {
  ByteReader in(data, "event log: spec id event");
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan signature, in.Span(16, "signature"));
  if (ToString(signature) != kSpecIdSignature) {
    return InvalidArgumentf("event log: first event signature {:?}, want \"Spec ID Event03\"",
                            ToString(signature));
  }
  VOUCH_RETURN_IF_ERROR(in.Skip(4, "platform_class"));
  VOUCH_RETURN_IF_ERROR(in.Skip(3, "spec_version"));
  VOUCH_RETURN_IF_ERROR(in.Skip(1, "uintn_size"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t count, in.U32Le("number_of_algorithms"));
  if (count == 0 || count > kMaxAlgorithms) {
    return InvalidArgumentf("event log: spec id event lists {} algorithms, want 1 to {}", count,
                            kMaxAlgorithms);
  }
  std::vector<AlgorithmSize> sizes;
  for (uint32_t i = 0; i < count; ++i) {
    AlgorithmSize entry;
    VOUCH_ASSIGN_OR_RETURN(entry.alg_id, in.U16Le("algorithm_id"));
    VOUCH_ASSIGN_OR_RETURN(entry.digest_size, in.U16Le("digest_size"));
    const std::optional<crypto::HashAlg> hash = TpmAlgToHash(entry.alg_id);
    if (hash && crypto::HashSize(*hash) != entry.digest_size) {
      return InvalidArgumentf("event log: spec id event gives algorithm {:#06x} size {}, want {}",
                              entry.alg_id, entry.digest_size, crypto::HashSize(*hash));
    }
    sizes.push_back(entry);
  }
  VOUCH_ASSIGN_OR_RETURN(const uint8_t vendor_info_size, in.U8("vendor_info_size"));
  VOUCH_RETURN_IF_ERROR(in.Skip(vendor_info_size, "vendor_info"));
  VOUCH_RETURN_IF_ERROR(in.ExpectEnd());
  return sizes;
}

// ParseSpecIdEvent reads the first event, TCG_PCClientPCREvent in the SHA-1
// layout (PFP 1.05, section 10.2.1), and returns it with the algorithm list.
absl::StatusOr<std::pair<EventLogEntry, std::vector<AlgorithmSize>>> ParseSpecIdEvent(
    ByteReader& in) {
  EventLogEntry entry;
  VOUCH_ASSIGN_OR_RETURN(entry.register_index, in.U32Le("pcr_index"));
  VOUCH_ASSIGN_OR_RETURN(entry.event_type, in.U32Le("event_type"));
  VOUCH_ASSIGN_OR_RETURN(Bytes digest, in.Copy(kSha1Size, "digest"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t size, in.U32Le("event_size"));
  VOUCH_ASSIGN_OR_RETURN(entry.event_data, in.Copy(size, "event"));
  // PFP puts the Spec ID event in PCR 0, but TDX firmware writes it with
  // register index 1 in the CCEL, so only the type is checked.
  if (entry.event_type != kEvNoAction) {
    return InvalidArgumentf(
        "event log: first event has type {:#x}, want the spec id event (EV_NO_ACTION); the log "
        "is not in the crypto-agile format",
        entry.event_type);
  }
  if (!IsAllZero(digest)) {
    return InvalidArgumentf("event log: spec id event digest is not zero");
  }
  entry.digests.emplace_back(crypto::HashAlg::kSha1, std::move(digest));
  VOUCH_ASSIGN_OR_RETURN(std::vector<AlgorithmSize> sizes, ParseSpecIdEventData(entry.event_data));
  return std::make_pair(std::move(entry), std::move(sizes));
}

// ParseEvent2 reads one TCG_PCR_EVENT2 (PFP 1.05, section 10.2.2).
absl::StatusOr<EventLogEntry> ParseEvent2(ByteReader& in, const std::vector<AlgorithmSize>& sizes) {
  EventLogEntry entry;
  VOUCH_ASSIGN_OR_RETURN(entry.register_index, in.U32Le("pcr_index"));
  VOUCH_ASSIGN_OR_RETURN(entry.event_type, in.U32Le("event_type"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t count, in.U32Le("digest_count"));
  if (count > sizes.size()) {
    return InvalidArgumentf("digest count {}, spec id event lists {} algorithms", count,
                            sizes.size());
  }
  for (uint32_t i = 0; i < count; ++i) {
    VOUCH_ASSIGN_OR_RETURN(const uint16_t alg_id, in.U16Le("hash_alg"));
    const auto size = std::find_if(sizes.begin(), sizes.end(),
                                   [alg_id](const AlgorithmSize& s) { return s.alg_id == alg_id; });
    if (size == sizes.end()) {
      return InvalidArgumentf("digest algorithm {:#06x} is not in the spec id event", alg_id);
    }
    VOUCH_ASSIGN_OR_RETURN(Bytes digest, in.Copy(size->digest_size, "digest"));
    const std::optional<crypto::HashAlg> hash = TpmAlgToHash(alg_id);
    if (!hash) {
      continue;
    }
    if (entry.Digest(*hash) != nullptr) {
      return InvalidArgumentf("digest algorithm {:#06x} appears twice", alg_id);
    }
    entry.digests.emplace_back(*hash, std::move(digest));
  }
  VOUCH_ASSIGN_OR_RETURN(const uint32_t event_size, in.U32Le("event_size"));
  VOUCH_ASSIGN_OR_RETURN(entry.event_data, in.Copy(event_size, "event"));
  return entry;
}

// AtUnusedTail is true when the cursor reaches the padding after the last
// event: a header of all zero or all 0xFF bytes with only such bytes after it.
bool AtUnusedTail(const ByteReader& in) {
  const ByteSpan rest = in.rest();
  if (rest.size() < 8) {
    return AllBytesAre(rest, 0x00) || AllBytesAre(rest, 0xFF);
  }
  const ByteSpan header = rest.first(8);
  if (AllBytesAre(header, 0x00)) {
    return AllBytesAre(rest, 0x00);
  }
  if (AllBytesAre(header, 0xFF)) {
    return AllBytesAre(rest, 0xFF);
  }
  return false;
}

absl::Status CheckOptions(const ReplayOptions& options) {
  if (options.register_count == 0) {
    return InvalidArgumentf("event log replay: register_count is 0");
  }
  if (options.explicit_initial_values.empty()) {
    return absl::OkStatus();
  }
  if (options.explicit_initial_values.size() != options.register_count) {
    return InvalidArgumentf("event log replay: {} initial values for {} registers",
                            options.explicit_initial_values.size(), options.register_count);
  }
  for (const Bytes& value : options.explicit_initial_values) {
    if (value.size() != crypto::HashSize(options.alg)) {
      return InvalidArgumentf("event log replay: initial value of {} bytes, want {}", value.size(),
                              crypto::HashSize(options.alg));
    }
  }
  return absl::OkStatus();
}

// StartValues applies the start-value rule of `options`.
std::vector<Bytes> StartValues(const ReplayOptions& options) {
  if (!options.explicit_initial_values.empty()) {
    return options.explicit_initial_values;
  }
  const size_t size = crypto::HashSize(options.alg);
  std::vector<Bytes> values(options.register_count, Bytes(size, 0x00));
  if (options.initial_values == InitialValues::kTcgPcClient) {
    // DRTM PCRs 17..22 reset to all ones at TPM2_Startup (PC Client PTP, table "PCR
    // Attributes"), and only a dynamic launch sets them to zero.
    for (size_t i = 17; i <= 22 && i < values.size(); ++i) {
      values[i].assign(size, 0xFF);
    }
  }
  return values;
}

// StartupLocality returns the locality of a StartupLocality event, or nullopt
// for other events.
std::optional<uint8_t> StartupLocality(const EventLogEntry& event) {
  if (event.event_type != kEvNoAction || event.register_index != 0 ||
      event.event_data.size() != kStartupLocalitySignature.size() + 1) {
    return std::nullopt;
  }
  const std::string signature(event.event_data.begin(),
                              event.event_data.begin() + kStartupLocalitySignature.size());
  if (signature != kStartupLocalitySignature) {
    return std::nullopt;
  }
  return event.event_data.back();
}

Bytes Extend(crypto::HashAlg alg, const Bytes& current, const Bytes& digest) {
  Bytes input = current;
  input.insert(input.end(), digest.begin(), digest.end());
  return crypto::Hash(alg, input);
}

}  // namespace

std::optional<crypto::HashAlg> TpmAlgToHash(uint16_t alg_id) {
  switch (alg_id) {
    case kTpmAlgSha1:
      return crypto::HashAlg::kSha1;
    case kTpmAlgSha256:
      return crypto::HashAlg::kSha256;
    case kTpmAlgSha384:
      return crypto::HashAlg::kSha384;
    case kTpmAlgSha512:
      return crypto::HashAlg::kSha512;
    default:
      return std::nullopt;
  }
}

uint16_t HashToTpmAlg(crypto::HashAlg alg) {
  switch (alg) {
    case crypto::HashAlg::kSha1:
      return kTpmAlgSha1;
    case crypto::HashAlg::kSha256:
      return kTpmAlgSha256;
    case crypto::HashAlg::kSha384:
      return kTpmAlgSha384;
    case crypto::HashAlg::kSha512:
      return kTpmAlgSha512;
  }
  VOUCH_UNREACHABLE("HashToTpmAlg: unknown HashAlg");
}

const Bytes* EventLogEntry::Digest(crypto::HashAlg alg) const {
  for (const auto& [digest_alg, digest] : digests) {
    if (digest_alg == alg) {
      return &digest;
    }
  }
  return nullptr;
}

absl::StatusOr<std::vector<EventLogEntry>> ParseCryptoAgileEventLog(ByteSpan log) {
  ByteReader in(log, "event log: event 0");
  VOUCH_ASSIGN_OR_RETURN(auto first, ParseSpecIdEvent(in));
  std::vector<EventLogEntry> events;
  events.push_back(std::move(first.first));
  const std::vector<AlgorithmSize>& sizes = first.second;

  while (in.remaining() > 0 && !AtUnusedTail(in)) {
    const size_t number = events.size();
    ByteReader event_in(in.rest(), fmt::format("event log: event {}", number));
    absl::StatusOr<EventLogEntry> event = ParseEvent2(event_in, sizes);
    if (!event.ok()) {
      return Prefix(fmt::format("event log: event {} at offset {:#x}", number, in.offset()),
                    event.status());
    }
    VOUCH_RETURN_IF_ERROR(in.Skip(event_in.offset(), "event"));
    events.push_back(*std::move(event));
  }
  return events;
}

absl::StatusOr<ReplayResult> Replay(const std::vector<EventLogEntry>& events,
                                    const ReplayOptions& options) {
  VOUCH_RETURN_IF_ERROR(CheckOptions(options));
  ReplayResult result;
  result.values = StartValues(options);
  result.covered.assign(options.register_count, false);
  result.event_counts.assign(options.register_count, 0);

  for (size_t i = 0; i < events.size(); ++i) {
    const EventLogEntry& event = events[i];
    if (event.event_type == kEvNoAction) {
      const std::optional<uint8_t> locality = StartupLocality(event);
      if (locality && !result.startup_locality) {
        result.startup_locality = locality;
        if (options.explicit_initial_values.empty() &&
            options.initial_values == InitialValues::kTcgPcClient && result.event_counts[0] == 0) {
          result.values[0].assign(crypto::HashSize(options.alg), 0x00);
          result.values[0].back() = *locality;
        }
      }
      continue;
    }
    if (event.register_index >= options.register_count) {
      return InvalidArgumentf("event log replay: event {} extends register {}, only {} exist", i,
                              event.register_index, options.register_count);
    }
    const Bytes* digest = event.Digest(options.alg);
    if (digest == nullptr) {
      return InvalidArgumentf("event log replay: event {} has no {} digest", i,
                              crypto::HashAlgName(options.alg));
    }
    Bytes& value = result.values[event.register_index];
    value = Extend(options.alg, value, *digest);
    result.covered[event.register_index] = true;
    ++result.event_counts[event.register_index];
  }
  return result;
}

absl::StatusOr<std::vector<RegisterMismatch>> CompareRegisters(
    const ReplayResult& replay, const std::vector<std::pair<size_t, Bytes>>& reported) {
  std::vector<RegisterMismatch> mismatches;
  for (const auto& [index, value] : reported) {
    if (index >= replay.values.size()) {
      return InvalidArgumentf("event log compare: register {} was not replayed", index);
    }
    if (value == replay.values[index]) {
      continue;
    }
    mismatches.push_back(RegisterMismatch{index, replay.values[index], value, replay.covered[index]});
  }
  return mismatches;
}

}  // namespace vouch::tpm
