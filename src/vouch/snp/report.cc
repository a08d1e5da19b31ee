#include "vouch/snp/report.h"

#include <algorithm>
#include <utility>

#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"

namespace vouch::snp {
namespace {

constexpr std::string_view kContext = "snp report";

// Bits 31:5 of the word at 0x48 are reserved (Table 22).
constexpr uint32_t kKeyInfoReservedMask = ~uint32_t{0x1F};

template <size_t N>
absl::StatusOr<std::array<uint8_t, N>> ReadArray(ByteReader& in, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan bytes, in.Span(N, field));
  std::array<uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

absl::Status CheckHeader(ByteSpan data) {
  if (data.size() != kReportSize) {
    return InvalidArgumentf("snp report: length {} bytes, want {}", data.size(), kReportSize);
  }
  return absl::OkStatus();
}

absl::Status CheckVersion(uint32_t version) {
  if (version != 2 && version != 3 && version != 5) {
    return InvalidArgumentf("snp report: version {}, want 2, 3 or 5", version);
  }
  return absl::OkStatus();
}

// Reads 0x000..0x04F: the fields before REPORT_DATA.
absl::Status ReadPolicyAndPlatform(ByteReader& in, AttestationReport& r) {
  VOUCH_ASSIGN_OR_RETURN(r.version, in.U32Le("version"));
  VOUCH_RETURN_IF_ERROR(CheckVersion(r.version));
  VOUCH_ASSIGN_OR_RETURN(r.guest_svn, in.U32Le("guest_svn"));
  VOUCH_ASSIGN_OR_RETURN(r.policy, in.U64Le("policy"));
  VOUCH_ASSIGN_OR_RETURN(r.family_id, ReadArray<16>(in, "family_id"));
  VOUCH_ASSIGN_OR_RETURN(r.image_id, ReadArray<16>(in, "image_id"));
  VOUCH_ASSIGN_OR_RETURN(r.vmpl, in.U32Le("vmpl"));

  // 0x034 SIGNATURE_ALGO: 1 is ECDSA P-384 with SHA-384, the only one defined.
  VOUCH_ASSIGN_OR_RETURN(r.signature_algo, in.U32Le("signature_algo"));
  if (r.signature_algo != kEcdsaP384Sha384) {
    return InvalidArgumentf("snp report: signature_algo {}, want {} (ECDSA P-384 with SHA-384)",
                            r.signature_algo, kEcdsaP384Sha384);
  }

  // 0x038 CURRENT_TCB is decoded once the product is known (CPUID at 0x188).
  VOUCH_ASSIGN_OR_RETURN(r.current_tcb.raw, in.U64Le("current_tcb"));
  VOUCH_ASSIGN_OR_RETURN(r.platform_info, in.U64Le("platform_info"));

  // 0x048: bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY.
  VOUCH_ASSIGN_OR_RETURN(const uint32_t key_info, in.U32Le("signing key info"));
  if ((key_info & kKeyInfoReservedMask) != 0) {
    return InvalidArgumentf("snp report: reserved bits 31:5 of the word at 0x48 are {:#x}, want 0",
                            key_info & kKeyInfoReservedMask);
  }
  r.author_key_en = (key_info & 1) != 0;
  r.mask_chip_key = (key_info & 2) != 0;
  const uint32_t signing_key = (key_info >> 2) & 7;
  if (signing_key != 0 && signing_key != 1 && signing_key != 7) {
    return InvalidArgumentf("snp report: signing_key {} is reserved, want 0 (VCEK), 1 (VLEK) or "
                            "7 (none)",
                            signing_key);
  }
  r.signing_key = static_cast<SigningKey>(signing_key);
  return in.Reserved(4, "0x04C");
}

// Reads 0x050..0x19F: guest data, digests, report ids, REPORTED_TCB, CPUID.
absl::Status ReadGuestData(ByteReader& in, AttestationReport& r) {
  VOUCH_ASSIGN_OR_RETURN(r.report_data, ReadArray<64>(in, "report_data"));
  VOUCH_ASSIGN_OR_RETURN(r.measurement, ReadArray<48>(in, "measurement"));
  VOUCH_ASSIGN_OR_RETURN(r.host_data, ReadArray<32>(in, "host_data"));
  VOUCH_ASSIGN_OR_RETURN(r.id_key_digest, ReadArray<48>(in, "id_key_digest"));
  VOUCH_ASSIGN_OR_RETURN(r.author_key_digest, ReadArray<48>(in, "author_key_digest"));
  VOUCH_ASSIGN_OR_RETURN(r.report_id, ReadArray<32>(in, "report_id"));
  VOUCH_ASSIGN_OR_RETURN(r.report_id_ma, ReadArray<32>(in, "report_id_ma"));
  VOUCH_ASSIGN_OR_RETURN(r.reported_tcb.raw, in.U64Le("reported_tcb"));

  // 0x188..0x18A CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP exist from version 3;
  // in version 2 the whole 0x188..0x19F range is reserved.
  if (r.version < 3) {
    return in.Reserved(24, "0x188..0x19F");
  }
  VOUCH_ASSIGN_OR_RETURN(r.cpuid_fam_id, in.U8("cpuid_fam_id"));
  VOUCH_ASSIGN_OR_RETURN(r.cpuid_mod_id, in.U8("cpuid_mod_id"));
  VOUCH_ASSIGN_OR_RETURN(r.cpuid_step, in.U8("cpuid_step"));
  return in.Reserved(21, "0x18B..0x19F");
}

// Reads 0x1A0..0x29F: CHIP_ID, firmware versions, LAUNCH_TCB and, in
// version 5, the mitigation vectors.
absl::Status ReadPlatformVersions(ByteReader& in, AttestationReport& r) {
  VOUCH_ASSIGN_OR_RETURN(r.chip_id, ReadArray<64>(in, "chip_id"));
  VOUCH_ASSIGN_OR_RETURN(r.committed_tcb.raw, in.U64Le("committed_tcb"));
  VOUCH_ASSIGN_OR_RETURN(r.current_build, in.U8("current_build"));
  VOUCH_ASSIGN_OR_RETURN(r.current_minor, in.U8("current_minor"));
  VOUCH_ASSIGN_OR_RETURN(r.current_major, in.U8("current_major"));
  VOUCH_RETURN_IF_ERROR(in.Reserved(1, "0x1EB"));
  VOUCH_ASSIGN_OR_RETURN(r.committed_build, in.U8("committed_build"));
  VOUCH_ASSIGN_OR_RETURN(r.committed_minor, in.U8("committed_minor"));
  VOUCH_ASSIGN_OR_RETURN(r.committed_major, in.U8("committed_major"));
  VOUCH_RETURN_IF_ERROR(in.Reserved(1, "0x1EF"));
  VOUCH_ASSIGN_OR_RETURN(r.launch_tcb.raw, in.U64Le("launch_tcb"));

  if (r.version < 5) {
    return in.Reserved(kSignedSize - 0x1F8, "0x1F8..0x29F");
  }
  VOUCH_ASSIGN_OR_RETURN(r.launch_mit_vector, in.U64Le("launch_mit_vector"));
  VOUCH_ASSIGN_OR_RETURN(r.current_mit_vector, in.U64Le("current_mit_vector"));
  return in.Reserved(kSignedSize - 0x208, "0x208..0x29F");
}

// Reads 0x2A0..0x49F: the ECDSA P-384 signature, R and S as 72-byte
// little-endian integers, then 368 reserved bytes.
absl::Status ReadSignature(ByteReader& in, AttestationReport& r) {
  VOUCH_ASSIGN_OR_RETURN(r.signature_r, ReadArray<kSignatureComponentSize>(in, "signature r"));
  VOUCH_ASSIGN_OR_RETURN(r.signature_s, ReadArray<kSignatureComponentSize>(in, "signature s"));
  const size_t reserved_start = in.offset();
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan reserved, in.Span(in.remaining(), "signature reserved"));
  for (size_t i = 0; i < reserved.size(); ++i) {
    if (reserved[i] != 0) {
      return InvalidArgumentf("snp report: signature reserved area 0x330..0x49F has byte {:#04x} "
                              "at {:#x}, want zero",
                              reserved[i], reserved_start + i);
    }
  }
  return in.ExpectEnd();
}

}  // namespace

