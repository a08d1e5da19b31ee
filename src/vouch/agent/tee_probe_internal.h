// Internals of tee_probe.cc shared with tee_report.cc and the tests: the raw
// signals that the probe collects before it decides.
#ifndef VOUCH_AGENT_TEE_PROBE_INTERNAL_H_
#define VOUCH_AGENT_TEE_PROBE_INTERNAL_H_

#include <set>
#include <string>

#include "vouch/agent/tee_probe.h"

namespace vouch::agent::internal {

struct Signals {
  bool cpuid_read = false;
  std::string cpu_vendor;  // "AuthenticAMD", "GenuineIntel"
  bool hypervisor = false;
  std::string hypervisor_vendor;  // "KVMKVMKVM", "Microsoft Hv"
  bool cpuid_tdx = false;
  bool cpuid_sev = false;
  bool cpuid_sev_es = false;
  bool cpuid_snp = false;

  bool cpuinfo_read = false;
  std::set<std::string> cpuinfo_flags;

  bool kernel_log_read = false;
  std::string kernel_log_error;
  std::string kernel_memory_encryption;  // The "Memory Encryption Features active" line.
  std::string kernel_sev_status;         // The line that lists the active SEV features.
  bool kernel_tdx = false;

  bool has_configfs_tsm = false;
  bool has_sev_guest = false;
  bool has_tdx_guest = false;
  bool has_ccel = false;
  bool has_tpm = false;
};

void ReadCpuid(const CpuidSource& cpuid, Signals& signals);
void ReadCpuinfoFlags(const std::string& root, Signals& signals);
void ReadKernelLog(const std::string& root, Signals& signals);
void ReadInterfaces(const std::string& root, Signals& signals);
TeeType DecideTee(const Signals& signals);

}  // namespace vouch::agent::internal

#endif  // VOUCH_AGENT_TEE_PROBE_INTERNAL_H_
