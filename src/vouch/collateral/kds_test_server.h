// Test-only stand-in for AMD KDS on 127.0.0.1 (port chosen by the kernel),
// built on PcsTestServer. It serves the VCEKs and certificate chains that a
// test adds, returns 404 for anything else, and records every request target
// so that tests can check the exact path, query and number of calls.
#ifndef VOUCH_COLLATERAL_KDS_TEST_SERVER_H_
#define VOUCH_COLLATERAL_KDS_TEST_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vouch/collateral/pcs_test_server.h"

namespace vouch::collateral {

class KdsTestServer {
 public:
  // An override handler replies to a target before the served documents.
  // It returns nullopt to leave the target to them.
  using Override = std::function<std::optional<PcsTestReply>(const std::string& target)>;

  KdsTestServer();

  // AddDocument serves `body` (DER for a VCEK, PEM for a chain) with status
  // 200 at `target`, such as "/vcek/v1/Milan/<hwid>?blSPL=..." or
  // "/vcek/v1/Milan/cert_chain".
  void AddDocument(const std::string& target, std::string body);
  void SetOverride(Override handler);

  std::string Url() const { return server_->Url(); }
  std::vector<std::string> targets() const { return server_->targets(); }

 private:
  PcsTestReply Reply(const std::string& target) const;

  mutable std::mutex mu_;
  std::map<std::string, std::string> documents_;
  Override override_;
  // Last member, so that the serving thread stops before the maps go away.
  std::unique_ptr<PcsTestServer> server_;
};

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_KDS_TEST_SERVER_H_
