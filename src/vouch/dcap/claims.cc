#include "vouch/dcap/claims.h"

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/time.h"

namespace vouch::dcap {
namespace {

// AddCommon adds the TCB verdict and the platform facts of the PCK certificate.
void AddCommon(const VerifiedQuote& verified, nlohmann::json& claims) {
  const TcbVerdict& tcb = verified.tcb;
  claims["attester_tcb_status"] = std::string(TcbStatusName(tcb.status));
  claims["attester_advisory_ids"] = tcb.advisory_ids;
  claims["x-vouch-dcap-tcb-date"] = FormatRfc3339(tcb.tcb_date);
  claims["x-vouch-dcap-qe-tcb-status"] = std::string(TcbStatusName(tcb.qe_status));
  claims["x-vouch-dcap-platform-tcb-status"] = std::string(TcbStatusName(tcb.platform_status));
  claims["x-vouch-dcap-revocation-checked"] = tcb.revocation_checked;
  claims["x-vouch-dcap-fmspc"] = HexEncode(verified.pck_extensions.fmspc);
  claims["x-vouch-dcap-pce-id"] = HexEncode(verified.pck_extensions.pce_id);
  claims["x-vouch-dcap-pck-ca"] = std::string(PckCaKindName(verified.pck_chain.ca_kind));
  claims["x-vouch-dcap-quote-version"] = verified.quote.header.version;
}

}  // namespace

nlohmann::json TdxClaims(const VerifiedQuote& verified) {
  const TdReportBody& td = *verified.quote.td_body;
  const uint64_t attributes = td.td_attribute_bits();
  nlohmann::json claims = {
      {"x-ms-attestation-type", "tdxvm"},
      {"tdx_mrconfigid", HexEncode(td.mr_config_id)},
      {"tdx_mrowner", HexEncode(td.mr_owner)},
      {"tdx_mrownerconfig", HexEncode(td.mr_owner_config)},
      {"tdx_mrseam", HexEncode(td.mr_seam)},
      {"tdx_mrsignerseam", HexEncode(td.mr_signer_seam)},
      {"tdx_mrtd", HexEncode(td.mr_td)},
      {"tdx_report_data", HexEncode(td.report_data)},
      {"tdx_rtmr0", HexEncode(td.rtmr[0])},
      {"tdx_rtmr1", HexEncode(td.rtmr[1])},
      {"tdx_rtmr2", HexEncode(td.rtmr[2])},
      {"tdx_rtmr3", HexEncode(td.rtmr[3])},
      {"tdx_seam_attributes", HexEncode(td.seam_attributes)},
      {"tdx_td_attributes", HexEncode(td.td_attributes)},
      {"tdx_td_attributes_debug", (attributes & kTdAttributeDebug) != 0},
      {"tdx_td_attributes_key_locker", (attributes & kTdAttributeKeyLocker) != 0},
      {"tdx_td_attributes_perfmon", (attributes & kTdAttributePerfmon) != 0},
      {"tdx_td_attributes_protection_keys", (attributes & kTdAttributeProtectionKeys) != 0},
      {"tdx_td_attributes_septve_disable", (attributes & kTdAttributeSeptVeDisable) != 0},
      {"tdx_tee_tcb_svn", HexEncode(td.tee_tcb_svn)},
      {"tdx_xfam", HexEncode(td.xfam)},
  };
  if (td.tee_tcb_svn2.has_value()) {
    claims["x-vouch-tdx-tee-tcb-svn2"] = HexEncode(*td.tee_tcb_svn2);
  }
  if (td.mr_service_td.has_value()) {
    claims["x-vouch-tdx-mrservicetd"] = HexEncode(*td.mr_service_td);
  }
  if (verified.tcb.tdx_module_status.has_value()) {
    claims["x-vouch-tdx-module-tcb-status"] =
        std::string(TcbStatusName(*verified.tcb.tdx_module_status));
    claims["x-vouch-tdx-module-id"] = verified.tcb.tdx_module_id;
  }
  AddCommon(verified, claims);
  return claims;
}

nlohmann::json SgxClaims(const VerifiedQuote& verified) {
  const SgxReportBody& body = *verified.quote.sgx_body;
  nlohmann::json claims = {
      {"x-ms-attestation-type", "sgx"},
      {"x-ms-sgx-config-id", HexEncode(body.config_id)},
      {"x-ms-sgx-config-svn", body.config_svn},
      {"x-ms-sgx-is-debuggable", body.debug()},
      {"x-ms-sgx-isv-extended-product-id", HexEncode(body.isv_ext_prod_id)},
      {"x-ms-sgx-isv-family-id", HexEncode(body.isv_family_id)},
      {"x-ms-sgx-mrenclave", HexEncode(body.mr_enclave)},
      {"x-ms-sgx-mrsigner", HexEncode(body.mr_signer)},
      {"x-ms-sgx-product-id", body.isv_prod_id},
      {"x-ms-sgx-svn", body.isv_svn},
      {"x-vouch-sgx-attributes", HexEncode(body.attributes)},
      {"x-vouch-sgx-cpusvn", HexEncode(body.cpu_svn)},
      {"x-vouch-sgx-miscselect", body.misc_select},
      {"x-vouch-sgx-report-data", HexEncode(body.report_data)},
  };
  AddCommon(verified, claims);
  return claims;
}

nlohmann::json DcapClaims(const VerifiedQuote& verified) {
  return verified.quote.td_body.has_value() ? TdxClaims(verified) : SgxClaims(verified);
}

std::vector<std::string> TdxClaimTypes() {
  // Claims of a TDX 1.5 quote with a TDX module identity carry every type.
  VerifiedQuote sample;
  TdReportBody& td = sample.quote.td_body.emplace();
  td.tee_tcb_svn2.emplace();
  td.mr_service_td.emplace();
  sample.tcb.tdx_module_status = TcbStatus::kUpToDate;
  const nlohmann::json claims = TdxClaims(sample);
  std::vector<std::string> types;
  for (auto it = claims.begin(); it != claims.end(); ++it) {
    types.push_back(it.key());
  }
  return types;
}

std::vector<std::string> SgxClaimTypes() {
  VerifiedQuote sample;
  sample.quote.sgx_body.emplace();
  const nlohmann::json claims = SgxClaims(sample);
  std::vector<std::string> types;
  for (auto it = claims.begin(); it != claims.end(); ++it) {
    types.push_back(it.key());
  }
  return types;
}

}  // namespace vouch::dcap
