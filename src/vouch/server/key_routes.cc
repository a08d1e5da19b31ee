#include "vouch/server/key_routes.h"

#include <charconv>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/broker/release_request.h"
#include "vouch/policy/strict_json.h"
#include "vouch/server/logging.h"
#include "vouch/server/status_mapping.h"

namespace vouch::server {
namespace {

using Json = nlohmann::json;

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

// KeyResponse returns the broker's JSON with `status`, or maps its error:
// NotFound to 404 "KeyNotFound" as Azure Key Vault does, FailedPrecondition
// (a conflict with the key's state) to 409, and the rest through
// status_mapping.h.
absl::StatusOr<HttpResponse> KeyResponse(absl::StatusOr<Json> result, int status = 200) {
  if (result.ok()) {
    return JsonResponse(status, *result);
  }
  const absl::Status& error = result.status();
  HttpResponse response;
  if (error.code() == absl::StatusCode::kNotFound) {
    response = ErrorResponse(404, "KeyNotFound", StdView(error.message()));
  } else if (error.code() == absl::StatusCode::kFailedPrecondition) {
    response = ErrorResponse(409, "Conflict", StdView(error.message()));
  } else {
    return error;
  }
  response.log_detail = error.ToString();
  return response;
}

absl::StatusOr<HttpResponse> EmptyResponse(const absl::Status& status) {
  if (!status.ok()) {
    return KeyResponse(status);
  }
  HttpResponse response;
  response.status = 204;
  return response;
}

// ParseBody parses a JSON body; an empty body is null.
absl::StatusOr<Json> ParseBody(const HttpRequest& request, std::string_view what) {
  if (request.body.empty()) {
    return Json();
  }
  return policy::ParseStrictJson(request.body, what);
}

// ParseQuery splits the query string of `target` into percent-decoded
// name=value pairs. A repeated name is InvalidArgument.
absl::StatusOr<std::map<std::string, std::string>> ParseQuery(std::string_view target) {
  std::map<std::string, std::string> query;
  const size_t mark = target.find('?');
  if (mark == std::string_view::npos) {
    return query;
  }
  std::string_view rest = target.substr(mark + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const size_t equals = pair.find('=');
    VOUCH_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, equals)));
    VOUCH_ASSIGN_OR_RETURN(
        std::string value,
        PercentDecode(equals == std::string_view::npos ? "" : pair.substr(equals + 1)));
    if (!query.emplace(std::move(name), std::move(value)).second) {
      return InvalidArgumentf("query parameter {:?} is repeated", pair.substr(0, equals));
    }
  }
  return query;
}

// ParseAuditQuery reads key, since, until (RFC 3339), outcome, operation
// and limit (1 to kMaxAuditRecordsPerRequest, default 1000).
absl::StatusOr<store::AuditQuery> ParseAuditQuery(std::string_view target) {
  VOUCH_ASSIGN_OR_RETURN(const auto params, ParseQuery(target));
  store::AuditQuery query;
  for (const auto& [name, value] : params) {
    if (name == "key") {
      VOUCH_RETURN_IF_ERROR(store::ValidateKeyName(value));
      query.target_prefix = fmt::format("keys/{}", value);
    } else if (name == "since" || name == "until") {
      absl::StatusOr<absl::Time> time = ParseRfc3339(value);
      if (!time.ok()) {
        return InvalidArgumentf("audit query: {} {:?} is not an RFC 3339 time", name, value);
      }
      (name == "since" ? query.since : query.until) = *time;
    } else if (name == "outcome") {
      query.outcome = value;
    } else if (name == "operation") {
      query.operation = value;
    } else if (name == "limit") {
      size_t limit = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc() || end != value.data() + value.size() || limit < 1 ||
          limit > kMaxAuditRecordsPerRequest) {
        return InvalidArgumentf("audit query: limit {:?}, want 1 to {}", value,
                                kMaxAuditRecordsPerRequest);
      }
      query.limit = limit;
    } else {
      return InvalidArgumentf(
          "audit query: unknown parameter {:?}, want key, since, until, outcome, operation or "
          "limit",
          name);
    }
  }
  return query;
}

// A key filter must match "keys/<name>" and "keys/<name>/<version>" but not
// "keys/<name>-other": the prefix query returns both, so drop the others.
bool MatchesKey(const store::AuditQuery& query, const store::AuditEvent& event) {
  if (!query.target_prefix.has_value()) {
    return true;
  }
  const std::string& prefix = *query.target_prefix;
  return event.target == prefix || absl::StartsWith(event.target, prefix + "/");
}

}  // namespace

