#include "vouch/server/access.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/admin_auth.h"
#include "vouch/server/status_mapping.h"

namespace vouch::server {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxRolesFileBytes = 1 << 20;
constexpr size_t kMaxJwksFileBytes = 1 << 20;

// Files in the data folder; service.h has the same names, but including it
// here would make access control depend on the whole service.
constexpr char kRootKeyFileName[] = "root.key";

constexpr RouteAccessEntry kRouteAccessTable[] = {
    // Attestation, token metadata and health: public by design.
    {"POST", "/attest/SevSnpVm", RouteAccess::kPublic},
    {"POST", "/attest/TdxVm", RouteAccess::kPublic},
    {"POST", "/attest/SgxEnclave", RouteAccess::kPublic},
    {"POST", "/attest/AzureGuest", RouteAccess::kPublic},
    {"POST", "/attest/Tpm", RouteAccess::kPublic},
    {"POST", "/challenge", RouteAccess::kPublic},
    {"POST", "/tpm/enroll", RouteAccess::kPublic},
    {"POST", "/tpm/activate", RouteAccess::kPublic},
    {"GET", "/certs", RouteAccess::kPublic},
    {"GET", "/.well-known/openid-configuration", RouteAccess::kPublic},
    {"GET", "/simulated/certs", RouteAccess::kPublic},
    {"GET", "/simulated/.well-known/openid-configuration", RouteAccess::kPublic},
    {"GET", "/healthz", RouteAccess::kPublic},
    {"GET", "/dr/status", RouteAccess::kPublic},
    // Key release: the attestation token in the body is the credential.
    {"POST", "/keys/{name}/release", RouteAccess::kRelease},
    {"POST", "/keys/{name}/{version}/release", RouteAccess::kRelease},
    // Audit log.
    {"GET", "/audit", RouteAccess::kAuditor},
    // Administration.
    {"PUT", "/keys/{name}", RouteAccess::kAdministrator},
    {"POST", "/keys/{name}/rotate", RouteAccess::kAdministrator},
    {"GET", "/keys", RouteAccess::kAdministrator},
    {"GET", "/keys/{name}", RouteAccess::kAdministrator},
    {"GET", "/keys/{name}/versions", RouteAccess::kAdministrator},
    {"GET", "/keys/{name}/{version}", RouteAccess::kAdministrator},
    {"PATCH", "/keys/{name}/{version}", RouteAccess::kAdministrator},
    {"POST", "/keys/{name}/{version}/attributes", RouteAccess::kAdministrator},
    {"GET", "/keys/{name}/{version}/releasepolicy", RouteAccess::kAdministrator},
    {"PUT", "/keys/{name}/{version}/releasepolicy", RouteAccess::kAdministrator},
    {"DELETE", "/keys/{name}", RouteAccess::kAdministrator},
    {"GET", "/deletedkeys", RouteAccess::kAdministrator},
    {"GET", "/deletedkeys/{name}", RouteAccess::kAdministrator},
    {"POST", "/deletedkeys/{name}/recover", RouteAccess::kAdministrator},
    {"DELETE", "/deletedkeys/{name}", RouteAccess::kAdministrator},
    {"GET", "/settings/purge-protection", RouteAccess::kAdministrator},
    {"PUT", "/settings/purge-protection", RouteAccess::kAdministrator},
    {"PUT", "/policies/{kind}", RouteAccess::kAdministrator},
    {"GET", "/policies/{kind}", RouteAccess::kAdministrator},
    {"POST", "/dr/promote", RouteAccess::kAdministrator},
    {"POST", "/signing-keys/rotate", RouteAccess::kAdministrator},
};

std::string_view AccessName(RouteAccess access) {
  switch (access) {
    case RouteAccess::kPublic:
      return "public";
    case RouteAccess::kAdministrator:
      return "administrator";
    case RouteAccess::kAuditor:
      return "auditor or administrator";
    case RouteAccess::kRelease:
      return "release-user";
  }
  return "unknown";
}

std::string RoleList(const std::set<Role>& roles) {
  std::string names;
  for (const Role role : roles) {
    names += names.empty() ? "" : ", ";
    names += RoleName(role);
  }
  return names.empty() ? "no role" : names;
}

bool IsLowerHexDigest(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

absl::StatusOr<std::set<Role>> ParseRoleArray(const Json& json, std::string_view context) {
  if (!json.is_array() || json.empty()) {
    return InvalidArgumentf("{}: roles must be a non-empty array of role names", context);
  }
  std::set<Role> roles;
  for (const Json& name : json) {
    if (!name.is_string()) {
      return InvalidArgumentf("{}: role {} is not a string", context, policy::DescribeJson(name));
    }
    absl::StatusOr<Role> role = ParseRole(name.get<std::string>());
    if (!role.ok()) {
      return Prefix(context, role.status());
    }
    roles.insert(*role);
  }
  return roles;
}

absl::StatusOr<CertificateRoles> ParseCertificateEntry(const Json& entry, size_t index) {
  const std::string context = fmt::format("roles file: certificates[{}]", index);
  if (!entry.is_object()) {
    return InvalidArgumentf("{}: want an object", context);
  }
  for (const auto& [key, value] : entry.items()) {
    if (key != "subject" && key != "sha256" && key != "roles") {
      return InvalidArgumentf("{}: unknown member {:?}, want subject or sha256, and roles",
                              context, key);
    }
  }
  CertificateRoles certificate;
  if (entry.contains("subject") == entry.contains("sha256")) {
    return InvalidArgumentf("{}: set exactly one of subject and sha256", context);
  }
  if (entry.contains("subject")) {
    if (!entry["subject"].is_string() || entry["subject"].get<std::string>().empty()) {
      return InvalidArgumentf("{}: subject must be a non-empty string", context);
    }
    certificate.subject = entry["subject"].get<std::string>();
  } else {
    const std::string sha256 =
        entry["sha256"].is_string()
            ? absl::AsciiStrToLower(AbslView(entry["sha256"].get<std::string>()))
            : "";
    if (!IsLowerHexDigest(sha256)) {
      return InvalidArgumentf("{}: sha256 must be 64 hex digits", context);
    }
    certificate.sha256 = sha256;
  }
  if (!entry.contains("roles")) {
    return InvalidArgumentf("{}: missing roles", context);
  }
  VOUCH_ASSIGN_OR_RETURN(certificate.roles, ParseRoleArray(entry["roles"], context));
  return certificate;
}

// ClaimValues reads a role claim: a string or an array of strings.
std::vector<std::string> ClaimValues(const Json& claims, const std::string& claim) {
  std::vector<std::string> values;
  const auto it = claims.find(claim);
  if (it == claims.end()) {
    return values;
  }
  if (it->is_string()) {
    values.push_back(it->get<std::string>());
    return values;
  }
  if (it->is_array()) {
    for (const Json& value : *it) {
      if (value.is_string()) {
        values.push_back(value.get<std::string>());
      }
    }
  }
  return values;
}

HttpResponse Denied(int status, std::string message, std::string detail) {
  HttpResponse response = ErrorResponseFor(status, message);
  response.log_detail = std::move(detail);
  return WithBearerChallenge(std::move(response));
}

// CheckPrivateFile rejects a file that group or others may read. A missing
// file passes: it is created later with mode 0600.
absl::Status CheckPrivateFile(const std::string& path, std::string_view what) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return absl::OkStatus();
    }
    return FailedPreconditionf("{} {}: cannot stat: {}", what, path, std::strerror(errno));
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return FailedPreconditionf("{} {} has mode {:o}, which group or others may read; run chmod 600 "
                               "{}",
                               what, path, info.st_mode & 07777, path);
  }
  return absl::OkStatus();
}

