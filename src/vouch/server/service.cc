#include "vouch/server/service.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/broker/release_request.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/pkcs11_keystore.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/access.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/key_routes.h"
#include "vouch/server/logging.h"
#include "vouch/server/signing_keys.h"
#include "vouch/server/status_mapping.h"
#include "vouch/server/tpm_attestation.h"
#include "vouch/server/dr_mode.h"

namespace vouch::server {
namespace {

absl::Status MakeDataDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat info {};
    if (stat(dir.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      return absl::OkStatus();
    }
    return FailedPreconditionf("data folder {}: not a folder", dir);
  }
  return FailedPreconditionf("data folder {}: cannot create: {}", dir, std::strerror(errno));
}

// ConfiguredSigningKeyType returns config.signing_key_type, or nullopt when
// it is empty.
absl::StatusOr<std::optional<SigningKeyType>> ConfiguredSigningKeyType(const Config& config) {
  if (config.signing_key_type.empty()) {
    return std::optional<SigningKeyType>();
  }
  VOUCH_ASSIGN_OR_RETURN(const SigningKeyType type, ParseSigningKeyType(config.signing_key_type));
  return std::optional<SigningKeyType>(type);
}

// LoadOrCreateSigningKey reads the sealed signing key from the store, or
// generates one of type `type` and stores it sealed with `put_if_absent`.
// When another node stored a key first, that key is used, so every node
// signs with one key.
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> LoadOrCreateSigningKey(
    store::Store& store, keystore::KeyStore& keystore, SigningKeyType type,
    const std::function<absl::StatusOr<Bytes>(std::string_view, ByteSpan)>& put_if_absent) {
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> blob, store.GetBlob(kSigningKeyBlob));
  if (blob.has_value()) {
    VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, keystore.Unseal(*blob, kSigningKeyBlob));
    return crypto::PrivateKeyFromPem(pem.Expose());
  }
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> key, GenerateSigningKey(type));
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, crypto::PrivateKeyToPem(key.get()));
  VOUCH_ASSIGN_OR_RETURN(const Bytes sealed, keystore.Seal(pem, kSigningKeyBlob));
  VOUCH_ASSIGN_OR_RETURN(const Bytes stored, put_if_absent(kSigningKeyBlob, sealed));
  if (stored != sealed) {
    VOUCH_ASSIGN_OR_RETURN(const SecretBytes winner, keystore.Unseal(stored, kSigningKeyBlob));
    return crypto::PrivateKeyFromPem(winner.Expose());
  }
  return key;
}

// CheckJsonContentType accepts a request without Content-Type or with
// application/json (parameters such as charset allowed).
std::optional<HttpResponse> CheckJsonContentType(const HttpRequest& request) {
  const std::optional<std::string> type = request.Header("content-type");
  if (!type.has_value()) {
    return std::nullopt;
  }
  const std::string_view media_type = std::string_view(*type).substr(0, type->find(';'));
  if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(AbslView(media_type)),
                             "application/json")) {
    return std::nullopt;
  }
  return ErrorResponseFor(415, fmt::format("Content-Type {:?} is not supported, want "
                                           "application/json",
                                           *type));
}

// IssuerForClaims returns the issuer of `keys` for a token with `claims`:
// the simulated issuer when the evidence was simulated.
absl::StatusOr<const token::TokenIssuer*> IssuerForClaims(const SigningKeySnapshot& keys,
                                                         const nlohmann::json& claims) {
  if (!claims.contains("x-vouch-simulated")) {
    return &*keys.issuer;
  }
  if (!keys.simulated_issuer.has_value()) {
    return Internalf("simulated evidence verified although simulated evidence is not allowed");
  }
  return &*keys.simulated_issuer;
}

}  // namespace

Service::~Service() {
  // The reload thread calls into audit_heads_, which is destroyed first.
  if (signing_keys_ != nullptr) {
    signing_keys_->Stop();
  }
}