absl::Status KeyRoutes::AddRoutes(Router& router, const RouteGuard& guard) const {
  const auto admin = [this, &guard](auto method) {
    return guard(KeyRouteRole::kAdmin,
                 [this, method](const HttpRequest& request) { return (this->*method)(request); });
  };
  const auto admin_fn = [&guard](Handler handler) {
    return guard(KeyRouteRole::kAdmin, std::move(handler));
  };
  const std::string base = base_url_;
  broker::KeyBroker* broker = broker_;

  VOUCH_RETURN_IF_ERROR(router.Add("PUT", "/keys/{name}", admin(&KeyRoutes::CreateKey)));
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/keys/{name}/rotate", admin(&KeyRoutes::RotateKey)));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/keys", admin_fn([broker, base](const HttpRequest&) {
                                     return KeyResponse(broker->ListKeys(base));
                                   })));
  VOUCH_RETURN_IF_ERROR(
      router.Add("GET", "/keys/{name}", admin_fn([broker, base](const HttpRequest& request) {
                   return KeyResponse(broker->GetKey(request.Param("name"), "", base));
                 })));
  VOUCH_RETURN_IF_ERROR(router.Add(
      "GET", "/keys/{name}/versions", admin_fn([broker, base](const HttpRequest& request) {
        return KeyResponse(broker->ListVersions(request.Param("name"), base));
      })));
  VOUCH_RETURN_IF_ERROR(router.Add(
      "GET", "/keys/{name}/{version}", admin_fn([broker, base](const HttpRequest& request) {
        return KeyResponse(broker->GetKey(request.Param("name"), request.Param("version"), base));
      })));
  VOUCH_RETURN_IF_ERROR(router.Add("PATCH", "/keys/{name}/{version}", admin(&KeyRoutes::UpdateKey)));
  VOUCH_RETURN_IF_ERROR(
      router.Add("POST", "/keys/{name}/{version}/attributes", admin(&KeyRoutes::UpdateKey)));
  VOUCH_RETURN_IF_ERROR(router.Add(
      "GET", "/keys/{name}/{version}/releasepolicy",
      admin_fn([broker](const HttpRequest& request) {
        return KeyResponse(
            broker->GetReleasePolicy(request.Param("name"), request.Param("version")));
      })));
  VOUCH_RETURN_IF_ERROR(router.Add("PUT", "/keys/{name}/{version}/releasepolicy",
                                   admin(&KeyRoutes::SetReleasePolicy)));
  VOUCH_RETURN_IF_ERROR(
      router.Add("DELETE", "/keys/{name}", admin_fn([broker, base](const HttpRequest& request) {
                   return KeyResponse(broker->DeleteKey(request.Param("name"), base, absl::Now()));
                 })));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/deletedkeys",
                                   admin_fn([broker, base](const HttpRequest&) {
                                     return KeyResponse(broker->ListDeletedKeys(base));
                                   })));
  VOUCH_RETURN_IF_ERROR(router.Add(
      "GET", "/deletedkeys/{name}", admin_fn([broker, base](const HttpRequest& request) {
        return KeyResponse(broker->GetDeletedKey(request.Param("name"), base));
      })));
  VOUCH_RETURN_IF_ERROR(router.Add(
      "POST", "/deletedkeys/{name}/recover", admin_fn([broker, base](const HttpRequest& request) {
        return KeyResponse(broker->RecoverKey(request.Param("name"), base, absl::Now()));
      })));
  VOUCH_RETURN_IF_ERROR(router.Add(
      "DELETE", "/deletedkeys/{name}", admin_fn([broker](const HttpRequest& request) {
        return EmptyResponse(broker->PurgeKey(request.Param("name"), absl::Now()));
      })));
  VOUCH_RETURN_IF_ERROR(router.Add("GET", "/settings/purge-protection",
                                   admin_fn([broker](const HttpRequest&) {
                                     absl::StatusOr<bool> enabled = broker->PurgeProtection();
                                     if (!enabled.ok()) {
                                       return KeyResponse(enabled.status());
                                     }
                                     return KeyResponse(Json{{"enabled", *enabled}});
                                   })));
  VOUCH_RETURN_IF_ERROR(router.Add("PUT", "/settings/purge-protection",
                                   admin(&KeyRoutes::SetPurgeProtection)));
  VOUCH_RETURN_IF_ERROR(router.Add(
      "GET", "/audit",
      guard(KeyRouteRole::kAuditor,
            [this](const HttpRequest& request) { return QueryAudit(request); })));
  const Handler release = guard(KeyRouteRole::kRelease, [this](const HttpRequest& request) {
    return Release(request);
  });
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/keys/{name}/release", release));
  VOUCH_RETURN_IF_ERROR(router.Add("POST", "/keys/{name}/{version}/release", release));
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> KeyRoutes::CreateKey(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const Json body,
                         policy::ParseStrictJson(request.body, "create key request"));
  return KeyResponse(broker_->CreateKey(request.Param("name"), body, base_url_, absl::Now()));
}

absl::StatusOr<HttpResponse> KeyRoutes::RotateKey(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const Json body, ParseBody(request, "rotate key request"));
  return KeyResponse(broker_->RotateKey(request.Param("name"), body, base_url_, absl::Now()));
}

