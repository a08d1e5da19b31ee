// ProbeTee: turns the signals of tee_probe.cc into check lines, fetches and
// decodes a fresh report, and attests against a server.
#include <utility>

#include "absl/strings/str_join.h"
#include "vouch/agent/attest_client.h"
#include "vouch/agent/tdx_guest.h"
#include "vouch/agent/tee_probe.h"
#include "vouch/agent/tee_probe_internal.h"
#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/snp/report.h"

namespace vouch::agent {
namespace {

using internal::Signals;
using Json = nlohmann::json;

constexpr uint32_t kTdxTeeType = 0x81;
constexpr int kCheckRsaBits = 3072;

void Add(std::vector<CheckLine>& lines, std::string name, CheckStatus status, std::string detail,
         std::string action = "") {
  lines.push_back({std::move(name), status, std::move(detail), std::move(action)});
}

Json TcbJson(const snp::TcbVersion& tcb) {
  return {{"raw", fmt::format("0x{:016x}", tcb.raw)},
          {"boot_loader", tcb.boot_loader},
          {"tee", tcb.tee},
          {"snp", tcb.snp},
          {"microcode", tcb.microcode},
          {"fmc", tcb.fmc}};
}

template <size_t N>
absl::StatusOr<std::string> ReadHex(ByteReader& in, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan bytes, in.Span(N, field));
  return HexEncode(bytes);
}

void CheckCpu(const ProbeOptions& options, const Signals& s, std::vector<CheckLine>& lines) {
  if (options.cpuid == nullptr || !s.cpuid_read) {
    Add(lines, "cpu", CheckStatus::kWarn,
        "CPUID not read (not x86, or a --root tree that is not this machine)");
    return;
  }
  if (!s.hypervisor) {
    Add(lines, "cpu", CheckStatus::kWarn,
        fmt::format("{} without the CPUID hypervisor bit: this is not a VM", s.cpu_vendor),
        "run vouch check inside the confidential VM");
  } else {
    Add(lines, "cpu", CheckStatus::kOk,
        fmt::format("{} under hypervisor \"{}\"", s.cpu_vendor, s.hypervisor_vendor));
  }
  std::vector<std::string> features;
  if (s.cpuid_sev) features.emplace_back("SEV");
  if (s.cpuid_sev_es) features.emplace_back("SEV-ES");
  if (s.cpuid_snp) features.emplace_back("SEV-SNP");
  if (s.cpuid_tdx) {
    Add(lines, "cpuid", CheckStatus::kOk, "leaf 0x21 returns \"IntelTDX    \": this is a TDX guest");
  } else if (!features.empty()) {
    Add(lines, "cpuid", CheckStatus::kOk,
        fmt::format("leaf 0x8000001F lists {} (the hypervisor sets this leaf in a guest)",
                    absl::StrJoin(features, " ")));
  } else {
    Add(lines, "cpuid", CheckStatus::kWarn,
        "neither the TDX leaf 0x21 nor SEV bits in leaf 0x8000001F");
  }
}

void CheckKernel(const Signals& s, std::vector<CheckLine>& lines) {
  if (!s.kernel_log_read) {
    Add(lines, "kernel messages", CheckStatus::kWarn,
        fmt::format("not readable: {}", s.kernel_log_error),
        "run as root (or with CAP_SYSLOG) to read the kernel's memory encryption line");
  } else if (!s.kernel_memory_encryption.empty() || s.kernel_tdx) {
    Add(lines, "kernel messages", CheckStatus::kOk,
        s.kernel_memory_encryption.empty() ? "tdx: Guest detected" : s.kernel_memory_encryption);
  } else {
    Add(lines, "kernel messages", CheckStatus::kWarn,
        "no \"Memory Encryption Features active\" or \"tdx: Guest detected\" line (the log "
        "may have wrapped since boot)");
  }
  if (s.cpuinfo_read) {
    std::vector<std::string> flags;
    for (const char* flag : {"sev", "sev_es", "sev_snp", "tdx_guest"}) {
      if (s.cpuinfo_flags.contains(flag)) {
        flags.emplace_back(flag);
      }
    }
    Add(lines, "cpu flags", flags.empty() ? CheckStatus::kWarn : CheckStatus::kOk,
        flags.empty() ? "/proc/cpuinfo lists no sev, sev_es, sev_snp or tdx_guest flag"
                      : "/proc/cpuinfo lists " + absl::StrJoin(flags, " "));
  }
}

void CheckTee(TeeType tee, const Signals& s, ProbeResult& result) {
  std::vector<CheckLine>& lines = result.lines;
  switch (tee) {
    case TeeType::kNone:
      Add(lines, "tee", CheckStatus::kFail,
          "no AMD SEV-SNP or Intel TDX guest found: this VM is not confidential",
          "start the VM as an SEV-SNP or TDX confidential VM (or check the kernel supports it)");
      break;
    case TeeType::kSev:
    case TeeType::kSevEs:
      Add(lines, "tee", CheckStatus::kFail,
          fmt::format("{} without SEV-SNP: memory is encrypted but has no integrity protection, "
                      "and the guest cannot fetch an attestation report",
                      TeeTypeName(tee)),
          "start the VM with SEV-SNP");
      break;
    case TeeType::kSevSnp:
    case TeeType::kTdx:
      Add(lines, "tee", CheckStatus::kOk, std::string(TeeTypeName(tee)));
      break;
  }
  result.memory_encryption_active = tee != TeeType::kNone;
  if (!s.kernel_memory_encryption.empty()) {
    Add(lines, "memory encryption", CheckStatus::kOk, "active (kernel message)");
  } else if (result.memory_encryption_active) {
    Add(lines, "memory encryption", CheckStatus::kOk,
        fmt::format("active: {} guests always run with encrypted private memory",
                    TeeTypeName(tee)));
  } else {
    Add(lines, "memory encryption", CheckStatus::kFail, "not active",
        "start the VM as a confidential VM");
  }
}

void CheckInterfaces(TeeType tee, const Signals& s, std::vector<CheckLine>& lines) {
  std::vector<std::string> found;
  if (s.has_configfs_tsm) found.emplace_back("configfs-tsm");
  if (s.has_sev_guest) found.emplace_back("/dev/sev-guest");
  if (s.has_tdx_guest) found.emplace_back("/dev/tdx_guest");
  if (found.empty()) {
    Add(lines, "evidence interfaces", CheckStatus::kFail,
        "none of /sys/kernel/config/tsm/report, /dev/sev-guest, /dev/tdx_guest",
        tee == TeeType::kNone ? "run in a confidential VM"
                              : "load the guest driver (modprobe sev-guest or tdx-guest) and "
                                "mount configfs at /sys/kernel/config");
    return;
  }
  Add(lines, "evidence interfaces", CheckStatus::kOk, absl::StrJoin(found, ", "));
  if (tee == TeeType::kTdx && !s.has_configfs_tsm) {
    Add(lines, "tdx quote", CheckStatus::kWarn,
        "no configfs-tsm: only a TDREPORT is available, which a server cannot verify",
        "use Linux 6.7 or later with CONFIG_TSM_REPORTS and mount configfs");
  }
  if (tee == TeeType::kTdx && s.has_ccel) {
    Add(lines, "event log", CheckStatus::kOk, "ACPI CCEL table present (RTMR event log)");
  }
  if (s.has_tpm) {
    Add(lines, "vtpm", CheckStatus::kOk, "/dev/tpmrm0 present");
  }
}

void CheckSnpReport(const Evidence& evidence, ProbeResult& result) {
  absl::StatusOr<Json> fields = DescribeSnpReport(evidence.report);
  if (!fields.ok()) {
    Add(result.lines, "report", CheckStatus::kFail, std::string(fields.status().message()));
    return;
  }
  result.report = *fields;
  Add(result.lines, "report", CheckStatus::kOk,
      fmt::format("SEV-SNP report v{}, VMPL {}, measurement {}", (*fields)["version"].get<int>(),
                  (*fields)["vmpl"].get<int>(), (*fields)["measurement"].get<std::string>()));
  const Json& tcb = (*fields)["reported_tcb"];
  Add(result.lines, "tcb", CheckStatus::kOk,
      fmt::format("reported TCB bootloader {} tee {} snp {} microcode {}",
                  tcb["boot_loader"].get<int>(), tcb["tee"].get<int>(), tcb["snp"].get<int>(),
                  tcb["microcode"].get<int>()));
  if ((*fields)["debug"].get<bool>()) {
    Add(result.lines, "policy", CheckStatus::kFail,
        fmt::format("policy {} allows debugging: the host can read and change guest memory",
                    (*fields)["policy"].get<std::string>()),
        "launch the VM with policy bit 19 (DEBUG) clear");
  } else {
    Add(result.lines, "policy", CheckStatus::kOk,
        fmt::format("policy {}, debugging not allowed", (*fields)["policy"].get<std::string>()));
  }
  if (evidence.certificates.empty()) {
    Add(result.lines, "certificates", CheckStatus::kWarn,
        "the host provides no certificate table with the report",
        "give the vouch server the VCEK chain as collateral, or have the host install one");
  } else {
    Add(result.lines, "certificates", CheckStatus::kOk,
        fmt::format("{} certificates from the host's table", evidence.certificates.size()));
  }
}

void CheckTdxFields(const Json& fields, std::string_view source, ProbeResult& result) {
  result.report = fields;
  Add(result.lines, "report", CheckStatus::kOk,
      fmt::format("TDX {}, MRTD {}", source, fields["mrtd"].get<std::string>()));
  if (fields["debug"].get<bool>()) {
    Add(result.lines, "attributes", CheckStatus::kFail,
        fmt::format("TD attributes {} have DEBUG set: the host can read and change TD memory",
                    fields["td_attributes"].get<std::string>()),
        "launch the TD without the debug attribute");
  } else {
    Add(result.lines, "attributes", CheckStatus::kOk,
        fmt::format("TD attributes {}, not in debug mode",
                    fields["td_attributes"].get<std::string>()));
  }
}

// FetchTdReport reads the TDREPORT where only /dev/tdx_guest exists.
void FetchTdReport(Platform& platform, ByteSpan report_data, ProbeResult& result) {
  auto* tdx = dynamic_cast<TdxGuestPlatform*>(&platform);
  if (tdx == nullptr) {
    return;
  }
  absl::StatusOr<Bytes> raw = tdx->GetTdReport(report_data);
  absl::StatusOr<Json> fields = raw.ok() ? DescribeTdReport(*raw) : raw.status();
  if (!fields.ok()) {
    Add(result.lines, "report", CheckStatus::kFail, std::string(fields.status().message()));
    return;
  }
  CheckTdxFields(*fields, "TDREPORT (local only)", result);
}

void Attest(const ProbeOptions& options, const Evidence& evidence, const RuntimeData& runtime,
            ProbeResult& result) {
  const HttpClient http(options.http);
  const AttestClient client(options.server_url, http);
  absl::StatusOr<std::string> token = client.Attest(evidence, runtime.json, std::nullopt);
  if (!token.ok()) {
    Add(result.lines, "attestation", CheckStatus::kFail, std::string(token.status().message()),
        "check the server URL and the server's log for the reason");
    return;
  }
  absl::StatusOr<Json> claims = DecodeJwtClaims(*token);
  if (!claims.ok()) {
    Add(result.lines, "attestation", CheckStatus::kFail, std::string(claims.status().message()));
    return;
  }
  result.token_claims = *claims;
  Add(result.lines, "attestation", CheckStatus::kOk,
      fmt::format("token issued by {}", claims->value("iss", std::string("(no iss)"))));
}

// FetchEvidence gets one report (bound to the runtime data when a server
// is set) and checks it.
void FetchEvidence(const ProbeOptions& options, ProbeResult& result) {
  PlatformOptions platform_options;
  platform_options.root = options.root;
  platform_options.data_dir = options.data_dir;
  platform_options.vmpl = options.vmpl;
  absl::StatusOr<std::unique_ptr<Platform>> platform =
      options.open_platform(options.platform, platform_options);
  if (!platform.ok()) {
    Add(result.lines, "report", CheckStatus::kFail, std::string(platform.status().message()));
    return;
  }

  std::optional<RuntimeData> runtime;
  crypto::SslPtr<EVP_PKEY> ephemeral_key;
  if (!options.server_url.empty()) {
    absl::StatusOr<crypto::SslPtr<EVP_PKEY>> key = crypto::GenerateRsaKey(kCheckRsaBits);
    absl::StatusOr<RuntimeData> data = key.ok() ? MakeRuntimeData(key->get()) : key.status();
    if (!data.ok()) {
      Add(result.lines, "attestation", CheckStatus::kFail, std::string(data.status().message()));
      return;
    }
    runtime = *std::move(data);
  }
  const Bytes report_data = runtime ? runtime->report_data : crypto::RandomBytes(kReportDataBytes);

  absl::StatusOr<Evidence> evidence = (*platform)->GetEvidence(report_data);
  if (!evidence.ok()) {
    Add(result.lines, "evidence", CheckStatus::kFail,
        fmt::format("{}: {}", (*platform)->Name(), evidence.status().message()));
    FetchTdReport(**platform, report_data, result);
    return;
  }
  Add(result.lines, "evidence", evidence->simulated ? CheckStatus::kWarn : CheckStatus::kOk,
      fmt::format("{} returned a {} report of {} bytes{}", (*platform)->Name(), evidence->kind,
                  evidence->report.size(),
                  evidence->simulated ? " (simulated, not from hardware)" : ""));
  if (evidence->kind == "snp") {
    CheckSnpReport(*evidence, result);
  } else if (evidence->kind == "tdx") {
    absl::StatusOr<Json> fields = DescribeTdxQuote(evidence->report);
    if (fields.ok()) {
      CheckTdxFields(*fields, "quote", result);
    } else {
      Add(result.lines, "report", CheckStatus::kFail, std::string(fields.status().message()));
    }
  }
  if (runtime) {
    Attest(options, *evidence, *runtime, result);
  }
}

}  // namespace