namespace {

// AddTrustedAuthorities reads the JWKS file of each configured authority.
absl::Status AddTrustedAuthorities(const Config& config,
                                   std::vector<token::TrustedAuthority>& authorities) {
  constexpr size_t kMaxJwksBytes = 1 << 20;
  for (const TrustedAuthorityFile& trusted : config.trusted_authorities) {
    const std::string context = fmt::format("trusted authority {}", trusted.issuer);
    absl::StatusOr<Bytes> text = ReadFile(trusted.jwks_file, kMaxJwksBytes);
    if (!text.ok()) {
      return Prefix(context, text.status());
    }
    absl::StatusOr<nlohmann::json> jwks =
        policy::ParseStrictJson(ToString(*text), "JWKS file " + trusted.jwks_file);
    if (!jwks.ok()) {
      return Prefix(context, jwks.status());
    }
    authorities.push_back({trusted.issuer, *std::move(jwks)});
  }
  return absl::OkStatus();
}

// OpenKeyStore opens the key store that `config.keystore` selects.
absl::StatusOr<std::unique_ptr<keystore::KeyStore>> OpenKeyStore(const Config& config,
                                                                 const std::string& dir) {
  if (config.keystore != "pkcs11") {
    VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<keystore::SoftwareKeyStore> software,
                           keystore::SoftwareKeyStore::OpenOrCreate(dir + kRootKeyFile));
    return std::unique_ptr<keystore::KeyStore>(std::move(software));
  }
  keystore::Pkcs11Options options;
  options.module_path = config.pkcs11_module;
  options.token_label = config.pkcs11_token_label;
  options.slot = config.pkcs11_slot;
  options.host_oaep = config.pkcs11_host_oaep;
  VOUCH_ASSIGN_OR_RETURN(options.pin, keystore::ReadPkcs11Pin(config.pkcs11_pin_file));
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<keystore::Pkcs11KeyStore> pkcs11,
                         keystore::Pkcs11KeyStore::Open(std::move(options)));
  return std::unique_ptr<keystore::KeyStore>(std::move(pkcs11));
}

// MakeVcekProvider sets up the VCEK lookup of SEV-SNP reports: the cache
// folder, and AMD KDS only when kds_url is set.
absl::StatusOr<std::shared_ptr<const collateral::VcekProvider>> MakeVcekProvider(
    const Config& config) {
  collateral::VcekProviderOptions options;
  options.cache_dir = config.collateral_cache_dir;
  options.product = config.kds_product;
  if (!config.kds_url.empty()) {
    if (!absl::StartsWith(config.kds_url, "https://") &&
        !absl::StartsWith(config.kds_url, "http://")) {
      return InvalidArgumentf("config: kds_url {:?} is not an http:// or https:// URL",
                              config.kds_url);
    }
    collateral::KdsClientOptions kds;
    kds.base_url = config.kds_url;
    options.kds = kds;
  }
  return std::make_shared<const collateral::VcekProvider>(std::move(options));
}

