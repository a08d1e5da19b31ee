// Claims of a verified SGX or TDX quote, named as Microsoft Azure
// Attestation names them, so that release policies written for Azure carry
// over: the "tdx_*" claims of Azure's TDX EAT profile and the "x-ms-sgx-*"
// claims of Azure's SGX attestation. Facts Azure does not report get
// "x-vouch-dcap-*", "x-vouch-tdx-*" or "x-vouch-sgx-*" names.
#ifndef VOUCH_DCAP_CLAIMS_H_
#define VOUCH_DCAP_CLAIMS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vouch/dcap/verify.h"

namespace vouch::dcap {

// TdxClaims returns the claims of a TDX quote: measurements and attributes
// as lower-case hex, TD attribute flags as booleans, and the TCB verdict
// ("attester_tcb_status", "attester_advisory_ids"). It never reads bytes
// after the quote (see ParseQuote).
nlohmann::json TdxClaims(const VerifiedQuote& verified);

// SgxClaims returns the claims of an SGX quote. The enclave held data
// ("x-ms-sgx-ehd") is the request's runtime data, which the caller adds.
nlohmann::json SgxClaims(const VerifiedQuote& verified);

// DcapClaims returns TdxClaims or SgxClaims by the quote's TEE type.
nlohmann::json DcapClaims(const VerifiedQuote& verified);

// TdxClaimTypes and SgxClaimTypes list every claim type that TdxClaims and
// SgxClaims can return, for policies that must name only known claims.
std::vector<std::string> TdxClaimTypes();
std::vector<std::string> SgxClaimTypes();

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_CLAIMS_H_
