// Server: the HTTP server and the Service of one `vouch serve` process.
#ifndef VOUCH_SERVER_SERVER_H_
#define VOUCH_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vouch/server/config.h"
#include "vouch/server/http_server.h"
#include "vouch/server/service.h"

namespace vouch::server {

class Server {
 public:
  // Start validates `config` and rejects an unsafe one (CheckUnsafeConfig in
  // access.h), unless config.development is set, in which case it logs a
  // warning per relaxed rule. It then binds the listening socket (so a
  // listen port of 0 is resolved), opens the Service with the issuer from
  // the config or else the bound URL, and starts serving on the worker threads.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const Config& config);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stop stops serving; see HttpServer::Stop. Also runs on destruction.
  void Stop();

  uint16_t port() const { return http_->port(); }
  // url returns the bound address as http(s)://host:port.
  std::string url() const { return http_->BaseUrl(); }
  // issuer returns the tokens' "iss", which is also the base of key ids.
  const std::string& issuer() const { return service_->issuer_url(); }
  Service& service() { return *service_; }

 private:
  Server() = default;

  // Declared first so that it is destroyed last: the router's handlers
  // borrow the Service until the HTTP server has stopped.
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace vouch::server

#endif  // VOUCH_SERVER_SERVER_H_
