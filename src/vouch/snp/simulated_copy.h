// Copies of a simulated SEV-SNP platform, for tests that start many servers.
// Making the platform's two RSA-4096 keys takes seconds, so a test binary
// makes them once in a cache folder and copies the files into each server's
// data folder.
#ifndef VOUCH_SNP_SIMULATED_COPY_H_
#define VOUCH_SNP_SIMULATED_COPY_H_

#include <string>

#include "absl/status/status.h"

namespace vouch::snp {

// CopySimulatedSnp makes the simulated platform in `cache` unless it exists,
// then copies its certificate and key files into `dir`. It creates `dir`
// with mode 0700 and replaces files of the same names.
absl::Status CopySimulatedSnp(const std::string& cache, const std::string& dir);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_SIMULATED_COPY_H_
