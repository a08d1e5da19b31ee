#include "vouch/azure/hcl_report_builder.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"

namespace vouch::azure {
namespace {

void PutU32Le(Bytes& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

uint32_t HashType(crypto::HashAlg alg) {
  switch (alg) {
    case crypto::HashAlg::kSha384:
      return 2;
    case crypto::HashAlg::kSha512:
      return 3;
    default:
      return 1;
  }
}

}  // namespace

absl::StatusOr<std::string> RuntimeClaimsJson(EVP_PKEY* ak, EVP_PKEY* ek, bool secure_boot,
                                              ByteSpan user_data) {
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json ak_jwk, crypto::PublicKeyToJwk(ak));
  ak_jwk["kid"] = kHclAkKid;
  ak_jwk["key_ops"] = {"sign"};
  nlohmann::json keys = nlohmann::json::array({ak_jwk});
  if (ek != nullptr) {
    VOUCH_ASSIGN_OR_RETURN(nlohmann::json ek_jwk, crypto::PublicKeyToJwk(ek));
    ek_jwk["kid"] = kHclEkKid;
    ek_jwk["key_ops"] = {"encrypt"};
    keys.push_back(ek_jwk);
  }
  nlohmann::json claims = {
      {"keys", keys},
      {"vm-configuration",
       {{"console-enabled", true},
        {"secure-boot", secure_boot},
        {"tpm-enabled", true},
        {"vmUniqueId", "00000000-0000-4000-8000-000000000000"}}},
      {"user-data", absl::AsciiStrToUpper(HexEncode(user_data))}};
  return claims.dump();
}

Bytes RuntimeReportData(crypto::HashAlg alg, ByteSpan runtime_data) {
  Bytes report_data = crypto::Hash(alg, runtime_data);
  report_data.resize(64, 0);
  return report_data;
}

Bytes BuildHclReport(HclReportType type, ByteSpan hardware_report, ByteSpan runtime_data,
                     crypto::HashAlg alg, size_t total_size) {
  const uint32_t data_size = static_cast<uint32_t>(kHclRuntimeHeaderSize + runtime_data.size());
  Bytes out = ToBytes("HCLA");
  PutU32Le(out, 2);
  PutU32Le(out, static_cast<uint32_t>(kHclHeaderSize + kHclHardwareReportSize + data_size));
  PutU32Le(out, 2);
  PutU32Le(out, 0);
  out.insert(out.end(), 12, 0);
  Bytes hardware(hardware_report.begin(), hardware_report.end());
  hardware.resize(kHclHardwareReportSize, 0);
  out.insert(out.end(), hardware.begin(), hardware.end());
  PutU32Le(out, data_size);
  PutU32Le(out, 1);
  PutU32Le(out, static_cast<uint32_t>(type));
  PutU32Le(out, HashType(alg));
  PutU32Le(out, static_cast<uint32_t>(runtime_data.size()));
  out.insert(out.end(), runtime_data.begin(), runtime_data.end());
  if (out.size() < total_size) {
    out.resize(total_size, 0);
  }
  return out;
}

}  // namespace vouch::azure
