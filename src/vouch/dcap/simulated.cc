#include "vouch/dcap/simulated.h"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"
#include "vouch/dcap/pck.h"
#include "vouch/dcap/tcb_info.h"

namespace vouch::dcap {
namespace {

constexpr char kRootFile[] = "root.pem";
constexpr char kRootKeyFile[] = "root-key.pem";
constexpr char kCaFile[] = "pck-ca.pem";
constexpr char kCaKeyFile[] = "pck-ca-key.pem";
constexpr char kPckFile[] = "pck.pem";
constexpr char kPckKeyFile[] = "pck-key.pem";
constexpr char kTcbSigningFile[] = "tcb-signing.pem";
constexpr char kTcbSigningKeyFile[] = "tcb-signing-key.pem";

// TCB of the simulated platform. TEE_TCB_SVN[1] is zero (TDX module 1.0), so
// the evaluation compares all 16 TDX components and needs no module identity.
constexpr uint16_t kPceSvn = 13;
constexpr std::array<uint8_t, 16> kTeeTcbSvn = {3, 0, 5, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0, 0, 0, 0};
// The simulated TD quoting enclave, as its QE identity lists it.
constexpr uint16_t kQeIsvProdId = 2;
constexpr uint16_t kQeIsvSvn = 4;
constexpr uint8_t kQeAttributesFlags = 0x11;  // INIT | PROVISIONKEY
constexpr uint32_t kTcbEvaluationDataNumber = 17;
// The simulated SGX quoting enclave, as its QE identity lists it. Intel's
// SGX QE has ISVPRODID 1 and its TD QE 2, so the two identities differ here
// as they do on real platforms.
constexpr uint16_t kSgxQeIsvProdId = 1;
constexpr uint16_t kSgxQeIsvSvn = 8;
// ATTRIBUTES of the simulated enclave: FLAGS INIT | MODE64BIT (DEBUG clear),
// XFRM x87 | SSE.
constexpr uint64_t kEnclaveAttributeFlags = 0x05;
constexpr uint64_t kEnclaveXfrm = 0x03;
constexpr char kTcbDate[] = "2024-03-13T00:00:00Z";

Bytes QeMrSigner() { return crypto::Sha256(AsBytes("vouch simulated TD quoting enclave")); }
Bytes SgxQeMrSigner() { return crypto::Sha256(AsBytes("vouch simulated SGX quoting enclave")); }

std::string UpperHex(ByteSpan bytes) { return absl::AsciiStrToUpper(HexEncode(bytes)); }

void PutLe(Bytes& out, size_t offset, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    out[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

absl::StatusOr<crypto::Certificate> ReadCertificate(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes pem, ReadFile(path, 1 << 20));
  VOUCH_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> certificates,
                         crypto::ParseCertificates(pem));
  if (certificates.size() != 1) {
    return InvalidArgumentf("{}: want one certificate, found {}", path, certificates.size());
  }
  return certificates.front();
}

absl::StatusOr<crypto::SslPtr<EVP_PKEY>> ReadKey(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes pem, ReadFile(path, 1 << 20));
  return crypto::PrivateKeyFromPem(pem);
}

absl::Status WriteKey(const std::string& path, EVP_PKEY* key) {
  VOUCH_ASSIGN_OR_RETURN(const SecretBytes pem, crypto::PrivateKeyToPem(key));
  return WriteFileAtomic(path, pem.Expose(), 0600);
}

absl::Status WriteCertificate(const std::string& path, const crypto::Certificate& certificate) {
  return WriteFileAtomic(path, AsBytes(certificate.Pem()));
}

// CreateIn writes a fresh PKI into `dir`.
absl::Status CreateIn(const std::string& dir) {
  testing::TestPckOptions options;
  std::copy(kSimulatedFmspc.begin(), kSimulatedFmspc.end(), options.fmspc.begin());
  options.pce_svn = kPceSvn;
  VOUCH_ASSIGN_OR_RETURN(const testing::TestPckChain chain, testing::MakeTestPckChain(options));
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> signing_key, crypto::GenerateEcKey("P-256"));

