// EventLogBuilder writes crypto-agile event logs, for tests and for the swtpm
// harness that extends PCRs to match a log it writes.
#ifndef VOUCH_TPM_EVENT_LOG_BUILDER_H_
#define VOUCH_TPM_EVENT_LOG_BUILDER_H_

#include <cstdint>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"
#include "vouch/tpm/event_log.h"

namespace vouch::tpm {

class EventLogBuilder {
 public:
  // `algs` lists the digest algorithms of every event, in Spec ID order.
  explicit EventLogBuilder(std::vector<crypto::HashAlg> algs);

  // SpecIdRegister sets the register index written in the Spec ID event
  // (0 for PC Client logs, 1 in TDX's CCEL).
  EventLogBuilder& SpecIdRegister(uint32_t index);
  // StartupLocality adds the EV_NO_ACTION StartupLocality event.
  EventLogBuilder& StartupLocality(uint8_t locality);
  // Measure adds an event whose digests are the hashes of `data`.
  EventLogBuilder& Measure(uint32_t register_index, uint32_t event_type, ByteSpan data);
  // AddRaw adds an event with the digests given (one per algorithm, in order).
  EventLogBuilder& AddRaw(uint32_t register_index, uint32_t event_type, std::vector<Bytes> digests,
                          ByteSpan data);

  // Entries returns the events as ParseCryptoAgileEventLog would return them.
  const std::vector<EventLogEntry>& Entries() const { return entries_; }
  // Build serializes the log.
  Bytes Build() const;

 private:
  std::vector<crypto::HashAlg> algs_;
  std::vector<EventLogEntry> entries_;
  uint32_t spec_id_register_ = 0;
};

}  // namespace vouch::tpm

#endif  // VOUCH_TPM_EVENT_LOG_BUILDER_H_
