#include "vouch/server/service.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/broker/release_request.h"
#include "vouch/crypto/keys.h"
#include "vouch/keystore/software_keystore.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/attest_request.h"
#include "vouch/server/status_mapping.h"
#include "vouch/store/sqlite_store.h"

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

// LoadOrCreateSigningKey reads the sealed signing key from the store, or
// generates one and stores it sealed.
// NOTE: two processes starting at once on an empty data folder could each
// create a key. The second PutBlob wins, so tokens from the first process
// stop verifying once it restarts. Run one server per data folder.
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> LoadOrCreateSigningKey(store::Store& store,
                                                                keystore::KeyStore& keystore) {
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> blob, store.GetBlob(kSigningKeyBlob));
  if (blob.has_value()) {
    VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, keystore.Unseal(*blob, kSigningKeyBlob));
    return crypto::PrivateKeyFromPem(pem.Expose());
  }
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> key, crypto::GenerateRsaKey(kSigningKeyRsaBits));
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, crypto::PrivateKeyToPem(key.get()));
  VOUCH_ASSIGN_OR_RETURN(const Bytes sealed, keystore.Seal(pem, kSigningKeyBlob));
  VOUCH_RETURN_IF_ERROR(store.PutBlob(kSigningKeyBlob, sealed));
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

// KeyResponse returns the broker's JSON, or the error code "KeyNotFound"
// for a missing key or version, as Azure Key Vault does.
absl::StatusOr<HttpResponse> KeyResponse(absl::StatusOr<nlohmann::json> result) {
  if (result.ok()) {
    return JsonResponse(200, *result);
  }
  if (result.status().code() == absl::StatusCode::kNotFound) {
    HttpResponse response = ErrorResponse(404, "KeyNotFound", StdView(result.status().message()));
    response.log_detail = result.status().ToString();
    return response;
  }
  return result.status();
}

}  // namespace

Service::~Service() = default;

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

}  // namespace

absl::StatusOr<std::unique_ptr<Service>> Service::Open(const Config& config, std::string issuer) {
  std::unique_ptr<Service> service(new Service());
  service->config_ = config;
  VOUCH_RETURN_IF_ERROR(MakeDataDir(config.data_dir));
  const std::string dir = config.data_dir + "/";

  VOUCH_ASSIGN_OR_RETURN(service->store_, store::SqliteStore::Open(dir + kDatabaseFile));
  VOUCH_ASSIGN_OR_RETURN(service->keystore_,
                         keystore::SoftwareKeyStore::OpenOrCreate(dir + kRootKeyFile));
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> signing_key,
                         LoadOrCreateSigningKey(*service->store_, *service->keystore_));

  token::TokenIssuerOptions issuer_options;
  issuer_options.issuer = std::move(issuer);
  issuer_options.lifetime = config.token_lifetime;
  VOUCH_ASSIGN_OR_RETURN(service->issuer_,
                         token::TokenIssuer::Create(std::move(signing_key), issuer_options));
  std::vector<token::TrustedAuthority> authorities = {
      {service->issuer_->issuer(), service->issuer_->Jwks()}};
  if (config.allow_simulated_snp) {
    EVP_PKEY* shared_key = service->issuer_->signing_key();
    if (EVP_PKEY_up_ref(shared_key) != 1) {
      return Internalf("simulated issuer: cannot share the token signing key");
    }
    token::TokenIssuerOptions simulated_options = issuer_options;
    std::string base = service->issuer_->issuer();
    while (absl::EndsWith(base, "/")) {
      base.pop_back();
    }
    simulated_options.issuer = base + kSimulatedIssuerSuffix;
    VOUCH_ASSIGN_OR_RETURN(
        service->simulated_issuer_,
        token::TokenIssuer::Create(crypto::SslPtr<EVP_PKEY>(shared_key), simulated_options));
    authorities.push_back({service->simulated_issuer_->issuer(), service->simulated_issuer_->Jwks()});
  }
  VOUCH_RETURN_IF_ERROR(AddTrustedAuthorities(config, authorities));
  VOUCH_ASSIGN_OR_RETURN(service->validator_,
                         token::TokenValidator::Create(std::move(authorities)));

  broker::KeyBrokerDeps deps;
  deps.store = service->store_.get();
  deps.keystore = service->keystore_.get();
  deps.validator = &*service->validator_;
  deps.signing_key = service->issuer_->signing_key();
  VOUCH_ASSIGN_OR_RETURN(service->broker_, broker::KeyBroker::Create(deps));

  SnpAttestationOptions& attestation = service->attestation_;
  attestation.appraisal.allow_debug = config.allow_debug;
  attestation.appraisal.max_vmpl = config.max_vmpl;
  if (!config.collateral_dir.empty()) {
    VOUCH_ASSIGN_OR_RETURN(attestation.collateral,
                           crypto::LoadCertificatesFromDir(config.collateral_dir));
  }
  if (config.allow_simulated_snp) {
    VOUCH_ASSIGN_OR_RETURN(service->simulated_,
                           snp::SimulatedSnp::LoadOrCreate(dir + kSimulatedSnpDir));
    attestation.roots.push_back(service->simulated_->Root());
  }
  return service;
}

