#include "vouch/store/audit.h"

#include <openssl/evp.h>

#include <cstdint>
#include <string_view>

#include "vouch/base/status.h"

namespace vouch::store {

namespace {

void AppendU64Be(Bytes& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(value >> shift));
  }
}

void AppendString(Bytes& out, std::string_view value) {
  const auto size = static_cast<uint32_t>(value.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(size >> shift));
  }
  out.insert(out.end(), value.begin(), value.end());
}

Bytes Sha256(ByteSpan data) {
  Bytes digest(kAuditHashBytes);
  unsigned int size = 0;
  // SHA-256 over a memory buffer has no input-dependent failure, so a
  // failure here means the process is broken.
  VOUCH_CHECK(EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) ==
              1);
  VOUCH_CHECK(size == kAuditHashBytes);
  return digest;
}

}  // namespace

Bytes CanonicalAuditEvent(const AuditEvent& event) {
  Bytes out;
  AppendU64Be(out, static_cast<uint64_t>(event.sequence));
  AppendU64Be(out, static_cast<uint64_t>(absl::ToUnixMicros(event.time)));
  AppendString(out, event.actor);
  AppendString(out, event.operation);
  AppendString(out, event.target);
  AppendString(out, event.outcome);
  AppendString(out, event.detail);
  return out;
}

Bytes ChainAuditHash(ByteSpan prev_hash, const AuditEvent& event) {
  Bytes input(prev_hash.begin(), prev_hash.end());
  const Bytes canonical = CanonicalAuditEvent(event);
  input.insert(input.end(), canonical.begin(), canonical.end());
  return Sha256(input);
}

absl::Status VerifyAuditChain(std::span<const AuditEvent> events) {
  if (events.empty()) {
    return absl::OkStatus();
  }
  const Bytes zero_hash(kAuditHashBytes, 0);
  Bytes expected_prev = events.front().sequence == 1 ? zero_hash : events.front().prev_hash;
  int64_t expected_sequence = events.front().sequence;

  for (const AuditEvent& event : events) {
    if (event.sequence != expected_sequence) {
      return absl::DataLossError(fmt::format(
          "audit log: record {} follows record {}, want {}: records were removed or reordered",
          event.sequence, expected_sequence - 1, expected_sequence));
    }
    if (event.prev_hash != expected_prev) {
      return absl::DataLossError(fmt::format(
          "audit log: record {}: prev_hash does not match the hash of the record before it",
          event.sequence));
    }
    const Bytes hash = ChainAuditHash(event.prev_hash, event);
    if (event.hash != hash) {
      return absl::DataLossError(fmt::format(
          "audit log: record {}: stored hash {} does not match its content (recomputed {}): "
          "the record was modified",
          event.sequence, HexEncode(event.hash), HexEncode(hash)));
    }
    expected_prev = event.hash;
    ++expected_sequence;
  }
  return absl::OkStatus();
}

absl::Status VerifyAuditChain(Store& store) {
  VOUCH_ASSIGN_OR_RETURN(const std::vector<AuditEvent> events, store.ReadAudit(kAllAuditEvents));
  if (!events.empty() && events.front().sequence != 1) {
    return absl::DataLossError(
        fmt::format("audit log: first record has sequence {}, want 1: older records were removed",
                    events.front().sequence));
  }
  return VerifyAuditChain(events);
}

}  // namespace vouch::store
