// KeyRoutes: the key broker's HTTP routes, in Azure Key Vault's shape.
//
//   PUT    /keys/{name}                          create a version (body: broker/key_request.h)
//   POST   /keys/{name}/rotate                   new version; omitted members carry over
//   GET    /keys                                 latest version of every key
//   GET    /keys/{name}                          latest version
//   GET    /keys/{name}/versions                 every version, oldest first
//   GET    /keys/{name}/{version}                one version
//   PATCH  /keys/{name}/{version}                {"enabled": bool} or {"attributes": {"enabled": bool}}
//   POST   /keys/{name}/{version}/attributes     the same as PATCH, for clients without PATCH
//   GET    /keys/{name}/{version}/releasepolicy  {"contentType", "data", "immutable"}; 404 if none
//   PUT    /keys/{name}/{version}/releasepolicy  that envelope or the policy object itself
//   DELETE /keys/{name}                          soft delete -> the deleted key
//   GET    /deletedkeys, GET /deletedkeys/{name}
//   POST   /deletedkeys/{name}/recover           -> the latest version's metadata
//   DELETE /deletedkeys/{name}                   purge -> 204
//   GET    /settings/purge-protection            {"enabled": bool}
//   PUT    /settings/purge-protection            {"enabled": true}; false once on is 409
//   GET    /audit?key=&since=&until=&outcome=&operation=&limit=
//                                                {"value": [records, oldest first]}
//   POST   /keys/{name}/release, POST /keys/{name}/{version}/release
//                                                the attestation token is the credential
// Status codes: 200, 204 (purge), 400 (malformed request), 401 (no or wrong
// credential), 403 (release refused, purge forbidden by purge protection),
// 404 (missing key, version, deleted key or release policy; error code
// "KeyNotFound"; a release returns 403 for a missing key too), 409 (conflict with the key's state: immutable policy,
// deleted key's name taken, already deleted, purge protection off), 415.
#ifndef VOUCH_SERVER_KEY_ROUTES_H_
#define VOUCH_SERVER_KEY_ROUTES_H_

#include <openssl/evp.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "vouch/base/mutex.h"
#include "vouch/broker/audit_head.h"
#include "vouch/broker/key_broker.h"
#include "vouch/server/router.h"
#include "vouch/store/store.h"

namespace vouch::server {

// The role a route needs. Today every role but kRelease takes the admin
// bearer token; an access-control layer maps credentials to these roles.
enum class KeyRouteRole {
  kAdmin,    // key and settings changes, key metadata
  kAuditor,  // GET /audit
  kRelease,  // POST .../release: the attestation token is checked by the broker
};

// RouteGuard wraps a handler with the credential check for `role`.
using RouteGuard = std::function<Handler(KeyRouteRole role, Handler handler)>;

// The message of every refused key release: a missing key or version, a
// disabled or non-exportable version and an unsatisfied release policy all
// get 403 AccessDenied with this text. The audit record has the reason.
inline constexpr char kReleaseDeniedMessage[] =
    "key release denied: the key does not exist or its release policy does not admit this "
    "token; the audit log has the reason";

// Maximum number of audit records one GET /audit returns.
inline constexpr size_t kMaxAuditRecordsPerRequest = 100000;

class KeyRoutes {
 public:
  // `broker` and `store` are borrowed and must outlive the router.
  // `base_url` is the base of key ids (the token issuer).
  KeyRoutes(broker::KeyBroker* broker, store::Store* store, std::string base_url)
      : broker_(broker), store_(store), base_url_(std::move(base_url)) {}

  // AddRoutes registers the routes above, each wrapped by `guard`.
  absl::Status AddRoutes(Router& router, const RouteGuard& guard) const;

 private:
  absl::StatusOr<HttpResponse> CreateKey(const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> RotateKey(const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> UpdateKey(const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> SetReleasePolicy(const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> SetPurgeProtection(const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> QueryAudit(const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> Release(const HttpRequest& request) const;

  broker::KeyBroker* broker_;
  store::Store* store_;
  std::string base_url_;
};

// AuditHeadTimer signs audit log heads in a background thread: it checks
// every `tick` whether a head is due (broker::AuditHeadOptions), and signs
// one when it is destroyed, so a clean shutdown leaves the log signed.
// Failures are logged to the "server" logger.
class AuditHeadTimer {
 public:
  // `store` and `signing_key` are borrowed and must outlive the timer.
  AuditHeadTimer(store::Store* store, EVP_PKEY* signing_key, broker::AuditHeadOptions options,
                 absl::Duration tick = absl::Seconds(1));
  ~AuditHeadTimer();
  AuditHeadTimer(const AuditHeadTimer&) = delete;
  AuditHeadTimer& operator=(const AuditHeadTimer&) = delete;

  // SetSigningKey makes later heads use `signing_key` (a reference is kept).
  void SetSigningKey(crypto::SslPtr<EVP_PKEY> signing_key) {
    signer_.SetSigningKey(std::move(signing_key));
  }

 private:
  void Run();

  broker::AuditHeadSigner signer_;
  const absl::Duration tick_;
  Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_KEY_ROUTES_H_
