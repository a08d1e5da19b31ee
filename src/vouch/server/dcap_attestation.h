// Intel TDX and SGX attestation: POST /attest/TdxVm and /attest/SgxEnclave.
//
// The request body has the shape of Microsoft Azure Attestation's
// AttestTdxVm and AttestSgxEnclave requests:
//
//   {"quote": base64url(DCAP quote),
//    "runtimeData": {"data": base64url(runtime data), "dataType": "JSON" | "Binary"},
//    "nonce": "optional string",
//    "eventLog": base64url(CCEL event log), optional, TdxVm only,
//    "collateral": optional, the quote's collateral as Intel PCS serves it:
//      {"tcbInfo": TCB info JSON text, "qeIdentity": QE identity JSON text,
//       "tcbInfoIssuerChain", "qeIdentityIssuerChain", "pckCrlIssuerChain":
//       PEM, "pckCrl", "rootCaCrl": base64url DER}}
//
// The quote's report data must bind the runtime data, in one of two ways:
// bytes 0..31 equal SHA-256(runtime data) (bytes 32..63 are not checked, as
// in Azure Attestation), or all 64 bytes equal SHA-512(runtime data). The
// claim "x-vouch-runtime-data-hash" names the one that matched.
//
// With an event log, RTMR0..3 replayed from it must equal the quote's
// (dcap/ccel.h), and the claim "x-vouch-tdx-eventlog-rtmrs" reports each RTMR
// as "verified" or "not covered".
//
// Collateral (TCB info, QE identity, CRLs, Intel certificates) comes from the
// request when it carries some (its signatures are checked up to the pinned
// Intel root like any other), then from the --collateral folder, loaded once at start-up, then from the
// --collateral-cache folder and the --pcs-url service when they are set
// (collateral/provider.h); the quote's FMSPC and TEE type pick the documents
// for each request. A quote with an encrypted PPID (certification data
// type 3) takes its PCK certificate from the same sources, and is verified
// as fully as one that carries its chain.
//
// When simulated evidence is allowed (config.allow_simulated_snp), quotes of
// the simulated TDX platform (dcap/simulated.h, kept in
// <data_dir>/simulated-tdx) verify against its own root and collateral, and
// their claims carry "x-vouch-simulated": true, so that the service issues
// their tokens under <issuer>/simulated. The pinned Intel root stays the only
// root for every other quote.
#ifndef VOUCH_SERVER_DCAP_ATTESTATION_H_
#define VOUCH_SERVER_DCAP_ATTESTATION_H_

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/collateral/provider.h"
#include "vouch/dcap/appraisal.h"
#include "vouch/dcap/collateral_set.h"
#include "vouch/dcap/simulated.h"
#include "vouch/server/config.h"
#include "vouch/server/http_message.h"
#include "vouch/server/router.h"

