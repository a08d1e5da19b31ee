// A client for AMD's Key Distribution Service (KDS), which serves the VCEK
// certificate of each SEV-SNP chip and TCB, over libcurl.
//
// Paths:
//   GET {base}/vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=
//       VCEK, DER. Milan and Genoa: hwid is the 64-byte CHIP_ID in hex.
//   GET {base}/vcek/v1/Turin/{hwid}?fmcSPL=&blSPL=&teeSPL=&snpSPL=&ucodeSPL=
//       Turin: hwid is the first 8 bytes of CHIP_ID.
//   GET {base}/vcek/v1/{product}/cert_chain
//       ASK and ARK, PEM.
//   GET {base}/vcek/v1/{product}/crl, GET {base}/vlek/v1/{product}/crl
//       The ARK's CRL of ASKs or ASVKs, DER.
// The SPL values are the report's REPORTED_TCB fields, in decimal.
//
// Nothing is retried. A 429 response is Unavailable, and the client then sends
// no request before its Retry-After time has passed, so callers cannot turn
// a rate limit into a busy loop.
#ifndef VOUCH_COLLATERAL_KDS_CLIENT_H_
#define VOUCH_COLLATERAL_KDS_CLIENT_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/x509.h"
#include "vouch/snp/report.h"

namespace vouch::collateral {

// AMD's public KDS. Written here as the default for deployments; vouch
// contacts a KDS only when --kds-url (config kds_url) is set, and tests
// always set a loopback URL.
inline constexpr std::string_view kAmdKdsUrl = "https://kdsintf.amd.com";

struct KdsClientOptions {
  std::string base_url = std::string(kAmdKdsUrl);
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(20);
  // A VCEK is about 1.4 KB of DER and the ASK and ARK about 4.6 KB of PEM.
  size_t max_response_bytes = 64 << 10;
  // Bound of a CRL response. AMD's CRLs list a few revoked CA certificates,
  // but a CRL has no size limit of its own, so this uses crypto's parser limit.
  size_t max_crl_bytes = crypto::kMaxCrlBytes;
  // Wait after a 429 response that has no usable Retry-After header.
  absl::Duration default_retry_after = absl::Seconds(60);
  // CA bundle for HTTPS; empty uses libcurl's default.
  std::string ca_bundle_path{};
};

// KdsProductForReport returns the KDS product name for `report`: `configured`
// when it is not empty, else "Milan", "Genoa" or "Turin" from the CPUID
// family and model of version 3 and later reports. Version 2 reports carry
// no CPUID, so they need a configured product (FailedPrecondition otherwise).
absl::StatusOr<std::string> KdsProductForReport(const snp::AttestationReport& report,
                                                std::string_view configured);

// VcekRequestTarget returns the path and query of the VCEK request for
// `report` under `product`, such as
// "/vcek/v1/Milan/<128 hex digits>?blSPL=04&teeSPL=00&snpSPL=22&ucodeSPL=213".
std::string VcekRequestTarget(std::string_view product, const snp::AttestationReport& report);

// DescribeVcekKey names the chip and TCB of `report` for error messages:
// "chip id <hex>, REPORTED_TCB bl=4 tee=0 snp=22 ucode=213".
std::string DescribeVcekKey(const snp::AttestationReport& report);

class KdsClient {
 public:
  explicit KdsClient(KdsClientOptions options);

  // FetchVcek fetches the VCEK for the chip and REPORTED_TCB of `report`. It
  // checks only that the body is one DER certificate: VcekProvider matches it
  // to the report and verifies its chain. Errors name the URL:
  // - NotFound for 404, naming product, chip and TCB;
  // - Unavailable for 429 (with the time to wait), 5xx and transport failures;
  // - DeadlineExceeded for a time-out;
  // - ResourceExhausted for a body over max_response_bytes;
  // - InvalidArgument for a body that is not a certificate;
  // - FailedPrecondition for other statuses.
  absl::StatusOr<crypto::Certificate> FetchVcek(std::string_view product,
                                                const snp::AttestationReport& report) const;

  // FetchCertChain fetches the ASK and ARK of `product`. The body must hold
  // exactly two PEM certificates; errors as for FetchVcek.
  absl::StatusOr<std::vector<crypto::Certificate>> FetchCertChain(std::string_view product) const;

  // FetchCrl fetches the CRL of `product` for `key_kind` ("vcek" for ASKs,
  // "vlek" for ASVKs). It checks only that the body is one DER or PEM CRL
  // (InvalidArgument otherwise); the caller verifies it under the ARK.
  // Errors as for FetchVcek, with max_crl_bytes as the body bound.
  absl::StatusOr<crypto::Crl> FetchCrl(std::string_view key_kind, std::string_view product) const;

  const KdsClientOptions& options() const { return options_; }

 private:
  absl::StatusOr<std::string> Get(const std::string& url, std::string_view what,
                                  size_t max_bytes) const;

  KdsClientOptions options_;
  // Time before which no request is sent, after a 429 response.
  mutable std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  mutable absl::Time retry_not_before_ = absl::InfinitePast();
};

}  // namespace vouch::collateral

#endif  // VOUCH_COLLATERAL_KDS_CLIENT_H_
