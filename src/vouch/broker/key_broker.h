// KeyBroker: key creation and secure key release, independent of HTTP.
//
// Keys are symmetric (AES) and rest sealed in a keystore::KeyStore, with
// their records in a store::Store. The broker handles clear key bytes only
// when it imports a caller-supplied key. A release
//   1. validates the attestation token against the trusted authorities,
//   2. checks the key version (enabled, exportable, with a release policy),
//   3. evaluates the release policy against the token's claims, with the
//      token's iss as the authority,
//   4. wraps the key inside the key store to the RSA key in the token's
//      x-ms-runtime.keys, and signs the Azure-shaped response.
// Every create and release decision is appended to the store's audit log,
// and a release whose audit record cannot be written is not granted. Two
// exceptions keep unauthenticated callers from growing the log. A release
// with an invalid key name or version is rejected before it is audited.
// Denials for tokens that do not validate are rate-limited per key name
// (InvalidTokenAuditLimiter), and a summary record counts the suppressed
// ones. An audit detail longer than kMaxAuditDetailBytes is cut.
// Errors: NotFound for a missing key or version, Unauthenticated for a bad
// token, and InvalidArgument for a malformed request or token content.
// PermissionDenied covers a policy refusal (naming the failed condition) and
// a disabled or non-exportable key.
// No error message or audit record contains key bytes. A KeyBroker may be
// shared between threads: its only mutable state, the audit limiter, has its
// own mutex, and the Store and KeyStore interfaces require thread-safe
// implementations.
#ifndef VOUCH_BROKER_KEY_BROKER_H_
#define VOUCH_BROKER_KEY_BROKER_H_

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/broker/audit_limiter.h"
#include "vouch/broker/release_request.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/keystore/keystore.h"
#include "vouch/store/store.h"
#include "vouch/token/validator.h"

namespace vouch::broker {

// The claim that marks tokens issued for simulated evidence. A token with
// it set to anything but false is released only when the policy grants its
// claims and denies the same claims without this member, so the grant
// depends on the policy requiring the marker.
inline constexpr std::string_view kSimulatedClaim = "x-vouch-simulated";

// Audit details longer than this are cut, because they may quote request
// text such as a token that failed to parse.
inline constexpr size_t kMaxAuditDetailBytes = 512;

// The kid the guest agent gives its ephemeral RSA key in x-ms-runtime.keys.
inline constexpr std::string_view kEphemeralKeyKid = "TpmEphemeralEncryptionKey";

inline constexpr int kMinTargetRsaBits = 2048;

// Dependencies are borrowed and must outlive the broker.
struct KeyBrokerDeps {
  store::Store* store = nullptr;
  keystore::KeyStore* keystore = nullptr;
  const token::TokenValidator* validator = nullptr;
  // Private key that signs release responses (RSA, or EC P-256/P-384).
  EVP_PKEY* signing_key = nullptr;
};

class KeyBroker {
 public:
  // Create checks that every dependency is set and that the signing key is
  // usable (InvalidArgument otherwise). `audit_limits` bounds the audit
  // records of releases denied for an invalid token.
  static absl::StatusOr<std::unique_ptr<KeyBroker>> Create(
      KeyBrokerDeps deps, InvalidTokenAuditLimits audit_limits = {});

  // CreateKey makes a new version of key `name` from a request body:
  //   {"kty": "oct-HSM" (default, "oct" also accepted),
  //    "key_size": 128 | 192 | 256 (default 256),
  //    "key": {"kty": "oct", "k": base64url} (import instead of generate),
  //    "attributes": {"exportable": bool (default false), "enabled": bool (default true)},
  //    "release_policy": {"contentType": "application/json; charset=utf-8",
  //                       "data": base64url(policy JSON), "immutable": bool}
  //                      or the policy JSON object itself}
  // The release policy is parsed and validated here, so a malformed policy
  // or one naming no claim is rejected now (InvalidArgument). An exportable
  // key needs a release policy. The version id is 16 random bytes in hex.
  // Returns the key's metadata (see GetKey), never key bytes.
  absl::StatusOr<nlohmann::json> CreateKey(std::string_view name, const nlohmann::json& request,
                                           std::string_view base_url, absl::Time now);

  // GetKey returns the metadata of one version ("" = latest):
  //   {"key": {"kid": "<base_url>/keys/<name>/<version>", "kty", "key_ops"},
  //    "attributes": {"enabled", "exportable", "created", "updated"},
  //    "release_policy": {"contentType", "data", "immutable"}}
  absl::StatusOr<nlohmann::json> GetKey(std::string_view name, std::string_view version,
                                        std::string_view base_url);

  // ListVersions returns {"value": [metadata of each version, oldest first]}.
  absl::StatusOr<nlohmann::json> ListVersions(std::string_view name, std::string_view base_url);

  // Release runs the release steps above for one version ("" = latest) and
  // returns {"value": JWS}. An invalid `name` or `version` gives
  // InvalidArgument without an audit record.
  absl::StatusOr<nlohmann::json> Release(std::string_view name, std::string_view version,
                                         const ReleaseRequest& request,
                                         std::string_view base_url, absl::Time now);

  // Jwks returns the JWKS of the key that signs release responses, so an
  // agent can verify them.
  nlohmann::json Jwks() const { return jwks_; }

 private:
  KeyBroker(KeyBrokerDeps deps, InvalidTokenAuditLimits audit_limits)
      : deps_(deps), invalid_token_audit_(audit_limits) {}

  absl::StatusOr<nlohmann::json> ReleaseVerified(const store::KeyRecord& record,
                                                 const nlohmann::json& claims,
                                                 const ReleaseRequest& request,
                                                 std::string_view base_url);
  absl::Status Audit(std::string actor, std::string operation, std::string target,
                     std::string outcome, std::string detail, absl::Time now);
  // AuditRelease writes the summary of suppressed invalid-token denials of
  // key `name` whose window has ended, then one release record.
  absl::Status AuditRelease(std::string_view name, std::string actor, std::string target,
                            std::string outcome, std::string detail, absl::Time now);
  void AuditInvalidToken(std::string_view name, std::string target, const absl::Status& status,
                         absl::Time now);
  void AuditSuppressed(const SuppressedDenials& suppressed, absl::Time now);

  KeyBrokerDeps deps_;
  nlohmann::json jwks_;
  InvalidTokenAuditLimiter invalid_token_audit_;
};

// KeyLabel is the label a key version is sealed under: "key:<name>:<version>".
std::string KeyLabel(std::string_view name, std::string_view version);

// KeyId returns "<base_url>/keys/<name>/<version>", dropping trailing
// slashes of base_url.
std::string KeyId(std::string_view base_url, std::string_view name, std::string_view version);

// FindTargetKey returns the RSA public key in the claims' x-ms-runtime.keys
// that a release wraps to: the first usable RSA key with kid
// "TpmEphemeralEncryptionKey", else the first usable RSA key. A key is
// usable when its "use", if present, is "enc", its "key_ops", if present,
// contain "encrypt", and its modulus has at least kMinTargetRsaBits bits.
// `kid` receives the chosen key's kid. InvalidArgument when there is none.
absl::StatusOr<crypto::SslPtr<EVP_PKEY>> FindTargetKey(const nlohmann::json& claims,
                                                       std::string* kid);

}  // namespace vouch::broker

#endif  // VOUCH_BROKER_KEY_BROKER_H_
