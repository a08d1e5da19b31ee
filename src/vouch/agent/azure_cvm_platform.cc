#include "vouch/agent/azure_cvm_platform.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/time/clock.h"
#include "vouch/agent/attest_client.h"
#include "vouch/azure/hcl_report.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

constexpr uint32_t kPcrCount = 24;
// The kernel's event log is a few tens of KiB on Azure CVMs.
constexpr size_t kMaxEventLogBytes = 4 * 1024 * 1024;
constexpr int kNetworkAttempts = 3;

// WithRetry runs `call` up to kNetworkAttempts times while it fails with
// kUnavailable, waiting 200 ms, then 400 ms between attempts.
template <typename Call>
auto WithRetry(Call call) -> decltype(call()) {
  absl::Duration wait = absl::Milliseconds(200);
  for (int attempt = 1;; ++attempt) {
    auto result = call();
    if (result.ok() || !absl::IsUnavailable(result.status()) || attempt == kNetworkAttempts) {
      return result;
    }
    absl::SleepFor(wait);
    wait *= 2;
  }
}

absl::StatusOr<nlohmann::json> PostJson(const HttpClient& http, const std::string& url,
                                        const std::string& body) {
  return WithRetry([&]() -> absl::StatusOr<nlohmann::json> {
    VOUCH_ASSIGN_OR_RETURN(const HttpResponse response, http.PostJson(url, body));
    const nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
    if (response.status != 200) {
      std::string message = response.body.substr(0, 512);
      if (json.is_object() && json.contains("error")) {
        message = json["error"].dump();
      }
      const absl::Status status = absl::Status(
          response.status >= 500 ? absl::StatusCode::kUnavailable
                                  : absl::StatusCode::kPermissionDenied,
          fmt::format("POST {}: HTTP {}: {}", url, response.status, message));
      return status;
    }
    if (!json.is_object()) {
      return InvalidArgumentf("POST {}: the response is not a JSON object", url);
    }
    return json;
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<AzureCvmPlatform>> AzureCvmPlatform::Open(
    AzureCvmOptions options) {
  absl::StatusOr<std::unique_ptr<tpm::TpmClient>> tpm =
      tpm::TpmClient::Open(options.tcti, options.tpm_timeout);
  if (!tpm.ok()) {
    return Prefix("platform azure-cvm: open the vTPM", tpm.status());
  }
  return std::unique_ptr<AzureCvmPlatform>(
      new AzureCvmPlatform(std::move(options), *std::move(tpm)));
}

absl::Status AzureCvmPlatform::WriteUserData(ByteSpan user_data) {
  VOUCH_ASSIGN_OR_RETURN(const bool exists, tpm_->NvExists(azure::kHclUserDataNvIndex));
  if (!exists) {
    VOUCH_RETURN_IF_ERROR(tpm_->NvDefine(azure::kHclUserDataNvIndex, azure::kHclUserDataSize));
  }
  return tpm_->NvWrite(azure::kHclUserDataNvIndex, user_data);
}

absl::StatusOr<Evidence> AzureCvmPlatform::GetEvidence(ByteSpan report_data) {
  if (report_data.size() != kReportDataBytes) {
    return InvalidArgumentf("platform azure-cvm: report data of {} bytes, want {}",
                            report_data.size(), kReportDataBytes);
  }
  if (nonce_.empty()) {
    return FailedPreconditionf(
        "platform azure-cvm: no nonce for the TPM quote; get one from the server's POST "
        "/challenge first");
  }
  VOUCH_RETURN_IF_ERROR(Prefix("platform azure-cvm: write user data", WriteUserData(report_data)));
  if (options_.after_user_data_write_for_test) {
    VOUCH_RETURN_IF_ERROR(options_.after_user_data_write_for_test(*tpm_, report_data));
  }
  absl::StatusOr<Bytes> hcl = tpm_->NvRead(azure::kHclReportNvIndex);
  if (!hcl.ok()) {
    return Prefix("platform azure-cvm: read the HCL report (is this an Azure confidential VM?)",
                  hcl.status());
  }
  std::vector<uint32_t> pcrs;
  for (uint32_t i = 0; i < kPcrCount; ++i) {
    pcrs.push_back(i);
  }
  absl::StatusOr<tpm::TpmClient::Quote> quote =
      tpm_->QuotePcrs(azure::kAkPersistentHandle, nonce_, pcrs);
  if (!quote.ok()) {
    return Prefix(fmt::format("platform azure-cvm: quote with the AK at {:#010x}, which the "
                              "paravisor creates at boot (is this an Azure confidential VM?)",
                              azure::kAkPersistentHandle),
                  quote.status());
  }
  VOUCH_ASSIGN_OR_RETURN(const std::vector<Bytes> values, tpm_->ReadPcrs(kPcrCount));
  nonce_.clear();

  nlohmann::json pcr_hex = nlohmann::json::array();
  for (const Bytes& value : values) {
    pcr_hex.push_back(HexEncode(value));
  }
  nlohmann::json evidence = {
      {"hcl_report", Base64UrlEncode(*hcl)},
      {"tpm_quote",
       {{"message", HexEncode(quote->attest)},
        {"signature", HexEncode(quote->signature)},
        {"pcrs", pcr_hex}}},
  };
  if (!options_.event_log_path.empty()) {
    absl::StatusOr<Bytes> log = ReadFile(options_.event_log_path, kMaxEventLogBytes);
    if (!log.ok()) {
      return Prefix(fmt::format("platform azure-cvm: read the event log {} (set an empty path to "
                                "send none)",
                                options_.event_log_path),
                    log.status());
    }
    evidence["event_log"] = Base64UrlEncode(*log);
  }
  Evidence out;
  out.kind = kAzureVtpmEvidenceKind;
  out.report = ToBytes(evidence.dump());
  return out;
}

absl::StatusOr<std::unique_ptr<Platform>> OpenAzureCvm(const PlatformOptions& options) {
  AzureCvmOptions azure;
  if (!options.tpm_tcti.empty()) {
    azure.tcti = options.tpm_tcti;
  }
  if (options.root != "/") {
    azure.event_log_path = options.root + azure.event_log_path;
  }
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<AzureCvmPlatform> platform,
                         AzureCvmPlatform::Open(std::move(azure)));
  return std::unique_ptr<Platform>(std::move(platform));
}

absl::StatusOr<std::string> AttestAzureGuest(const HttpClient& http, std::string_view server_url,
                                             AzureCvmPlatform& platform,
                                             std::string_view runtime_data) {
  std::string base(server_url);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json challenge, PostJson(http, base + "/challenge", ""));
  if (!challenge.contains("nonce") || !challenge["nonce"].is_string()) {
    return InvalidArgumentf("POST {}/challenge: the response has no nonce", base);
  }
  const std::string nonce_text = challenge["nonce"].get<std::string>();
  VOUCH_ASSIGN_OR_RETURN(Bytes nonce, Base64UrlDecode(nonce_text));
  platform.SetNonce(std::move(nonce));

  VOUCH_ASSIGN_OR_RETURN(const Evidence evidence,
                         platform.GetEvidence(ReportDataFor(AsBytes(runtime_data))));
  nlohmann::json body = nlohmann::json::parse(evidence.report.begin(), evidence.report.end());
  body["nonce"] = nonce_text;
  body["runtime_data"] = Base64UrlEncode(AsBytes(runtime_data));
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json response,
                         PostJson(http, base + "/attest/AzureGuest", body.dump()));
  if (!response.contains("token") || !response["token"].is_string()) {
    return InvalidArgumentf("POST {}/attest/AzureGuest: the response has no token", base);
  }
  return response["token"].get<std::string>();
}

}  // namespace vouch::agent