namespace vouch::server {

// Folder of the simulated TDX PKI below the data folder.
inline constexpr char kSimulatedTdxDir[] = "simulated-tdx";

inline constexpr size_t kMaxDcapRuntimeDataBytes = 64 * 1024;
// A TDX CCEL area is 256 KiB (zero padded) on Google Cloud and in OVMF.
// NOTE: the request's JSON is limited to 256 KiB (policy::ParseStrictJson),
// so clients must send such a log without its zero tail.
inline constexpr size_t kMaxDcapEventLogBytes = 512 * 1024;

// DcapAttestRequest is a parsed request body, not yet verified.
struct DcapAttestRequest {
  Bytes quote;
  Bytes runtime_data;  // exactly the decoded bytes that the report data binds
  bool runtime_data_is_json = false;
  nlohmann::json runtime_json;  // set when dataType is "JSON": a JSON object
  std::optional<std::string> nonce;
  std::optional<Bytes> event_log;  // CCEL, TdxVm only
  std::optional<dcap::QuoteCollateral> collateral;
};

// ParseDcapAttestRequest decodes and checks the body. Unknown or duplicate
// members, a missing quote or runtimeData, data that is not base64url, a
// dataType other than "JSON" or "Binary", JSON runtime data that is not an
// object, and runtime data over kMaxDcapRuntimeDataBytes are InvalidArgument.
// So is an event log over kMaxDcapEventLogBytes.
absl::StatusOr<DcapAttestRequest> ParseDcapAttestRequest(std::string_view body);

// DcapAttestRequestJson builds a request body as a client sends it.
nlohmann::json DcapAttestRequestJson(ByteSpan quote, ByteSpan runtime_data, bool json,
                                     const std::optional<std::string>& nonce = std::nullopt);

enum class DcapEvidence { kTdxVm, kSgxEnclave };

struct DcapAttestationOptions {
  dcap::CollateralSet collateral;
  // The cache folder and PCS service, tried after `collateral`; null when
  // neither is configured.
  std::shared_ptr<const collateral::CollateralProvider> provider;
  dcap::AppraisalPolicy appraisal;
  // The verification time of quotes and collateral; unset means the
  // request's time. Set only by tests (Config::dcap_verification_time_for_test).
  std::optional<absl::Time> verification_time_for_test;
  // The simulated TDX platform, set only when simulated evidence is allowed.
  std::optional<dcap::SimulatedTdx> simulated;
};

// SelectCollateral returns the collateral for `selector` from the folder
// set, then from the provider. Unauthenticated when no source has it.
absl::StatusOr<dcap::QuoteCollateral> SelectCollateral(const DcapAttestationOptions& options,
                                                       const dcap::QuoteSelector& selector,
                                                       absl::Time now);

// VerifyDcapQuote verifies a quote with `request_collateral` when set, or
// else the collateral of `options`: for a quote with an encrypted PPID it
// first finds the PCK certificate. Errors as in AttestDcap's step 2.
absl::StatusOr<dcap::VerifiedQuote> VerifyDcapQuote(
    ByteSpan quote, const DcapAttestationOptions& options, absl::Time now,
    const dcap::QuoteCollateral* request_collateral = nullptr);

// AttestDcap runs the checks in order and returns the token claims:
//   1. the quote's TEE type matches the route (InvalidArgument);
//   2. collateral selection for the quote's FMSPC and dcap::VerifyQuote
//      (InvalidArgument for a malformed quote; missing collateral and every
//      other verification failure are Unauthenticated, except "tcb level not
//      supported" and revocation, which stay PermissionDenied);
//   3. TdxVm with an event log: dcap::VerifyCcel (InvalidArgument for a
//      malformed log or an event log on the SgxEnclave route,
//      Unauthenticated for an RTMR that does not match);
//   4. the runtime data binding (InvalidArgument);
//   5. dcap::Appraise (PermissionDenied).
// The claims are dcap::DcapClaims plus "x-ms-runtime" (JSON runtime data),
// "x-ms-sgx-ehd" (SGX: base64url of the runtime data),
// "x-vouch-runtime-data-hash" and "nonce" when the request has one.
absl::StatusOr<nlohmann::json> AttestDcap(const DcapAttestRequest& request, DcapEvidence evidence,
                                          const DcapAttestationOptions& options, absl::Time now);

// DcapAttestation serves the two routes.
class DcapAttestation {
 public:
  // IssueToken applies the attestation policy of `kind` ("TdxVm",
  // "SgxEnclave") to verified claims and returns the HTTP response.
  using IssueToken =
      std::function<absl::StatusOr<HttpResponse>(std::string_view kind, nlohmann::json claims)>;

  // Create loads the collateral folder (config.collateral_dir, when set)
  // and the appraisal settings (config.accept_tcb, config.allow_debug).
  static absl::StatusOr<std::unique_ptr<DcapAttestation>> Create(const Config& config);

  // AddRoutes registers POST /attest/TdxVm and POST /attest/SgxEnclave.
  // This object must outlive the router.
  absl::Status AddRoutes(Router& router, IssueToken issue) const;

  const DcapAttestationOptions& options() const { return options_; }

 private:
  DcapAttestation() = default;

  absl::StatusOr<HttpResponse> Handle(const HttpRequest& request, DcapEvidence evidence,
                                      const IssueToken& issue) const;

  DcapAttestationOptions options_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_DCAP_ATTESTATION_H_