std::string_view SigningKeyName(SigningKey key) {
  switch (key) {
    case SigningKey::kVcek:
      return "VCEK";
    case SigningKey::kVlek:
      return "VLEK";
    case SigningKey::kNone:
      return "none";
  }
  return "reserved";
}

TcbVersion TcbVersion::Decode(uint64_t raw, bool turin) {
  auto byte = [raw](int i) { return static_cast<uint8_t>(raw >> (8 * i)); };
  TcbVersion tcb;
  tcb.raw = raw;
  if (turin) {
    tcb.fmc = byte(0);
    tcb.boot_loader = byte(1);
    tcb.tee = byte(2);
    tcb.snp = byte(3);
  } else {
    tcb.boot_loader = byte(0);
    tcb.tee = byte(1);
    tcb.snp = byte(6);
  }
  tcb.microcode = byte(7);
  return tcb;
}

uint64_t TcbVersion::Encode(uint8_t boot_loader, uint8_t tee, uint8_t snp, uint8_t microcode,
                            uint8_t fmc, bool turin) {
  auto at = [](uint8_t value, int i) { return uint64_t{value} << (8 * i); };
  if (turin) {
    return at(fmc, 0) | at(boot_loader, 1) | at(tee, 2) | at(snp, 3) | at(microcode, 7);
  }
  return at(boot_loader, 0) | at(tee, 1) | at(snp, 6) | at(microcode, 7);
}

