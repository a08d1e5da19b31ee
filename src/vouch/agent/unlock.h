// The guest flow of `vouch unlock`: attest this VM, have the key released
// to an ephemeral key, unwrap it and open a LUKS2 volume with it.
#ifndef VOUCH_AGENT_UNLOCK_H_
#define VOUCH_AGENT_UNLOCK_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "vouch/agent/http_client.h"
#include "vouch/agent/luks.h"
#include "vouch/agent/platform.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::agent {

// Steps of the flow, in order. Progress messages and errors start with the
// step name ("attest: ...").
enum class UnlockStep { kEphemeralKey, kEvidence, kAttest, kRelease, kUnwrap, kUnlock };
std::string_view UnlockStepName(UnlockStep step);

struct UnlockOptions {
  std::string server_url;
  std::string key_name;
  std::string key_version;  // Empty: the latest version.
  std::string volume_path;
  // The UUID of the LUKS2 volume that the key is for. The key's tag
  // kLuksUuidTag, when the server sends one, sets it as well, and the two
  // must agree. Empty with no tag: the UUID is not checked.
  std::string volume_uuid;
  // Name for /dev/mapper/<mapped_name>; empty only checks the key.
  std::string mapped_name;
  std::string enc = "CKM_RSA_AES_KEY_WRAP";
  std::optional<std::string> nonce;
};

// Tag in the release response (response.key.tags) that names the LUKS2
// volume UUID the key was made for.
inline constexpr std::string_view kLuksUuidTag = "luks2-uuid";

struct UnlockResult {
  std::string volume_uuid;  // The UUID that was checked; empty when none was.
  std::string token_issuer;
  absl::Time token_expires = absl::InfinitePast();
  std::string key_kid;
  std::string key_version;
  OpenResult open;
};

// Progress receives one line per finished step, for example
// (kAttest, "token issued by http://127.0.0.1:8443 (expires ...)").
// The messages never contain key bytes.
using UnlockProgress = std::function<void(UnlockStep step, std::string_view message)>;

// ReleaseFlowOptions selects the key that AttestAndRelease fetches.
struct ReleaseFlowOptions {
  std::string server_url;
  std::string key_name;
  std::string key_version;  // Empty: the latest version.
  std::string enc = "CKM_RSA_AES_KEY_WRAP";
  std::optional<std::string> nonce;
};

// AttestedKey is a key released to this VM, with the token and key
// metadata that the server returned. The key is wiped when the value is destroyed.
struct AttestedKey {
  SecretBytes key;
  std::string token_issuer;
  absl::Time token_expires = absl::InfinitePast();
  std::string key_kid;
  std::string key_version;
  // response.key.tags of the signed release; an empty object when absent.
  nlohmann::json tags = nlohmann::json::object();
};

// AttestAndRelease runs steps 1 to 5 of RunUnlock (ephemeral key, evidence,
// attest, release, unwrap) and returns the key.
absl::StatusOr<AttestedKey> AttestAndRelease(Platform& platform, const HttpClient& http,
                                             const ReleaseFlowOptions& options,
                                             const UnlockProgress& progress);

// RunUnlock runs the flow:
//   1. make an ephemeral RSA-3072 key and the runtime data {"keys": [JWK]};
//   2. get evidence with REPORT_DATA = SHA-256(runtime data) || 32 zero bytes;
//   3. POST /attest/SevSnpVm, /attest/TdxVm or /attest/AzureGuest (by the
//      evidence kind) for a token; azure-cvm gets a nonce from POST
//      /challenge before step 2 and quotes it;
//   4. POST /keys/<name>[/<version>]/release with the token;
//   5. check the release JWS against GET /certs and unwrap the key;
//   6. check the LUKS2 header (cipher, key size, keyslots, tokens and the
//      volume UUID, see CheckLuks2Header) and open it with the key.
// On failure the status message starts with the step name and carries the
// server's error message where there is one. The status code is that of the
// underlying error. The released key is wiped before RunUnlock returns.
absl::StatusOr<UnlockResult> RunUnlock(Platform& platform, const HttpClient& http,
                                       const UnlockOptions& options,
                                       const UnlockProgress& progress);

// RetryOptions controls RunUnlockWithRetry.
struct RetryOptions {
  // Keep retrying for this long after the first attempt; zero tries once.
  absl::Duration retry_for = absl::ZeroDuration();
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  // Replaced in tests, so that they need not wait.
  std::function<void(absl::Duration)> sleep = [](absl::Duration d) { absl::SleepFor(d); };
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

// IsRetryable is true for failures that may pass on a later attempt: the
// network or the server unavailable (Unavailable, DeadlineExceeded), and a
// guest interface that was busy (Unavailable). A refusal (policy, signature,
// header check, wrong key) is final.
bool IsRetryable(const absl::Status& status);

// RetryReport receives one line before each new attempt, with the failure
// and the wait.
using RetryReport = std::function<void(int attempt, const absl::Status& failure,
                                       absl::Duration wait)>;

// RunUnlockWithRetry runs RunUnlock, and again after retryable failures
// with doubling waits (initial_backoff, capped at max_backoff) until
// retry_for has passed. It returns the last failure, prefixed with the
// number of attempts when there was more than one.
absl::StatusOr<UnlockResult> RunUnlockWithRetry(Platform& platform, const HttpClient& http,
                                                const UnlockOptions& options,
                                                const RetryOptions& retry,
                                                const UnlockProgress& progress,
                                                const RetryReport& on_retry = nullptr);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_UNLOCK_H_
