// TeeProbe: the checks behind `vouch check`, which reports whether this VM
// is confidential and can attest, for an operator who has just logged in.
//
// Every source is read below ProbeOptions::root, and CPUID comes from an
// injectable CpuidSource, so tests run the probe on fake trees of each TEE.
// The probe only reads: it opens no device for writing except through the
// evidence provider that fetches one report.
#ifndef VOUCH_AGENT_TEE_PROBE_H_
#define VOUCH_AGENT_TEE_PROBE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "vouch/agent/http_client.h"
#include "vouch/agent/platform.h"

namespace vouch::agent {

struct CpuidRegisters {
  uint32_t eax = 0;
  uint32_t ebx = 0;
  uint32_t ecx = 0;
  uint32_t edx = 0;
};

class CpuidSource {
 public:
  virtual ~CpuidSource() = default;
  // Query returns the registers of CPUID(leaf, subleaf), or nullopt where
  // the instruction or the leaf is unavailable.
  virtual std::optional<CpuidRegisters> Query(uint32_t leaf, uint32_t subleaf) const = 0;
};

// HostCpuid runs the CPUID instruction (x86-64 only; elsewhere every query
// returns nullopt). Inside a VM the hypervisor chooses what CPUID returns,
// except for TDX, where the TDX module fixes leaf 0x21.
std::unique_ptr<CpuidSource> HostCpuid();

enum class CheckStatus { kOk, kWarn, kFail };
std::string_view CheckStatusName(CheckStatus status);  // "OK", "WARN", "FAIL"

// CheckLine is one line of the output: what was checked, the result, the
// reason and, for WARN and FAIL, what to do.
struct CheckLine {
  std::string name;
  CheckStatus status = CheckStatus::kOk;
  std::string detail;
  std::string action;
};

enum class TeeType { kNone, kSev, kSevEs, kSevSnp, kTdx };
std::string_view TeeTypeName(TeeType tee);  // "none", "sev", "sev-es", "sev-snp", "tdx"

struct ProbeOptions {
  std::string root = "/";
  const CpuidSource* cpuid = nullptr;  // Null: no CPUID checks.
  // Evidence provider: "auto" or a name that OpenPlatform accepts.
  std::string platform = "auto";
  uint32_t vmpl = 0;
  std::string data_dir = "/var/lib/vouch";  // PlatformOptions::data_dir
  // With a server URL, attest against it and show the token's claims.
  std::string server_url;
  HttpClientOptions http;
  // Opens the evidence platform; tests replace it to reach a fake kernel.
  std::function<absl::StatusOr<std::unique_ptr<Platform>>(std::string_view name,
                                                          const PlatformOptions& options)>
      open_platform = OpenPlatform;
};

struct ProbeResult {
  TeeType tee = TeeType::kNone;
  bool memory_encryption_active = false;
  std::vector<CheckLine> lines;
  nlohmann::json report;        // Decoded report fields; null when none was fetched.
  nlohmann::json token_claims;  // Claims of the token; null without a server.

  // Confidential is true when a TEE was found and nothing failed.
  bool confidential() const;
  nlohmann::json ToJson() const;
};

// ProbeTee runs every check in order: CPU, kernel, memory encryption,
// evidence interfaces, a fresh report, and the attestation with a server.
ProbeResult ProbeTee(const ProbeOptions& options);

// DescribeSnpReport and DescribeTdxQuote decode the fields that `vouch
// check` shows. DescribeTdxQuote reads the TD report body of a version 4 or
// 5 quote (Intel TDX DCAP Quoting Library API, "TD Quote Body").
absl::StatusOr<nlohmann::json> DescribeSnpReport(ByteSpan report);
absl::StatusOr<nlohmann::json> DescribeTdxQuote(ByteSpan quote);
absl::StatusOr<nlohmann::json> DescribeTdReport(ByteSpan tdreport);

// DecodeJwtClaims returns the payload of a compact JWT without checking
// its signature. `vouch check` only shows the claims, and the server that
// issued the token checks it when the token is used.
absl::StatusOr<nlohmann::json> DecodeJwtClaims(std::string_view jwt);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_TEE_PROBE_H_