  crypto::CertificateSpec spec;
  spec.common_name = std::string(kTcbSigningCommonName);
  spec.organization = "Intel Corporation";
  spec.locality = "Santa Clara";
  spec.state = "CA";
  spec.country = "US";
  spec.issuer = chain.root;
  spec.subject_key = signing_key.get();
  spec.issuer_key = chain.root_key.get();
  spec.not_before = options.not_before - absl::Hours(24 * 365);
  spec.not_after = options.not_after + absl::Hours(24 * 365);
  spec.signature = crypto::SignatureScheme::kEcdsaSha256;
  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate signing, crypto::IssueCertificate(spec));

  VOUCH_RETURN_IF_ERROR(WriteKey(dir + "/" + kRootKeyFile, chain.root_key.get()));
  VOUCH_RETURN_IF_ERROR(WriteKey(dir + "/" + kCaKeyFile, chain.ca_key.get()));
  VOUCH_RETURN_IF_ERROR(WriteKey(dir + "/" + kPckKeyFile, chain.pck_key.get()));
  VOUCH_RETURN_IF_ERROR(WriteKey(dir + "/" + kTcbSigningKeyFile, signing_key.get()));
  VOUCH_RETURN_IF_ERROR(WriteCertificate(dir + "/" + kRootFile, chain.root));
  VOUCH_RETURN_IF_ERROR(WriteCertificate(dir + "/" + kCaFile, chain.ca));
  VOUCH_RETURN_IF_ERROR(WriteCertificate(dir + "/" + kTcbSigningFile, signing));
  return WriteCertificate(dir + "/" + kPckFile, chain.pck);
}

// SignDocument returns {"<body_key>":<body>,"signature":"<hex r||s>"}, the
// shape of Intel's TCB info and QE identity responses.
absl::StatusOr<std::string> SignDocument(std::string_view body_key, const nlohmann::json& body,
                                         EVP_PKEY* key) {
  const std::string text = body.dump();
  VOUCH_ASSIGN_OR_RETURN(const Bytes signature,
                         crypto::SignEcdsaRaw(key, crypto::HashAlg::kSha256, AsBytes(text)));
  return "{\"" + std::string(body_key) + "\":" + text + ",\"signature\":\"" +
         HexEncode(signature) + "\"}";
}

nlohmann::json SvnList(ByteSpan svns) {
  nlohmann::json list = nlohmann::json::array();
  for (const uint8_t svn : svns) {
    list.push_back({{"svn", svn}});
  }
  return list;
}

absl::Status CheckQuoteRequest(ByteSpan report_data, CertificationDataType pck_data) {
  if (pck_data != CertificationDataType::kPckCertChain &&
      pck_data != CertificationDataType::kEncryptedPpidRsa3072) {
    return InvalidArgumentf("simulated dcap quote: certification data type {}, want 5 or 3",
                            static_cast<int>(pck_data));
  }
  if (report_data.size() != 64) {
    return InvalidArgumentf("simulated dcap quote: report data is {} bytes, want 64",
                            report_data.size());
  }
  return absl::OkStatus();
}

// QeReport returns the report body of a quoting enclave with `mr_signer`,
// ISVPRODID `prod_id` and ISVSVN `svn`. BuildQuote fills in its report data.
Bytes QeReport(ByteSpan mr_signer, uint16_t prod_id, uint16_t svn) {
  Bytes report(kSgxReportBodySize, 0);
  report[48] = kQeAttributesFlags;
  std::copy(mr_signer.begin(), mr_signer.end(), report.begin() + 128);
  PutLe(report, 256, prod_id, 2);
  PutLe(report, 258, svn, 2);
  return report;
}

