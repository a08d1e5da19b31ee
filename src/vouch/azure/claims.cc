#include "vouch/azure/claims.h"

#include <algorithm>
#include <string>

#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"
#include "vouch/dcap/claims.h"
#include "vouch/snp/claims.h"

namespace vouch::azure {
namespace {

// EFI_GLOBAL_VARIABLE, 8BE4DF61-93CA-11D2-AA0D-00E098032B8C, in its
// little-endian EFI_GUID layout (UEFI 2.10, section 3.3).
constexpr uint8_t kEfiGlobalVariable[16] = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
                                            0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};
constexpr char16_t kSecureBootName[] = u"SecureBoot";
// PCR 7 contains the secure boot policy measurements (PC Client PFP 1.05, section 3.3.4.8).
constexpr uint32_t kSecureBootPcr = 7;

// SecureBootValue reads UEFI_VARIABLE_DATA (PFP 1.05, section 10.4.3) and
// returns the SecureBoot variable's value, or nullopt for other variables
// and malformed data.
std::optional<bool> SecureBootValue(ByteSpan data) {
  ByteReader in(data, "uefi variable");
  absl::StatusOr<ByteSpan> guid = in.Span(16, "variable_name");
  absl::StatusOr<uint64_t> name_length = in.U64Le("unicode_name_length");
  absl::StatusOr<uint64_t> data_length = in.U64Le("variable_data_length");
  if (!guid.ok() || !name_length.ok() || !data_length.ok() ||
      !std::equal(guid->begin(), guid->end(), kEfiGlobalVariable) ||
      *name_length != std::char_traits<char16_t>::length(kSecureBootName) || *data_length != 1) {
    return std::nullopt;
  }
  for (size_t i = 0; i < *name_length; ++i) {
    absl::StatusOr<uint16_t> c = in.U16Le("unicode_name");
    if (!c.ok() || *c != kSecureBootName[i]) {
      return std::nullopt;
    }
  }
  absl::StatusOr<uint8_t> value = in.U8("variable_data");
  if (!value.ok()) {
    return std::nullopt;
  }
  return *value == 1;
}

nlohmann::json AttestedPcrs(const tpm::VerifiedQuote& quote) {
  nlohmann::json pcrs = nlohmann::json::array();
  for (const tpm::PcrBank& bank : quote.quoted) {
    if (bank.alg != crypto::HashAlg::kSha256) {
      continue;
    }
    for (const auto& [index, value] : bank.values) {
      pcrs.push_back(index);
    }
  }
  return pcrs;
}

nlohmann::json TdxHardwareClaims(const VerifiedAzureEvidence& verified) {
  dcap::VerifiedQuote quote;
  quote.quote = verified.td_quote->quote;
  quote.pck_chain = verified.td_quote->pck_chain;
  quote.pck_extensions = verified.td_quote->pck_extensions;
  if (verified.td_tcb) {
    quote.tcb = *verified.td_tcb;
  }
  nlohmann::json claims = dcap::TdxClaims(quote);
  if (!verified.td_tcb) {
    // Without collateral no TCB level was evaluated, so none is claimed.
    for (const char* name : {"attester_tcb_status", "attester_advisory_ids",
                             "x-vouch-dcap-tcb-date", "x-vouch-dcap-qe-tcb-status",
                             "x-vouch-dcap-platform-tcb-status",
                             "x-vouch-dcap-revocation-checked"}) {
      claims.erase(name);
    }
  }
  claims["x-vouch-tdx-tcb-evaluated"] = verified.td_tcb.has_value();
  return claims;
}

bool Debuggable(const VerifiedAzureEvidence& verified) {
  if (verified.snp) {
    return verified.snp->report.debug_allowed();
  }
  return verified.td_quote && verified.td_quote->quote.td_body->debug();
}

void AddVmConfiguration(const nlohmann::json& runtime, nlohmann::json& claims) {
  const auto config = runtime.find("vm-configuration");
  if (config == runtime.end() || !config->is_object()) {
    return;
  }
  const auto vm_id = config->find("vmUniqueId");
  if (vm_id != config->end() && vm_id->is_string()) {
    claims["x-ms-azurevm-vmid"] = *vm_id;
  }
  const auto secure_boot = config->find("secure-boot");
  if (secure_boot != config->end() && secure_boot->is_boolean()) {
    claims["x-vouch-azurevm-configured-secureboot"] = *secure_boot;
  }
}

void AddEventLogClaims(const EventLogCheck& log, nlohmann::json& claims) {
  claims["x-vouch-azurevm-eventlog-verified-pcrs"] = log.verified_pcrs;
  claims["x-vouch-azurevm-eventlog-uncovered-pcrs"] = log.not_covered_pcrs;
  const bool pcr7_verified = std::find(log.verified_pcrs.begin(), log.verified_pcrs.end(),
                                       kSecureBootPcr) != log.verified_pcrs.end();
  if (!pcr7_verified) {
    return;
  }
  const std::optional<bool> secure_boot = SecureBootFromEventLog(log.events);
  if (secure_boot) {
    claims["secureboot"] = *secure_boot;
  }
}

}  // namespace

std::optional<bool> SecureBootFromEventLog(const std::vector<tpm::EventLogEntry>& events) {
  std::optional<bool> state;
  for (const tpm::EventLogEntry& event : events) {
    if (event.register_index != kSecureBootPcr ||
        event.event_type != tpm::kEvEfiVariableDriverConfig) {
      continue;
    }
    const std::optional<bool> value = SecureBootValue(event.event_data);
    if (value) {
      state = value;
    }
  }
  return state;
}

nlohmann::json AzureClaims(const VerifiedAzureEvidence& verified,
                           const std::optional<nlohmann::json>& client_runtime) {
  nlohmann::json tee = verified.snp ? snp::SnpClaims(*verified.snp) : TdxHardwareClaims(verified);
  tee["x-ms-attestation-type"] = std::string(HclReportTypeName(verified.type));
  if (!Debuggable(verified)) {
    tee["x-ms-compliance-status"] = "azure-compliant-cvm";
  }
  tee["x-ms-runtime"] = verified.runtime.claims;

  // The token issuer adds x-ms-ver and the other issuer claims itself.
  nlohmann::json claims = {
      {"x-ms-attestation-type", "azurevm"},
      {"x-ms-azurevm-attestation-protocol-ver", "2.0"},
      {"x-ms-azurevm-attested-pcrs", AttestedPcrs(verified.quote)},
      {"x-ms-isolation-tee", tee},
  };
  AddVmConfiguration(verified.runtime.claims, claims);
  if (verified.event_log) {
    AddEventLogClaims(*verified.event_log, claims);
  }

  if (client_runtime) {
    claims["x-ms-runtime"] = *client_runtime;
  } else {
    nlohmann::json keys = nlohmann::json::array();
    for (const RuntimeKey& key : verified.runtime.keys) {
      keys.push_back(key.jwk);
    }
    claims["x-ms-runtime"] = {{"keys", keys}};
  }
  if (verified.snp && verified.snp->simulated()) {
    claims["x-vouch-simulated"] = true;
  }
  return claims;
}

}  // namespace vouch::azure
