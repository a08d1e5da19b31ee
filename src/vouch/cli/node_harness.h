// Test-only helpers for the multi-node and disaster-recovery tests: run the
// real `vouch serve` binary as a child process on 127.0.0.1, and drive it
// over HTTP as an operator and a simulated SEV-SNP guest would.
#ifndef VOUCH_CLI_NODE_HARNESS_H_
#define VOUCH_CLI_NODE_HARNESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/agent/http_client.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::cli::testing {

// The shared test issuer: every node of one deployment is configured with
// it, so a token from one node is valid at every node. Never contacted.
inline constexpr char kTestIssuer[] = "http://vouch.test";
inline constexpr char kAdminToken[] = "multi-node-admin-token";

// Deployment is one data folder shared by the nodes of a test (root key,
// simulated SEV-SNP chain, admin token and PostgreSQL URL files), as the
// nodes of a real deployment share their key store.
struct Deployment {
  std::string folder;
  std::string data_dir;
  std::string admin_token_file;

  // Make creates the folder and the admin token file.
  static absl::StatusOr<Deployment> Make();
  // WriteUrlFile writes `url` to a mode-0600 file and returns its path.
  absl::StatusOr<std::string> WriteUrlFile(const std::string& name, const std::string& url) const;
};

class VouchNode {
 public:
  // Start runs `vouch serve` with the deployment's data folder, the
  // PostgreSQL store reading `url_file`, simulated SEV-SNP allowed and the
  // test issuer, plus `extra_args`, and waits until it listens.
  static absl::StatusOr<std::unique_ptr<VouchNode>> Start(const Deployment& deployment,
                                                          const std::string& name,
                                                          const std::string& url_file,
                                                          std::vector<std::string> extra_args = {});
  // The destructor stops the process (SIGTERM, then SIGKILL after 5 s).
  ~VouchNode();
  VouchNode(const VouchNode&) = delete;
  VouchNode& operator=(const VouchNode&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const;
  std::string Log() const;

  // Requests. Admin requests carry the bearer token.
  absl::StatusOr<agent::HttpResponse> CreateKey(const std::string& name) const;
  absl::StatusOr<agent::HttpResponse> GetKey(const std::string& name) const;
  // Attest sends a simulated SEV-SNP report and returns the token.
  absl::StatusOr<std::string> Attest(const Deployment& deployment) const;
  absl::StatusOr<agent::HttpResponse> Release(const std::string& name,
                                              const std::string& token) const;
  absl::StatusOr<agent::HttpResponse> Get(const std::string& path) const;
  absl::StatusOr<agent::HttpResponse> Post(const std::string& path, const std::string& body,
                                           bool admin) const;

 private:
  VouchNode() = default;

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string log_file_;
  agent::HttpClient http_;
};

// KidOf returns the "kid" of a key response ("<issuer>/keys/<name>/<version>").
std::string KidOf(const agent::HttpResponse& response);
// VersionOfKid returns the part after the last '/'.
std::string VersionOfKid(const std::string& kid);
// ReleasedKid returns the kid inside a release response's JWS payload, or "".
std::string ReleasedKid(const agent::HttpResponse& response);

// VouchBinary returns the path of the vouch binary of this build.
std::string VouchBinary();

}  // namespace vouch::cli::testing

#endif  // VOUCH_CLI_NODE_HARNESS_H_
