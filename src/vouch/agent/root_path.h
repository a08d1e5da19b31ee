// Paths of kernel interfaces below a configurable root, so that tests can
// point providers and probes at a temporary tree.
#ifndef VOUCH_AGENT_ROOT_PATH_H_
#define VOUCH_AGENT_ROOT_PATH_H_

#include <string>
#include <string_view>

namespace vouch::agent {

// UnderRoot returns <root>/<relative>; an empty root or "/" means the real
// file system.
inline std::string UnderRoot(const std::string& root, std::string_view relative) {
  if (root.empty() || root == "/") {
    return "/" + std::string(relative);
  }
  return root + (root.back() == '/' ? "" : "/") + std::string(relative);
}

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_ROOT_PATH_H_
