// Claims of a verified SEV-SNP report, named as Microsoft Azure Attestation
// names them for SEV-SNP VMs ("x-ms-sevsnpvm-*"), so that Azure Key Vault
// release policies written for Azure carry over. Facts Azure does not
// report get "x-vouch-sevsnpvm-*" names.
#ifndef VOUCH_SNP_CLAIMS_H_
#define VOUCH_SNP_CLAIMS_H_

#include <nlohmann/json.hpp>

#include "vouch/snp/verify.h"

namespace vouch::snp {

// SnpClaims returns one flat JSON object of claims. Byte fields are lower-case
// hex, as Azure writes them; SVNs and VMPL are numbers; policy flags are
// booleans. Simulated reports also get "x-vouch-simulated": true.
nlohmann::json SnpClaims(const VerifiedReport& verified);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_CLAIMS_H_
