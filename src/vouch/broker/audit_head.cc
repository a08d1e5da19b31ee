#include "vouch/broker/audit_head.h"

#include <array>
#include <utility>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/jws.h"
#include "vouch/policy/strict_json.h"
#include "vouch/store/audit.h"
#include "vouch/token/issuer.h"

namespace vouch::broker {
namespace {

using Json = nlohmann::json;

// kAuditTimeFormat is RFC 3339 in UTC with microseconds, the precision the
// store keeps, so a record read back from JSON hashes as stored.
constexpr char kAuditTimeFormat[] = "%Y-%m-%d%ET%H:%M:%E6SZ";

constexpr std::array<crypto::JwsAlg, 3> kHeadAlgs = {crypto::JwsAlg::kRs256,
                                                     crypto::JwsAlg::kEs256,
                                                     crypto::JwsAlg::kEs384};

absl::Status BadRecord(int64_t sequence, std::string_view problem) {
  return absl::DataLossError(
      fmt::format("audit log: record {} (signed head): {}", sequence, problem));
}

// FindKey returns the JWKS key with `kid`, or null.
const Json* FindKey(const Json& jwks, std::string_view kid) {
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) {
    return nullptr;
  }
  for (const Json& key : jwks["keys"]) {
    if (key.is_object() && policy::StringOr(key, "kid") == kid) {
      return &key;
    }
  }
  return nullptr;
}

// VerifyHead checks one head record against the log it sits in.
absl::Status VerifyHead(const store::AuditEvent& head, std::span<const store::AuditEvent> events,
                        const Json& jwks) {
  absl::StatusOr<crypto::JwsParts> parts = crypto::JwsDecode(head.detail);
  if (!parts.ok()) {
    return BadRecord(head.sequence, fmt::format("not a JWS: {}", parts.status().message()));
  }
  if (policy::StringOr(parts->header, "typ") != kAuditHeadType) {
    return BadRecord(head.sequence, fmt::format("typ is not {}", kAuditHeadType));
  }
  const std::string kid = policy::StringOr(parts->header, "kid");
  const Json* jwk = FindKey(jwks, kid);
  if (jwk == nullptr) {
    return BadRecord(head.sequence, fmt::format("signing key {} is not in the JWKS", kid));
  }
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::PublicKeyFromJwk(*jwk);
  if (!key.ok()) {
    return BadRecord(head.sequence, fmt::format("JWKS key {}: {}", kid, key.status().message()));
  }
  if (absl::Status status = crypto::JwsVerify(*parts, key->get(), kHeadAlgs); !status.ok()) {
    return BadRecord(head.sequence, fmt::format("signature: {}", status.message()));
  }

  const Json payload = Json::parse(parts->payload, nullptr, false);
  if (!payload.is_object() || !payload.contains("sequence") ||
      !payload["sequence"].is_number_integer() || !payload.contains("hash") ||
      !payload["hash"].is_string()) {
    return BadRecord(head.sequence, "payload lacks sequence or hash");
  }
  const int64_t signed_sequence = payload["sequence"].get<int64_t>();
  if (signed_sequence < 1 || signed_sequence >= head.sequence ||
      signed_sequence < events.front().sequence) {
    return BadRecord(head.sequence,
                     fmt::format("signs record {}, which does not precede it", signed_sequence));
  }
  const store::AuditEvent& signed_record =
      events[static_cast<size_t>(signed_sequence - events.front().sequence)];
  if (HexEncode(signed_record.hash) != payload["hash"].get<std::string>()) {
    return BadRecord(head.sequence,
                     fmt::format("signs hash {} for record {}, but the log has {}: the log "
                                 "was rewritten after it was signed",
                                 payload["hash"].get<std::string>(), signed_sequence,
                                 HexEncode(signed_record.hash)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<store::AuditEvent> MakeAuditHead(const store::AuditEvent& newest, EVP_PKEY* key,
                                                absl::Time now) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsAlg alg, token::SigningAlgForKey(key));
  VOUCH_ASSIGN_OR_RETURN(const std::string kid, crypto::JwkThumbprint(key));
  const Json payload = {{"sequence", newest.sequence},
                        {"hash", HexEncode(newest.hash)},
                        {"time", FormatRfc3339(now)}};
  VOUCH_ASSIGN_OR_RETURN(std::string jws,
                         crypto::JwsSign(key, alg, Json{{"kid", kid}, {"typ", kAuditHeadType}},
                                         payload.dump()));
  store::AuditEvent head;
  head.time = now;
  head.actor = std::string(kAuditHeadActor);
  head.operation = std::string(kAuditHeadOperation);
  head.target = "audit";
  head.outcome = "ok";
  head.detail = std::move(jws);
  return head;
}

AuditHeadSigner::AuditHeadSigner(store::Store* store, EVP_PKEY* signing_key,
                                 AuditHeadOptions options)
    : store_(store), options_(options), signing_key_(signing_key) {}

void AuditHeadSigner::SetSigningKey(crypto::SslPtr<EVP_PKEY> signing_key) {
  MutexLock lock(&mu_);
  signing_key_ = signing_key.get();
  owned_signing_key_ = std::move(signing_key);
}

absl::Status AuditHeadSigner::LoadLastHead(absl::Time now) {
  if (loaded_) {
    return absl::OkStatus();
  }
  store::AuditQuery query;
  query.operation = std::string(kAuditHeadOperation);
  query.limit = 1;
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::AuditEvent> heads, store_->QueryAudit(query));
  // Without any head, the time limit counts from the first check.
  last_head_time_ = heads.empty() ? now : heads.back().time;
  if (!heads.empty()) {
    last_head_sequence_ = heads.back().sequence;
  }
  loaded_ = true;
  return absl::OkStatus();
}

absl::StatusOr<bool> AuditHeadSigner::SignLocked(const store::AuditEvent& newest,
                                                 absl::Time now) {
  if (newest.operation == kAuditHeadOperation) {
    return false;
  }
  VOUCH_ASSIGN_OR_RETURN(const store::AuditEvent head, MakeAuditHead(newest, signing_key_, now));
  VOUCH_RETURN_IF_ERROR(store_->AppendAudit(head));
  // The head lands after `newest`, or later when other records came first.
  last_head_sequence_ = newest.sequence + 1;
  last_head_time_ = now;
  return true;
}

absl::StatusOr<bool> AuditHeadSigner::SignIfDue(absl::Time now) {
  MutexLock lock(&mu_);
  VOUCH_RETURN_IF_ERROR(LoadLastHead(now));
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::AuditEvent> newest, store_->ReadAudit(1));
  if (newest.empty() || newest.back().sequence <= last_head_sequence_) {
    return false;
  }
  const bool by_count = newest.back().sequence - last_head_sequence_ >= options_.every_records;
  const bool by_time = now - last_head_time_ >= options_.every;
  if (!by_count && !by_time) {
    return false;
  }
  return SignLocked(newest.back(), now);
}

absl::StatusOr<bool> AuditHeadSigner::Sign(absl::Time now) {
  MutexLock lock(&mu_);
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::AuditEvent> newest, store_->ReadAudit(1));
  if (newest.empty()) {
    return false;
  }
  return SignLocked(newest.back(), now);
}

