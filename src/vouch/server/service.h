// Service: the attestation service and the key broker behind one Router.
//
// Routes (errors use the JSON shape of status_mapping.h):
//   POST /attest/SevSnpVm                 -> {"token": JWT}      400, 401, 403, 415
//   POST /attest/TdxVm, /attest/SgxEnclave -> {"token": JWT}     (dcap_attestation.h)
//   POST /challenge, POST /attest/AzureGuest                      (azure_attestation.h)
//   GET  /certs                           -> token signing keys as a JWKS
//   GET  /.well-known/openid-configuration
//   /keys/..., /deletedkeys/..., /settings/purge-protection, GET /audit
//                                         key lifecycle, release and audit log; key_routes.h
//   GET  /healthz                         -> {"status": "ok"}
//   GET  /dr/status, POST /dr/promote     disaster-recovery mode; dr_mode.h
//   PUT  /policies/{kind}, GET /policies/{kind}   admin; attestation_policies.h
// Admin routes take "Authorization: Bearer <token>" checked against the
// configured SHA-256. The broker appends an audit event for each key
// change and each release decision, and the service signs the audit log's
// head every 100 records or minute and at shutdown (broker/audit_head.h).
#ifndef VOUCH_SERVER_SERVICE_H_
#define VOUCH_SERVER_SERVICE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/broker/key_broker.h"
#include "vouch/keystore/keystore.h"
#include "vouch/server/attestation.h"
#include "vouch/server/attestation_policies.h"
#include "vouch/server/config.h"
#include "vouch/server/azure_attestation.h"
#include "vouch/server/dcap_attestation.h"
#include "vouch/server/dr_mode.h"
#include "vouch/server/key_routes.h"
#include "vouch/server/router.h"
#include "vouch/server/signing_key_set.h"
#include "vouch/snp/simulated.h"
#include "vouch/store/store.h"
#include "vouch/token/issuer.h"
#include "vouch/token/validator.h"

namespace vouch::server {

// Files and names inside the data folder.
inline constexpr char kDatabaseFile[] = "vouch.db";
inline constexpr char kRootKeyFile[] = "root.key";
inline constexpr char kSimulatedSnpDir[] = "simulated-snp";
// Tokens for simulated evidence are issued under <issuer>/simulated, so a
// release policy written for the real service (whose authority is <issuer>)
// never matches them, in vouch's broker or in any other relying party.
inline constexpr char kSimulatedIssuerSuffix[] = "/simulated";
// Store blob holding the token signing key's PEM, sealed by the key store
// under the same label.
inline constexpr char kSigningKeyBlob[] = "token-signing-key";
inline constexpr int kSigningKeyRsaBits = 3072;

class Service {
 public:
  // Open creates the data folder (mode 0700) if needed, opens the store
  // (<data_dir>/vouch.db, or PostgreSQL: OpenServiceStore in dr_mode.h)
  // and the software key store with root key
  // <data_dir>/root.key, loads the token signing key or creates one
  // (RSA-3072, RS256), loads the collateral certificates, and, when
  // config.allow_simulated_snp is set, loads or creates the simulated
  // SEV-SNP chain in <data_dir>/simulated-snp, trusts its root, and issues
  // the tokens for such evidence under <issuer>/simulated.
  // `issuer` is the service URL: the tokens' "iss" and the base of key ids.
  static absl::StatusOr<std::unique_ptr<Service>> Open(const Config& config, std::string issuer);

  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // AddRoutes registers the routes listed above. The handlers borrow this
  // Service, which must outlive the router.
  absl::Status AddRoutes(Router& router);

  // issuer returns the issuer of the current signing keys. NOTE: the
  // reference is valid only until the next reload changes the keys; use
  // signing_keys() to keep one set.
  const token::TokenIssuer& issuer() const { return *signing_keys_->Snapshot()->issuer; }
  // The tokens' "iss", which is also the base of key ids.
  const std::string& issuer_url() const { return issuer_url_; }
  std::shared_ptr<const SigningKeySnapshot> signing_keys() const {
    return signing_keys_->Snapshot();
  }
  store::Store& store() { return *store_; }
  // policies returns the attestation policy of each evidence kind; attest
  // handlers call policies().Apply(kind, claims) before issuing a token.
  const AttestationPolicies& policies() const { return *policies_; }
  // simulated returns the simulated platform, or nullptr when simulated
  // evidence is not allowed.
  const snp::SimulatedSnp* simulated() const {
    return simulated_.has_value() ? &*simulated_ : nullptr;
  }

 private:
  Service() = default;

  absl::StatusOr<HttpResponse> HandleAttest(const HttpRequest& request) const;
  // Admin wraps `handler` with the admin bearer check.
  Handler Admin(absl::StatusOr<HttpResponse> (Service::*handler)(const HttpRequest&) const) const;

  Config config_;
  std::unique_ptr<store::Store> store_;
  // Read-only (disaster-recovery) state, shared with store_'s guard.
  std::shared_ptr<DrMode> dr_;
  std::unique_ptr<keystore::KeyStore> keystore_;
  std::string issuer_url_;
  // Token issuers and validator, reloaded when another node rotates the
  // signing key (signing_key_set.h).
  std::unique_ptr<SigningKeySet> signing_keys_;
  std::unique_ptr<broker::KeyBroker> broker_;
  std::unique_ptr<AttestationPolicies> policies_;
  std::optional<snp::SimulatedSnp> simulated_;
  SnpAttestationOptions attestation_;
  std::unique_ptr<DcapAttestation> dcap_;
  std::unique_ptr<AzureAttestation> azure_;
  std::unique_ptr<KeyRoutes> key_routes_;
  // Declared last, so it stops (and signs a last head) before the store and
  // the issuer's signing key go away.
  std::unique_ptr<AuditHeadTimer> audit_heads_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_SERVICE_H_
