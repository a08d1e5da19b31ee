// Signed heads of the audit log.
//
// The hash chain of store/audit.h shows an edited, removed or reordered
// record, but not the removal of the newest records. So the service appends
// a signed head record now and then: operation "audit.head", actor
// "service", target "audit", outcome "ok", and as detail a compact JWS
// (header typ "vouch-audit-head+jwt", kid the RFC 7638 thumbprint) over
//   {"sequence": N, "hash": hex SHA-256 chain hash of record N, "time": RFC 3339}
// where N is the newest record when the head was made. The heads are
// signed with the token signing key, whose public half the service
// publishes at /certs, so anyone holding that JWKS can check them and no
// other key has to be managed. The header typ and the payload without
// iss/exp keep a head from passing as an attestation token.
//
// A copy of a head kept outside the store (for example printed by `vouch
// audit verify`) shows a later truncation: the log must still contain
// record N with that hash.
#ifndef VOUCH_BROKER_AUDIT_HEAD_H_
#define VOUCH_BROKER_AUDIT_HEAD_H_

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/mutex.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/store/store.h"

namespace vouch::broker {

inline constexpr std::string_view kAuditHeadOperation = "audit.head";
inline constexpr std::string_view kAuditHeadActor = "service";
inline constexpr std::string_view kAuditHeadType = "vouch-audit-head+jwt";

struct AuditHeadOptions {
  // A head is due once this many records follow the last head...
  int64_t every_records = 100;
  // ...or this much time has passed since it (or since the first check when
  // the log has no head yet), if any record follows it.
  absl::Duration every = absl::Minutes(1);
};

// AuditHeadSigner appends signed heads to one store. Thread-safe.
class AuditHeadSigner {
 public:
  // `store` and `signing_key` are borrowed and must outlive the signer.
  AuditHeadSigner(store::Store* store, EVP_PKEY* signing_key, AuditHeadOptions options = {});

  // SignIfDue appends a head when one is due (see AuditHeadOptions) and
  // returns whether it did.
  absl::StatusOr<bool> SignIfDue(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Sign appends a head for the newest record unless that record is itself
  // a head or the log is empty, and returns whether it did.
  absl::StatusOr<bool> Sign(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // SetSigningKey makes later heads use `signing_key`. The signer keeps a
  // reference to it, so the caller may release its own.
  void SetSigningKey(crypto::SslPtr<EVP_PKEY> signing_key) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<bool> SignLocked(const store::AuditEvent& newest, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadLastHead(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* store_;
  const AuditHeadOptions options_;
  Mutex mu_;
  EVP_PKEY* signing_key_ ABSL_GUARDED_BY(mu_);
  // The key from SetSigningKey; null while the constructor's borrowed key is in use.
  crypto::SslPtr<EVP_PKEY> owned_signing_key_ ABSL_GUARDED_BY(mu_);
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  int64_t last_head_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_head_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// MakeAuditHead returns the head record that signs `newest` with `key`.
absl::StatusOr<store::AuditEvent> MakeAuditHead(const store::AuditEvent& newest, EVP_PKEY* key,
                                                absl::Time now);

// AuditLogReport summarises a verified log.
struct AuditLogReport {
  int64_t records = 0;
  int64_t heads = 0;
  int64_t last_signed_sequence = 0;  // sequence of the newest head; 0 if none
  std::string last_head;             // detail (JWS) of the newest head; "" if none
};

// VerifyAuditLog checks a whole log read oldest first (from sequence 1):
// the hash chain (store::VerifyAuditChain), then each head's signature
// against `jwks` ({"keys": [...]}, matched by kid), its typ, and that the
// record it names is in the log with the hash it states. DataLoss names the
// first bad record's sequence and what is wrong with it.
absl::StatusOr<AuditLogReport> VerifyAuditLog(std::span<const store::AuditEvent> events,
                                              const nlohmann::json& jwks);

// AuditEventToJson returns {"sequence", "time" (RFC 3339 with microseconds),
// "actor", "operation", "target", "outcome", "detail", "prev_hash", "hash"}
// with the hashes in hex. AuditEventFromJson reads it back exactly, so a
// log fetched over HTTP verifies as the stored one.
nlohmann::json AuditEventToJson(const store::AuditEvent& event);
absl::StatusOr<store::AuditEvent> AuditEventFromJson(const nlohmann::json& json);

}  // namespace vouch::broker

#endif  // VOUCH_BROKER_AUDIT_HEAD_H_
