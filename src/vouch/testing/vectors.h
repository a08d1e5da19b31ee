// Access to the real evidence in the shared vectors folder.
//
// The folder sits beside the checkout (../shared/vectors) and is never
// copied into the repository. VOUCH_VECTORS overrides its path. When it is
// missing, tests that need it are skipped with a message naming the path,
// unless VOUCH_REQUIRE_VECTORS=1 is set (as CI does), in which case they fail.
#ifndef VOUCH_TESTING_VECTORS_H_
#define VOUCH_TESTING_VECTORS_H_

#include <gtest/gtest.h>

#include <string>

#include "vouch/base/bytes.h"

namespace vouch::testing {

// VectorsDir returns the vectors folder path, whether or not it exists.
std::string VectorsDir();

// HaveVectors is true when the vectors folder exists.
bool HaveVectors();

// VectorsMissingMessage explains where the folder was looked for.
std::string VectorsMissingMessage();

// ReadVector reads `relative` (e.g. "sev-snp/trustee-milan-v2.bin") below the
// vectors folder and fails the test when it cannot be read.
Bytes ReadVector(const std::string& relative);

// RequireVectors is true when VOUCH_REQUIRE_VECTORS=1 is set.
bool RequireVectors();

}  // namespace vouch::testing

// VOUCH_REQUIRE_VECTORS_OR_SKIP() skips the current test when the vectors
// folder is missing, or fails it when the environment requires vectors.
#define VOUCH_REQUIRE_VECTORS_OR_SKIP()                                       \
  do {                                                                        \
    if (!::vouch::testing::HaveVectors()) {                                   \
      if (::vouch::testing::RequireVectors()) {                               \
        FAIL() << ::vouch::testing::VectorsMissingMessage();                  \
      }                                                                       \
      GTEST_SKIP() << ::vouch::testing::VectorsMissingMessage();              \
    }                                                                         \
  } while (false)

#endif  // VOUCH_TESTING_VECTORS_H_