absl::StatusOr<AuditLogReport> VerifyAuditLog(std::span<const store::AuditEvent> events,
                                              const nlohmann::json& jwks) {
  AuditLogReport report;
  if (events.empty()) {
    return report;
  }
  if (events.front().sequence != 1) {
    return absl::DataLossError(
        fmt::format("audit log: first record has sequence {}, want 1: older records were removed",
                    events.front().sequence));
  }
  VOUCH_RETURN_IF_ERROR(store::VerifyAuditChain(events));
  for (const store::AuditEvent& event : events) {
    ++report.records;
    if (event.operation != kAuditHeadOperation) {
      continue;
    }
    VOUCH_RETURN_IF_ERROR(VerifyHead(event, events, jwks));
    ++report.heads;
    report.last_signed_sequence = event.sequence;
    report.last_head = event.detail;
  }
  return report;
}

nlohmann::json AuditEventToJson(const store::AuditEvent& event) {
  return Json{{"sequence", event.sequence},
              {"time", absl::FormatTime(kAuditTimeFormat, event.time, absl::UTCTimeZone())},
              {"actor", event.actor},
              {"operation", event.operation},
              {"target", event.target},
              {"outcome", event.outcome},
              {"detail", event.detail},
              {"prev_hash", HexEncode(event.prev_hash)},
              {"hash", HexEncode(event.hash)}};
}

absl::StatusOr<store::AuditEvent> AuditEventFromJson(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("sequence") || !json["sequence"].is_number_integer()) {
    return InvalidArgumentf("audit record: want an object with an integer sequence");
  }
  store::AuditEvent event;
  event.sequence = json["sequence"].get<int64_t>();
  for (const char* member :
       {"time", "actor", "operation", "target", "outcome", "detail", "prev_hash", "hash"}) {
    if (!json.contains(member) || !json[member].is_string()) {
      return InvalidArgumentf("audit record {}: {} must be a string", event.sequence, member);
    }
  }
  std::string error;
  if (!absl::ParseTime(kAuditTimeFormat, json["time"].get<std::string>(), absl::UTCTimeZone(),
                       &event.time, &error)) {
    return InvalidArgumentf("audit record {}: time: {}", event.sequence, error);
  }
  event.actor = json["actor"].get<std::string>();
  event.operation = json["operation"].get<std::string>();
  event.target = json["target"].get<std::string>();
  event.outcome = json["outcome"].get<std::string>();
  event.detail = json["detail"].get<std::string>();
  VOUCH_ASSIGN_OR_RETURN(event.prev_hash, HexDecode(json["prev_hash"].get<std::string>()));
  VOUCH_ASSIGN_OR_RETURN(event.hash, HexDecode(json["hash"].get<std::string>()));
  return event;
}

}  // namespace vouch::broker
