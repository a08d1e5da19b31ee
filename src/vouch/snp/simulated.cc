#include "vouch/snp/simulated.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::snp {
namespace {

constexpr char kOrganization[] = "vouch simulated SEV-SNP (not AMD)";
constexpr int kRsaBits = 4096;
constexpr absl::Duration kClockSkew = absl::Hours(1);
constexpr absl::Duration kRootLifetime = absl::Hours(24 * 365 * 25);
constexpr absl::Duration kVcekLifetime = absl::Hours(24 * 365 * 7);

struct Asn1StringDeleter {
  void operator()(ASN1_STRING* s) const { ASN1_STRING_free(s); }
};
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Asn1StringDeleter>;

std::string PathIn(const std::string& dir, const char* name) {
  return (std::filesystem::path(dir) / name).string();
}

absl::StatusOr<Bytes> DerInteger(int64_t value) {
  Asn1StringPtr integer(ASN1_INTEGER_new());
  if (!integer || ASN1_INTEGER_set_int64(integer.get(), value) != 1) {
    return crypto::SslError("simulated snp: encode INTEGER");
  }
  const int size = i2d_ASN1_INTEGER(integer.get(), nullptr);
  if (size <= 0) {
    return crypto::SslError("simulated snp: encode INTEGER");
  }
  Bytes out(static_cast<size_t>(size));
  unsigned char* p = out.data();
  i2d_ASN1_INTEGER(integer.get(), &p);
  return out;
}

absl::StatusOr<Bytes> DerIa5String(std::string_view text) {
  Asn1StringPtr string(ASN1_IA5STRING_new());
  if (!string || ASN1_STRING_set(string.get(), text.data(), static_cast<int>(text.size())) != 1) {
    return crypto::SslError("simulated snp: encode IA5String");
  }
  const int size = i2d_ASN1_IA5STRING(string.get(), nullptr);
  if (size <= 0) {
    return crypto::SslError("simulated snp: encode IA5String");
  }
  Bytes out(static_cast<size_t>(size));
  unsigned char* p = out.data();
  i2d_ASN1_IA5STRING(string.get(), &p);
  return out;
}

// VcekExtensions returns AMD's VCEK extensions for the simulated TCB: the
// SPLs as DER INTEGERs, productName as an IA5String, and the raw 64-byte
// hwID, as AMD KDS writes them.
absl::StatusOr<std::vector<crypto::CertificateExtension>> VcekExtensions(ByteSpan chip_id) {
  std::vector<crypto::CertificateExtension> extensions;
  auto add_integer = [&](std::string_view oid, int64_t value) -> absl::Status {
    VOUCH_ASSIGN_OR_RETURN(Bytes der, DerInteger(value));
    extensions.push_back({std::string(oid), std::move(der)});
    return absl::OkStatus();
  };
  VOUCH_RETURN_IF_ERROR(add_integer(kOidStructVersion, 1));
  VOUCH_ASSIGN_OR_RETURN(Bytes product, DerIa5String("Simulated"));
  extensions.push_back({std::string(kOidProductName), std::move(product)});
  VOUCH_RETURN_IF_ERROR(add_integer(kOidBootLoaderSpl, kSimulatedBootLoaderSpl));
  VOUCH_RETURN_IF_ERROR(add_integer(kOidTeeSpl, kSimulatedTeeSpl));
  VOUCH_RETURN_IF_ERROR(add_integer(kOidSnpSpl, kSimulatedSnpSpl));
  VOUCH_RETURN_IF_ERROR(add_integer(kOidMicrocodeSpl, kSimulatedMicrocodeSpl));
  extensions.push_back({std::string(kOidHardwareId), Bytes(chip_id.begin(), chip_id.end())});
  return extensions;
}

absl::Status WriteKey(const std::string& path, EVP_PKEY* key) {
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, crypto::PrivateKeyToPem(key));
  return WriteFileAtomic(path, pem.Expose(), 0600);
}

absl::Status WriteCertificate(const std::string& path, const crypto::Certificate& certificate) {
  return WriteFileAtomic(path, AsBytes(certificate.Pem()), 0644);
}

absl::StatusOr<crypto::Certificate> LoadCertificate(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(path, crypto::kMaxCertificateInputBytes));
  VOUCH_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> certificates,
                         crypto::ParseCertificates(data));
  if (certificates.size() != 1) {
    return InvalidArgumentf("simulated snp: {} holds {} certificates, want 1", path,
                            certificates.size());
  }
  return std::move(certificates.front());
}