bool IsLoopbackListen(const Config& config) {
  absl::StatusOr<ListenAddress> address = ParseListenAddress(config.listen);
  if (!address.ok()) {
    return false;
  }
  return address->host == "localhost" || address->host == "::1" ||
         absl::StartsWith(address->host, "127.");
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdministrator:
      return "administrator";
    case Role::kReleaseUser:
      return "release-user";
    case Role::kAuditor:
      return "auditor";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  for (const Role role : {Role::kAdministrator, Role::kReleaseUser, Role::kAuditor}) {
    if (RoleName(role) == name) {
      return role;
    }
  }
  return InvalidArgumentf("unknown role {:?}, want administrator, release-user or auditor", name);
}

std::span<const RouteAccessEntry> RouteAccessTable() { return kRouteAccessTable; }

std::optional<RouteAccess> FindRouteAccess(std::string_view method, std::string_view pattern) {
  for (const RouteAccessEntry& entry : kRouteAccessTable) {
    if (entry.method == method && entry.pattern == pattern) {
      return entry.access;
    }
  }
  return std::nullopt;
}

absl::Status ParseRolesFile(const Json& json, AccessOptions& options) {
  if (!json.is_object()) {
    return InvalidArgumentf("roles file: want a JSON object");
  }
  for (const auto& [key, value] : json.items()) {
    if (key != "certificates" && key != "oidc_claims") {
      return InvalidArgumentf("roles file: unknown member {:?}, want certificates or oidc_claims",
                              key);
    }
  }
  if (json.contains("certificates")) {
    const Json& certificates = json["certificates"];
    if (!certificates.is_array()) {
      return InvalidArgumentf("roles file: certificates must be an array");
    }
    for (size_t i = 0; i < certificates.size(); ++i) {
      VOUCH_ASSIGN_OR_RETURN(CertificateRoles entry, ParseCertificateEntry(certificates[i], i));
      options.certificates.push_back(std::move(entry));
    }
  }
  if (json.contains("oidc_claims")) {
    const Json& claims = json["oidc_claims"];
    if (!claims.is_object()) {
      return InvalidArgumentf("roles file: oidc_claims must map claim values to role arrays");
    }
    for (const auto& [value, roles] : claims.items()) {
      VOUCH_ASSIGN_OR_RETURN(
          options.oidc_claim_roles[value],
          ParseRoleArray(roles, fmt::format("roles file: oidc_claims[{:?}]", value)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AccessOptions> LoadAccessOptions(const Config& config) {
  AccessOptions options;
  options.admin_token_sha256 = config.admin_token_sha256;
  options.release_requires_role = config.release_requires_role;
  if (!config.roles_file.empty()) {
    VOUCH_ASSIGN_OR_RETURN(const Bytes text, ReadFile(config.roles_file, kMaxRolesFileBytes));
    absl::StatusOr<Json> json =
        policy::ParseStrictJson(ToString(text), "roles file " + config.roles_file);
    if (!json.ok()) {
      return json.status();
    }
    VOUCH_RETURN_IF_ERROR(ParseRolesFile(*json, options));
  }
  if (!config.oidc_issuer.empty()) {
    VOUCH_ASSIGN_OR_RETURN(const Bytes text, ReadFile(config.oidc_jwks_file, kMaxJwksFileBytes));
    VOUCH_ASSIGN_OR_RETURN(options.oidc_jwks, policy::ParseStrictJson(
                                                  ToString(text), "OIDC JWKS file " +
                                                                      config.oidc_jwks_file));
    options.oidc_issuer = config.oidc_issuer;
    options.oidc_audience = config.oidc_audience;
    options.oidc_role_claim = config.oidc_role_claim;
  }
  return options;
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(AccessOptions options) {
  if (!options.admin_token_sha256.empty() && !IsLowerHexDigest(options.admin_token_sha256)) {
    return InvalidArgumentf("access: admin token SHA-256 must be 64 lower-case hex digits");
  }
  std::unique_ptr<Authorizer> authorizer(new Authorizer(std::move(options)));
  const AccessOptions& stored = authorizer->options_;
  if (stored.oidc_issuer.empty()) {
    return authorizer;
  }
  if (stored.oidc_audience.empty()) {
    return InvalidArgumentf("access: OpenID Connect needs an audience (--oidc-audience)");
  }
  token::TokenValidatorOptions validator_options;
  validator_options.audiences = {stored.oidc_audience};
  absl::StatusOr<token::TokenValidator> validator = token::TokenValidator::Create(
      {token::TrustedAuthority{stored.oidc_issuer, stored.oidc_jwks}}, validator_options);
  if (!validator.ok()) {
    return Prefix("access: OIDC JWKS", validator.status());
  }
  authorizer->oidc_validator_.emplace(*std::move(validator));
  return authorizer;
}

bool Authorizer::HasAdministratorCredential() const {
  if (!options_.admin_token_sha256.empty()) {
    return true;
  }
  for (const CertificateRoles& certificate : options_.certificates) {
    if (certificate.roles.contains(Role::kAdministrator)) {
      return true;
    }
  }
  if (!oidc_validator_.has_value()) {
    return false;
  }
  for (const auto& [value, roles] : options_.oidc_claim_roles) {
    if (roles.contains(Role::kAdministrator)) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<Principal> Authorizer::AuthenticateBearer(std::string_view token,
                                                         absl::Time now) const {
  Principal principal;
  if (!options_.admin_token_sha256.empty()) {
    absl::StatusOr<Bytes> expected = HexDecode(options_.admin_token_sha256);
    if (expected.ok() && ConstantTimeEquals(crypto::Sha256(AsBytes(token)), *expected)) {
      principal.roles.insert(Role::kAdministrator);
      principal.credential = "admin token";
      return principal;
    }
  }
  if (!oidc_validator_.has_value()) {
    return Unauthenticatedf("invalid bearer token");
  }
  absl::StatusOr<Json> claims = oidc_validator_->Validate(token, now);
  if (!claims.ok()) {
    return Unauthenticatedf("bearer token is not the admin token, and as an OIDC {}",
                            claims.status().message());
  }
  const std::string subject = policy::StringOr(*claims, "sub");
  principal.credential = fmt::format("oidc sub={:?}", subject);
  for (const std::string& value : ClaimValues(*claims, options_.oidc_role_claim)) {
    const auto roles = options_.oidc_claim_roles.find(value);
    if (roles != options_.oidc_claim_roles.end()) {
      principal.roles.insert(roles->second.begin(), roles->second.end());
    }
  }
  return principal;
}

absl::StatusOr<Principal> Authorizer::Authenticate(const HttpRequest& request,
                                                   absl::Time now) const {
  Principal principal;
  if (request.client_certificate.has_value()) {
    const ClientCertificate& presented = *request.client_certificate;
    for (const CertificateRoles& entry : options_.certificates) {
      const bool matches = entry.subject.empty() ? entry.sha256 == presented.sha256
                                                 : entry.subject == presented.subject;
      if (matches) {
        principal.roles.insert(entry.roles.begin(), entry.roles.end());
      }
    }
    principal.credential = fmt::format("certificate {:?}", presented.subject);
  }

  const std::optional<std::string> header = request.Header("authorization");
  if (!header.has_value()) {
    return principal;
  }
  constexpr std::string_view kScheme = "bearer ";
  if (header->size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(AbslView(*header), AbslView(kScheme))) {
    return Unauthenticatedf("Authorization header is not a Bearer token");
  }
  VOUCH_ASSIGN_OR_RETURN(const Principal bearer,
                         AuthenticateBearer(std::string_view(*header).substr(kScheme.size()), now));
  principal.roles.insert(bearer.roles.begin(), bearer.roles.end());
  principal.credential += principal.credential.empty() ? "" : " and ";
  principal.credential += bearer.credential;
  return principal;
}

std::optional<HttpResponse> Authorizer::Check(const HttpRequest& request, RouteAccess access,
                                              absl::Time now) const {
  if (access == RouteAccess::kPublic ||
      (access == RouteAccess::kRelease && !options_.release_requires_role)) {
    return std::nullopt;
  }
  absl::StatusOr<Principal> principal = Authenticate(request, now);
  if (!principal.ok()) {
    const std::string message = std::string(principal.status().message());
    return Denied(401, message, message);
  }

  std::set<Role> allowed;
  switch (access) {
    case RouteAccess::kAdministrator:
      allowed = {Role::kAdministrator};
      break;
    case RouteAccess::kAuditor:
      allowed = {Role::kAuditor, Role::kAdministrator};
      break;
    case RouteAccess::kRelease:
      allowed = {Role::kReleaseUser};
      break;
    case RouteAccess::kPublic:
      return std::nullopt;
  }
  for (const Role role : principal->roles) {
    if (allowed.contains(role)) {
      return std::nullopt;
    }
  }
  if (principal->credential.empty()) {
    const std::string message = fmt::format(
        "this route needs the {} role: present a client certificate or an Authorization: Bearer "
        "token",
        AccessName(access));
    return Denied(401, message, "no credential");
  }
  const std::string message =
      fmt::format("this route needs the {} role; the credential has {}", AccessName(access),
                  RoleList(principal->roles));
  return Denied(403, message, fmt::format("{}: {}", principal->credential, message));
}

absl::Status InstallAccessControl(Router& router, std::shared_ptr<const Authorizer> authorizer) {
  for (const RouteKey& route : router.Routes()) {
    if (!FindRouteAccess(route.method, route.pattern).has_value()) {
      return FailedPreconditionf(
          "access: route {} {} has no entry in the route access table (server/access.cc)",
          route.method, route.pattern);
    }
  }
  router.SetAccessCheck([authorizer = std::move(authorizer)](
                            const HttpRequest& request, std::string_view method,
                            std::string_view pattern) -> std::optional<HttpResponse> {
    const std::optional<RouteAccess> access = FindRouteAccess(method, pattern);
    if (!access.has_value()) {
      HttpResponse response =
          ErrorResponseFor(500, "internal server error; the server log has the details");
      response.log_detail = fmt::format("route {} {} has no access table entry", method, pattern);
      return response;
    }
    return authorizer->Check(request, *access, absl::Now());
  });
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> CheckUnsafeConfig(const Config& config,
                                                           const Authorizer& authorizer) {
  std::vector<absl::Status> problems;
  if (!authorizer.HasAdministratorCredential()) {
    problems.push_back(FailedPreconditionf(
        "no admin credential: set --admin-token-file, or map a client certificate or an OIDC "
        "claim value to the administrator role in --roles"));
  }
  const bool loopback = IsLoopbackListen(config);
  if (config.allow_simulated_snp && !loopback) {
    problems.push_back(FailedPreconditionf(
        "simulated evidence is allowed on the non-loopback address {}: drop "
        "--allow-simulated-snp or listen on 127.0.0.1",
        config.listen));
  }
  if (config.tls_cert_file.empty() && !loopback) {
    problems.push_back(FailedPreconditionf(
        "plain HTTP on the non-loopback address {}: set --tls-cert and --tls-key", config.listen));
  }
  if (config.keystore == "software" && !config.data_dir.empty()) {
    const absl::Status root_key =
        CheckPrivateFile(config.data_dir + "/" + kRootKeyFileName, "root key");
    if (!root_key.ok()) {
      problems.push_back(root_key);
    }
  }
  if (!config.tls_key_file.empty()) {
    const absl::Status tls_key = CheckPrivateFile(config.tls_key_file, "TLS key");
    if (!tls_key.ok()) {
      problems.push_back(tls_key);
    }
  }

  std::vector<std::string> warnings;
  if (config.development && problems.empty()) {
    warnings.push_back("development setup (--development): no unsafe setting is in use");
  }
  for (const absl::Status& problem : problems) {
    if (!config.development) {
      return FailedPreconditionf("unsafe configuration: {}; --development starts anyway",
                                 problem.message());
    }
    warnings.push_back(fmt::format("development setup, unsafe configuration allowed: {}",
                                   problem.message()));
  }
  return warnings;
}

}  // namespace vouch::server
