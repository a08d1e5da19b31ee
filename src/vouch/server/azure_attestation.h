// Azure confidential VM (vTPM) attestation: POST /challenge and
// POST /attest/AzureGuest.
//
// POST /challenge (no body) -> 200 {"nonce": base64url(32 random bytes),
//   "expires": RFC 3339 time}. The nonce is stored in the service's store, so
//   every node sharing the store accepts it once, until it expires
//   (kChallengeLifetime after issue).
//
// POST /attest/AzureGuest takes the evidence in any layout that
// azure::ParseAzureEvidence accepts (Trustee az-snp-vtpm / az-tdx-vtpm, or
// vouch's layout), with two more members:
//
//   {"hcl_report": base64url, "tpm_quote": {"message": hex, "signature": hex,
//    "pcrs": [24 x hex]}, "vcek_chain": PEM (optional), "td_quote": base64url
//    (TDX), "event_log": base64url (optional),
//    "nonce": base64url (required: a nonce from POST /challenge),
//    "runtime_data": base64url (optional: JSON the guest binds through the
//    HCL user data)}
//
// The nonce is consumed before the evidence is checked, so each nonce admits
// one attempt. The TPM quote's qualifying data must equal it. When
// runtime_data is present, the bound runtime claims' "user-data" must start
// with SHA-256(runtime_data), and the token's x-ms-runtime is that JSON. Its
// "keys" are what the key broker wraps released keys to. Without
// runtime_data, x-ms-runtime contains the bound HCL keys.
#ifndef VOUCH_SERVER_AZURE_ATTESTATION_H_
#define VOUCH_SERVER_AZURE_ATTESTATION_H_

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/azure/evidence.h"
#include "vouch/base/bytes.h"
#include "vouch/server/attestation.h"
#include "vouch/server/dcap_attestation.h"
#include "vouch/server/http_message.h"
#include "vouch/server/router.h"
#include "vouch/store/store.h"

namespace vouch::server {

inline constexpr absl::Duration kChallengeLifetime = absl::Seconds(60);
inline constexpr size_t kChallengeNonceBytes = 32;
inline constexpr size_t kMaxAzureRuntimeDataBytes = 64 * 1024;

// AzureAttestRequest is a parsed /attest/AzureGuest body, not yet verified.
struct AzureAttestRequest {
  azure::AzureEvidence evidence;
  Bytes nonce;
  std::optional<Bytes> runtime_data;
  std::optional<nlohmann::json> runtime_json;
};

// ParseAzureAttestRequest decodes the body; InvalidArgument names the member
// that is missing or malformed.
absl::StatusOr<AzureAttestRequest> ParseAzureAttestRequest(std::string_view body);

struct AzureAttestationOptions {
  // SEV-SNP roots, collateral certificates and appraisal of the service.
  SnpAttestationOptions snp;
  // Intel collateral for TD quotes; null when the service has none, in which
  // case TD quotes are rejected because their TCB cannot be evaluated.
  const DcapAttestationOptions* dcap = nullptr;
  absl::Duration challenge_lifetime = kChallengeLifetime;
};

// AttestAzure verifies the request's evidence with `nonce` as the expected
// qualifying data, appraises the hardware report (SEV-SNP appraisal, TDX
// appraisal with the TCB statuses of the DCAP options), checks the runtime
// data binding and returns azure::AzureClaims. It does not consume the nonce.
absl::StatusOr<nlohmann::json> AttestAzure(const AzureAttestRequest& request,
                                           const AzureAttestationOptions& options, absl::Time now);

// AzureClaimTypes lists the top-level claim types AttestAzure returns, for
// attestation policies of kind "AzureGuest".
std::vector<std::string> AzureClaimTypes();

class AzureAttestation {
 public:
  // IssueToken applies the "AzureGuest" policy to verified claims and
  // returns the HTTP response.
  using IssueToken = std::function<absl::StatusOr<HttpResponse>(nlohmann::json claims)>;

  // Create keeps `store` (for nonces), which must outlive this object.
  static absl::StatusOr<std::unique_ptr<AzureAttestation>> Create(store::Store& store,
                                                                  AzureAttestationOptions options);

  // AddRoutes registers POST /challenge and POST /attest/AzureGuest.
  absl::Status AddRoutes(Router& router, IssueToken issue) const;

  // IssueChallenge stores a fresh nonce and returns it with its expiry.
  absl::StatusOr<std::pair<Bytes, absl::Time>> IssueChallenge(absl::Time now) const;

 private:
  AzureAttestation(store::Store& store, AzureAttestationOptions options)
      : store_(store), options_(std::move(options)) {}

  absl::StatusOr<HttpResponse> HandleChallenge(const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> HandleAttest(const HttpRequest& request,
                                            const IssueToken& issue) const;

  store::Store& store_;
  AzureAttestationOptions options_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_AZURE_ATTESTATION_H_
