// The guest flow of `vouch unlock`: attest this VM, have the key released
// to an ephemeral key, unwrap it and open a LUKS2 volume with it.
#ifndef VOUCH_AGENT_UNLOCK_H_
#define VOUCH_AGENT_UNLOCK_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/luks.h"
#include "vouch/agent/platform.h"

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
  // Name for /dev/mapper/<mapped_name>; empty only checks the key.
  std::string mapped_name;
  std::string enc = "CKM_RSA_AES_KEY_WRAP";
  std::optional<std::string> nonce;
};

struct UnlockResult {
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

// RunUnlock runs the flow:
//   1. make an ephemeral RSA-3072 key and the runtime data {"keys": [JWK]};
//   2. get evidence with REPORT_DATA = SHA-256(runtime data) || 32 zero bytes;
//   3. POST /attest/SevSnpVm for a token;
//   4. POST /keys/<name>[/<version>]/release with the token;
//   5. check the release JWS against GET /certs and unwrap the key;
//   6. open the LUKS2 volume with the key (see OpenLuks2).
// On failure the status message starts with the step name and carries the
// server's error message where there is one. The status code is that of the
// underlying error. The released key is wiped before RunUnlock returns.
absl::StatusOr<UnlockResult> RunUnlock(Platform& platform, const HttpClient& http,
                                       const UnlockOptions& options,
                                       const UnlockProgress& progress);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_UNLOCK_H_