absl::StatusOr<HttpResponse> KeyRoutes::UpdateKey(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const Json body, ParseBody(request, "update key request"));
  const Json* enabled = nullptr;
  if (body.is_object() && body.size() == 1 && body.contains("enabled")) {
    enabled = &body["enabled"];
  } else if (body.is_object() && body.size() == 1 && body.contains("attributes") &&
             body["attributes"].is_object() && body["attributes"].size() == 1 &&
             body["attributes"].contains("enabled")) {
    enabled = &body["attributes"]["enabled"];
  }
  if (enabled == nullptr || !enabled->is_boolean()) {
    return InvalidArgumentf(
        "update key: want {{\"enabled\": true|false}} or {{\"attributes\": {{\"enabled\": "
        "true|false}}}}");
  }
  return KeyResponse(broker_->SetEnabled(request.Param("name"), request.Param("version"),
                                         enabled->get<bool>(), base_url_, absl::Now()));
}

absl::StatusOr<HttpResponse> KeyRoutes::SetReleasePolicy(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const Json body,
                         policy::ParseStrictJson(request.body, "release policy request"));
  return KeyResponse(broker_->SetReleasePolicy(request.Param("name"), request.Param("version"),
                                               body, absl::Now()));
}

absl::StatusOr<HttpResponse> KeyRoutes::SetPurgeProtection(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const Json body,
                         policy::ParseStrictJson(request.body, "purge protection request"));
  if (!body.is_object() || body.size() != 1 || !body.contains("enabled") ||
      !body["enabled"].is_boolean()) {
    return InvalidArgumentf("purge protection: want {{\"enabled\": true}}");
  }
  const bool enabled = body["enabled"].get<bool>();
  const absl::Status status = broker_->SetPurgeProtection(enabled, absl::Now());
  if (!status.ok()) {
    return KeyResponse(status);
  }
  return JsonResponse(200, {{"enabled", enabled}});
}

absl::StatusOr<HttpResponse> KeyRoutes::QueryAudit(const HttpRequest& request) const {
  VOUCH_ASSIGN_OR_RETURN(const store::AuditQuery query, ParseAuditQuery(request.target));
  VOUCH_ASSIGN_OR_RETURN(const std::vector<store::AuditEvent> events, store_->QueryAudit(query));
  Json records = Json::array();
  for (const store::AuditEvent& event : events) {
    if (MatchesKey(query, event)) {
      records.push_back(broker::AuditEventToJson(event));
    }
  }
  return JsonResponse(200, {{"value", std::move(records)}});
}

absl::StatusOr<HttpResponse> KeyRoutes::Release(const HttpRequest& request) const {
  if (std::optional<HttpResponse> rejected = CheckJsonContentType(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const broker::ReleaseRequest release,
                         broker::ParseReleaseRequest(request.body));
  absl::StatusOr<Json> result = broker_->Release(request.Param("name"), request.Param("version"),
                                                 release, base_url_, absl::Now());
  if (!result.ok() && result.status().code() == absl::StatusCode::kFailedPrecondition) {
    return result.status();  // a release is never a state conflict: keep 400
  }
  // A caller with a valid token must not learn which keys exist, so a
  // missing key or version and every refusal (disabled, not exportable,
  // policy not satisfied) get the same 403. The reason goes to the audit
  // record (written by the broker) and to the server log only.
  if (!result.ok() && (result.status().code() == absl::StatusCode::kNotFound ||
                       result.status().code() == absl::StatusCode::kPermissionDenied)) {
    HttpResponse response = ErrorResponse(403, "AccessDenied", kReleaseDeniedMessage);
    response.log_detail = result.status().ToString();
    return response;
  }
  return KeyResponse(std::move(result));
}

AuditHeadTimer::AuditHeadTimer(store::Store* store, EVP_PKEY* signing_key,
                               broker::AuditHeadOptions options, absl::Duration tick)
    : signer_(store, signing_key, options), tick_(tick), thread_([this] { Run(); }) {}

AuditHeadTimer::~AuditHeadTimer() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  const absl::StatusOr<bool> signed_head = signer_.Sign(absl::Now());
  if (!signed_head.ok()) {
    ServerLogger()->warn("audit head at shutdown not signed: {}", signed_head.status().ToString());
  }
}

void AuditHeadTimer::Run() {
  bool last_failed = false;
  for (;;) {
    {
      MutexLock lock(&mu_);
      const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(stopping, tick_)) {
        return;
      }
    }
    const absl::StatusOr<bool> signed_head = signer_.SignIfDue(absl::Now());
    // One warning per run of failures, so a read-only store does not flood the log.
    if (!signed_head.ok() && !last_failed) {
      ServerLogger()->warn("audit head not signed: {}", signed_head.status().ToString());
    }
    last_failed = !signed_head.ok();
  }
}

}  // namespace vouch::server
