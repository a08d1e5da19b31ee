// The "server" spdlog logger shared by the HTTP layer and the service.
#ifndef VOUCH_SERVER_LOGGING_H_
#define VOUCH_SERVER_LOGGING_H_

#include <spdlog/spdlog.h>

#include <memory>

namespace vouch::server {

// ServerLogger returns the logger named "server": the one already registered
// with spdlog under that name (so a program can configure it first), or a new
// one writing to stderr.
std::shared_ptr<spdlog::logger> ServerLogger();

}  // namespace vouch::server

#endif  // VOUCH_SERVER_LOGGING_H_
