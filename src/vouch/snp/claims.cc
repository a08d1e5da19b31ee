#include "vouch/snp/claims.h"

#include "vouch/base/bytes.h"

namespace vouch::snp {

nlohmann::json SnpClaims(const VerifiedReport& verified) {
  const AttestationReport& r = verified.report;
  const TcbVersion& tcb = r.reported_tcb;
  nlohmann::json claims = {
      {"x-ms-attestation-type", "sevsnpvm"},
      {"x-ms-sevsnpvm-authorkeydigest", HexEncode(r.author_key_digest)},
      {"x-ms-sevsnpvm-bootloader-svn", tcb.boot_loader},
      {"x-ms-sevsnpvm-familyId", HexEncode(r.family_id)},
      {"x-ms-sevsnpvm-guestsvn", r.guest_svn},
      {"x-ms-sevsnpvm-hostdata", HexEncode(r.host_data)},
      {"x-ms-sevsnpvm-idkeydigest", HexEncode(r.id_key_digest)},
      {"x-ms-sevsnpvm-imageId", HexEncode(r.image_id)},
      {"x-ms-sevsnpvm-is-debuggable", r.debug_allowed()},
      {"x-ms-sevsnpvm-launchmeasurement", HexEncode(r.measurement)},
      {"x-ms-sevsnpvm-microcode-svn", tcb.microcode},
      {"x-ms-sevsnpvm-migration-allowed", r.migrate_ma_allowed()},
      {"x-ms-sevsnpvm-reportdata", HexEncode(r.report_data)},
      {"x-ms-sevsnpvm-reportid", HexEncode(r.report_id)},
      {"x-ms-sevsnpvm-smt-allowed", r.smt_allowed()},
      {"x-ms-sevsnpvm-snpfw-svn", tcb.snp},
      {"x-ms-sevsnpvm-tee-svn", tcb.tee},
      {"x-ms-sevsnpvm-vmpl", r.vmpl},
      {"x-vouch-sevsnpvm-chipid", HexEncode(r.hardware_id())},
      {"x-vouch-sevsnpvm-policy", r.policy},
      {"x-vouch-sevsnpvm-product", verified.product},
      {"x-vouch-sevsnpvm-report-version", r.version},
      {"x-vouch-sevsnpvm-signing-key",
       verified.signing_key == VerifiedReport::kVcek ? "vcek" : "vlek"},
  };
  if (r.is_turin()) {
    claims["x-vouch-sevsnpvm-fmc-svn"] = tcb.fmc;
  }
  if (verified.signer_extensions.csp_id) {
    claims["x-vouch-sevsnpvm-csp-id"] = *verified.signer_extensions.csp_id;
  }
  if (verified.simulated()) {
    claims["x-vouch-simulated"] = true;
  }
  return claims;
}

}  // namespace vouch::snp
