#include "vouch/agent/unlock.h"

#include <algorithm>
#include <string>
#include <utility>

#include "vouch/agent/attest_client.h"
#include "vouch/agent/azure_cvm_platform.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/broker/release_response.h"
#include "vouch/crypto/jws.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::agent {
namespace {

// Modulus size of the ephemeral RSA key. The key lives only in memory, for
// one unlock.
constexpr int kEphemeralRsaBits = 3072;

absl::Status StepError(UnlockStep step, const absl::Status& status) {
  return Prefix(UnlockStepName(step), status);
}

std::string DescribeEvidence(const Platform& platform, const Evidence& evidence) {
  return fmt::format("{} {} report of {} bytes with {} certificates{}", platform.Name(),
                     evidence.kind, evidence.report.size(), evidence.certificates.size(),
                     evidence.simulated ? " (simulated evidence, not from hardware)" : "");
}

// ReleasedKeyTags returns response.key.tags of the release payload (an
// empty object when absent). The caller has verified the JWS.
absl::StatusOr<nlohmann::json> ReleasedKeyTags(std::string_view jws) {
  VOUCH_ASSIGN_OR_RETURN(const crypto::JwsParts parts, crypto::JwsDecode(jws));
  const nlohmann::json payload = nlohmann::json::parse(parts.payload, nullptr, false);
  const nlohmann::json* key = payload.is_object() && payload.contains("response") &&
                                      payload["response"].is_object() &&
                                      payload["response"].contains("key")
                                  ? &payload["response"]["key"]
                                  : nullptr;
  if (key == nullptr || !key->is_object() || !key->contains("tags")) {
    return nlohmann::json::object();
  }
  if (!(*key)["tags"].is_object()) {
    return InvalidArgumentf("release: response.key.tags is not an object");
  }
  return (*key)["tags"];
}

// ExpectedVolumeUuid combines --volume-uuid with the key's tag.
absl::StatusOr<std::string> ExpectedVolumeUuid(const UnlockOptions& options,
                                               const nlohmann::json& tags) {
  std::string tagged;
  if (auto it = tags.find(kLuksUuidTag); it != tags.end()) {
    if (!it->is_string()) {
      return InvalidArgumentf("key tag {} is not a string", kLuksUuidTag);
    }
    tagged = it->get<std::string>();
  }
  if (!tagged.empty() && !options.volume_uuid.empty() && tagged != options.volume_uuid) {
    return FailedPreconditionf(
        "the key's tag {} names volume {}, but --volume-uuid is {}; one of them is wrong",
        kLuksUuidTag, tagged, options.volume_uuid);
  }
  return tagged.empty() ? options.volume_uuid : tagged;
}

}  // namespace

std::string_view UnlockStepName(UnlockStep step) {
  switch (step) {
    case UnlockStep::kEphemeralKey:
      return "ephemeral key";
    case UnlockStep::kEvidence:
      return "evidence";
    case UnlockStep::kAttest:
      return "attest";
    case UnlockStep::kRelease:
      return "release";
    case UnlockStep::kUnwrap:
      return "unwrap";
    case UnlockStep::kUnlock:
      return "unlock";
  }
  return "unknown step";
}