// TcbInfoJson returns the body of the TCB info for the simulated FMSPC and
// `tee_type`, with one UpToDate level that matches the simulated PCK
// certificate (and, for TDX, kTeeTcbSvn).
nlohmann::json TcbInfoJson(TeeType tee_type, absl::Time issued, absl::Time next_update) {
  const std::array<uint8_t, 16> sgx_components{};
  nlohmann::json tcb = {{"sgxtcbcomponents", SvnList(sgx_components)}, {"pcesvn", kPceSvn}};
  if (tee_type == TeeType::kTdx) {
    tcb["tdxtcbcomponents"] = SvnList(kTeeTcbSvn);
  }
  const nlohmann::json tcb_level = {{"tcb", tcb}, {"tcbDate", kTcbDate}, {"tcbStatus", "UpToDate"}};
  nlohmann::json tcb_info = {{"id", std::string(TeeTypeName(tee_type))},
                             {"version", 3},
                             {"issueDate", FormatRfc3339(issued)},
                             {"nextUpdate", FormatRfc3339(next_update)},
                             {"fmspc", UpperHex(kSimulatedFmspc)},
                             {"pceId", "0000"},
                             {"tcbType", 0},
                             {"tcbEvaluationDataNumber", kTcbEvaluationDataNumber},
                             {"tcbLevels", nlohmann::json::array({tcb_level})}};
  if (tee_type == TeeType::kTdx) {
    tcb_info["tdxModule"] = {{"mrsigner", std::string(96, '0')},
                             {"attributes", "0000000000000000"},
                             {"attributesMask", "FFFFFFFFFFFFFFFF"}};
  }
  return tcb_info;
}

// QeIdentityJson returns the body of the identity of the simulated quoting
// enclave for `tee_type`: "TD_QE" for TDX, "QE" for SGX.
nlohmann::json QeIdentityJson(TeeType tee_type, absl::Time issued, absl::Time next_update) {
  const bool tdx = tee_type == TeeType::kTdx;
  return {{"id", tdx ? "TD_QE" : "QE"},
          {"version", 2},
          {"issueDate", FormatRfc3339(issued)},
          {"nextUpdate", FormatRfc3339(next_update)},
          {"tcbEvaluationDataNumber", kTcbEvaluationDataNumber},
          {"miscselect", "00000000"},
          {"miscselectMask", "FFFFFFFF"},
          {"attributes", "11000000000000000000000000000000"},
          {"attributesMask", "FBFFFFFFFFFFFFFF0000000000000000"},
          {"mrsigner", UpperHex(tdx ? QeMrSigner() : SgxQeMrSigner())},
          {"isvprodid", tdx ? kQeIsvProdId : kSgxQeIsvProdId},
          {"tcbLevels", nlohmann::json::array({{{"tcb", {{"isvsvn", tdx ? kQeIsvSvn : kSgxQeIsvSvn}}},
                                                {"tcbDate", kTcbDate},
                                                {"tcbStatus", "UpToDate"}}})}};
}

std::array<uint8_t, 32> Sha256Array(std::string_view text) {
  const Bytes digest = crypto::Sha256(AsBytes(text));
  std::array<uint8_t, 32> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

}  // namespace

std::array<uint8_t, 32> SimulatedTdx::SimulatedMrEnclave() {
  return Sha256Array("vouch simulated SGX enclave");
}

std::array<uint8_t, 32> SimulatedTdx::SimulatedMrSigner() {
  return Sha256Array("vouch simulated SGX enclave signer");
}

