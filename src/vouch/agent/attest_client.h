// The guest side of the vouch server API. It builds the runtime data with the
// ephemeral key and the attestation request, in the shape of Microsoft Azure
// Attestation's SevSnpVm API. It sends the key release request, in the shape
// of Azure Key Vault Secure Key Release, and checks the signed release.
#ifndef VOUCH_AGENT_ATTEST_CLIENT_H_
#define VOUCH_AGENT_ATTEST_CLIENT_H_

#include <openssl/evp.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "vouch/agent/http_client.h"
#include "vouch/agent/platform.h"
#include "vouch/agent/server_api.h"
#include "vouch/base/bytes.h"

namespace vouch::agent {

// Key id of the ephemeral key in the runtime data. The server wraps released
// keys to the RSA key with this kid.
inline constexpr std::string_view kEphemeralKeyId = "TpmEphemeralEncryptionKey";

struct RuntimeData {
  // The serialized runtime data JSON, {"keys": [JWK]}. These exact bytes are
  // sent and hashed; the JSON is never serialized twice.
  std::string json;
  // SHA-256(json) followed by 32 zero bytes (kReportDataBytes in all).
  Bytes report_data;
};

// MakeRuntimeData puts the public half of `ephemeral_key` (RSA) into the
// runtime data as a JWK with kid kEphemeralKeyId and key_ops ["encrypt"].
absl::StatusOr<RuntimeData> MakeRuntimeData(EVP_PKEY* ephemeral_key);

// ReportDataFor returns SHA-256(runtime_data) || 32 zero bytes, the
// REPORT_DATA that binds the runtime data to the evidence.
Bytes ReportDataFor(ByteSpan runtime_data);

// BuildSnpAttestRequest returns the JSON body of POST /attest/SevSnpVm.
// With certificates, "report" is base64url of {"SnpReport": ...,
// "VcekCertChain": PEM chain}; without, it is base64url of the raw report and
// the server takes the certificates from its collateral folder.
absl::StatusOr<std::string> BuildSnpAttestRequest(const Evidence& evidence,
                                                  std::string_view runtime_data,
                                                  const std::optional<std::string>& nonce);

// BuildTdxAttestRequest returns the JSON body of POST /attest/TdxVm for
// evidence of kind "tdx" (a DCAP quote): {"quote": base64url(quote),
// "runtimeData": {"data": ..., "dataType": "JSON"}, "nonce": ...}.
absl::StatusOr<std::string> BuildTdxAttestRequest(const Evidence& evidence,
                                                  std::string_view runtime_data,
                                                  const std::optional<std::string>& nonce);

// BuildAzureAttestRequest returns the JSON body of POST /attest/AzureGuest
// for evidence of kind "azure-vtpm" (the JSON that AzureCvmPlatform makes):
// that JSON plus "nonce" (required: the POST /challenge nonce the TPM quote
// carries) and "runtime_data" (base64url).
absl::StatusOr<std::string> BuildAzureAttestRequest(const Evidence& evidence,
                                                    std::string_view runtime_data,
                                                    const std::optional<std::string>& nonce);

// TokenSummary contains the claims of an attestation token that the agent
// prints. They are read without checking the signature: the token goes
// back to the server that issued it, which checks it.
struct TokenSummary {
  std::string issuer;
  absl::Time expires = absl::InfinitePast();
  bool simulated = false;
};
absl::StatusOr<TokenSummary> SummarizeToken(std::string_view jwt);

// VerifiedRelease describes a key release whose signature checked out.
struct VerifiedRelease {
  std::string kid;      // "<server>/keys/<name>/<version>" from the release.
  std::string version;  // The last part of kid.
  std::string enc;      // The wrapping that the server used.
};

class AttestClient {
 public:
  // `server_url` is the base URL ("https://vouch.example:8443"); a trailing
  // slash is ignored. `http` must outlive the client.
  AttestClient(std::string server_url, const HttpClient& http);

  const std::string& server_url() const { return server_url_; }

  // Attest sends the evidence and runtime data and returns the token: kind
  // "snp" to /attest/SevSnpVm, kind "tdx" to /attest/TdxVm, kind
  // "azure-vtpm" to /attest/AzureGuest (which requires a nonce from
  // Challenge).
  absl::StatusOr<std::string> Attest(const Evidence& evidence, std::string_view runtime_data,
                                     const std::optional<std::string>& nonce) const;

  // Challenge returns a single-use nonce (base64url) from POST /challenge.
  absl::StatusOr<std::string> Challenge() const;

  // Release requests key `name` (`version`, or the latest when empty) for
  // `token` and returns the compact JWS from the "value" member.
  absl::StatusOr<std::string> Release(std::string_view name, std::string_view version,
                                      std::string_view token, std::string_view enc) const;

  // Jwks returns the server's signing keys from GET /certs.
  absl::StatusOr<nlohmann::json> Jwks() const;

 private:
  std::string server_url_;
  const HttpClient& http_;
};

// VerifyRelease checks the release JWS against `jwks` (the key named by its
// "kid"; RS256, PS256, ES256 or ES384), then checks that it releases a
// version of `expected_name` with `expected_enc`. The wrapped key itself is
// read and unwrapped by broker::UnwrapReleasedKey. Errors: Unauthenticated
// for a signature that does not verify or an unknown kid, InvalidArgument
// for a malformed payload.
absl::StatusOr<VerifiedRelease> VerifyRelease(std::string_view jws, const nlohmann::json& jwks,
                                              std::string_view expected_name,
                                              std::string_view expected_enc);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_ATTEST_CLIENT_H_