absl::StatusOr<AttestedKey> AttestAndRelease(Platform& platform, const HttpClient& http,
                                             const ReleaseFlowOptions& options,
                                             const UnlockProgress& progress) {
  const auto report = [&](UnlockStep step, std::string_view message) {
    if (progress) {
      progress(step, message);
    }
  };
  AttestedKey result;
  AttestClient client(options.server_url, http);

  // 1. Ephemeral key and runtime data.
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> ephemeral_key =
      crypto::GenerateRsaKey(kEphemeralRsaBits);
  if (!ephemeral_key.ok()) {
    return StepError(UnlockStep::kEphemeralKey, ephemeral_key.status());
  }
  absl::StatusOr<RuntimeData> runtime = MakeRuntimeData(ephemeral_key->get());
  if (!runtime.ok()) {
    return StepError(UnlockStep::kEphemeralKey, runtime.status());
  }
  report(UnlockStep::kEphemeralKey, fmt::format("RSA-{} key made; runtime data of {} bytes",
                                                kEphemeralRsaBits, runtime->json.size()));

  // 2. Evidence that binds the runtime data through REPORT_DATA. A vTPM
  // quote carries a single-use nonce from the server, which replaces
  // options.nonce.
  std::optional<std::string> nonce = options.nonce;
  if (auto* azure = dynamic_cast<AzureCvmPlatform*>(&platform); azure != nullptr) {
    absl::StatusOr<std::string> challenge = client.Challenge();
    if (!challenge.ok()) {
      return StepError(UnlockStep::kEvidence, challenge.status());
    }
    absl::StatusOr<Bytes> challenge_bytes = Base64UrlDecode(*challenge);
    if (!challenge_bytes.ok()) {
      return StepError(UnlockStep::kEvidence,
                       Prefix("POST /challenge: nonce is not base64url", challenge_bytes.status()));
    }
    azure->SetNonce(*std::move(challenge_bytes));
    nonce = *std::move(challenge);
  }
  absl::StatusOr<Evidence> evidence = platform.GetEvidence(runtime->report_data);
  if (!evidence.ok()) {
    return StepError(UnlockStep::kEvidence, evidence.status());
  }
  report(UnlockStep::kEvidence, DescribeEvidence(platform, *evidence));

  // 3. Attestation token.
  absl::StatusOr<std::string> token = client.Attest(*evidence, runtime->json, nonce);
  if (!token.ok()) {
    return StepError(UnlockStep::kAttest, token.status());
  }
  absl::StatusOr<TokenSummary> summary = SummarizeToken(*token);
  if (!summary.ok()) {
    return StepError(UnlockStep::kAttest, summary.status());
  }
  result.token_issuer = summary->issuer;
  result.token_expires = summary->expires;
  report(UnlockStep::kAttest, fmt::format("token issued by {} (expires {}){}", summary->issuer,
                                          FormatRfc3339(summary->expires),
                                          summary->simulated ? ", marked x-vouch-simulated" : ""));

  // 4. Key release, checked against the server's signing keys.
  absl::StatusOr<std::string> jws =
      client.Release(options.key_name, options.key_version, *token, options.enc);
  if (!jws.ok()) {
    return StepError(UnlockStep::kRelease, jws.status());
  }
  absl::StatusOr<nlohmann::json> jwks = client.Jwks();
  if (!jwks.ok()) {
    return StepError(UnlockStep::kRelease, jwks.status());
  }
  absl::StatusOr<VerifiedRelease> release =
      VerifyRelease(*jws, *jwks, options.key_name, options.enc);
  if (!release.ok()) {
    return StepError(UnlockStep::kRelease, release.status());
  }
  result.key_kid = release->kid;
  result.key_version = release->version;
  absl::StatusOr<nlohmann::json> tags = ReleasedKeyTags(*jws);
  if (!tags.ok()) {
    return StepError(UnlockStep::kRelease, tags.status());
  }
  result.tags = *std::move(tags);
  report(UnlockStep::kRelease,
         fmt::format("key {} version {} released (wrapped with {} to the ephemeral key; "
                     "signature checked against {}/certs)",
                     options.key_name, release->version, release->enc, client.server_url()));

  // 5. Unwrap with the ephemeral private key.
  broker::ReleaseVerification verification;
  verification.broker_jwks = &*jwks;
  absl::StatusOr<broker::KeyExportEnc> enc = broker::ParseEnc(release->enc);
  if (!enc.ok()) {
    return StepError(UnlockStep::kUnwrap, enc.status());
  }
  verification.expected_enc = *enc;
  absl::StatusOr<SecretBytes> key =
      broker::UnwrapReleasedKey(*jws, ephemeral_key->get(), verification);
  if (!key.ok()) {
    return StepError(UnlockStep::kUnwrap, key.status());
  }
  report(UnlockStep::kUnwrap, fmt::format("{}-bit key unwrapped", key->size() * 8));
  result.key = *std::move(key);
  return result;
}

absl::StatusOr<UnlockResult> RunUnlock(Platform& platform, const HttpClient& http,
                                       const UnlockOptions& options,
                                       const UnlockProgress& progress) {
  ReleaseFlowOptions release_options;
  release_options.server_url = options.server_url;
  release_options.key_name = options.key_name;
  release_options.key_version = options.key_version;
  release_options.enc = options.enc;
  release_options.nonce = options.nonce;
  VOUCH_ASSIGN_OR_RETURN(AttestedKey attested,
                         AttestAndRelease(platform, http, release_options, progress));

  UnlockResult result;
  result.token_issuer = attested.token_issuer;
  result.token_expires = attested.token_expires;
  result.key_kid = attested.key_kid;
  result.key_version = attested.key_version;

  // 6. Check the header and open the volume. `attested.key` is wiped when
  // it goes out of scope.
  Luks2Expectations expected;
  absl::StatusOr<std::string> uuid = ExpectedVolumeUuid(options, attested.tags);
  if (!uuid.ok()) {
    return StepError(UnlockStep::kUnlock, uuid.status());
  }
  expected.uuid = *uuid;
  absl::StatusOr<OpenResult> opened =
      OpenLuks2(options.volume_path, attested.key, options.mapped_name, expected);
  if (!opened.ok()) {
    return StepError(UnlockStep::kUnlock, opened.status());
  }
  result.volume_uuid = expected.uuid;
  if (progress) {
    progress(UnlockStep::kUnlock,
             expected.uuid.empty()
                 ? opened->message + "; volume UUID not checked (no --volume-uuid, no key tag)"
                 : fmt::format("{}; header checked, volume UUID {}", opened->message,
                               expected.uuid));
  }
  result.open = *std::move(opened);
  return result;
}

bool IsRetryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

absl::StatusOr<UnlockResult> RunUnlockWithRetry(Platform& platform, const HttpClient& http,
                                                const UnlockOptions& options,
                                                const RetryOptions& retry,
                                                const UnlockProgress& progress,
                                                const RetryReport& on_retry) {
  const absl::Time deadline = retry.now() + retry.retry_for;
  absl::Duration wait = retry.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<UnlockResult> result = RunUnlock(platform, http, options, progress);
    if (result.ok() || !IsRetryable(result.status())) {
      return result;
    }
    const absl::Duration left = deadline - retry.now();
    if (left <= absl::ZeroDuration()) {
      if (attempt == 1) {
        return result;
      }
      return Prefix(fmt::format("gave up after {} attempts in {}", attempt,
                                absl::FormatDuration(retry.retry_for)),
                    result.status());
    }
    const absl::Duration this_wait = std::min(wait, left);
    if (on_retry) {
      on_retry(attempt, result.status(), this_wait);
    }
    retry.sleep(this_wait);
    wait = std::min(wait * 2, retry.max_backoff);
  }
}

}  // namespace vouch::agent