// SetUpAmdCrls loads the --amd-crl CRLs and sets up the per-report CRL
// lookup (collateral folder, cache folder, KDS) when any of those is set.
absl::Status SetUpAmdCrls(const Config& config, SnpAttestationOptions& attestation) {
  absl::StatusOr<std::vector<crypto::Crl>> crls = collateral::LoadAmdCrls(config.amd_crl);
  if (!crls.ok()) {
    return Prefix("config: amd_crl", crls.status());
  }
  attestation.amd_crls = *std::move(crls);
  attestation.require_crl = config.snp_require_crl;
  if (config.collateral_dir.empty() && config.collateral_cache_dir.empty() &&
      config.kds_url.empty()) {
    return absl::OkStatus();
  }
  collateral::AmdCrlProviderOptions options;
  options.collateral_dir = config.collateral_dir;
  options.cache_dir = config.collateral_cache_dir;
  options.product = config.kds_product;
  if (!config.kds_url.empty()) {
    collateral::KdsClientOptions kds;
    kds.base_url = config.kds_url;  // MakeVcekProvider has checked the scheme.
    options.kds = kds;
  }
  attestation.crl_provider = std::make_shared<const collateral::AmdCrlProvider>(std::move(options));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Service>> Service::Open(const Config& config, std::string issuer) {
  std::unique_ptr<Service> service(new Service());
  service->config_ = config;
  VOUCH_RETURN_IF_ERROR(MakeDataDir(config.data_dir));
  const std::string dir = config.data_dir + "/";

  VOUCH_ASSIGN_OR_RETURN(ServiceStore opened, OpenServiceStore(config));
  service->store_ = std::move(opened.store);
  service->dr_ = opened.dr;
  VOUCH_ASSIGN_OR_RETURN(service->keystore_, OpenKeyStore(config, dir));
  VOUCH_ASSIGN_OR_RETURN(const std::optional<SigningKeyType> configured_key_type,
                         ConfiguredSigningKeyType(config));
  VOUCH_ASSIGN_OR_RETURN(
      crypto::SslPtr<EVP_PKEY> signing_key,
      LoadOrCreateSigningKey(*service->store_, *service->keystore_,
                             configured_key_type.value_or(SigningKeyType::kRsa3072),
                             opened.put_blob_if_absent));
  if (configured_key_type.has_value()) {
    const absl::StatusOr<SigningKeyType> stored_type = SigningKeyTypeOf(signing_key.get());
    if (!stored_type.ok() || *stored_type != *configured_key_type) {
      ServerLogger()->warn(
          "token signing key: the stored key is {}, not the configured {}; it stays in use "
          "until POST /signing-keys/rotate",
          stored_type.ok() ? SigningKeyTypeName(*stored_type) : "of another type",
          SigningKeyTypeName(*configured_key_type));
    }
  }

  SigningKeySetOptions key_options;
  key_options.issuer.issuer = std::move(issuer);
  key_options.issuer.lifetime = config.token_lifetime;
  if (config.allow_simulated_snp) {
    std::string base = key_options.issuer.issuer;
    while (absl::EndsWith(base, "/")) {
      base.pop_back();
    }
    key_options.simulated_issuer = base + kSimulatedIssuerSuffix;
  }
  VOUCH_RETURN_IF_ERROR(AddTrustedAuthorities(config, key_options.other_authorities));
  if (!config.token_audience.empty()) {
    key_options.validator.audiences = {config.token_audience};
  }
  key_options.reload_interval = config.signing_key_reload_interval;
  VOUCH_ASSIGN_OR_RETURN(service->signing_keys_,
                         SigningKeySet::Create(service->store_.get(), service->keystore_.get(),
                                               std::move(signing_key), std::move(key_options)));
  const std::shared_ptr<const SigningKeySnapshot> keys = service->signing_keys_->Snapshot();
  service->issuer_url_ = keys->issuer->issuer();

  broker::KeyBrokerDeps deps;
  deps.store = service->store_.get();
  deps.keystore = service->keystore_.get();
  deps.key_source = service->signing_keys_.get();
  deps.recovery_days = config.key_recovery_days;
  VOUCH_ASSIGN_OR_RETURN(service->broker_, broker::KeyBroker::Create(deps));
  service->key_routes_ = std::make_unique<KeyRoutes>(service->broker_.get(),
                                                     service->store_.get(), service->issuer_url_);
  service->audit_heads_ = std::make_unique<AuditHeadTimer>(
      service->store_.get(), keys->issuer->signing_key(), broker::AuditHeadOptions{});
  // The timer keeps a reference to each new key, so it never signs with a
  // key that a reload released.
  EVP_PKEY* first_key = keys->issuer->signing_key();
  if (EVP_PKEY_up_ref(first_key) != 1) {
    return Internalf("audit heads: cannot share the token signing key");
  }
  service->audit_heads_->SetSigningKey(crypto::SslPtr<EVP_PKEY>(first_key));
  AuditHeadTimer* audit_heads = service->audit_heads_.get();
  service->signing_keys_->OnSigningKeyChange([audit_heads](crypto::SslPtr<EVP_PKEY> key) {
    audit_heads->SetSigningKey(std::move(key));
  });
  service->signing_keys_->Start();

  AttestationPoliciesOptions policy_options;
  policy_options.isolated = config.isolated;
  for (const std::string& file : config.policy_signing_cert_files) {
    constexpr size_t kMaxCertificateFileBytes = 1 << 20;
    VOUCH_ASSIGN_OR_RETURN(const Bytes pem, ReadFile(file, kMaxCertificateFileBytes));
    absl::StatusOr<std::vector<crypto::Certificate>> certificates = crypto::ParseCertificates(pem);
    if (!certificates.ok()) {
      return Prefix(fmt::format("policy-signing certificate {}", file), certificates.status());
    }
    policy_options.signing_certificates.insert(policy_options.signing_certificates.end(),
                                               certificates->begin(), certificates->end());
  }
  VOUCH_ASSIGN_OR_RETURN(service->policies_,
                         AttestationPolicies::Load(*service->store_, std::move(policy_options)));

  SnpAttestationOptions& attestation = service->attestation_;
  attestation.appraisal.allow_debug = config.allow_debug;
  attestation.appraisal.max_vmpl = config.max_vmpl;
  if (!config.snp_min_tcb.empty()) {
    absl::StatusOr<snp::MinimumTcb> min_tcb = snp::ParseMinimumTcb(config.snp_min_tcb);
    if (!min_tcb.ok()) {
      return Prefix("config: snp_min_tcb", min_tcb.status());
    }
    attestation.appraisal.min_reported_tcb = *min_tcb;
  }
  if (!config.collateral_dir.empty()) {
    VOUCH_ASSIGN_OR_RETURN(attestation.collateral,
                           crypto::LoadCertificatesFromDir(config.collateral_dir));
  }
  if (!config.collateral_cache_dir.empty() || !config.kds_url.empty()) {
    VOUCH_ASSIGN_OR_RETURN(attestation.vcek_provider, MakeVcekProvider(config));
  }
  VOUCH_RETURN_IF_ERROR(SetUpAmdCrls(config, attestation));
  VOUCH_ASSIGN_OR_RETURN(service->dcap_, DcapAttestation::Create(config));
  if (config.allow_simulated_snp) {
    VOUCH_ASSIGN_OR_RETURN(service->simulated_,
                           snp::SimulatedSnp::LoadOrCreate(dir + kSimulatedSnpDir));
    attestation.roots.push_back(service->simulated_->Root());
  }
  AzureAttestationOptions azure_options{attestation, &service->dcap_->options()};
  if (service->simulated_.has_value()) {
    // A vTPM keeps only the HCL report, so the agent sends no VCEK. Simulated
    // HCL reports verify with the simulated chain the server already has.
    const std::vector<crypto::Certificate> chain = service->simulated_->Certificates();
    azure_options.snp.collateral.insert(azure_options.snp.collateral.end(), chain.begin(),
                                        chain.end());
  }
  VOUCH_ASSIGN_OR_RETURN(service->azure_,
                         AzureAttestation::Create(*service->store_, std::move(azure_options)));
  return service;
}

absl::Status Service::AddRoutes(Router& router) {
  const auto bind = [this](auto method) {
    return [this, method](const HttpRequest& request) { return (this->*method)(request); };
  };
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/attest/SevSnpVm", bind(&Service::HandleAttest)));
  const auto issue_dcap = [this](std::string_view kind,
                                 nlohmann::json verified) -> absl::StatusOr<HttpResponse> {
    VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, policies_->Apply(kind, verified));
    const std::shared_ptr<const SigningKeySnapshot> keys = signing_keys_->Snapshot();
    VOUCH_ASSIGN_OR_RETURN(const token::TokenIssuer* issuer, IssuerForClaims(*keys, claims));
    VOUCH_ASSIGN_OR_RETURN(const std::string token, issuer->Issue(std::move(claims), absl::Now()));
    return JsonResponse(200, {{"token", token}});
  };
  VOUCH_RETURN_IF_ERROR(dcap_->AddRoutes(router, issue_dcap));
  const auto issue_azure = [this](nlohmann::json verified) -> absl::StatusOr<HttpResponse> {
    VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, policies_->Apply(kAzureGuestKind, verified));
    const std::shared_ptr<const SigningKeySnapshot> keys = signing_keys_->Snapshot();
    VOUCH_ASSIGN_OR_RETURN(const token::TokenIssuer* issuer, IssuerForClaims(*keys, claims));
    VOUCH_ASSIGN_OR_RETURN(const std::string token, issuer->Issue(std::move(claims), absl::Now()));
    return JsonResponse(200, {{"token", token}});
  };
  VOUCH_RETURN_IF_ERROR(azure_->AddRoutes(router, issue_azure));
  // Generic TPM 2.0 attestation (tpm_attestation.h): AK enrollment by
  // credential activation against an EK certificate, then quotes by that AK.
  TpmAttestationOptions tpm_options;
  VOUCH_ASSIGN_OR_RETURN(tpm_options.ek_roots, LoadTpmEkRoots(config_.tpm_ek_roots));
  VOUCH_ASSIGN_OR_RETURN(tpm_options.ek_crls, LoadTpmEkCrls(config_.tpm_ek_crls));
  VOUCH_ASSIGN_OR_RETURN(std::shared_ptr<const TpmAttestation> tpm,
                         TpmAttestation::Create(*store_, std::move(tpm_options)));
  const auto issue_tpm = [this](nlohmann::json verified) -> absl::StatusOr<HttpResponse> {
    VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, policies_->Apply(kTpmKind, verified));
    const std::shared_ptr<const SigningKeySnapshot> keys = signing_keys_->Snapshot();
    VOUCH_ASSIGN_OR_RETURN(const std::string token,
                           keys->issuer->Issue(std::move(claims), absl::Now()));
    return JsonResponse(200, {{"token", token}});
  };
  VOUCH_RETURN_IF_ERROR(TpmAttestation::AddRoutes(router, std::move(tpm), issue_tpm));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/certs", [this](const HttpRequest&) {
    return absl::StatusOr<HttpResponse>(
        JsonResponse(200, signing_keys_->Snapshot()->issuer->Jwks()));
  }));
  VOUCH_RETURN_IF_ERROR(
      router.Add("GET", "/.well-known/openid-configuration", [this](const HttpRequest&) {
        return absl::StatusOr<HttpResponse>(
            JsonResponse(200, signing_keys_->Snapshot()->issuer->OpenIdConfiguration()));
      }));
  if (signing_keys_->Snapshot()->simulated_issuer.has_value()) {
    // The simulated issuer's metadata, at the paths its "iss" implies.
    VOUCH_RETURN_IF_ERROR(router.Add("GET", "/simulated/certs", [this](const HttpRequest&) {
      return absl::StatusOr<HttpResponse>(
          JsonResponse(200, signing_keys_->Snapshot()->simulated_issuer->Jwks()));
    }));
    VOUCH_RETURN_IF_ERROR(router.Add(
        "GET", "/simulated/.well-known/openid-configuration", [this](const HttpRequest&) {
          const std::shared_ptr<const SigningKeySnapshot> keys = signing_keys_->Snapshot();
          return absl::StatusOr<HttpResponse>(
              JsonResponse(200, keys->simulated_issuer->OpenIdConfiguration()));
        }));
  }
  // Signing-key rotation (signing_keys.h): administrator only (access.cc).
  // This node swaps in the new key at once, and other nodes do so at their
  // next reload (signing_key_set.h).
  const auto rotate_signing_key =
      [this](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    VOUCH_ASSIGN_OR_RETURN(const std::optional<SigningKeyType> type,
                           ConfiguredSigningKeyType(config_));
    VOUCH_ASSIGN_OR_RETURN(
        const SigningKeyRotation rotation,
        RotateSigningKey(*store_, *keystore_, "admin", kKeptPreviousSigningKeys, type));
    const absl::Status reloaded = signing_keys_->Reload();
    if (!reloaded.ok()) {
      ServerLogger()->warn("token signing key {} stored, but this node did not reload it: {}",
                           rotation.kid, reloaded.ToString());
    }
    return JsonResponse(200, {{"kid", rotation.kid},
                              {"previous_kids", rotation.previous_kids},
                              {"applies", "at once on this node, on the others at their next "
                                          "reload (signing_key_reload_seconds)"}});
  };
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/signing-keys/rotate", rotate_signing_key));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/healthz", [](const HttpRequest&) {
    return absl::StatusOr<HttpResponse>(JsonResponse(200, {{"status", "ok"}}));
  }));
  // Key routes (key_routes.h). The role each route needs is checked before
  // its handler by the route access table (access.h), so the guard adds nothing.
  VOUCH_RETURN_IF_ERROR(key_routes_->AddRoutes(
      router, [](KeyRouteRole, Handler handler) -> Handler { return handler; }));
  VOUCH_RETURN_IF_ERROR(AddDrRoutes(router, dr_));
  VOUCH_RETURN_IF_ERROR(
      policies_->AddRoutes(router, [](Handler handler) -> Handler { return handler; }));

  // Access control last: it fails when a route above has no entry in the
  // route access table, and checks every request before its handler.
  VOUCH_ASSIGN_OR_RETURN(const AccessOptions access_options, LoadAccessOptions(config_));
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<Authorizer> authorizer,
                         Authorizer::Create(access_options));
  return InstallAccessControl(router, std::shared_ptr<const Authorizer>(std::move(authorizer)));
}

Handler Service::Admin(absl::StatusOr<HttpResponse> (Service::*handler)(const HttpRequest&)
                           const) const {
  // The administrator role is checked before the handler by the route access
  // table (access.h); this wrapper only binds the member function.
  return [this, handler](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
    return (this->*handler)(request);
  };
}

absl::StatusOr<HttpResponse> Service::HandleAttest(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const AttestRequest attest, ParseAttestRequest(request.body));
  const absl::Time now = absl::Now();
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json verified, AttestSnp(attest, attestation_, now));
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, policies_->Apply(kSevSnpVmKind, verified));
  const std::shared_ptr<const SigningKeySnapshot> keys = signing_keys_->Snapshot();
  VOUCH_ASSIGN_OR_RETURN(const token::TokenIssuer* issuer, IssuerForClaims(*keys, claims));
  VOUCH_ASSIGN_OR_RETURN(const std::string token, issuer->Issue(std::move(claims), now));
  return JsonResponse(200, {{"token", token}});
}

}  // namespace vouch::server
