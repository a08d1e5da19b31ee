// The audit log's hash chain, shared by every Store implementation.
//
// Each record's hash is SHA-256(prev_hash || CanonicalAuditEvent(event)),
// where prev_hash is the previous record's hash (32 zero bytes for the first
// record). Editing a field, removing or reordering records breaks the chain.
// Removing the newest records does not: that needs a signed log head, which
// the store does not keep yet.
#ifndef VOUCH_STORE_AUDIT_H_
#define VOUCH_STORE_AUDIT_H_

#include <cstddef>
#include <span>

#include "absl/status/status.h"
#include "vouch/base/bytes.h"
#include "vouch/store/store.h"

namespace vouch::store {

inline constexpr size_t kAuditHashBytes = 32;

// CanonicalAuditEvent encodes the chained fields without ambiguity:
// sequence (8 bytes big-endian), time in Unix microseconds (8 bytes
// big-endian, two's complement), then actor, operation, target, outcome and
// detail, each as a 4-byte big-endian length followed by its UTF-8 bytes.
Bytes CanonicalAuditEvent(const AuditEvent& event);

// ChainAuditHash returns SHA-256(prev_hash || CanonicalAuditEvent(event)).
Bytes ChainAuditHash(ByteSpan prev_hash, const AuditEvent& event);

// VerifyAuditChain checks records read with Store::ReadAudit, oldest first:
// consecutive sequence numbers, each prev_hash equal to the hash before it,
// each hash recomputed. A log read from sequence 1 must start from the zero
// hash; a later window is checked from its first prev_hash on. DataLoss names
// the first bad record's sequence and what is wrong with it.
absl::Status VerifyAuditChain(std::span<const AuditEvent> events);

// VerifyAuditChain reads the whole log of `store` and checks it.
absl::Status VerifyAuditChain(Store& store);

}  // namespace vouch::store

#endif  // VOUCH_STORE_AUDIT_H_
