#include "vouch/collateral/pcs_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/time/clock.h"
#include "vouch/base/status.h"
#include "vouch/collateral/http_get.h"
#include "vouch/crypto/crl.h"
#include "vouch/dcap/qe_identity.h"
#include "vouch/dcap/tcb_info.h"

namespace vouch::collateral {
namespace {

constexpr std::string_view kTcbInfoChainHeader = "tcb-info-issuer-chain";
constexpr std::string_view kSgxTcbInfoChainHeader = "sgx-tcb-info-issuer-chain";
constexpr std::string_view kQeIdentityChainHeader = "sgx-enclave-identity-issuer-chain";
constexpr std::string_view kPckCrlChainHeader = "sgx-pck-crl-issuer-chain";
constexpr std::string_view kPckCertificateChainHeader = "sgx-pck-certificate-issuer-chain";

bool Retryable(long status) { return status == 429 || (status >= 500 && status <= 599); }

// RetryAfter reads a Retry-After header in seconds (the HTTP-date form is
// not used by PCS and is ignored).
std::optional<absl::Duration> RetryAfter(std::string_view value) {
  if (value.empty() || value.size() > 6 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return absl::Seconds(std::atoi(std::string(value).c_str()));
}

std::string FmspcParam(ByteSpan fmspc) {
  std::string hex = HexEncode(fmspc);
  std::transform(hex.begin(), hex.end(), hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return hex;
}

std::string_view TeePath(dcap::TeeType tee_type) {
  return tee_type == dcap::TeeType::kTdx ? "tdx" : "sgx";
}

absl::StatusOr<std::vector<crypto::Certificate>> ParseChainHeader(std::string_view encoded,
                                                                  std::string_view url) {
  if (encoded.empty()) {
    return InvalidArgumentf("pcs {}: response has no issuer chain header", url);
  }
  absl::StatusOr<std::string> pem = UrlDecode(encoded);
  if (!pem.ok()) {
    return Prefix(fmt::format("pcs {}: issuer chain header", url), pem.status());
  }
  absl::StatusOr<std::vector<crypto::Certificate>> chain = crypto::ParseCertificates(AsBytes(*pem));
  if (!chain.ok()) {
    return Prefix(fmt::format("pcs {}: issuer chain header", url), chain.status());
  }
  return chain;
}

// CrlBody accepts the root CA CRL as DER, PEM or hex text (PCCS serves hex).
absl::StatusOr<std::string> CrlBody(std::string body, std::string_view url) {
  if (crypto::Crl::LooksLikeCrl(AsBytes(body))) {
    return body;
  }
  std::string_view trimmed = body;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) {
    trimmed.remove_suffix(1);
  }
  absl::StatusOr<Bytes> der = HexDecode(trimmed);
  if (der.ok() && crypto::Crl::LooksLikeCrl(*der)) {
    return ToString(*der);
  }
  return InvalidArgumentf("pcs {}: body ({} bytes) is not a CRL in DER, PEM or hex", url,
                          body.size());
}

}  // namespace

absl::StatusOr<std::string> UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return InvalidArgumentf("url decode: truncated escape at offset {}", i);
    }
    absl::StatusOr<Bytes> byte = HexDecode(text.substr(i + 1, 2));
    if (!byte.ok()) {
      return InvalidArgumentf("url decode: invalid escape \"{}\" at offset {}", text.substr(i, 3),
                              i);
    }
    out.push_back(static_cast<char>((*byte)[0]));
    i += 2;
  }
  return out;
}

PcsClient::PcsClient(PcsClientOptions options) : options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') {
    options_.base_url.pop_back();
  }
  if (!options_.sleep) {
    options_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  }
}

