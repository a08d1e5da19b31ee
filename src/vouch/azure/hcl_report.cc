#include "vouch/azure/hcl_report.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <set>
#include <utility>

#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/snp/report.h"

namespace vouch::azure {
namespace {

constexpr std::string_view kHclSignature = "HCLA";
constexpr uint8_t kTdxReportType = 0x81;
constexpr uint32_t kHclRequestType = 2;

template <size_t N>
absl::Status ReadArray(ByteReader& in, std::array<uint8_t, N>& out, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan bytes, in.Span(N, field));
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return absl::OkStatus();
}

absl::StatusOr<crypto::HashAlg> HashFromType(uint32_t hash_type) {
  switch (hash_type) {
    case 1:
      return crypto::HashAlg::kSha256;
    case 2:
      return crypto::HashAlg::kSha384;
    case 3:
      return crypto::HashAlg::kSha512;
    default:
      return InvalidArgumentf("hcl report: hash_type {}, want 1 (SHA-256), 2 (SHA-384) or 3 "
                              "(SHA-512)",
                              hash_type);
  }
}

// ReadHardwareReport checks that the 1184 bytes are the report that
// report_type names and fills hardware_report and report_data.
absl::Status ReadHardwareReport(ByteSpan hardware, HclReport& out) {
  if (out.report_type == HclReportType::kSnp) {
    absl::StatusOr<snp::AttestationReport> report = snp::ParseReport(hardware);
    if (!report.ok()) {
      return Prefix("hcl report: report_type 2 (SEV-SNP) but the hardware report is not one",
                    report.status());
    }
    out.hardware_report.assign(hardware.begin(), hardware.end());
    out.report_data = report->report_data;
    return absl::OkStatus();
  }
  const ByteSpan td_report = hardware.first(kTdReportSize);
  absl::StatusOr<TdReport> parsed = ParseTdReport(td_report);
  if (!parsed.ok()) {
    return Prefix("hcl report: report_type 4 (TDX) but the hardware report is not a TDREPORT",
                  parsed.status());
  }
  if (!IsAllZero(hardware.subspan(kTdReportSize))) {
    return InvalidArgumentf("hcl report: padding after the TDREPORT is not zero");
  }
  out.hardware_report.assign(td_report.begin(), td_report.end());
  out.report_data = parsed->report_data;
  return absl::OkStatus();
}

// ReadRuntimeHeader reads the 20-byte runtime-data header (IGVM_REQUEST_DATA).
absl::StatusOr<uint32_t> ReadRuntimeHeader(ByteReader& in, uint32_t report_size, HclReport& out) {
  VOUCH_ASSIGN_OR_RETURN(const uint32_t data_size, in.U32Le("data_size"));
  VOUCH_ASSIGN_OR_RETURN(out.runtime_data_version, in.U32Le("version"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t report_type, in.U32Le("report_type"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t hash_type, in.U32Le("hash_type"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t runtime_data_size, in.U32Le("runtime_data_size"));
  if (out.runtime_data_version != 1) {
    return InvalidArgumentf("hcl report: runtime data version {}, want 1", out.runtime_data_version);
  }
  if (report_type != static_cast<uint32_t>(HclReportType::kSnp) &&
      report_type != static_cast<uint32_t>(HclReportType::kTdx)) {
    return InvalidArgumentf("hcl report: report_type {}, want 2 (SEV-SNP) or 4 (TDX)",
                            report_type);
  }
  out.report_type = static_cast<HclReportType>(report_type);
  VOUCH_ASSIGN_OR_RETURN(out.hash_alg, HashFromType(hash_type));
  if (runtime_data_size > kMaxHclRuntimeDataSize) {
    return InvalidArgumentf("hcl report: runtime_data_size {}, at most {}", runtime_data_size,
                            kMaxHclRuntimeDataSize);
  }
  if (data_size != kHclRuntimeHeaderSize + runtime_data_size) {
    return InvalidArgumentf("hcl report: data_size {}, want {} (header + runtime_data_size)",
                            data_size, kHclRuntimeHeaderSize + runtime_data_size);
  }
  if (report_size != kHclHeaderSize + kHclHardwareReportSize + data_size) {
    return InvalidArgumentf("hcl report: report_size {}, want {}", report_size,
                            kHclHeaderSize + kHclHardwareReportSize + data_size);
  }
  return runtime_data_size;
}

absl::Status CheckAttestationKeyAttributes(const RuntimeKey& ak) {
  if (crypto::IsRsaKey(ak.key.get())) {
    if (EVP_PKEY_get_bits(ak.key.get()) < 2048) {
      return PermissionDeniedf("hcl report: {} is RSA-{}, want at least 2048 bits", ak.kid,
                               EVP_PKEY_get_bits(ak.key.get()));
    }
  } else {
    VOUCH_ASSIGN_OR_RETURN(const std::string curve, crypto::EcCurveName(ak.key.get()));
    if (curve != "P-256" && curve != "P-384") {
      return PermissionDeniedf("hcl report: {} is on {}, want P-256 or P-384", ak.kid, curve);
    }
  }
  if (ak.jwk.contains("use") && ak.jwk["use"] != "sig") {
    return PermissionDeniedf("hcl report: {} has use {}, want \"sig\" for an attestation key",
                             ak.kid, ak.jwk["use"].dump());
  }
  if (!ak.jwk.contains("key_ops")) {
    return absl::OkStatus();
  }
  const nlohmann::json& ops = ak.jwk["key_ops"];
  if (!ops.is_array()) {
    return InvalidArgumentf("hcl report: {} key_ops is not an array", ak.kid);
  }
  for (const nlohmann::json& op : ops) {
    if (op != "sign" && op != "verify") {
      return PermissionDeniedf(
          "hcl report: {} allows key operation {}; an attestation key may only sign", ak.kid,
          op.dump());
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view HclReportTypeName(HclReportType type) {
  return type == HclReportType::kSnp ? "sevsnpvm" : "tdxvm";
}

absl::StatusOr<TdReport> ParseTdReport(ByteSpan raw) {
  if (raw.size() != kTdReportSize) {
    return InvalidArgumentf("tdreport: {} bytes, want {}", raw.size(), kTdReportSize);
  }
  ByteReader in(raw, "tdreport");
  TdReport out;
  // REPORTMACSTRUCT (256): REPORTTYPE (type, subtype, version, reserved),
  // reserved (12), CPUSVN, TEE_TCB_INFO_HASH, TEE_INFO_HASH, REPORTDATA,
  // reserved (32), MAC.
  VOUCH_ASSIGN_OR_RETURN(const uint8_t type, in.U8("report_type.type"));
  VOUCH_ASSIGN_OR_RETURN(const uint8_t subtype, in.U8("report_type.subtype"));
  VOUCH_ASSIGN_OR_RETURN(const uint8_t version, in.U8("report_type.version"));
  if (type != kTdxReportType || subtype != 0 || version > 1) {
    return InvalidArgumentf(
        "tdreport: report type {:#04x} subtype {} version {}, want 0x81 subtype 0 version 0 or 1",
        type, subtype, version);
  }
  VOUCH_RETURN_IF_ERROR(in.Skip(1 + 12, "reserved"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.cpu_svn, "cpu_svn"));
  VOUCH_RETURN_IF_ERROR(in.Skip(48 + 48, "tee_tcb_info_hash, tee_info_hash"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.report_data, "report_data"));
  VOUCH_RETURN_IF_ERROR(in.Skip(32 + 32, "reserved, mac"));
  // TEE_TCB_INFO (239) and reserved (17): VALID, TEE_TCB_SVN, MRSEAM,
  // MRSIGNERSEAM, ATTRIBUTES, then fields TDX 1.5 adds.
  VOUCH_RETURN_IF_ERROR(in.Skip(8, "tee_tcb_info.valid"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.tee_tcb_svn, "tee_tcb_svn"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.mr_seam, "mr_seam"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.mr_signer_seam, "mr_signer_seam"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.seam_attributes, "seam_attributes"));
  VOUCH_RETURN_IF_ERROR(in.Skip(256 - 128, "tee_tcb_info rest"));
  // TDINFO (512).
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.td_attributes, "td_attributes"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.xfam, "xfam"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.mr_td, "mr_td"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.mr_config_id, "mr_config_id"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.mr_owner, "mr_owner"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.mr_owner_config, "mr_owner_config"));
  for (auto& rtmr : out.rtmr) {
    VOUCH_RETURN_IF_ERROR(ReadArray(in, rtmr, "rtmr"));
  }
  VOUCH_RETURN_IF_ERROR(in.Skip(in.remaining(), "tdinfo rest"));
  return out;
}

absl::StatusOr<HclReport> ParseHclReport(ByteSpan raw) {
  if (raw.size() > kMaxHclInputSize) {
    return InvalidArgumentf("hcl report: {} bytes, at most {}", raw.size(), kMaxHclInputSize);
  }
  ByteReader in(raw, "hcl report");
  HclReport out;
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan signature, in.Span(4, "signature"));
  if (ToString(signature) != kHclSignature) {
    return InvalidArgumentf("hcl report: signature {:?}, want \"HCLA\"", ToString(signature));
  }
  VOUCH_ASSIGN_OR_RETURN(out.version, in.U32Le("version"));
  if (out.version != 1 && out.version != 2) {
    return InvalidArgumentf("hcl report: version {}, want 1 or 2", out.version);
  }
  VOUCH_ASSIGN_OR_RETURN(const uint32_t report_size, in.U32Le("report_size"));
  VOUCH_ASSIGN_OR_RETURN(out.request_type, in.U32Le("request_type"));
  // The header is outside every signature, so only the one request type seen
  // on Azure (2) is accepted.
  if (out.request_type != kHclRequestType) {
    return InvalidArgumentf("hcl report: request_type {}, want {}", out.request_type,
                            kHclRequestType);
  }
  VOUCH_ASSIGN_OR_RETURN(const uint32_t status, in.U32Le("status"));
  if (status != 0) {
    return InvalidArgumentf("hcl report: status {:#x}, want 0 (the paravisor reported a failure)",
                            status);
  }
  VOUCH_RETURN_IF_ERROR(in.Reserved(12, "reserved"));
  if (report_size > raw.size()) {
    return InvalidArgumentf("hcl report: report_size {} exceeds the {} input bytes", report_size,
                            raw.size());
  }

  VOUCH_ASSIGN_OR_RETURN(const ByteSpan hardware, in.Span(kHclHardwareReportSize, "hw_report"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t runtime_data_size,
                         ReadRuntimeHeader(in, report_size, out));
  VOUCH_RETURN_IF_ERROR(ReadHardwareReport(hardware, out));
  VOUCH_ASSIGN_OR_RETURN(out.runtime_data, in.Copy(runtime_data_size, "runtime_data"));
  if (!IsAllZero(in.rest())) {
    return InvalidArgumentf("hcl report: non-zero bytes after report_size {}", report_size);
  }
  return out;
}

const RuntimeKey* BoundRuntimeClaims::Key(std::string_view kid) const {
  for (const RuntimeKey& key : keys) {
    if (key.kid == kid) {
      return &key;
    }
  }
  return nullptr;
}

absl::StatusOr<BoundRuntimeClaims> VerifyRuntimeDataBinding(const HclReport& report) {
  const Bytes digest = crypto::Hash(report.hash_alg, report.runtime_data);
  if (CRYPTO_memcmp(digest.data(), report.report_data.data(), digest.size()) != 0) {
    return Unauthenticatedf(
        "hcl report: REPORT_DATA does not start with the {} of the runtime data, so the runtime "
        "claims are not bound to the hardware report",
        crypto::HashAlgName(report.hash_alg));
  }

  BoundRuntimeClaims out;
  out.claims = nlohmann::json::parse(report.runtime_data.begin(), report.runtime_data.end(),
                                     nullptr, /*allow_exceptions=*/false);
  if (!out.claims.is_object()) {
    return InvalidArgumentf("hcl report: runtime data is not a JSON object");
  }
  if (!out.claims.contains("keys")) {
    return out;
  }
  const nlohmann::json& keys = out.claims["keys"];
  if (!keys.is_array()) {
    return InvalidArgumentf("hcl report: runtime data \"keys\" is not an array");
  }
  std::set<std::string> kids;
  for (const nlohmann::json& jwk : keys) {
    if (!jwk.is_object() || !jwk.contains("kid") || !jwk["kid"].is_string()) {
      return InvalidArgumentf("hcl report: a runtime key has no \"kid\" string");
    }
    RuntimeKey key;
    key.kid = jwk["kid"].get<std::string>();
    if (!kids.insert(key.kid).second) {
      return InvalidArgumentf("hcl report: runtime key {} appears twice", key.kid);
    }
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> parsed = crypto::PublicKeyFromJwk(jwk);
    if (!parsed.ok()) {
      return Prefix(fmt::format("hcl report: runtime key {}", key.kid), parsed.status());
    }
    key.key = *std::move(parsed);
    key.jwk = jwk;
    out.keys.push_back(std::move(key));
  }
  return out;
}

absl::StatusOr<EVP_PKEY*> AttestationKey(const BoundRuntimeClaims& claims) {
  const RuntimeKey* ak = claims.Key(kHclAkKid);
  if (ak == nullptr) {
    return InvalidArgumentf("hcl report: runtime claims have no {} key", kHclAkKid);
  }
  VOUCH_RETURN_IF_ERROR(CheckAttestationKeyAttributes(*ak));
  return ak->key.get();
}

}  // namespace vouch::azure
