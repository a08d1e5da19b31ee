#include "vouch/agent/tpm_enrollment.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "absl/time/clock.h"
#include "vouch/agent/server_api.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/tpm/credential.h"

namespace vouch::agent {
namespace {

constexpr uint32_t kPcrCount = 24;
constexpr size_t kMaxEventLogBytes = 4 * 1024 * 1024;
constexpr int kNetworkAttempts = 3;

std::string BaseUrl(std::string_view server_url) {
  std::string base(server_url);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base;
}

// Post sends a JSON body and returns the JSON object of a 200 response. It
// retries kUnavailable (network failures and HTTP 5xx) up to
// kNetworkAttempts times, waiting 200 ms, then 400 ms.
absl::StatusOr<nlohmann::json> Post(const HttpClient& http, const std::string& url,
                                    const nlohmann::json& body) {
  absl::Duration wait = absl::Milliseconds(200);
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<HttpResponse> response = http.PostJson(url, body.dump());
    absl::Status failure = response.status();
    if (response.ok() && response->status == 200) {
      nlohmann::json json = nlohmann::json::parse(response->body, nullptr, false);
      if (!json.is_object()) {
        return InvalidArgumentf("POST {}: the response is not a JSON object", url);
      }
      return json;
    }
    if (response.ok()) {
      failure = ErrorFromResponse("POST", url, *response);
    }
    if (!absl::IsUnavailable(failure) || attempt == kNetworkAttempts) {
      return failure;
    }
    absl::SleepFor(wait);
    wait *= 2;
  }
}

absl::StatusOr<std::string> StringField(const nlohmann::json& json, const std::string& url,
                                        const char* name) {
  const auto it = json.find(name);
  if (it == json.end() || !it->is_string()) {
    return InvalidArgumentf("POST {}: the response has no {}", url, name);
  }
  return it->get<std::string>();
}

// TrimDer cuts an NV index's contents to the DER certificate at its start:
// manufacturers may pad the index after the certificate.
absl::StatusOr<Bytes> TrimDer(Bytes data, uint32_t index) {
  size_t length = 0;
  if (data.size() >= 4 && data[0] == 0x30 && data[1] == 0x82) {
    length = 4 + ((static_cast<size_t>(data[2]) << 8) | data[3]);
  } else if (data.size() >= 3 && data[0] == 0x30 && data[1] == 0x81) {
    length = 3 + data[2];
  }
  if (length == 0 || length > data.size()) {
    return InvalidArgumentf("tpm enrollment: NV index {:#010x} does not hold a DER certificate",
                            index);
  }
  data.resize(length);
  return data;
}

}  // namespace

