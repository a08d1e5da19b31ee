#include "vouch/server/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace vouch::server {

std::shared_ptr<spdlog::logger> ServerLogger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (std::shared_ptr<spdlog::logger> existing = spdlog::get("server")) {
      return existing;
    }
    try {
      return spdlog::stderr_color_mt("server");
    } catch (const spdlog::spdlog_ex&) {
      // Another thread registered the name between get() and here.
      return spdlog::get("server");
    }
  }();
  return logger;
}

}  // namespace vouch::server
