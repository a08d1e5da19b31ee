#include "vouch/agent/unlock.h"

#include <string>
#include <utility>

#include "vouch/agent/attest_client.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/broker/release_response.h"
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

absl::StatusOr<UnlockResult> RunUnlock(Platform& platform, const HttpClient& http,
                                       const UnlockOptions& options,
                                       const UnlockProgress& progress) {
  const auto report = [&](UnlockStep step, std::string_view message) {
    if (progress) {
      progress(step, message);
    }
  };
  UnlockResult result;
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

  // 2. Evidence that binds the runtime data through REPORT_DATA.
  absl::StatusOr<Evidence> evidence = platform.GetEvidence(runtime->report_data);
  if (!evidence.ok()) {
    return StepError(UnlockStep::kEvidence, evidence.status());
  }
  report(UnlockStep::kEvidence, DescribeEvidence(platform, *evidence));

  // 3. Attestation token.
  absl::StatusOr<std::string> token = client.Attest(*evidence, runtime->json, options.nonce);
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

  // 6. Open the volume. `key` is wiped when it goes out of scope.
  absl::StatusOr<OpenResult> opened = OpenLuks2(options.volume_path, *key, options.mapped_name);
  if (!opened.ok()) {
    return StepError(UnlockStep::kUnlock, opened.status());
  }
  report(UnlockStep::kUnlock, opened->message);
  result.open = *std::move(opened);
  return result;
}

}  // namespace vouch::agent
