#include "vouch/cli/node_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/server/attest_request.h"
#include "vouch/snp/simulated.h"

namespace vouch::cli::testing {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

agent::HttpHeaders AdminHeaders() {
  return {{"Authorization", std::string("Bearer ") + kAdminToken}};
}

// GuestRuntimeData returns the runtime data of the test guest: a JWKS with
// its RSA key, which the broker wraps released keys to.
const std::string& GuestRuntimeData() {
  static const std::string* runtime = [] {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateRsaKey(2048);
    VOUCH_CHECK(key.ok());
    absl::StatusOr<nlohmann::json> jwk = crypto::PublicKeyToJwk(key->get());
    VOUCH_CHECK(jwk.ok());
    (*jwk)["kid"] = "TpmEphemeralEncryptionKey";
    (*jwk)["key_ops"] = {"encrypt"};
    return new std::string(
        nlohmann::json({{"keys", {*jwk}}, {"vm-configuration", {{"tpm", false}}}}).dump());
  }();
  return *runtime;
}

nlohmann::json ReleasePolicy() {
  const nlohmann::json all_of = {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                                 {{"claim", "x-vouch-simulated"}, {"equals", true}}};
  return {{"version", "1.0.0"},
          {"anyOf", {{{"authority", std::string(kTestIssuer) + "/simulated"}, {"allOf", all_of}}}}};
}

// FindKid returns the first string member "kid" that names a key.
std::string FindKid(const nlohmann::json& json) {
  if (json.is_object()) {
    if (auto kid = json.find("kid");
        kid != json.end() && kid->is_string() && kid->get<std::string>().find("/keys/") != std::string::npos) {
      return kid->get<std::string>();
    }
    for (const auto& [key, value] : json.items()) {
      if (std::string found = FindKid(value); !found.empty()) {
        return found;
      }
    }
  }
  if (json.is_array()) {
    for (const nlohmann::json& value : json) {
      if (std::string found = FindKid(value); !found.empty()) {
        return found;
      }
    }
  }
  return "";
}

}  // namespace

std::string VouchBinary() { return std::string(VOUCH_BINARY_DIR) + "/src/vouch/cli/vouch"; }

absl::StatusOr<Deployment> Deployment::Make() {
  Deployment deployment;
  std::string pattern = ::testing::TempDir() + "vouch-nodes-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return FailedPreconditionf("mkdtemp: {}", std::strerror(errno));
  }
  deployment.folder = pattern;
  deployment.data_dir = pattern + "/data";
  deployment.admin_token_file = pattern + "/admin.token";
  VOUCH_RETURN_IF_ERROR(WriteFileAtomic(deployment.admin_token_file, AsBytes(kAdminToken), 0600));
  return deployment;
}

absl::StatusOr<std::string> Deployment::WriteUrlFile(const std::string& name,
                                                     const std::string& url) const {
  const std::string path = folder + "/" + name + ".url";
  VOUCH_RETURN_IF_ERROR(WriteFileAtomic(path, AsBytes(url + "\n"), 0600));
  return path;
}

