// Test-only helpers of the agent tests: a temporary folder.
#ifndef VOUCH_AGENT_TEST_SUPPORT_H_
#define VOUCH_AGENT_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace vouch::agent {

// ScopedTempDir creates a fresh folder under the test temporary folder and
// removes it with everything in it when destroyed.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = ::testing::TempDir() + "vouch_agent_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern << " failed";
    }
    path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_TEST_SUPPORT_H_
