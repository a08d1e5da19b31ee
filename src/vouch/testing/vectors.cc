#include "vouch/testing/vectors.h"

#include <cstdlib>
#include <filesystem>

#include "vouch/base/file.h"

namespace vouch::testing {

std::string VectorsDir() {
  if (const char* env = std::getenv("VOUCH_VECTORS"); env != nullptr && env[0] != '\0') {
    return env;
  }
  return VOUCH_VECTORS_DIR;
}

bool HaveVectors() { return std::filesystem::is_directory(VectorsDir()); }

bool RequireVectors() {
  const char* env = std::getenv("VOUCH_REQUIRE_VECTORS");
  return env != nullptr && std::string(env) == "1";
}

std::string VectorsMissingMessage() {
  return "real-evidence vectors folder not found at " + VectorsDir() +
         " (expected ../shared/vectors beside the checkout; set VOUCH_VECTORS to its path)";
}

Bytes ReadVector(const std::string& relative) {
  const std::string path = VectorsDir() + "/" + relative;
  auto bytes = ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << "cannot read vector " << path << ": " << bytes.status();
  return bytes.ok() ? *std::move(bytes) : Bytes{};
}

}  // namespace vouch::testing
