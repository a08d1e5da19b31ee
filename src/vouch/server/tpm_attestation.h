// Generic TPM 2.0 attestation for machines without a TEE (Trusted Launch
// VMs, bare metal): enroll an attestation key (AK) by credential activation
// against the endorsement key (EK), then verify quotes by that AK.
//
// POST /tpm/enroll {"ekCertificate": PEM or base64url DER (the EK
//   certificate first, then any intermediate CA certificates),
//   "ekPublic": base64url TPMT_PUBLIC or TPM2B_PUBLIC of the EK,
//   "akPublic": base64url TPMT_PUBLIC or TPM2B_PUBLIC of the AK}
//   -> 200 {"enrollmentId": 32 hex, "credentialBlob": base64url,
//           "encryptedSecret": base64url}
//   The EK certificate must chain to a configured manufacturer root
//   (--tpm-ek-roots), must not be revoked by a configured CRL
//   (--tpm-ek-crls), must certify the EK public key sent (RSA, or ECC on
//   NIST P-256 or P-384), and the AK must have
//   the attributes of a TPM-resident attestation key. The credential protects
//   a fresh 32-byte secret for that EK and the AK's name. The server keeps
//   only SHA-256 of the secret, for the enrollment lifetime (60 s).
//   503 when no EK roots are configured.
// POST /tpm/activate {"enrollmentId", "secret": base64url}
//   -> 200 {"akName": hex}
//   The secret is what TPM2_ActivateCredential recovered. Each enrollment id
//   admits one attempt, right or wrong; unknown, used or expired ids and a
//   wrong secret are 401. On success the AK is enrolled under its name.
// POST /attest/Tpm {"akName": hex, "quote": base64url TPMS_ATTEST,
//   "signature": base64url TPMT_SIGNATURE, "pcrs": {"sha256": {"0": hex,
//   ...}}, "eventLog": base64url (optional), "nonce": base64url from
//   POST /challenge}
//   -> 200 {"token"} after the "Tpm" attestation policy. The AK must be
//   enrolled (else 401), the quote signed by it over the nonce, which is
//   consumed once, and the PCR digest must match the PCR values sent.
//
// Store blobs: "tpm-enrollment:<id>" for pending enrollments and
// "tpm-ak:<hex AK name>" for enrolled AKs, both JSON. Blob names cannot
// contain '/', so the separator is ':'.
#ifndef VOUCH_SERVER_TPM_ATTESTATION_H_
#define VOUCH_SERVER_TPM_ATTESTATION_H_

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/http_message.h"
#include "vouch/server/router.h"
#include "vouch/store/store.h"

namespace vouch::server {

inline constexpr absl::Duration kTpmEnrollmentLifetime = absl::Seconds(60);
inline constexpr size_t kTpmCredentialSecretBytes = 32;
inline constexpr char kTpmEnrollmentBlobPrefix[] = "tpm-enrollment:";
inline constexpr char kTpmAkBlobPrefix[] = "tpm-ak:";

struct TpmAttestationOptions {
  // Manufacturer roots that EK certificates must chain to. Empty disables
  // POST /tpm/enroll (503).
  std::vector<crypto::Certificate> ek_roots;
  // CRLs of the EK CAs (roots and intermediates). Each certificate of an
  // EK chain is checked against every CRL whose issuer is the
  // certificate's issuer. Such a CRL must verify with that issuer's key
  // and be current (thisUpdate <= now <= nextUpdate), or enrollment is
  // rejected. A CA with no CRL here is not checked.
  std::vector<crypto::Crl> ek_crls;
  absl::Duration enrollment_lifetime = kTpmEnrollmentLifetime;
};

// LoadTpmEkRoots reads the PEM or DER certificates of `path`, a file or a
// folder (every regular file in it). An empty path returns no roots.
// Every root must be a CA certificate.
absl::StatusOr<std::vector<crypto::Certificate>> LoadTpmEkRoots(const std::string& path);

// LoadTpmEkCrls reads the CRLs (PEM or DER, one per file) of `path`, a file
// or a folder (every regular file in it). A file that is not a CRL is
// kInvalidArgument, so a misplaced file fails startup instead of being
// skipped. An empty path returns no CRLs.
absl::StatusOr<std::vector<crypto::Crl>> LoadTpmEkCrls(const std::string& path);

// TpmClaimTypes lists the top-level claim types of TPM evidence, for
// attestation policies of kind "Tpm".
std::vector<std::string> TpmClaimTypes();

class TpmAttestation {
 public:
  // IssueToken applies the "Tpm" policy to verified claims and returns the
  // HTTP response.
  using IssueToken = std::function<absl::StatusOr<HttpResponse>(nlohmann::json claims)>;

  // Create keeps `store` (enrollments, enrolled AKs, nonces), which must
  // outlive this object, and registers TpmClaimTypes for kind "Tpm".
  static absl::StatusOr<std::shared_ptr<const TpmAttestation>> Create(
      store::Store& store, TpmAttestationOptions options);

  // AddRoutes registers POST /tpm/enroll, /tpm/activate and /attest/Tpm.
  // The handlers share ownership of `attestation`.
  static absl::Status AddRoutes(Router& router, std::shared_ptr<const TpmAttestation> attestation,
                                IssueToken issue);

  // Enroll, Activate and Attest are the route handlers' work on a parsed
  // JSON body, with the time passed in so tests can move it. Attest returns
  // the verified claims before the policy.
  absl::StatusOr<nlohmann::json> Enroll(const nlohmann::json& body, absl::Time now) const;
  absl::StatusOr<nlohmann::json> Activate(const nlohmann::json& body, absl::Time now) const;
  absl::StatusOr<nlohmann::json> Attest(const nlohmann::json& body, absl::Time now) const;

 private:
  TpmAttestation(store::Store& store, TpmAttestationOptions options)
      : store_(store), options_(std::move(options)) {}

  // VerifyEkCertificate checks the chain of `chain[0]` to a configured root
  // and each link against the configured CRLs, and returns chain[0].
  absl::StatusOr<crypto::Certificate> VerifyEkCertificate(
      const std::vector<crypto::Certificate>& chain, absl::Time now) const;

  // CheckNotRevoked applies the CRLs of `issuer` to `cert`.
  absl::Status CheckNotRevoked(const crypto::Certificate& cert, const crypto::Certificate& issuer,
                               absl::Time now) const;

  store::Store& store_;
  TpmAttestationOptions options_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_TPM_ATTESTATION_H_