bool ProbeResult::confidential() const {
  if (tee != TeeType::kSevSnp && tee != TeeType::kTdx) {
    return false;
  }
  for (const CheckLine& line : lines) {
    if (line.status == CheckStatus::kFail) {
      return false;
    }
  }
  return true;
}

Json ProbeResult::ToJson() const {
  Json checks = Json::array();
  for (const CheckLine& line : lines) {
    Json entry = {{"check", line.name},
                  {"status", CheckStatusName(line.status)},
                  {"detail", line.detail}};
    if (!line.action.empty()) {
      entry["action"] = line.action;
    }
    checks.push_back(std::move(entry));
  }
  return {{"confidential", confidential()},
          {"tee", TeeTypeName(tee)},
          {"memory_encryption_active", memory_encryption_active},
          {"checks", std::move(checks)},
          {"report", report},
          {"token_claims", token_claims}};
}

ProbeResult ProbeTee(const ProbeOptions& options) {
  Signals signals;
  if (options.cpuid != nullptr) {
    internal::ReadCpuid(*options.cpuid, signals);
  }
  internal::ReadCpuinfoFlags(options.root, signals);
  internal::ReadKernelLog(options.root, signals);
  internal::ReadInterfaces(options.root, signals);

  ProbeResult result;
  result.tee = internal::DecideTee(signals);
  CheckCpu(options, signals, result.lines);
  CheckKernel(signals, result.lines);
  CheckTee(result.tee, signals, result);
  CheckInterfaces(result.tee, signals, result.lines);
  if (signals.has_configfs_tsm || signals.has_sev_guest || signals.has_tdx_guest ||
      options.platform != "auto") {
    FetchEvidence(options, result);
  }
  return result;
}

