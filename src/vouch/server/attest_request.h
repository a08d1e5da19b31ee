// The body of POST /attest/SevSnpVm, in the shape of Microsoft Azure
// Attestation's AttestSevSnpVm request:
//
//   {"report": base64url(JSON {"SnpReport": base64url(raw report),
//                              "VcekCertChain": base64url(PEM chain)}),
//    "runtimeData": {"data": base64url(runtime data), "dataType": "JSON"},
//    "nonce": "optional string"}
//
// "report" may also be base64url of the raw report alone, and the server then
// takes the certificates from its collateral folder. The runtime data is a
// JSON object. Its optional "keys" member is an array of public JWKs, such as
// the guest's ephemeral RSA key for key release.
#ifndef VOUCH_SERVER_ATTEST_REQUEST_H_
#define VOUCH_SERVER_ATTEST_REQUEST_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"

namespace vouch::server {

inline constexpr size_t kMaxNonceBytes = 1024;
inline constexpr size_t kMaxRuntimeDataBytes = 64 * 1024;

struct AttestRequest {
  Bytes report;  // Raw report bytes, not yet parsed or verified.
  // Certificates sent with the report; empty when "report" was the raw report.
  std::vector<crypto::Certificate> certificates;
  bool has_certificate_chain = false;
  Bytes runtime_data;           // Exactly the decoded bytes that REPORT_DATA binds.
  nlohmann::json runtime_json;  // runtime_data parsed: a JSON object.
  std::optional<std::string> nonce;
};

// ParseAttestRequest decodes and checks the request body. It returns
// InvalidArgument naming the member that is missing, of the wrong type, not
// base64url, or not the expected JSON. Unknown or duplicate members, a
// dataType other than "JSON" and runtime data that is not a JSON object are
// rejected too. Each entry of "keys" must be a valid public JWK, so a JWK
// with private members is rejected. snp::VerifyReport checks the report later.
absl::StatusOr<AttestRequest> ParseAttestRequest(std::string_view body);

// AttestRequestJson builds a request body as a client sends it. An empty
// `certificate_chain_pem` sends the raw report alone.
nlohmann::json AttestRequestJson(ByteSpan report, std::string_view certificate_chain_pem,
                                 ByteSpan runtime_data,
                                 const std::optional<std::string>& nonce = std::nullopt);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_ATTEST_REQUEST_H_
