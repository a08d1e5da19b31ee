// Builders for HCL reports and runtime claims, for tests and the swtpm
// harness, which provisions NV index 0x01400001 the way Azure's paravisor does.
#ifndef VOUCH_AZURE_HCL_REPORT_BUILDER_H_
#define VOUCH_AZURE_HCL_REPORT_BUILDER_H_

#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "vouch/azure/hcl_report.h"
#include "vouch/base/bytes.h"

namespace vouch::azure {

// RuntimeClaimsJson returns runtime data shaped like Azure's: "keys" with
// HCLAkPub (key_ops ["sign"]) and, when `ek` is not null, HCLEkPub
// (key_ops ["encrypt"]), "vm-configuration" with the given secure-boot state,
// and "user-data" as upper-case hex of `user_data`.
absl::StatusOr<std::string> RuntimeClaimsJson(EVP_PKEY* ak, EVP_PKEY* ek, bool secure_boot,
                                              ByteSpan user_data);

// RuntimeReportData returns the 64-byte REPORT_DATA that binds `runtime_data`:
// its hash, zero-padded.
Bytes RuntimeReportData(crypto::HashAlg alg, ByteSpan runtime_data);

// BuildHclReport lays out an HCL report (version 2, request type 2) around a
// hardware report (an SEV-SNP report of 1184 bytes or a 1024-byte TDREPORT)
// and the runtime data, zero-padded to `total_size` bytes when that is larger.
Bytes BuildHclReport(HclReportType type, ByteSpan hardware_report, ByteSpan runtime_data,
                     crypto::HashAlg alg = crypto::HashAlg::kSha256, size_t total_size = 2600);

}  // namespace vouch::azure

#endif  // VOUCH_AZURE_HCL_REPORT_BUILDER_H_
