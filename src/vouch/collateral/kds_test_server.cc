#include "vouch/collateral/kds_test_server.h"

#include <utility>

namespace vouch::collateral {

KdsTestServer::KdsTestServer()
    : server_(std::make_unique<PcsTestServer>(
          [this](const std::string& target) { return Reply(target); })) {}

void KdsTestServer::AddDocument(const std::string& target, std::string body) {
  std::lock_guard<std::mutex> lock(mu_);
  documents_[target] = std::move(body);
}

void KdsTestServer::SetOverride(Override handler) {
  std::lock_guard<std::mutex> lock(mu_);
  override_ = std::move(handler);
}

PcsTestReply KdsTestServer::Reply(const std::string& target) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (override_) {
    if (std::optional<PcsTestReply> reply = override_(target); reply.has_value()) {
      return *std::move(reply);
    }
  }
  const auto it = documents_.find(target);
  if (it == documents_.end()) {
    return {404, {}, "Not Found"};
  }
  return {200, {{"Content-Type", "application/octet-stream"}}, it->second};
}

}  // namespace vouch::collateral