absl::StatusOr<PcsClient::Response> PcsClient::GetOnce(const std::string& url,
                                                       std::string_view chain_header) const {
  internal::HttpGetOptions http_options;
  http_options.connect_timeout = options_.connect_timeout;
  http_options.request_timeout = options_.request_timeout;
  http_options.max_response_bytes = options_.max_response_bytes;
  http_options.ca_bundle_path = options_.ca_bundle_path;
  if (!options_.api_key.empty()) {
    http_options.headers.push_back("Ocp-Apim-Subscription-Key: " + options_.api_key);
  }
  VOUCH_ASSIGN_OR_RETURN(internal::HttpGetResponse http,
                         internal::HttpGet("pcs", url, http_options));

  Response response;
  response.status = http.status;
  response.body = std::move(http.body);
  for (const auto& [name, value] : http.headers) {
    if (name == chain_header ||
        (chain_header == kTcbInfoChainHeader && name == kSgxTcbInfoChainHeader)) {
      response.issuer_chain = value;
    }
    if (name == "retry-after") {
      response.retry_after = value;
    }
  }
  return response;
}

absl::StatusOr<PcsDocument> PcsClient::Get(const std::string& url,
                                           std::string_view chain_header) const {
  absl::Duration backoff = options_.initial_backoff;
  absl::Status last = Unavailablef("pcs GET {}: no attempt made", url);
  for (int attempt = 1; attempt <= std::max(1, options_.max_attempts); ++attempt) {
    if (attempt > 1) {
      options_.sleep(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    absl::StatusOr<Response> response = GetOnce(url, chain_header);
    if (!response.ok()) {
      last = response.status();
      if (response.status().code() == absl::StatusCode::kDeadlineExceeded) {
        continue;  // time-outs are retried
      }
      return last;
    }
    if (response->status == 200) {
      PcsDocument document;
      document.body = std::move(response->body);
      if (!chain_header.empty()) {
        VOUCH_ASSIGN_OR_RETURN(document.issuer_chain,
                               ParseChainHeader(response->issuer_chain, url));
      }
      return document;
    }
    if (response->status == 404) {
      return NotFoundf("pcs GET {}: 404 not found", url);
    }
    if (!Retryable(response->status)) {
      return FailedPreconditionf("pcs GET {}: status {}", url, response->status);
    }
    last = Unavailablef("pcs GET {}: status {} after {} attempts", url, response->status, attempt);
    if (const std::optional<absl::Duration> wait = RetryAfter(response->retry_after);
        wait.has_value()) {
      backoff = std::min(*wait, options_.max_backoff);
    }
  }
  return last;
}

absl::StatusOr<PcsDocument> PcsClient::FetchTcbInfo(dcap::TeeType tee_type, ByteSpan fmspc) const {
  const std::string url = fmt::format("{}/{}/certification/v4/tcb?fmspc={}", options_.base_url,
                                      TeePath(tee_type), FmspcParam(fmspc));
  VOUCH_ASSIGN_OR_RETURN(PcsDocument document, Get(url, kTcbInfoChainHeader));
  absl::StatusOr<dcap::TcbInfo> parsed = dcap::ParseTcbInfo(document.body);
  if (!parsed.ok()) {
    return Prefix(fmt::format("pcs GET {}", url), parsed.status());
  }
  if (parsed->fmspc != Bytes(fmspc.begin(), fmspc.end()) || parsed->tee_type != tee_type) {
    return InvalidArgumentf("pcs GET {}: response is {}", url, parsed->Describe());
  }
  return document;
}

absl::StatusOr<PcsDocument> PcsClient::FetchQeIdentity(dcap::TeeType tee_type) const {
  const std::string url =
      fmt::format("{}/{}/certification/v4/qe/identity", options_.base_url, TeePath(tee_type));
  VOUCH_ASSIGN_OR_RETURN(PcsDocument document, Get(url, kQeIdentityChainHeader));
  absl::StatusOr<dcap::QeIdentity> parsed = dcap::ParseQeIdentity(document.body);
  if (!parsed.ok()) {
    return Prefix(fmt::format("pcs GET {}", url), parsed.status());
  }
  if (parsed->tee_type() != tee_type) {
    return InvalidArgumentf("pcs GET {}: response is {}", url, parsed->Describe());
  }
  return document;
}

absl::StatusOr<PcsDocument> PcsClient::FetchPckCrl(PckCa ca) const {
  const std::string url =
      fmt::format("{}/sgx/certification/v4/pckcrl?ca={}&encoding=der", options_.base_url,
                  ca == PckCa::kProcessor ? "processor" : "platform");
  VOUCH_ASSIGN_OR_RETURN(PcsDocument document, Get(url, kPckCrlChainHeader));
  VOUCH_ASSIGN_OR_RETURN(document.body, CrlBody(std::move(document.body), url));
  return document;
}

absl::StatusOr<PcsDocument> PcsClient::FetchRootCaCrl() const {
  const std::string url = fmt::format("{}/sgx/certification/v4/rootcacrl", options_.base_url);
  VOUCH_ASSIGN_OR_RETURN(PcsDocument document, Get(url, ""));
  VOUCH_ASSIGN_OR_RETURN(document.body, CrlBody(std::move(document.body), url));
  return document;
}

absl::StatusOr<PcsDocument> PcsClient::FetchPckCertificate(const dcap::EncryptedPpid& ppid) const {
  const std::array<uint8_t, 2> pce_svn = {static_cast<uint8_t>(ppid.pce_svn & 0xff),
                                          static_cast<uint8_t>(ppid.pce_svn >> 8)};
  const std::array<uint8_t, 2> pce_id = {static_cast<uint8_t>(ppid.pce_id & 0xff),
                                         static_cast<uint8_t>(ppid.pce_id >> 8)};
  const std::string url = fmt::format(
      "{}/sgx/certification/v4/pckcert?encrypted_ppid={}&cpusvn={}&pcesvn={}&pceid={}",
      options_.base_url, HexEncode(ppid.encrypted_ppid), HexEncode(ppid.cpu_svn),
      HexEncode(pce_svn), HexEncode(pce_id));
  VOUCH_ASSIGN_OR_RETURN(PcsDocument document, Get(url, kPckCertificateChainHeader));
  absl::StatusOr<std::vector<crypto::Certificate>> certificates =
      crypto::ParseCertificates(AsBytes(document.body));
  if (!certificates.ok()) {
    return Prefix(fmt::format("pcs GET {}: pck certificate", url), certificates.status());
  }
  if (certificates->size() != 1) {
    return InvalidArgumentf("pcs GET {}: response has {} certificates, want one PCK certificate",
                            url, certificates->size());
  }
  return document;
}

absl::StatusOr<dcap::QuoteCollateral> PcsClient::FetchQuoteCollateral(
    dcap::TeeType tee_type, ByteSpan fmspc, std::string_view pck_ca_common_name) const {
  dcap::QuoteCollateral collateral;
  VOUCH_ASSIGN_OR_RETURN(PcsDocument tcb, FetchTcbInfo(tee_type, fmspc));
  collateral.tcb_info_json = std::move(tcb.body);
  collateral.tcb_info_issuer_chain = std::move(tcb.issuer_chain);
  VOUCH_ASSIGN_OR_RETURN(PcsDocument qe, FetchQeIdentity(tee_type));
  collateral.qe_identity_json = std::move(qe.body);
  collateral.qe_identity_issuer_chain = std::move(qe.issuer_chain);
  const PckCa ca = pck_ca_common_name.find("Processor") != std::string_view::npos
                       ? PckCa::kProcessor
                       : PckCa::kPlatform;
  VOUCH_ASSIGN_OR_RETURN(PcsDocument pck_crl, FetchPckCrl(ca));
  collateral.pck_crl = ToBytes(pck_crl.body);
  collateral.pck_crl_issuer_chain = std::move(pck_crl.issuer_chain);
  VOUCH_ASSIGN_OR_RETURN(PcsDocument root_crl, FetchRootCaCrl());
  collateral.root_ca_crl = ToBytes(root_crl.body);
  return collateral;
}

}  // namespace vouch::collateral
