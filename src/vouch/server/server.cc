#include "vouch/server/server.h"

#include <utility>

#include "vouch/base/status.h"
#include "vouch/server/access.h"
#include "vouch/server/logging.h"

namespace vouch::server {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Config& config) {
  VOUCH_RETURN_IF_ERROR(ValidateConfig(config));
  VOUCH_ASSIGN_OR_RETURN(const AccessOptions access_options, LoadAccessOptions(config));
  VOUCH_ASSIGN_OR_RETURN(const std::unique_ptr<Authorizer> authorizer,
                         Authorizer::Create(access_options));
  VOUCH_ASSIGN_OR_RETURN(const std::vector<std::string> warnings,
                         CheckUnsafeConfig(config, *authorizer));
  for (const std::string& warning : warnings) {
    ServerLogger()->warn("{}", warning);
  }
  VOUCH_ASSIGN_OR_RETURN(const HttpServerOptions options, ToHttpServerOptions(config));

  std::unique_ptr<Server> server(new Server());
  VOUCH_ASSIGN_OR_RETURN(server->http_, HttpServer::Create(options));
  const std::string issuer = config.issuer.empty() ? server->http_->BaseUrl() : config.issuer;
  VOUCH_ASSIGN_OR_RETURN(server->service_, Service::Open(config, issuer));

  Router router;
  VOUCH_RETURN_IF_ERROR(server->service_->AddRoutes(router));
  VOUCH_RETURN_IF_ERROR(server->http_->Start(std::move(router)));
  return server;
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (http_ != nullptr) {
    http_->Stop();
  }
}

}  // namespace vouch::server
