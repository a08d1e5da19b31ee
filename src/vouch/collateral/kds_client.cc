#include "vouch/collateral/kds_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/collateral/http_get.h"

namespace vouch::collateral {
namespace {

// RetryAfterSeconds reads a Retry-After value in seconds; the HTTP-date form
// is not read and gets the default wait.
std::optional<absl::Duration> RetryAfterSeconds(std::string_view value) {
  if (value.empty() || value.size() > 6 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return absl::Seconds(std::atoi(std::string(value).c_str()));
}

std::string SplQuery(const snp::TcbVersion& tcb, bool turin) {
  std::string query;
  if (turin) {
    query = fmt::format("fmcSPL={:02}&", tcb.fmc);
  }
  query += fmt::format("blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}", tcb.boot_loader,
                       tcb.tee, tcb.snp, tcb.microcode);
  return query;
}

}  // namespace

absl::StatusOr<std::string> KdsProductForReport(const snp::AttestationReport& report,
                                                std::string_view configured) {
  if (!configured.empty()) {
    return std::string(configured);
  }
  if (!report.cpuid_fam_id.has_value() || !report.cpuid_mod_id.has_value()) {
    return FailedPreconditionf(
        "kds: the report is version {} and has no CPUID, so its product (Milan, Genoa or Turin) "
        "is unknown; set the KDS product (--kds-product) or send the VCEK with the evidence",
        report.version);
  }
  const uint8_t family = *report.cpuid_fam_id;
  const uint8_t model_range = *report.cpuid_mod_id >> 4;
  if (family == snp::kTurinCpuidFamily) {
    return std::string("Turin");
  }
  // Family 19h: models 00h-0Fh are Milan; 10h-1Fh (Genoa) and A0h-AFh
  // (Bergamo, Siena) are served under "Genoa", as snp::VerifyReport assumes.
  if (family == snp::kZen3Zen4CpuidFamily && model_range == 0x0) {
    return std::string("Milan");
  }
  if (family == snp::kZen3Zen4CpuidFamily && (model_range == 0x1 || model_range == 0xA)) {
    return std::string("Genoa");
  }
  return FailedPreconditionf(
      "kds: no KDS product for CPUID family {:#04x} model {:#04x}; set the KDS product "
      "(--kds-product) or send the VCEK with the evidence",
      family, *report.cpuid_mod_id);
}

std::string VcekRequestTarget(std::string_view product, const snp::AttestationReport& report) {
  return fmt::format("/vcek/v1/{}/{}?{}", product, HexEncode(report.hardware_id()),
                     SplQuery(report.reported_tcb, report.is_turin()));
}

std::string DescribeVcekKey(const snp::AttestationReport& report) {
  const snp::TcbVersion& tcb = report.reported_tcb;
  std::string fmc;
  if (report.is_turin()) {
    fmc = fmt::format(" fmc={}", tcb.fmc);
  }
  return fmt::format("chip id {}, REPORTED_TCB{} bl={} tee={} snp={} ucode={}",
                     HexEncode(report.hardware_id()), fmc, tcb.boot_loader, tcb.tee, tcb.snp,
                     tcb.microcode);
}

KdsClient::KdsClient(KdsClientOptions options) : options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') {
    options_.base_url.pop_back();
  }
}

absl::StatusOr<std::string> KdsClient::Get(const std::string& url, std::string_view what,
                                           size_t max_bytes) const {
  {
    std::lock_guard<std::mutex> lock(*mu_);
    const absl::Time now = absl::Now();
    if (now < retry_not_before_) {
      return Unavailablef("kds GET {}: not sent, because KDS returned 429 too many requests; "
                          "retry after {}",
                          url, absl::FormatDuration(absl::Ceil(retry_not_before_ - now,
                                                               absl::Seconds(1))));
    }
  }

  internal::HttpGetOptions http_options;
  http_options.connect_timeout = options_.connect_timeout;
  http_options.request_timeout = options_.request_timeout;
  http_options.max_response_bytes = max_bytes;
  http_options.ca_bundle_path = options_.ca_bundle_path;
  VOUCH_ASSIGN_OR_RETURN(internal::HttpGetResponse response,
                         internal::HttpGet("kds", url, http_options));
  const long status = response.status;
  std::string retry_after;
  for (const auto& [name, value] : response.headers) {
    if (name == "retry-after") {
      retry_after = value;
    }
  }

  if (status == 200) {
    return std::move(response.body);
  }
  if (status == 404) {
    return NotFoundf("kds GET {}: 404 not found: KDS has no {}", url, what);
  }
  if (status == 429) {
    const absl::Duration wait =
        RetryAfterSeconds(retry_after).value_or(options_.default_retry_after);
    std::lock_guard<std::mutex> lock(*mu_);
    retry_not_before_ = std::max(retry_not_before_, absl::Now() + wait);
    return Unavailablef("kds GET {}: 429 too many requests; no request to KDS before {} from now",
                        url, absl::FormatDuration(wait));
  }
  if (status >= 500 && status <= 599) {
    return Unavailablef("kds GET {}: status {}", url, status);
  }
  return FailedPreconditionf("kds GET {}: status {}", url, status);
}

absl::StatusOr<crypto::Certificate> KdsClient::FetchVcek(
    std::string_view product, const snp::AttestationReport& report) const {
  const std::string url = options_.base_url + VcekRequestTarget(product, report);
  const std::string what = fmt::format("VCEK for product {}, {}", product, DescribeVcekKey(report));
  VOUCH_ASSIGN_OR_RETURN(const std::string body, Get(url, what, options_.max_response_bytes));
  absl::StatusOr<crypto::Certificate> vcek = crypto::Certificate::FromDer(AsBytes(body));
  if (!vcek.ok()) {
    return InvalidArgumentf("kds GET {}: body ({} bytes) is not a DER certificate: {}", url,
                            body.size(), vcek.status().message());
  }
  return vcek;
}

absl::StatusOr<std::vector<crypto::Certificate>> KdsClient::FetchCertChain(
    std::string_view product) const {
  const std::string url = fmt::format("{}/vcek/v1/{}/cert_chain", options_.base_url, product);
  VOUCH_ASSIGN_OR_RETURN(const std::string body,
                         Get(url, fmt::format("certificate chain for product {}", product),
                             options_.max_response_bytes));
  absl::StatusOr<std::vector<crypto::Certificate>> chain = crypto::ParseCertificates(AsBytes(body));
  if (!chain.ok()) {
    return InvalidArgumentf("kds GET {}: body ({} bytes) is not PEM certificates: {}", url,
                            body.size(), chain.status().message());
  }
  if (chain->size() != 2) {
    return InvalidArgumentf("kds GET {}: body has {} certificates, want the ASK and the ARK", url,
                            chain->size());
  }
  return chain;
}

absl::StatusOr<crypto::Crl> KdsClient::FetchCrl(std::string_view key_kind,
                                                std::string_view product) const {
  const std::string url = fmt::format("{}/{}/v1/{}/crl", options_.base_url, key_kind, product);
  VOUCH_ASSIGN_OR_RETURN(
      const std::string body,
      Get(url, fmt::format("{} CRL for product {}", key_kind, product), options_.max_crl_bytes));
  absl::StatusOr<crypto::Crl> crl = crypto::Crl::Parse(AsBytes(body));
  if (!crl.ok()) {
    return InvalidArgumentf("kds GET {}: body ({} bytes) is not a CRL: {}", url, body.size(),
                            crl.status().message());
  }
  return crl;
}

}  // namespace vouch::collateral