absl::StatusOr<Json> DescribeSnpReport(ByteSpan raw) {
  VOUCH_ASSIGN_OR_RETURN(const snp::AttestationReport report, snp::ParseReport(raw));
  return Json{{"version", report.version},
              {"vmpl", report.vmpl},
              {"policy", fmt::format("0x{:x}", report.policy)},
              {"debug", report.debug_allowed()},
              {"smt", report.smt_allowed()},
              {"migrate_ma", report.migrate_ma_allowed()},
              {"measurement", HexEncode(report.measurement)},
              {"host_data", HexEncode(report.host_data)},
              {"report_data", HexEncode(report.report_data)},
              {"signing_key", snp::SigningKeyName(report.signing_key)},
              {"reported_tcb", TcbJson(report.reported_tcb)},
              {"current_tcb", TcbJson(report.current_tcb)},
              {"firmware", fmt::format("{}.{}.{}", report.current_major, report.current_minor,
                                       report.current_build)}};
}

absl::StatusOr<Json> DescribeTdxQuote(ByteSpan quote) {
  ByteReader in(quote, "tdx quote");
  // Header (48 bytes): version u16, attestation key type u16, TEE type u32, ...
  VOUCH_ASSIGN_OR_RETURN(const uint16_t version, in.U16Le("version"));
  VOUCH_RETURN_IF_ERROR(in.Skip(2, "att_key_type"));
  VOUCH_ASSIGN_OR_RETURN(const uint32_t tee_type, in.U32Le("tee_type"));
  if (tee_type != kTdxTeeType) {
    return InvalidArgumentf("tdx quote: tee_type 0x{:x}, want 0x81", tee_type);
  }
  VOUCH_RETURN_IF_ERROR(in.Skip(40, "header"));
  if (version == 5) {
    // Version 5 puts a body descriptor (type u16, size u32) before the body.
    VOUCH_RETURN_IF_ERROR(in.Skip(6, "body descriptor"));
  } else if (version != 4) {
    return InvalidArgumentf("tdx quote: version {}, want 4 or 5", version);
  }
  Json fields = {{"quote_version", version}};
  VOUCH_ASSIGN_OR_RETURN(fields["tee_tcb_svn"], ReadHex<16>(in, "tee_tcb_svn"));
  VOUCH_ASSIGN_OR_RETURN(fields["mrseam"], ReadHex<48>(in, "mrseam"));
  VOUCH_RETURN_IF_ERROR(in.Skip(56, "mrsignerseam, seam_attributes"));
  VOUCH_ASSIGN_OR_RETURN(const uint64_t td_attributes, in.U64Le("td_attributes"));
  fields["td_attributes"] = fmt::format("0x{:016x}", td_attributes);
  fields["debug"] = (td_attributes & 1) != 0;
  VOUCH_RETURN_IF_ERROR(in.Skip(8, "xfam"));
  VOUCH_ASSIGN_OR_RETURN(fields["mrtd"], ReadHex<48>(in, "mrtd"));
  VOUCH_ASSIGN_OR_RETURN(fields["mrconfigid"], ReadHex<48>(in, "mrconfigid"));
  VOUCH_ASSIGN_OR_RETURN(fields["mrowner"], ReadHex<48>(in, "mrowner"));
  VOUCH_ASSIGN_OR_RETURN(fields["mrownerconfig"], ReadHex<48>(in, "mrownerconfig"));
  Json rtmrs = Json::array();
  for (int i = 0; i < 4; ++i) {
    VOUCH_ASSIGN_OR_RETURN(std::string rtmr, ReadHex<48>(in, "rtmr"));
    rtmrs.push_back(std::move(rtmr));
  }
  fields["rtmrs"] = std::move(rtmrs);
  VOUCH_ASSIGN_OR_RETURN(fields["report_data"], ReadHex<64>(in, "report_data"));
  return fields;
}

