// The Azure confidential VM platform ("azure-cvm"): evidence from the vTPM
// that Azure's paravisor (HCL) provides.
//
// GetEvidence writes the 64 bytes of report data as user data to NV index
// 0x01400002 (defining it when missing), which makes the paravisor refresh
// the HCL report. It then reads the HCL report from NV index 0x01400001,
// quotes the 24 SHA-256 PCRs with the AK at persistent handle 0x81000003 and the nonce
// from SetNonce, and reads the measured-boot event log. The evidence is the
// JSON body of POST /attest/AzureGuest without "nonce" and "runtime_data"
// (kind "azure-vtpm"); AttestClient::Attest and AttestAzureGuest send it.
#ifndef VOUCH_AGENT_AZURE_CVM_PLATFORM_H_
#define VOUCH_AGENT_AZURE_CVM_PLATFORM_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/platform.h"
#include "vouch/tpm/tpm_client.h"

namespace vouch::agent {

inline constexpr char kAzureCvmName[] = "azure-cvm";
inline constexpr char kAzureVtpmEvidenceKind[] = "azure-vtpm";

struct AzureCvmOptions {
  // TCTI of the vTPM: the kernel's resource manager on Azure CVMs.
  std::string tcti = "device:/dev/tpmrm0";
  // The TCG event log the kernel exports; empty sends no log.
  std::string event_log_path = "/sys/kernel/security/tpm0/binary_bios_measurements";
  absl::Duration tpm_timeout = absl::Seconds(10);
  // Called after the user data is written and before the HCL report is read.
  // On Azure the paravisor refreshes the report by itself; tests use this
  // hook to play the paravisor.
  // It gets the platform's TPM connection, because swtpm serves one
  // connection at a time.
  std::function<absl::Status(tpm::TpmClient& tpm, ByteSpan user_data)>
      after_user_data_write_for_test;
};

class AzureCvmPlatform : public Platform {
 public:
  static absl::StatusOr<std::unique_ptr<AzureCvmPlatform>> Open(AzureCvmOptions options);

  // SetNonce sets the qualifying data of the next quote (a nonce from the
  // server's POST /challenge). GetEvidence fails without one.
  void SetNonce(Bytes nonce) { nonce_ = std::move(nonce); }

  absl::StatusOr<Evidence> GetEvidence(ByteSpan report_data) override;
  std::string_view Name() const override { return kAzureCvmName; }

 private:
  AzureCvmPlatform(AzureCvmOptions options, std::unique_ptr<tpm::TpmClient> tpm)
      : options_(std::move(options)), tpm_(std::move(tpm)) {}

  absl::Status WriteUserData(ByteSpan user_data);

  AzureCvmOptions options_;
  std::unique_ptr<tpm::TpmClient> tpm_;
  Bytes nonce_;
};

// OpenAzureCvm opens the platform with the default options and the TCTI of
// `options` (for OpenPlatform).
absl::StatusOr<std::unique_ptr<Platform>> OpenAzureCvm(const PlatformOptions& options);

// AttestAzureGuest runs the Azure flow against a vouch server and returns
// the token. It gets a nonce from POST /challenge, collects evidence that
// binds SHA-256(runtime_data) through the HCL user data and quotes the nonce,
// and sends it to POST /attest/AzureGuest.
// Network calls are retried with backoff (3 attempts) on kUnavailable.
absl::StatusOr<std::string> AttestAzureGuest(const HttpClient& http, std::string_view server_url,
                                             AzureCvmPlatform& platform,
                                             std::string_view runtime_data);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_AZURE_CVM_PLATFORM_H_