// PrepareFolder creates `dir` with mode 0700 (or tightens an existing one).
absl::Status PrepareFolder(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return FailedPreconditionf("simulated snp: create folder {}: {}", dir, error.message());
  }
  if (chmod(dir.c_str(), 0700) != 0) {
    return FailedPreconditionf("simulated snp: chmod 0700 {}: {}", dir, std::strerror(errno));
  }
  return absl::OkStatus();
}

// CreateChain makes the ARK, ASK and VCEK with their keys and writes them to `dir`.
absl::Status CreateChain(const std::string& dir) {
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> ark_key, crypto::GenerateRsaKey(kRsaBits));
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> ask_key, crypto::GenerateRsaKey(kRsaBits));
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> vcek_key, crypto::GenerateEcKey("P-384"));
  const Bytes chip_id = crypto::RandomBytes(64);
  const absl::Time now = absl::Now();

  crypto::CertificateSpec spec;
  spec.organization = kOrganization;
  spec.signature = crypto::SignatureScheme::kRsaPssSha384;
  spec.not_before = now - kClockSkew;
  spec.not_after = now + kRootLifetime;
  spec.is_ca = true;

  spec.common_name = "ARK-Simulated";
  spec.subject_key = ark_key.get();
  spec.issuer_key = ark_key.get();
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate ark, crypto::IssueCertificate(spec));

  spec.common_name = "SEV-Simulated";
  spec.issuer = ark;
  spec.subject_key = ask_key.get();
  spec.issuer_key = ark_key.get();
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate ask, crypto::IssueCertificate(spec));

  spec.common_name = "SEV-VCEK";
  spec.issuer = ask;
  spec.subject_key = vcek_key.get();
  spec.issuer_key = ask_key.get();
  spec.is_ca = false;
  spec.not_after = now + kVcekLifetime;
  VOUCH_ASSIGN_OR_RETURN(spec.extensions, VcekExtensions(chip_id));
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate vcek, crypto::IssueCertificate(spec));

  // vcek.pem goes last: its presence marks a complete set.
  VOUCH_RETURN_IF_ERROR(WriteKey(PathIn(dir, kSimulatedArkKeyFile), ark_key.get()));
  VOUCH_RETURN_IF_ERROR(WriteKey(PathIn(dir, kSimulatedAskKeyFile), ask_key.get()));
  VOUCH_RETURN_IF_ERROR(WriteKey(PathIn(dir, kSimulatedVcekKeyFile), vcek_key.get()));
  VOUCH_RETURN_IF_ERROR(WriteCertificate(PathIn(dir, kSimulatedArkFile), ark));
  VOUCH_RETURN_IF_ERROR(WriteCertificate(PathIn(dir, kSimulatedAskFile), ask));
  return WriteCertificate(PathIn(dir, kSimulatedVcekFile), vcek);
}

}  // namespace

std::array<uint8_t, 48> SimulatedSnp::SimulatedMeasurement() {
  const Bytes digest = crypto::Sha384(AsBytes("vouch simulated SEV-SNP guest"));
  std::array<uint8_t, 48> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

absl::StatusOr<SimulatedSnp> SimulatedSnp::LoadOrCreate(const std::string& dir) {
  VOUCH_RETURN_IF_ERROR(PrepareFolder(dir));

  // Serialize creation across processes (the server and the agent of a demo
  // may start together) with an exclusive lock on a file in the folder.
  const std::string lock_path = PathIn(dir, ".lock");
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return FailedPreconditionf("simulated snp: open {}: {}", lock_path, std::strerror(errno));
  }
  absl::Cleanup close_lock = [lock_fd] { close(lock_fd); };
  if (flock(lock_fd, LOCK_EX) != 0) {
    return FailedPreconditionf("simulated snp: lock {}: {}", lock_path, std::strerror(errno));
  }

  SimulatedSnp snp;
  std::error_code error;
  if (!std::filesystem::exists(PathIn(dir, kSimulatedVcekFile), error)) {
    VOUCH_RETURN_IF_ERROR(CreateChain(dir));
  }
  VOUCH_RETURN_IF_ERROR(snp.Load(dir));
  return snp;
}