std::array<uint8_t, 48> SimulatedTdx::SimulatedMrTd() {
  const Bytes digest = crypto::Hash(crypto::HashAlg::kSha384, AsBytes("vouch simulated TDX guest"));
  std::array<uint8_t, 48> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

absl::StatusOr<SimulatedTdx> SimulatedTdx::LoadOrCreate(const std::string& dir) {
  SimulatedTdx out;
  std::error_code error;
  if (!std::filesystem::exists(dir + "/" + kPckFile, error)) {
    const std::string staging = dir + ".creating-" + std::to_string(getpid());
    std::filesystem::remove_all(staging, error);
    std::filesystem::create_directories(staging, error);
    if (error) {
      return Internalf("simulated tdx: cannot create {}: {}", staging, error.message());
    }
    std::filesystem::permissions(staging, std::filesystem::perms::owner_all, error);
    const absl::Status created = CreateIn(staging);
    if (!created.ok()) {
      std::filesystem::remove_all(staging, error);
      return Prefix("simulated tdx: create", created);
    }
    // Renaming over a missing or empty folder succeeds. When another process
    // created the PKI first, the rename fails and its PKI is loaded below.
    std::filesystem::rename(staging, dir, error);
    if (error) {
      std::filesystem::remove_all(staging, error);
    }
  }
  VOUCH_RETURN_IF_ERROR(out.Load(dir));
  return out;
}

absl::Status SimulatedTdx::Load(const std::string& dir) {
  auto chain = std::make_shared<testing::TestPckChain>();
  const std::string base = dir + "/";
  VOUCH_ASSIGN_OR_RETURN(chain->root, ReadCertificate(base + kRootFile));
  VOUCH_ASSIGN_OR_RETURN(chain->ca, ReadCertificate(base + kCaFile));
  VOUCH_ASSIGN_OR_RETURN(chain->pck, ReadCertificate(base + kPckFile));
  VOUCH_ASSIGN_OR_RETURN(chain->root_key, ReadKey(base + kRootKeyFile));
  VOUCH_ASSIGN_OR_RETURN(chain->ca_key, ReadKey(base + kCaKeyFile));
  VOUCH_ASSIGN_OR_RETURN(chain->pck_key, ReadKey(base + kPckKeyFile));
  VOUCH_ASSIGN_OR_RETURN(tcb_signing_, ReadCertificate(base + kTcbSigningFile));
  VOUCH_ASSIGN_OR_RETURN(crypto::SslPtr<EVP_PKEY> signing_key, ReadKey(base + kTcbSigningKeyFile));
  tcb_signing_key_ = std::shared_ptr<EVP_PKEY>(signing_key.release(), EVP_PKEY_free);
  chain_ = std::move(chain);
  return absl::OkStatus();
}

absl::StatusOr<Bytes> SimulatedTdx::GetQuote(ByteSpan report_data,
                                             CertificationDataType pck_data) const {
  VOUCH_RETURN_IF_ERROR(CheckQuoteRequest(report_data, pck_data));
  testing::QuoteSpec spec;
  spec.version = 4;
  spec.tee_type = kTeeTypeTdxValue;
  // TD report body (TDX 1.0): TEE_TCB_SVN, MRTD, TD ATTRIBUTES and report
  // data; MRSEAM, MRSIGNERSEAM, the other measurements and RTMRs stay zero.
  spec.pck_data_type = static_cast<uint16_t>(pck_data);
  spec.body = Bytes(kTdx10ReportBodySize, 0);
  std::copy(kTeeTcbSvn.begin(), kTeeTcbSvn.end(), spec.body.begin());
  PutLe(spec.body, 120, kTdAttributeSeptVeDisable, 8);
  PutLe(spec.body, 128, 0x00000000000618e7, 8);  // XFAM of a typical Linux TD
  const std::array<uint8_t, 48> mr_td = SimulatedMrTd();
  std::copy(mr_td.begin(), mr_td.end(), spec.body.begin() + 136);
  std::copy(report_data.begin(), report_data.end(), spec.body.begin() + 520);

  // QE report: the identity that Collateral's QE identity lists.
  spec.qe_report = QeReport(QeMrSigner(), kQeIsvProdId, kQeIsvSvn);

  VOUCH_ASSIGN_OR_RETURN(testing::BuiltQuote built, testing::BuildQuote(spec, *chain_));
  return std::move(built.quote);
}

absl::StatusOr<Bytes> SimulatedTdx::GetSgxQuote(ByteSpan report_data,
                                                CertificationDataType pck_data) const {
  VOUCH_RETURN_IF_ERROR(CheckQuoteRequest(report_data, pck_data));
  // NOTE: tests verify SGX quotes with the PCK chain (type 5) only. No test
  // has verified one with an encrypted PPID (type 3) yet.
  testing::QuoteSpec spec;
  spec.version = 3;
  spec.tee_type = kTeeTypeSgxValue;
  spec.pck_data_type = static_cast<uint16_t>(pck_data);
  // Enclave report body (SGX REPORTBODY): ATTRIBUTES at 48, MRENCLAVE at 64,
  // MRSIGNER at 128, ISVPRODID at 256, ISVSVN at 258, REPORTDATA at 320.
  // CPUSVN, MISCSELECT, CONFIGID, CONFIGSVN and the extended ids stay zero.
  spec.body = Bytes(kSgxReportBodySize, 0);
  PutLe(spec.body, 48, kEnclaveAttributeFlags, 8);
  PutLe(spec.body, 56, kEnclaveXfrm, 8);
  const std::array<uint8_t, 32> mr_enclave = SimulatedMrEnclave();
  std::copy(mr_enclave.begin(), mr_enclave.end(), spec.body.begin() + 64);
  const std::array<uint8_t, 32> mr_signer = SimulatedMrSigner();
  std::copy(mr_signer.begin(), mr_signer.end(), spec.body.begin() + 128);
  PutLe(spec.body, 256, kSimulatedEnclaveProdId, 2);
  PutLe(spec.body, 258, kSimulatedEnclaveSvn, 2);
  std::copy(report_data.begin(), report_data.end(), spec.body.begin() + 320);

  spec.qe_report = QeReport(SgxQeMrSigner(), kSgxQeIsvProdId, kSgxQeIsvSvn);

  VOUCH_ASSIGN_OR_RETURN(testing::BuiltQuote built, testing::BuildQuote(spec, *chain_));
  return std::move(built.quote);
}

absl::StatusOr<QuoteCollateral> SimulatedTdx::Collateral(absl::Time now) const {
  return Collateral(now, TeeType::kTdx);
}

absl::StatusOr<QuoteCollateral> SimulatedTdx::Collateral(absl::Time now, TeeType tee_type) const {
  const absl::Time issued = now - absl::Hours(1);
  const absl::Time next_update = issued + kSimulatedCollateralLifetime;

  QuoteCollateral out;
  VOUCH_ASSIGN_OR_RETURN(out.tcb_info_json,
                         SignDocument("tcbInfo", TcbInfoJson(tee_type, issued, next_update),
                                      tcb_signing_key_.get()));
  VOUCH_ASSIGN_OR_RETURN(out.qe_identity_json,
                         SignDocument("enclaveIdentity",
                                      QeIdentityJson(tee_type, issued, next_update),
                                      tcb_signing_key_.get()));
  out.tcb_info_issuer_chain = {tcb_signing_, chain_->root};
  out.qe_identity_issuer_chain = {tcb_signing_, chain_->root};
  out.pck_crl_issuer_chain = {chain_->ca, chain_->root};
  out.intel_certificates = {chain_->root, tcb_signing_};

  crypto::CrlSpec crl;
  crl.this_update = issued;
  crl.next_update = next_update;
  crl.issuer = &chain_->root;
  crl.issuer_key = chain_->root_key.get();
  VOUCH_ASSIGN_OR_RETURN(const crypto::Crl root_crl, crypto::IssueCrl(crl));
  out.root_ca_crl = root_crl.Der();
  crl.issuer = &chain_->ca;
  crl.issuer_key = chain_->ca_key.get();
  VOUCH_ASSIGN_OR_RETURN(const crypto::Crl pck_crl, crypto::IssueCrl(crl));
  out.pck_crl = pck_crl.Der();
  return out;
}

std::vector<crypto::Certificate> SimulatedTdx::PckCertificates() const {
  return chain_->Certificates();
}

VerifyOptions SimulatedTdx::VerifyOptionsAt(absl::Time now) const {
  VerifyOptions options;
  options.now = now;
  options.trusted_root_spki_sha256 = {RootSpkiSha256()};
  options.tcb.trusted_root_spki_sha256 = {RootSpkiSha256()};
  return options;
}

}  // namespace vouch::dcap