absl::StatusOr<Json> DescribeTdReport(ByteSpan tdreport) {
  VOUCH_ASSIGN_OR_RETURN(const TdReport report, ParseTdReport(tdreport));
  Json rtmrs = Json::array();
  for (const auto& rtmr : report.rtmr) {
    rtmrs.push_back(HexEncode(rtmr));
  }
  return Json{{"td_attributes", fmt::format("0x{:016x}", report.attributes)},
              {"debug", report.debug()},
              {"xfam", fmt::format("0x{:016x}", report.xfam)},
              {"mrtd", HexEncode(report.mrtd)},
              {"mrconfigid", HexEncode(report.mrconfigid)},
              {"mrowner", HexEncode(report.mrowner)},
              {"rtmrs", std::move(rtmrs)},
              {"report_data", HexEncode(report.report_data)}};
}

absl::StatusOr<Json> DecodeJwtClaims(std::string_view jwt) {
  const size_t first = jwt.find('.');
  const size_t second = first == std::string_view::npos ? first : jwt.find('.', first + 1);
  if (second == std::string_view::npos) {
    return InvalidArgumentf("token: not a compact JWT (want three dot-separated parts)");
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes payload,
                         Base64UrlDecode(jwt.substr(first + 1, second - first - 1)));
  Json claims = Json::parse(ToString(payload), nullptr, false);
  if (!claims.is_object()) {
    return InvalidArgumentf("token: payload is not a JSON object");
  }
  return claims;
}

}  // namespace vouch::agent
