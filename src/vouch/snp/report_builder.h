// Test-only builder of SEV-SNP attestation reports (unsigned unless the test
// signs them). Only the snp tests include it.
#ifndef VOUCH_SNP_REPORT_BUILDER_H_
#define VOUCH_SNP_REPORT_BUILDER_H_

#include <cstdint>

#include "vouch/base/bytes.h"
#include "vouch/snp/report.h"

namespace vouch::snp::testing {

// SnpReportBuilder starts from a well-formed version-3 Milan report
// (policy 0x30000, VMPL 0, VCEK-signed, zero signature) and lets a test
// change fields before Build() serializes it.
class SnpReportBuilder {
 public:
  SnpReportBuilder() {
    report_.version = 3;
    report_.policy = 0x30000;
    report_.signature_algo = kEcdsaP384Sha384;
    report_.cpuid_fam_id = kZen3Zen4CpuidFamily;
    report_.cpuid_mod_id = 0x01;
    report_.cpuid_step = 0x01;
    const uint64_t tcb = TcbVersion::Encode(3, 0, 8, 115, 0, /*turin=*/false);
    report_.current_tcb.raw = tcb;
    report_.reported_tcb.raw = tcb;
    report_.committed_tcb.raw = tcb;
    report_.launch_tcb.raw = tcb;
    for (size_t i = 0; i < report_.chip_id.size(); ++i) {
      report_.chip_id[i] = static_cast<uint8_t>(i + 1);
    }
    report_.measurement.fill(0xAB);
  }

  SnpReportBuilder& Version(uint32_t version) {
    report_.version = version;
    if (version >= 5) {
      report_.launch_mit_vector = 1;
      report_.current_mit_vector = 1;
    }
    return *this;
  }
  SnpReportBuilder& SignatureAlgo(uint32_t algo) {
    report_.signature_algo = algo;
    return *this;
  }
  SnpReportBuilder& Policy(uint64_t policy) {
    report_.policy = policy;
    return *this;
  }
  SnpReportBuilder& Vmpl(uint32_t vmpl) {
    report_.vmpl = vmpl;
    return *this;
  }
  SnpReportBuilder& Cpuid(uint8_t family, uint8_t model, uint8_t stepping) {
    report_.cpuid_fam_id = family;
    report_.cpuid_mod_id = model;
    report_.cpuid_step = stepping;
    return *this;
  }
  SnpReportBuilder& ReportedTcbRaw(uint64_t raw) {
    report_.reported_tcb.raw = raw;
    return *this;
  }
  AttestationReport& mutable_report() { return report_; }

  Bytes Build() const { return SerializeReport(report_); }

 private:
  AttestationReport report_;
};

}  // namespace vouch::snp::testing

#endif  // VOUCH_SNP_REPORT_BUILDER_H_