absl::Status Service::AddRoutes(Router& router) {
  const auto bind = [this](auto method) {
    return [this, method](const HttpRequest& request) { return (this->*method)(request); };
  };
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/attest/SevSnpVm", bind(&Service::HandleAttest)));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/certs", [this](const HttpRequest&) {
    return absl::StatusOr<HttpResponse>(JsonResponse(200, issuer_->Jwks()));
  }));
  VOUCH_RETURN_IF_ERROR(
      router.Add("GET", "/.well-known/openid-configuration", [this](const HttpRequest&) {
        return absl::StatusOr<HttpResponse>(JsonResponse(200, issuer_->OpenIdConfiguration()));
      }));
  if (simulated_issuer_.has_value()) {
    // The simulated issuer's metadata, at the paths its "iss" implies.
    VOUCH_RETURN_IF_ERROR(router.Add("GET", "/simulated/certs", [this](const HttpRequest&) {
      return absl::StatusOr<HttpResponse>(JsonResponse(200, simulated_issuer_->Jwks()));
    }));
    VOUCH_RETURN_IF_ERROR(router.Add(
        "GET", "/simulated/.well-known/openid-configuration", [this](const HttpRequest&) {
          return absl::StatusOr<HttpResponse>(
              JsonResponse(200, simulated_issuer_->OpenIdConfiguration()));
        }));
  }
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/healthz", [](const HttpRequest&) {
    return absl::StatusOr<HttpResponse>(JsonResponse(200, {{"status", "ok"}}));
  }));
  VOUCH_RETURN_IF_ERROR(router.Add("PUT", "/keys/{name}", Admin(&Service::HandleCreateKey)));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/keys/{name}", Admin(&Service::HandleGetKey)));
  VOUCH_RETURN_IF_ERROR(
      router.Add("GET", "/keys/{name}/versions", Admin(&Service::HandleListVersions)));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/keys/{name}/{version}", Admin(&Service::HandleGetKey)));
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/keys/{name}/release", bind(&Service::HandleRelease)));
  VOUCH_RETURN_IF_ERROR(
      router.Add("POST", "/keys/{name}/{version}/release", bind(&Service::HandleRelease)));
  return absl::OkStatus();
}

Handler Service::Admin(absl::StatusOr<HttpResponse> (Service::*handler)(const HttpRequest&)
                           const) const {
  return [this, handler](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
    const absl::Status auth = CheckAdminBearer(request, config_.admin_token_sha256);
    if (!auth.ok()) {
      return WithBearerChallenge(StatusResponse(auth));
    }
    return (this->*handler)(request);
  };
}

absl::StatusOr<HttpResponse> Service::HandleAttest(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const AttestRequest attest, ParseAttestRequest(request.body));
  const absl::Time now = absl::Now();
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, AttestSnp(attest, attestation_, now));
  const bool simulated = claims.contains("x-vouch-simulated");
  if (simulated && !simulated_issuer_.has_value()) {
    return Internalf("simulated evidence verified although simulated evidence is not allowed");
  }
  const token::TokenIssuer& issuer = simulated ? *simulated_issuer_ : *issuer_;
  VOUCH_ASSIGN_OR_RETURN(const std::string token, issuer.Issue(std::move(claims), now));
  return JsonResponse(200, {{"token", token}});
}

absl::StatusOr<HttpResponse> Service::HandleCreateKey(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json body,
                         policy::ParseStrictJson(request.body, "create key request"));
  return KeyResponse(
      broker_->CreateKey(request.Param("name"), body, issuer_->issuer(), absl::Now()));
}

absl::StatusOr<HttpResponse> Service::HandleGetKey(const HttpRequest& request) const {
  return KeyResponse(
      broker_->GetKey(request.Param("name"), request.Param("version"), issuer_->issuer()));
}

absl::StatusOr<HttpResponse> Service::HandleListVersions(const HttpRequest& request) const {
  return KeyResponse(broker_->ListVersions(request.Param("name"), issuer_->issuer()));
}

absl::StatusOr<HttpResponse> Service::HandleRelease(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const broker::ReleaseRequest release,
                         broker::ParseReleaseRequest(request.body));
  return KeyResponse(broker_->Release(request.Param("name"), request.Param("version"), release,
                                      issuer_->issuer(), absl::Now()));
}

}  // namespace vouch::server
