// Access control of `vouch serve`: roles, the credentials that carry them,
// the table of the role each route needs, and the unsafe-configuration check.
//
// Roles:
//   administrator  keys, release policies, attestation policies, settings,
//                  disaster-recovery promotion; may also read the audit log
//   release-user   may call key release; the attestation token in the body
//                  is still required, as in Azure Key Vault's SKR
//   auditor        reads the audit log
// Credentials, each mapped to a set of roles:
//   - a mutual TLS client certificate that verified against the client CA,
//     matched by subject DN (RFC 2253) or SHA-256 fingerprint in the roles file
//   - a bearer JWT of an OpenID Connect provider, verified against its JWKS
//     read from a file (issuer, audience, exp/nbf with 60 s leeway, RS256,
//     PS256, ES256 or ES384 only, no key named in the header), whose role
//     claim values the roles file maps to roles
//   - the admin bearer token (its SHA-256 is configured): administrator
// Every route has an entry in RouteAccessTable(); Dispatch answers 500 for a
// route without one, and InstallAccessControl fails for it at start-up.
#ifndef VOUCH_SERVER_ACCESS_H_
#define VOUCH_SERVER_ACCESS_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/server/config.h"
#include "vouch/server/http_message.h"
#include "vouch/server/router.h"
#include "vouch/token/validator.h"

namespace vouch::server {

enum class Role { kAdministrator, kReleaseUser, kAuditor };

// RoleName returns "administrator", "release-user" or "auditor".
std::string_view RoleName(Role role);
absl::StatusOr<Role> ParseRole(std::string_view name);

// The credential a route needs.
enum class RouteAccess {
  kPublic,         // no credential, by design (attestation, token metadata, health)
  kAdministrator,  // administrator
  kAuditor,        // auditor or administrator
  kRelease,        // the attestation token; with release_requires_role also release-user
};

struct RouteAccessEntry {
  std::string_view method;
  std::string_view pattern;
  RouteAccess access;
};

// RouteAccessTable returns the access of every route the service registers,
// including routes that exist only in some configurations.
std::span<const RouteAccessEntry> RouteAccessTable();

// FindRouteAccess returns the table entry for `method` and `pattern`.
std::optional<RouteAccess> FindRouteAccess(std::string_view method, std::string_view pattern);

// CertificateRoles maps a client certificate, by subject or by fingerprint
// (exactly one of them set), to roles.
struct CertificateRoles {
  std::string subject;  // RFC 2253, "CN=ops,O=Example"
  std::string sha256;   // lower-case hex of the DER certificate
  std::set<Role> roles;
};

struct AccessOptions {
  std::string admin_token_sha256;
  std::vector<CertificateRoles> certificates;
  // OpenID Connect; oidc_issuer empty disables bearer JWTs.
  std::string oidc_issuer;
  nlohmann::json oidc_jwks;
  std::string oidc_audience;
  std::string oidc_role_claim = "roles";
  // Values of the role claim mapped to roles.
  std::map<std::string, std::set<Role>> oidc_claim_roles;
  bool release_requires_role = false;
};

// ParseRolesFile reads the roles file into `options`:
//   {"certificates": [{"subject": DN, "roles": [ROLE]}, {"sha256": HEX, "roles": [...]}],
//    "oidc_claims": {"claim value": [ROLE]}}
// Unknown members, unknown roles and malformed fingerprints are rejected.
absl::Status ParseRolesFile(const nlohmann::json& json, AccessOptions& options);

// LoadAccessOptions reads the roles file and the OIDC JWKS file named in `config`.
absl::StatusOr<AccessOptions> LoadAccessOptions(const Config& config);

// The outcome of authenticating a request.
struct Principal {
  std::set<Role> roles;
  // Names the credential for log lines: "admin token", "certificate CN=...",
  // "oidc sub=..."; empty for an anonymous request.
  std::string credential;
};

class Authorizer {
 public:
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(AccessOptions options);

  // Authenticate returns the roles of every credential the request carries.
  // A request without credentials gets an empty Principal. A bearer token
  // that is neither the admin token nor a valid OIDC token is Unauthenticated,
  // with the reason.
  absl::StatusOr<Principal> Authenticate(const HttpRequest& request, absl::Time now) const;

  // Check returns nullopt when `request` may use a route of `access`, and
  // otherwise the 401 (no or invalid credential) or 403 (credential without
  // the role) response to send.
  std::optional<HttpResponse> Check(const HttpRequest& request, RouteAccess access,
                                    absl::Time now) const;

  // HasAdministratorCredential returns whether any configured credential can
  // carry the administrator role.
  bool HasAdministratorCredential() const;

 private:
  explicit Authorizer(AccessOptions options) : options_(std::move(options)) {}

  absl::StatusOr<Principal> AuthenticateBearer(std::string_view token, absl::Time now) const;

  AccessOptions options_;
  std::optional<token::TokenValidator> oidc_validator_;
};

// InstallAccessControl checks that every route of `router` has an entry in
// RouteAccessTable() (FailedPrecondition naming the first that has none) and
// makes the router check each request with `authorizer` before its handler.
// A route added later without an entry gets HTTP 500.
absl::Status InstallAccessControl(Router& router, std::shared_ptr<const Authorizer> authorizer);

// CheckUnsafeConfig rejects, with FailedPrecondition naming the rule and the
// fix, a configuration with no admin credential, simulated evidence allowed
// on a non-loopback address, plain HTTP on a non-loopback address, or a root
// key or TLS key file readable by group or others. With config.development
// it returns one warning line per relaxed rule instead.
absl::StatusOr<std::vector<std::string>> CheckUnsafeConfig(const Config& config,
                                                           const Authorizer& authorizer);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_ACCESS_H_
