// Claims of verified Azure confidential VM evidence, named as Microsoft Azure
// Attestation names them for "azurevm" attestation, so Azure Key Vault
// release policies (x-ms-isolation-tee.x-ms-attestation-type,
// x-ms-compliance-status) carry over. Facts Azure does not report get
// "x-vouch-azurevm-*" names.
#ifndef VOUCH_AZURE_CLAIMS_H_
#define VOUCH_AZURE_CLAIMS_H_

#include <nlohmann/json.hpp>
#include <optional>

#include "vouch/azure/evidence.h"
#include "vouch/tpm/event_log.h"

namespace vouch::azure {

// UEFI secure boot state read from the event log: the SecureBoot variable as
// measured into PCR 7 (EV_EFI_VARIABLE_DRIVER_CONFIG, UEFI_VARIABLE_DATA).
// nullopt when the log has no such event.
std::optional<bool> SecureBootFromEventLog(const std::vector<tpm::EventLogEntry>& events);

// AzureClaims returns the token claims:
//   x-ms-attestation-type "azurevm", x-ms-azurevm-* (VM id, attested PCRs,
//   protocol version, and boot state where the event log gives it),
//   "secureboot", x-ms-isolation-tee with the hardware claims of the SEV-SNP
//   report (x-ms-sevsnpvm-*) or the TD quote (tdx_*),
//   x-ms-isolation-tee.x-ms-attestation-type "sevsnpvm" or "tdxvm",
//   x-ms-isolation-tee.x-ms-compliance-status "azure-compliant-cvm" when
//   the hardware report is not debuggable, x-ms-isolation-tee.x-ms-runtime
//   (the bound runtime claims) and x-ms-runtime (the bound keys, or
//   `client_runtime` when the caller bound its own runtime data through the
//   HCL user data).
nlohmann::json AzureClaims(const VerifiedAzureEvidence& verified,
                           const std::optional<nlohmann::json>& client_runtime = std::nullopt);

}  // namespace vouch::azure

#endif  // VOUCH_AZURE_CLAIMS_H_