absl::StatusOr<std::string> EnrollTpmAk(const HttpClient& http, std::string_view server_url,
                                        tpm::TpmClient& tpm, const TpmEnrollmentOptions& options) {
  const std::string base = BaseUrl(server_url);

  // The EK certificate picks the EK type: RSA-2048 first, then ECC P-256.
  uint32_t cert_index = kRsaEkCertificateIndex;
  tpm::TpmClient::EkType ek_type = tpm::TpmClient::EkType::kRsa2048;
  VOUCH_ASSIGN_OR_RETURN(const bool has_rsa, tpm.NvExists(kRsaEkCertificateIndex));
  if (!has_rsa) {
    VOUCH_ASSIGN_OR_RETURN(const bool has_ecc, tpm.NvExists(kEccEkCertificateIndex));
    if (!has_ecc) {
      return FailedPreconditionf(
          "tpm enrollment: the TPM has no EK certificate at NV index {:#010x} (RSA) or {:#010x} "
          "(ECC); provision one from the TPM manufacturer",
          kRsaEkCertificateIndex, kEccEkCertificateIndex);
    }
    cert_index = kEccEkCertificateIndex;
    ek_type = tpm::TpmClient::EkType::kEccP256;
  }
  VOUCH_ASSIGN_OR_RETURN(Bytes nv_contents, tpm.NvRead(cert_index));
  VOUCH_ASSIGN_OR_RETURN(const Bytes ek_certificate, TrimDer(std::move(nv_contents), cert_index));

  VOUCH_ASSIGN_OR_RETURN(const Bytes ek_public, tpm.CreateEk(options.ek_handle, ek_type));
  VOUCH_RETURN_IF_ERROR(tpm.CreateAk(options.ak_handle).status());
  VOUCH_ASSIGN_OR_RETURN(const Bytes ak_public, tpm.ReadPublicArea(options.ak_handle));

  const std::string enroll_url = base + "/tpm/enroll";
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json enrollment,
                         Post(http, enroll_url,
                              {{"ekCertificate", Base64UrlEncode(ek_certificate)},
                               {"ekPublic", Base64UrlEncode(ek_public)},
                               {"akPublic", Base64UrlEncode(ak_public)}}));
  VOUCH_ASSIGN_OR_RETURN(const std::string enrollment_id,
                         StringField(enrollment, enroll_url, "enrollmentId"));
  VOUCH_ASSIGN_OR_RETURN(const std::string blob_text,
                         StringField(enrollment, enroll_url, "credentialBlob"));
  VOUCH_ASSIGN_OR_RETURN(const std::string secret_text,
                         StringField(enrollment, enroll_url, "encryptedSecret"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes blob, Base64UrlDecode(blob_text));
  VOUCH_ASSIGN_OR_RETURN(const Bytes encrypted_secret, Base64UrlDecode(secret_text));

  VOUCH_ASSIGN_OR_RETURN(
      const SecretBytes secret,
      tpm.ActivateCredential(options.ak_handle, options.ek_handle, blob, encrypted_secret));
  const std::string activate_url = base + "/tpm/activate";
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json activated,
                         Post(http, activate_url,
                              {{"enrollmentId", enrollment_id},
                               {"secret", Base64UrlEncode(secret.Expose())}}));
  return StringField(activated, activate_url, "akName");
}

absl::StatusOr<std::string> AttestTpm(const HttpClient& http, std::string_view server_url,
                                      tpm::TpmClient& tpm, std::string_view ak_name,
                                      const TpmEnrollmentOptions& options) {
  const std::string base = BaseUrl(server_url);
  const std::string challenge_url = base + "/challenge";
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json challenge,
                         Post(http, challenge_url, nlohmann::json::object()));
  VOUCH_ASSIGN_OR_RETURN(const std::string nonce_text,
                         StringField(challenge, challenge_url, "nonce"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes nonce, Base64UrlDecode(nonce_text));

  std::vector<uint32_t> selected;
  for (uint32_t pcr = 0; pcr < kPcrCount; ++pcr) {
    selected.push_back(pcr);
  }
  VOUCH_ASSIGN_OR_RETURN(const tpm::TpmClient::Quote quote,
                         tpm.QuotePcrs(options.ak_handle, nonce, selected));
  // The PCR values are read after the quote. An extend in between makes
  // the server reject the PCR digest, and the caller can attest again.
  VOUCH_ASSIGN_OR_RETURN(const std::vector<Bytes> pcrs, tpm.ReadPcrs(kPcrCount));
  nlohmann::json values = nlohmann::json::object();
  for (uint32_t pcr : selected) {
    values[std::to_string(pcr)] = HexEncode(pcrs[pcr]);
  }
  nlohmann::json body = {{"akName", std::string(ak_name)},
                         {"quote", Base64UrlEncode(quote.attest)},
                         {"signature", Base64UrlEncode(quote.signature)},
                         {"pcrs", {{"sha256", values}}},
                         {"nonce", nonce_text}};
  if (!options.event_log_path.empty()) {
    absl::StatusOr<Bytes> log = ReadFile(options.event_log_path, kMaxEventLogBytes);
    if (!log.ok()) {
      return Prefix(fmt::format("tpm attestation: event log {}", options.event_log_path),
                    log.status());
    }
    body["eventLog"] = Base64UrlEncode(*log);
  }
  const std::string attest_url = base + "/attest/Tpm";
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json response, Post(http, attest_url, body));
  return StringField(response, attest_url, "token");
}

}  // namespace vouch::agent