absl::StatusOr<std::unique_ptr<VouchNode>> VouchNode::Start(const Deployment& deployment,
                                                            const std::string& name,
                                                            const std::string& url_file,
                                                            std::vector<std::string> extra_args) {
  if (access(VouchBinary().c_str(), X_OK) != 0) {
    return FailedPreconditionf("vouch binary {} not found: build the target vouch",
                               VouchBinary());
  }
  std::unique_ptr<VouchNode> node(new VouchNode());
  const std::string port_file = deployment.folder + "/" + name + ".port";
  node->log_file_ = deployment.folder + "/" + name + ".log";
  unlink(port_file.c_str());
  std::vector<std::string> args = {VouchBinary(),
                                   "serve",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data-dir",
                                   deployment.data_dir,
                                   "--admin-token-file",
                                   deployment.admin_token_file,
                                   "--allow-simulated-snp",
                                   "--issuer",
                                   kTestIssuer,
                                   "--store",
                                   "postgres",
                                   "--postgres-url-file",
                                   url_file,
                                   "--postgres-pool-size",
                                   "4",
                                   "--port-file",
                                   port_file};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  node->pid_ = fork();
  if (node->pid_ < 0) {
    return FailedPreconditionf("fork: {}", std::strerror(errno));
  }
  if (node->pid_ == 0) {
    const int fd = open(node->log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    unsetenv("VOUCH_POSTGRES_URL");
    execv(argv[0], argv.data());
    _exit(127);
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string port = ReadText(port_file);
    if (!port.empty() && port.back() == '\n') {
      node->port_ = static_cast<uint16_t>(std::stoi(port));
      return node;
    }
    int status = 0;
    if (waitpid(node->pid_, &status, WNOHANG) == node->pid_) {
      node->pid_ = -1;
      return FailedPreconditionf("vouch serve {} exited during start-up: {}", name, node->Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return FailedPreconditionf("vouch serve {} did not listen within 30 s: {}", name, node->Log());
}

VouchNode::~VouchNode() {
  if (pid_ <= 0) {
    return;
  }
  kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string VouchNode::url() const { return fmt::format("http://127.0.0.1:{}", port_); }

std::string VouchNode::Log() const {
  const std::string text = ReadText(log_file_);
  return text.size() <= 3000 ? text : text.substr(text.size() - 3000);
}

absl::StatusOr<agent::HttpResponse> VouchNode::CreateKey(const std::string& name) const {
  const nlohmann::json body = {{"attributes", {{"exportable", true}}},
                               {"release_policy",
                                {{"contentType", "application/json; charset=utf-8"},
                                 {"data", Base64UrlEncode(AsBytes(ReleasePolicy().dump()))}}}};
  return http_.PutJson(url() + "/keys/" + name, body.dump(), AdminHeaders());
}

absl::StatusOr<agent::HttpResponse> VouchNode::GetKey(const std::string& name) const {
  return http_.Get(url() + "/keys/" + name, AdminHeaders());
}

absl::StatusOr<std::string> VouchNode::Attest(const Deployment& deployment) const {
  VOUCH_ASSIGN_OR_RETURN(const snp::SimulatedSnp platform,
                         snp::SimulatedSnp::LoadOrCreate(deployment.data_dir + "/simulated-snp"));
  const std::string& runtime = GuestRuntimeData();
  Bytes report_data = crypto::Sha256(AsBytes(runtime));
  report_data.resize(64, 0);
  VOUCH_ASSIGN_OR_RETURN(const Bytes report, platform.GetReport(report_data));
  std::string chain;
  for (const crypto::Certificate& cert : platform.Certificates()) {
    chain += cert.Pem();
  }
  const nlohmann::json body = server::AttestRequestJson(report, chain, AsBytes(runtime));
  VOUCH_ASSIGN_OR_RETURN(const agent::HttpResponse response,
                         http_.PostJson(url() + "/attest/SevSnpVm", body.dump()));
  if (response.status != 200) {
    return FailedPreconditionf("attest: HTTP {}: {}", response.status, response.body);
  }
  const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("token")) {
    return FailedPreconditionf("attest: no token in {}", response.body);
  }
  return answer["token"].get<std::string>();
}

absl::StatusOr<agent::HttpResponse> VouchNode::Release(const std::string& name,
                                                       const std::string& token) const {
  const nlohmann::json body = {{"target", token}};
  return http_.PostJson(url() + "/keys/" + name + "/release", body.dump());
}

absl::StatusOr<agent::HttpResponse> VouchNode::Get(const std::string& path) const {
  return http_.Get(url() + path);
}

absl::StatusOr<agent::HttpResponse> VouchNode::Post(const std::string& path,
                                                    const std::string& body, bool admin) const {
  return http_.PostJson(url() + path, body, admin ? AdminHeaders() : agent::HttpHeaders{});
}

std::string KidOf(const agent::HttpResponse& response) {
  const nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
  return json.is_discarded() ? "" : FindKid(json);
}

std::string VersionOfKid(const std::string& kid) { return kid.substr(kid.rfind('/') + 1); }

std::string ReleasedKid(const agent::HttpResponse& response) {
  const nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
  if (!json.is_object() || !json.contains("value") || !json["value"].is_string()) {
    return "";
  }
  const std::string jws = json["value"].get<std::string>();
  const size_t first = jws.find('.');
  const size_t second = jws.find('.', first + 1);
  if (first == std::string::npos || second == std::string::npos) {
    return "";
  }
  absl::StatusOr<Bytes> payload = Base64UrlDecode(jws.substr(first + 1, second - first - 1));
  if (!payload.ok()) {
    return "";
  }
  const nlohmann::json claims = nlohmann::json::parse(ToString(*payload), nullptr, false);
  return claims.is_discarded() ? "" : FindKid(claims);
}

}  // namespace vouch::cli::testing