absl::Status SimulatedSnp::Load(const std::string& dir) {
  VOUCH_ASSIGN_OR_RETURN(ark_, LoadCertificate(PathIn(dir, kSimulatedArkFile)));
  VOUCH_ASSIGN_OR_RETURN(ask_, LoadCertificate(PathIn(dir, kSimulatedAskFile)));
  VOUCH_ASSIGN_OR_RETURN(vcek_, LoadCertificate(PathIn(dir, kSimulatedVcekFile)));

  const std::string key_path = PathIn(dir, kSimulatedVcekKeyFile);
  VOUCH_ASSIGN_OR_RETURN(const Bytes key_pem, ReadFile(key_path, crypto::kMaxKeyInputBytes));
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> key, crypto::PrivateKeyFromPem(key_pem));
  if (EVP_PKEY_eq(key.get(), vcek_.PublicKey()) != 1) {
    crypto::ClearSslErrors();
    return FailedPreconditionf("simulated snp: {} does not match the key of {}; remove the folder "
                               "{} to make a new chain",
                               key_path, kSimulatedVcekFile, dir);
  }
  vcek_key_ = std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);

  VOUCH_ASSIGN_OR_RETURN(const EndorsementKeyExtensions ext, ReadEndorsementKeyExtensions(vcek_));
  if (!ext.hardware_id || ext.hardware_id->size() != chip_id_.size()) {
    return FailedPreconditionf("simulated snp: {} has no 64-byte hwID extension",
                               kSimulatedVcekFile);
  }
  std::copy(ext.hardware_id->begin(), ext.hardware_id->end(), chip_id_.begin());
  tcb_raw_ = TcbVersion::Encode(ext.boot_loader_spl, ext.tee_spl, ext.snp_spl, ext.microcode_spl,
                                0, /*turin=*/false);
  return absl::OkStatus();
}

absl::StatusOr<Bytes> SimulatedSnp::GetReport(ByteSpan report_data, uint32_t vmpl) const {
  if (report_data.size() != 64) {
    return InvalidArgumentf("simulated snp: report_data has {} bytes, want 64", report_data.size());
  }
  if (vmpl > 3) {
    return InvalidArgumentf("simulated snp: vmpl {}, want 0 to 3", vmpl);
  }

  AttestationReport report;
  report.version = 3;
  report.guest_svn = 0;
  report.policy = 0x30000;  // SMT allowed, reserved bit 17 set, debug off
  report.vmpl = vmpl;
  report.signature_algo = kEcdsaP384Sha384;
  report.platform_info = 0x1;  // SMT enabled
  report.signing_key = SigningKey::kVcek;
  std::copy(report_data.begin(), report_data.end(), report.report_data.begin());
  report.measurement = SimulatedMeasurement();
  const Bytes report_id = crypto::Sha256(chip_id_);
  std::copy(report_id.begin(), report_id.end(), report.report_id.begin());
  report.current_tcb.raw = tcb_raw_;
  report.reported_tcb.raw = tcb_raw_;
  report.committed_tcb.raw = tcb_raw_;
  report.launch_tcb.raw = tcb_raw_;
  report.cpuid_fam_id = kZen3Zen4CpuidFamily;  // a Milan CPUID: family 19h, model 01h
  report.cpuid_mod_id = 0x01;
  report.cpuid_step = 0x01;
  report.chip_id = chip_id_;
  report.current_major = report.committed_major = 1;
  report.current_minor = report.committed_minor = 55;

  Bytes bytes = SerializeReport(report);
  VOUCH_ASSIGN_OR_RETURN(
      const Bytes rs,
      crypto::SignEcdsaRaw(vcek_key_.get(), crypto::HashAlg::kSha384,
                           ByteSpan(bytes).first(kSignedSize)));
  if (rs.size() != 96) {
    return Internalf("simulated snp: signature has {} bytes, want 96", rs.size());
  }
  // R and S go in as 72-byte little-endian integers (ECDSA signature format).
  std::reverse_copy(rs.begin(), rs.begin() + 48, bytes.begin() + kSignedSize);
  std::reverse_copy(rs.begin() + 48, rs.end(),
                    bytes.begin() + kSignedSize + kSignatureComponentSize);
  return bytes;
}

std::vector<crypto::Certificate> SimulatedSnp::Certificates() const {
  return {vcek_, ask_, ark_};
}

TrustedRoot SimulatedSnp::Root() const {
  return TrustedRoot{std::string(kSimulatedProduct), ark_.SpkiSha256()};
}

}  // namespace vouch::snp
