// Test-only access to the real SEV-SNP evidence in the shared vectors
// folder: certificate pools and the table of real reports with their
// verification times (from the vectors catalogue). Only the snp tests
// include it.
#ifndef VOUCH_SNP_SNP_VECTORS_H_
#define VOUCH_SNP_SNP_VECTORS_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/time.h"
#include "vouch/crypto/x509.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp::testing {

// Certificates of the given vector files, concatenated. A file that does not
// parse fails the test and contributes nothing.
inline std::vector<crypto::Certificate> LoadPool(const std::vector<std::string>& files) {
  std::vector<crypto::Certificate> pool;
  for (const std::string& file : files) {
    absl::StatusOr<std::vector<crypto::Certificate>> parsed =
        crypto::ParseCertificates(vouch::testing::ReadVector(file));
    EXPECT_TRUE(parsed.ok()) << file << ": " << parsed.status();
    if (parsed.ok()) {
      pool.insert(pool.end(), parsed->begin(), parsed->end());
    }
  }
  return pool;
}

inline absl::Time At(const char* rfc3339) {
  const absl::StatusOr<absl::Time> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? *t : absl::InfinitePast();
}

// RealReport is a genuine report with the certificates it verifies with.
struct RealReport {
  const char* report;
  const char* leaf;
  const char* chain;
  const char* time;  // inside every certificate's validity window
  const char* product;
  bool vlek;
  bool debug;     // policy allows debugging: rejected by the default appraisal
  uint32_t vmpl;  // above 0: rejected by the default appraisal
};

inline const std::vector<RealReport>& RealReports() {
  static const std::vector<RealReport> kReports = {
      {"sev-snp/gosevguest-milan-v2.bin", "sev-snp/gosevguest-milan-vcek.der",
       "amd-certs/milan_chain.pem", "2025-06-01T00:00:00Z", "Milan", false, true, 0},
      {"sev-snp/virtee-milan-v2.bin", "sev-snp/virtee-milan-vcek.der", "amd-certs/milan_chain.pem",
       "2025-06-01T00:00:00Z", "Milan", false, false, 0},
      {"sev-snp/trustee-milan-v2.bin", "sev-snp/trustee-milan-v2-vcek.der",
       "amd-certs/milan_chain.pem", "2025-06-01T00:00:00Z", "Milan", false, false, 0},
      {"sev-snp/constellation-azure-milan-v2.bin", "sev-snp/constellation-azure-milan-vcek.der",
       "amd-certs/milan_chain.pem", "2025-06-01T00:00:00Z", "Milan", false, false, 0},
      {"sev-snp/oak-genoa-v5.bin", "sev-snp/oak-genoa-vcek.der", "amd-certs/genoa_chain.pem",
       "2026-01-01T00:00:00Z", "Genoa", false, false, 0},
      {"sev-snp/trustee-aws-milan-vlek-v3.bin", "sev-snp/trustee-aws-milan-vlek-v3-vlek.der",
       "amd-certs/milan_vlek_chain.pem", "2025-06-01T00:00:00Z", "Milan", true, false, 1},
  };
  return kReports;
}

}  // namespace vouch::snp::testing

#endif  // VOUCH_SNP_SNP_VECTORS_H_