ByteSpan AttestationReport::hardware_id() const {
  return is_turin() ? ByteSpan(chip_id).first(8) : ByteSpan(chip_id);
}

absl::StatusOr<AttestationReport> ParseReport(ByteSpan data) {
  VOUCH_RETURN_IF_ERROR(CheckHeader(data));
  AttestationReport report;
  ByteReader in(data, kContext);
  VOUCH_RETURN_IF_ERROR(ReadPolicyAndPlatform(in, report));
  VOUCH_RETURN_IF_ERROR(ReadGuestData(in, report));
  VOUCH_RETURN_IF_ERROR(ReadPlatformVersions(in, report));
  VOUCH_RETURN_IF_ERROR(ReadSignature(in, report));

  // The TCB byte layout follows the product: Turin (CPUID family 0x1A, which
  // only version 3 and later reports carry) uses Table 4, others Table 3.
  const bool turin = report.is_turin();
  for (TcbVersion* tcb : {&report.current_tcb, &report.reported_tcb, &report.committed_tcb,
                          &report.launch_tcb}) {
    *tcb = TcbVersion::Decode(tcb->raw, turin);
  }
  report.raw.assign(data.begin(), data.end());
  return report;
}

namespace {

class ReportWriter {
 public:
  ReportWriter() : out_(kReportSize, 0) {}

  void Le(size_t offset, uint64_t value, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      out_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    }
  }
  void Put(size_t offset, ByteSpan bytes) { std::copy(bytes.begin(), bytes.end(), &out_[offset]); }
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

}  // namespace

Bytes SerializeReport(const AttestationReport& r) {
  ReportWriter w;
  w.Le(0x000, r.version, 4);
  w.Le(0x004, r.guest_svn, 4);
  w.Le(0x008, r.policy, 8);
  w.Put(0x010, r.family_id);
  w.Put(0x020, r.image_id);
  w.Le(0x030, r.vmpl, 4);
  w.Le(0x034, r.signature_algo, 4);
  w.Le(0x038, r.current_tcb.raw, 8);
  w.Le(0x040, r.platform_info, 8);

  const uint32_t key_info = (r.author_key_en ? 1U : 0U) | (r.mask_chip_key ? 2U : 0U) |
                            static_cast<uint32_t>(r.signing_key) << 2;
  w.Le(0x048, key_info, 4);

  w.Put(0x050, r.report_data);
  w.Put(0x090, r.measurement);
  w.Put(0x0C0, r.host_data);
  w.Put(0x0E0, r.id_key_digest);
  w.Put(0x110, r.author_key_digest);
  w.Put(0x140, r.report_id);
  w.Put(0x160, r.report_id_ma);
  w.Le(0x180, r.reported_tcb.raw, 8);

  if (r.version >= 3) {
    w.Le(0x188, r.cpuid_fam_id.value_or(0), 1);
    w.Le(0x189, r.cpuid_mod_id.value_or(0), 1);
    w.Le(0x18A, r.cpuid_step.value_or(0), 1);
  }

  w.Put(0x1A0, r.chip_id);
  w.Le(0x1E0, r.committed_tcb.raw, 8);
  w.Le(0x1E8, r.current_build, 1);
  w.Le(0x1E9, r.current_minor, 1);
  w.Le(0x1EA, r.current_major, 1);
  w.Le(0x1EC, r.committed_build, 1);
  w.Le(0x1ED, r.committed_minor, 1);
  w.Le(0x1EE, r.committed_major, 1);
  w.Le(0x1F0, r.launch_tcb.raw, 8);

  if (r.version >= 5) {
    w.Le(0x1F8, r.launch_mit_vector.value_or(0), 8);
    w.Le(0x200, r.current_mit_vector.value_or(0), 8);
  }

  w.Put(0x2A0, r.signature_r);
  w.Put(0x2A0 + kSignatureComponentSize, r.signature_s);
  return w.Take();
}

}  // namespace vouch::snp
