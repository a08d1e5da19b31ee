// The agent's side of generic TPM 2.0 attestation (server/tpm_attestation.h):
// enroll the TPM's attestation key (AK) by credential activation against
// its endorsement key (EK), then attest with a quote over a server nonce.
//
// EnrollTpmAk reads the EK certificate that the TPM manufacturer stored in
// NV (index 0x01C00002 for the RSA-2048 EK, else 0x01C0000A for the ECC
// P-256 EK; TCG EK Credential Profile 2.0), recreates that EK from its
// standard template (a primary key is derived from the endorsement seed and
// the template, so it is the key the certificate names), creates the AK,
// and runs POST /tpm/enroll, TPM2_ActivateCredential and POST /tpm/activate.
// AttestTpm quotes the SHA-256 PCRs over a nonce from POST /challenge and
// sends the quote, the PCR values and the event log to POST /attest/Tpm.
#ifndef VOUCH_AGENT_TPM_ENROLLMENT_H_
#define VOUCH_AGENT_TPM_ENROLLMENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/agent/http_client.h"
#include "vouch/tpm/tpm_client.h"

namespace vouch::agent {

// NV indices of EK certificates (TCG EK Credential Profile 2.0).
inline constexpr uint32_t kRsaEkCertificateIndex = 0x01C00002;
inline constexpr uint32_t kEccEkCertificateIndex = 0x01C0000A;

struct TpmEnrollmentOptions {
  // Persistent handles for the EK (TCG's reserved EK handle) and the AK.
  uint32_t ek_handle = 0x81010001;
  uint32_t ak_handle = 0x81000003;
  // The TCG event log sent with each attestation; empty sends none.
  std::string event_log_path;
};

// EnrollTpmAk enrolls the AK at options.ak_handle with the server at
// `server_url` and returns the AK name (lower-case hex) that AttestTpm
// sends. It replaces keys at both persistent handles. Errors name the step
// that failed; a server rejection keeps the server's message.
absl::StatusOr<std::string> EnrollTpmAk(const HttpClient& http, std::string_view server_url,
                                        tpm::TpmClient& tpm, const TpmEnrollmentOptions& options);

// AttestTpm quotes SHA-256 PCRs 0..23 with the enrolled AK over a nonce
// from POST /challenge and returns the token from POST /attest/Tpm.
absl::StatusOr<std::string> AttestTpm(const HttpClient& http, std::string_view server_url,
                                      tpm::TpmClient& tpm, std::string_view ak_name,
                                      const TpmEnrollmentOptions& options);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_TPM_ENROLLMENT_H_
