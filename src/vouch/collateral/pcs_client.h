// A client for Intel's Provisioning Certification Service API version 4, as
// Intel's PCS and a caching PCCS serve it, over libcurl.
//
// Paths (Intel "SGX and TDX PCS API" v4):
//   GET {base}/sgx/certification/v4/tcb?fmspc=<hex>     SGX TCB info
//   GET {base}/tdx/certification/v4/tcb?fmspc=<hex>     TDX TCB info
//   GET {base}/sgx/certification/v4/qe/identity          QE identity
//   GET {base}/tdx/certification/v4/qe/identity          TD_QE identity
//   GET {base}/sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
//   GET {base}/sgx/certification/v4/rootcacrl            Root CA CRL
//   GET {base}/sgx/certification/v4/pckcert?encrypted_ppid=<hex>&cpusvn=<hex>
//       &pcesvn=<hex>&pceid=<hex>                         PCK certificate
// The issuer chains come URL-encoded (PEM) in the response headers
// TCB-Info-Issuer-Chain, SGX-Enclave-Identity-Issuer-Chain,
// SGX-PCK-CRL-Issuer-Chain and SGX-PCK-Certificate-Issuer-Chain.
//
// Only 429, 5xx and time-outs are retried, with exponential backoff that
// honours Retry-After, for at most max_attempts attempts. Any other status
// (404 included) is returned at once as an error, and a body that does not
// parse as the expected document is an error, so no caller can cache it.
#ifndef VOUCH_COLLATERAL_PCS_CLIENT_H_
#define VOUCH_COLLATERAL_PCS_CLIENT_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/quote.h"
#include "vouch/dcap/tcb_evaluation.h"

namespace vouch::collateral {

// Intel's public PCS. Written here as the default for deployments; tests
// always set a loopback URL.
inline constexpr std::string_view kIntelPcsUrl = "https://api.trustedservices.intel.com";

struct PcsClientOptions {
  std::string base_url = std::string(kIntelPcsUrl);
  // Ocp-Apim-Subscription-Key header value; Intel's PCS does not need one
  // for these paths, some PCCS deployments do.
  std::string api_key{};
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(30);
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  size_t max_response_bytes = 4 << 20;
  // CA bundle for HTTPS; empty uses libcurl's default.
  std::string ca_bundle_path{};
  // sleep waits between attempts; tests replace it to record the delays.
  std::function<void(absl::Duration)> sleep{};
};

// PcsDocument is one response: the body and the issuer chain header.
struct PcsDocument {
  std::string body;
  std::vector<crypto::Certificate> issuer_chain;
};

enum class PckCa { kPlatform, kProcessor };

class PcsClient {
 public:
  explicit PcsClient(PcsClientOptions options);

  // Each fetch returns the parsed-checked document. Errors: NotFound for
  // 404, Unavailable after the retries are used up or for a transport
  // failure, DeadlineExceeded when the last attempt timed out,
  // InvalidArgument for a body or header that does not parse, and
  // FailedPrecondition for other statuses. Messages name the URL.
  absl::StatusOr<PcsDocument> FetchTcbInfo(dcap::TeeType tee_type, ByteSpan fmspc) const;
  absl::StatusOr<PcsDocument> FetchQeIdentity(dcap::TeeType tee_type) const;
  absl::StatusOr<PcsDocument> FetchPckCrl(PckCa ca) const;
  absl::StatusOr<PcsDocument> FetchRootCaCrl() const;
  // FetchPckCertificate fetches the PCK certificate of a quote that carries
  // an encrypted PPID (certification data type 3). The body is the PEM
  // certificate. PCE SVN and PCE id are sent as little-endian hex, as PCS expects.
  // The certificate is not verified here: see CollateralProvider.
  absl::StatusOr<PcsDocument> FetchPckCertificate(const dcap::EncryptedPpid& ppid) const;

  // FetchQuoteCollateral fetches the four documents for one quote. The PCK
  // CA is taken from `pck_ca_common_name` (Platform unless it names the
  // Processor CA).
  absl::StatusOr<dcap::QuoteCollateral> FetchQuoteCollateral(
      dcap::TeeType tee_type, ByteSpan fmspc, std::string_view pck_ca_common_name) const;

  const PcsClientOptions& options() const { return options_; }

 private:
  struct Response {
    long status = 0;
    std::string body;
    std::string issuer_chain;  // still URL-encoded
    std::string retry_after;
  };
  absl::StatusOr<Response> GetOnce(const std::string& url, std::string_view chain_header) const;
  absl::StatusOr<PcsDocument> Get(const std::string& url, std::string_view chain_header) const;

  PcsClientOptions options_;
};

// UrlDecode decodes %XX escapes ('+' stays '+', as in Intel's headers).
absl::StatusOr<std::string> UrlDecode(std::string_view text);

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_PCS_CLIENT_H_
