// AttestationPolicies: the attestation policy of each evidence kind, written
// in Microsoft Azure Attestation's policy language (policy/attestation_policy.h),
// kept in the store and applied to the claims of verified evidence before a
// token is issued. docs/attestation-policy.md describes the language.
//
// Routes (AddRoutes; errors use the JSON shape of status_mapping.h):
//   PUT /policies/{kind}   admin; body is the policy text (Content-Type
//                          text/plain), or in isolated mode a compact JWS
//                          whose payload is {"AttestationPolicy":
//                          base64url(text)}, signed by a policy-signing
//                          certificate           -> 200 {kind, policy, x-ms-policy-hash}
//                                                   400, 401, 403, 404, 415
//   GET  /policies/{kind}  admin                 -> 200 {kind, policy,
//                                                   x-ms-policy-hash, default}
//
// Kinds: "SevSnpVm", "TdxVm", "SgxEnclave", "AzureGuest", "Tpm". Each kind starts with
// a default policy that permits all evidence that verified and issues nothing,
// so the token carries the incoming claims unchanged plus "x-ms-policy-hash".
//
// For attest handlers: verify the evidence, build the incoming claims, then
//   VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, policies.Apply("TdxVm", incoming));
// and issue `claims`. A PermissionDenied status maps to HTTP 403 and its
// message names the rule that denied. Each evidence kind registers the claim
// types its evidence produces with RegisterKnownClaims before its policy can
// be set, because a policy that names an unknown claim type is rejected.
#ifndef VOUCH_SERVER_ATTESTATION_POLICIES_H_
#define VOUCH_SERVER_ATTESTATION_POLICIES_H_

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/base/mutex.h"
#include "vouch/crypto/x509.h"
#include "vouch/policy/attestation_policy.h"
#include "vouch/server/router.h"
#include "vouch/store/store.h"

namespace vouch::server {

// Evidence kinds, as they appear in /attest/{kind} and /policies/{kind}.
inline constexpr char kSevSnpVmKind[] = "SevSnpVm";
inline constexpr char kTdxVmKind[] = "TdxVm";
inline constexpr char kSgxEnclaveKind[] = "SgxEnclave";
inline constexpr char kAzureGuestKind[] = "AzureGuest";
inline constexpr char kTpmKind[] = "Tpm";

// Store blob of a kind's policy text: "attestation-policy.<kind>".
inline constexpr char kPolicyBlobPrefix[] = "attestation-policy.";

// RegisterKnownClaims adds `claim_types` to the claim types that evidence of
// `kind` produces; a policy for `kind` may test only those and the types its
// own add/issue rules create. Thread-safe; calling it again adds more. The
// SevSnpVm list (SevSnpVmClaimTypes) is registered by
// AttestationPolicies::Load. Same as
// policy::RegisterKnownClaims, repeated here for attest handlers.
void RegisterKnownClaims(std::string_view kind, const std::vector<std::string>& claim_types);

// SevSnpVmClaimTypes lists the claim types of SEV-SNP evidence:
// snp::SnpClaims (docs/claims.md) plus x-ms-runtime, nonce and
// x-vouch-simulated, which AttestSnp adds.
const std::vector<std::string>& SevSnpVmClaimTypes();

struct AttestationPoliciesOptions {
  // Isolated mode: PUT accepts only a JWS signed by one of
  // `signing_certificates`, never plain text.
  bool isolated = false;
  std::vector<crypto::Certificate> signing_certificates;
};

// PolicyRecord is what GET /policies/{kind} returns.
struct PolicyRecord {
  std::string kind;
  std::string text;         // The policy text exactly as stored.
  std::string policy_hash;  // base64url(SHA-256(text)), no padding.
  bool is_default = false;  // No policy was set; the built-in default applies.
};

// HandlerWrapper turns a handler into one that checks the caller's admin
// credential first (Service passes its admin check).
using HandlerWrapper = std::function<Handler(Handler)>;

class AttestationPolicies {
 public:
  // Load reads every kind's stored policy from `store` (which must outlive
  // the returned object) and compiles it. A stored policy that no longer
  // parses is an error, so a server never starts with a silently dropped
  // policy. In isolated mode at least one signing certificate is required.
  static absl::StatusOr<std::unique_ptr<AttestationPolicies>> Load(
      store::Store& store, AttestationPoliciesOptions options);

  // Apply evaluates the policy of `kind` on `incoming_claims` (a JSON object
  // of claim type to value). It returns the claims to issue: every incoming
  // claim, plus the claims the issuance rules issued, plus "x-ms-policy-hash".
  // PermissionDenied names the rule that denied (or reports that no rule
  // permitted); InvalidArgument reports a comparison between mismatched
  // types; NotFound an unknown kind. Thread-safe; a concurrent Set is
  // either fully seen or not at all.
  absl::StatusOr<nlohmann::json> Apply(std::string_view kind,
                                       const nlohmann::json& incoming_claims) const;

  // Explain evaluates like Apply but returns the trace of every rule.
  absl::StatusOr<policy::Evaluation> Explain(std::string_view kind,
                                             const nlohmann::json& incoming_claims) const;

  // Get returns the policy of `kind`; NotFound for an unknown kind.
  absl::StatusOr<PolicyRecord> Get(std::string_view kind) const;

  // Set checks `body` (policy text, or in isolated mode a signed JWS), parses
  // it, checks its claim types against the kind's known claims, stores it and
  // makes it current. InvalidArgument carries line:column for a syntax error;
  // Unauthenticated means a missing or wrong signature in isolated mode.
  absl::StatusOr<PolicyRecord> Set(std::string_view kind, std::string_view body);

  // AddRoutes registers PUT and GET /policies/{kind}, each wrapped by
  // `admin`. The handlers borrow this object, which must outlive `router`.
  absl::Status AddRoutes(Router& router, const HandlerWrapper& admin);

  bool isolated() const { return options_.isolated; }

 private:
  struct Current {
    std::shared_ptr<const policy::AttestationPolicy> policy;
    PolicyRecord record;
  };

  AttestationPolicies(store::Store& store, AttestationPoliciesOptions options);
  absl::StatusOr<Current> Lookup(std::string_view kind) const;
  absl::StatusOr<std::string> PolicyTextFromBody(std::string_view body) const;

  store::Store& store_;
  AttestationPoliciesOptions options_;
  // write_mutex_ serializes Set so the store and current_ agree; mutex_
  // guards current_ alone, so Apply never waits for a store write.
  Mutex write_mutex_;
  mutable Mutex mutex_;
  std::map<std::string, Current, std::less<>> current_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_ATTESTATION_POLICIES_H_
