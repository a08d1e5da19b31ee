#include "vouch/dcap/quote.h"

#include <algorithm>
#include <utility>

#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"

namespace vouch::dcap {
namespace {

constexpr std::string_view kContext = "dcap quote";

uint64_t LoadU64Le(ByteSpan bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = v << 8 | bytes[static_cast<size_t>(i)];
  }
  return v;
}

template <size_t N>
absl::Status ReadArray(ByteReader& in, std::array<uint8_t, N>& out, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan bytes, in.Span(N, field));
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return absl::OkStatus();
}

// ReaderAt returns a reader over data[0, end) positioned at `begin`, so that
// its errors give offsets from the start of the quote while it cannot read
// past `end`. Callers guarantee begin <= end <= data.size().
ByteReader ReaderAt(ByteSpan data, size_t begin, size_t end) {
  ByteReader in(data.first(end), kContext);
  (void)in.Skip(begin, "(start)");
  return in;
}

absl::Status ReadSgxReportBody(ByteReader& in, SgxReportBody& body) {
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.cpu_svn, "cpu_svn"));
  VOUCH_ASSIGN_OR_RETURN(body.misc_select, in.U32Le("misc_select"));
  VOUCH_RETURN_IF_ERROR(in.Reserved(12, "reserved1"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.isv_ext_prod_id, "isv_ext_prod_id"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.attributes, "attributes"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_enclave, "mr_enclave"));
  VOUCH_RETURN_IF_ERROR(in.Reserved(32, "reserved2"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_signer, "mr_signer"));
  VOUCH_RETURN_IF_ERROR(in.Reserved(32, "reserved3"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.config_id, "config_id"));
  VOUCH_ASSIGN_OR_RETURN(body.isv_prod_id, in.U16Le("isv_prod_id"));
  VOUCH_ASSIGN_OR_RETURN(body.isv_svn, in.U16Le("isv_svn"));
  VOUCH_ASSIGN_OR_RETURN(body.config_svn, in.U16Le("config_svn"));
  VOUCH_RETURN_IF_ERROR(in.Reserved(42, "reserved4"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.isv_family_id, "isv_family_id"));
  return ReadArray(in, body.report_data, "report_data");
}

absl::Status ReadTdReportBody(ByteReader& in, BodyType type, TdReportBody& body) {
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.tee_tcb_svn, "tee_tcb_svn"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_seam, "mr_seam"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_signer_seam, "mr_signer_seam"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.seam_attributes, "seam_attributes"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.td_attributes, "td_attributes"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.xfam, "xfam"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_td, "mr_td"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_config_id, "mr_config_id"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_owner, "mr_owner"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.mr_owner_config, "mr_owner_config"));
  static constexpr std::string_view kRtmrNames[] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
  for (size_t i = 0; i < body.rtmr.size(); ++i) {
    VOUCH_RETURN_IF_ERROR(ReadArray(in, body.rtmr[i], kRtmrNames[i]));
  }
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.report_data, "report_data"));
  if (type != BodyType::kTdx15) {
    return absl::OkStatus();
  }
  VOUCH_RETURN_IF_ERROR(ReadArray(in, body.tee_tcb_svn2.emplace(), "tee_tcb_svn2"));
  return ReadArray(in, body.mr_service_td.emplace(), "mr_service_td");
}

size_t BodySize(BodyType type) {
  switch (type) {
    case BodyType::kSgx:
      return kSgxReportBodySize;
    case BodyType::kTdx10:
      return kTdx10ReportBodySize;
    case BodyType::kTdx15:
      return kTdx15ReportBodySize;
  }
  VOUCH_UNREACHABLE("BodySize");
}

// Header (TDX DCAP Quoting Library API, "Quote Header").
absl::Status ReadHeader(ByteReader& in, QuoteHeader& header) {
  VOUCH_ASSIGN_OR_RETURN(header.version, in.U16Le("version"));
  if (header.version < 3 || header.version > 5) {
    return InvalidArgumentf("{}: version {} at offset 0x0, want 3, 4 or 5", kContext,
                            header.version);
  }
  VOUCH_ASSIGN_OR_RETURN(header.attestation_key_type, in.U16Le("attestation_key_type"));
  if (header.attestation_key_type != kAttestationKeyTypeEcdsaP256) {
    return InvalidArgumentf("{}: attestation_key_type {} at offset 0x2, want {} (ECDSA-256 with "
                            "P-256)",
                            kContext, header.attestation_key_type, kAttestationKeyTypeEcdsaP256);
  }
  VOUCH_ASSIGN_OR_RETURN(const uint32_t tee_type, in.U32Le("tee_type"));
  const bool sgx = tee_type == kTeeTypeSgxValue;
  const bool tdx = tee_type == kTeeTypeTdxValue;
  if (header.version == 3 && !sgx) {
    return InvalidArgumentf("{}: tee_type {:#x} at offset 0x4, want 0 (version 3 is SGX only)",
                            kContext, tee_type);
  }
  if (!sgx && !tdx) {
    return InvalidArgumentf("{}: tee_type {:#x} at offset 0x4, want 0x0 (SGX) or 0x81 (TDX)",
                            kContext, tee_type);
  }
  header.tee_type = tdx ? TeeType::kTdx : TeeType::kSgx;
  if (header.version == 3) {
    VOUCH_ASSIGN_OR_RETURN(header.qe_svn, in.U16Le("qe_svn"));
    VOUCH_ASSIGN_OR_RETURN(header.pce_svn, in.U16Le("pce_svn"));
  } else {
    VOUCH_RETURN_IF_ERROR(in.Reserved(4, "reserved (header)"));
  }
  VOUCH_RETURN_IF_ERROR(ReadArray(in, header.qe_vendor_id, "qe_vendor_id"));
  if (header.qe_vendor_id != kIntelQeVendorId) {
    return InvalidArgumentf("{}: qe_vendor_id {} at offset 0xc, want Intel's {}", kContext,
                            HexEncode(header.qe_vendor_id), HexEncode(kIntelQeVendorId));
  }
  return ReadArray(in, header.user_data, "user_data");
}

// ReadBodyType returns the body type: from the v5 descriptor, checked
// against tee_type and its fixed size, or from tee_type for v3 and v4.
absl::StatusOr<BodyType> ReadBodyType(ByteReader& in, const QuoteHeader& header) {
  const bool tdx = header.tee_type == TeeType::kTdx;
  if (header.version < 5) {
    return tdx ? BodyType::kTdx10 : BodyType::kSgx;
  }
  VOUCH_ASSIGN_OR_RETURN(const uint16_t type, in.U16Le("body type"));
  const bool type_is_tdx = type == static_cast<uint16_t>(BodyType::kTdx10) ||
                           type == static_cast<uint16_t>(BodyType::kTdx15);
  const bool type_is_sgx = type == static_cast<uint16_t>(BodyType::kSgx);
  if ((tdx && !type_is_tdx) || (!tdx && !type_is_sgx)) {
    return InvalidArgumentf("{}: body type {} at offset 0x30, want {} for tee_type {}", kContext,
                            type, tdx ? "2 or 3" : "1", tdx ? "TDX" : "SGX");
  }
  const BodyType body_type = static_cast<BodyType>(type);
  VOUCH_ASSIGN_OR_RETURN(const uint32_t size, in.U32Le("body size"));
  if (size != BodySize(body_type)) {
    return InvalidArgumentf("{}: body size {} at offset 0x32, want {} for body type {}", kContext,
                            size, BodySize(body_type), type);
  }
  return body_type;
}

// CertificationDataHeader is the u16 type and u32 size before certification
// data; begin and end are the data's offsets in the quote.
struct CertificationDataHeader {
  uint16_t type = 0;
  size_t begin = 0;
  size_t end = 0;
};

absl::StatusOr<CertificationDataHeader> ReadCertificationDataHeader(ByteReader& in,
                                                                    std::string_view what) {
  CertificationDataHeader out;
  VOUCH_ASSIGN_OR_RETURN(out.type, in.U16Le(fmt::format("{} type", what)));
  const size_t size_offset = in.offset();
  VOUCH_ASSIGN_OR_RETURN(const uint32_t size, in.U32Le(fmt::format("{} size", what)));
  if (size > in.remaining()) {
    return InvalidArgumentf("{}: {} size {} at offset {:#x} exceeds the {} bytes left", kContext,
                            what, size, size_offset, in.remaining());
  }
  out.begin = in.offset();
  out.end = out.begin + size;
  return out;
}

absl::StatusOr<EncryptedPpid> ReadEncryptedPpid(ByteSpan data, const CertificationDataHeader& h) {
  ByteReader in = ReaderAt(data, h.begin, h.end);
  EncryptedPpid out;
  VOUCH_ASSIGN_OR_RETURN(out.encrypted_ppid, in.Copy(kEncryptedPpidSize, "encrypted_ppid"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, out.cpu_svn, "encrypted_ppid cpu_svn"));
  VOUCH_ASSIGN_OR_RETURN(out.pce_svn, in.U16Le("encrypted_ppid pce_svn"));
  VOUCH_ASSIGN_OR_RETURN(out.pce_id, in.U16Le("encrypted_ppid pce_id"));
  if (in.remaining() != 0) {
    return InvalidArgumentf("{}: certification data type 3 at offset {:#x} is {} bytes, want {}",
                            kContext, h.begin, h.end - h.begin, kEncryptedPpidSize + 20);
  }
  return out;
}

// ReadPckData reads certification data of type 5 or 3 into `qe`.
absl::Status ReadPckData(ByteSpan data, const CertificationDataHeader& h, QeCertification& qe) {
  switch (h.type) {
    case static_cast<uint16_t>(CertificationDataType::kPckCertChain): {
      qe.pck_data_type = CertificationDataType::kPckCertChain;
      const ByteSpan pem = data.subspan(h.begin, h.end - h.begin);
      if (pem.empty()) {
        return InvalidArgumentf("{}: certification data type 5 at offset {:#x} is empty, want the "
                                "PCK certificate chain",
                                kContext, h.begin);
      }
      qe.pck_chain_pem = ToString(pem);
      return absl::OkStatus();
    }
    case static_cast<uint16_t>(CertificationDataType::kEncryptedPpidRsa3072): {
      qe.pck_data_type = CertificationDataType::kEncryptedPpidRsa3072;
      VOUCH_ASSIGN_OR_RETURN(qe.encrypted_ppid, ReadEncryptedPpid(data, h));
      return absl::OkStatus();
    }
    default:
      return InvalidArgumentf("{}: PCK certification data type {} at offset {:#x}, want 5 (PCK "
                              "certificate chain) or 3 (encrypted PPID)",
                              kContext, h.type, h.begin - 6);
  }
}

// ReadQeReportAndAuth reads the QE report, its signature and the QE
// authentication data, which version 3 has inline and versions 4 and 5 have
// inside certification data type 6.
absl::Status ReadQeReportAndAuth(ByteReader& in, QeCertification& qe) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan report, in.Span(kSgxReportBodySize, "qe_report"));
  qe.qe_report_raw.assign(report.begin(), report.end());
  VOUCH_ASSIGN_OR_RETURN(qe.qe_report, ParseSgxReportBody(report, "dcap quote: qe_report"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, qe.qe_report_signature, "qe_report_signature"));
  VOUCH_ASSIGN_OR_RETURN(const uint16_t auth_size, in.U16Le("qe_auth_data size"));
  VOUCH_ASSIGN_OR_RETURN(qe.qe_auth_data, in.Copy(auth_size, "qe_auth_data"));
  return absl::OkStatus();
}

absl::Status ReadSignatureData(ByteSpan data, size_t begin, size_t end, Quote& quote) {
  ByteReader in = ReaderAt(data, begin, end);
  VOUCH_RETURN_IF_ERROR(ReadArray(in, quote.signature, "quote signature"));
  VOUCH_RETURN_IF_ERROR(ReadArray(in, quote.attestation_key, "attestation_key"));

  if (quote.header.version == 3) {
    VOUCH_RETURN_IF_ERROR(ReadQeReportAndAuth(in, quote.qe));
  }
  VOUCH_ASSIGN_OR_RETURN(const CertificationDataHeader outer,
                         ReadCertificationDataHeader(in, "certification data"));
  if (outer.end != end) {
    return InvalidArgumentf("{}: certification data ends at offset {:#x}, but the signature data "
                            "ends at {:#x}",
                            kContext, outer.end, end);
  }
  if (quote.header.version == 3) {
    if (outer.type == static_cast<uint16_t>(CertificationDataType::kQeReportCertificationData)) {
      return InvalidArgumentf("{}: certification data type 6 at offset {:#x} in a version 3 "
                              "quote, want 5 or 3",
                              kContext, outer.begin - 6);
    }
    quote.certification_data_type = static_cast<CertificationDataType>(outer.type);
    return ReadPckData(data, outer, quote.qe);
  }

  if (outer.type != static_cast<uint16_t>(CertificationDataType::kQeReportCertificationData)) {
    return InvalidArgumentf("{}: certification data type {} at offset {:#x}, want 6 (QE report "
                            "certification data) in a version {} quote",
                            kContext, outer.type, outer.begin - 6, quote.header.version);
  }
  quote.certification_data_type = CertificationDataType::kQeReportCertificationData;
  ByteReader nested = ReaderAt(data, outer.begin, outer.end);
  VOUCH_RETURN_IF_ERROR(ReadQeReportAndAuth(nested, quote.qe));
  VOUCH_ASSIGN_OR_RETURN(const CertificationDataHeader inner,
                         ReadCertificationDataHeader(nested, "nested certification data"));
  if (inner.end != outer.end) {
    return InvalidArgumentf("{}: nested certification data ends at offset {:#x}, but certification "
                            "data type 6 ends at {:#x}",
                            kContext, inner.end, outer.end);
  }
  return ReadPckData(data, inner, quote.qe);
}

}  // namespace

uint64_t SgxReportBody::attribute_flags() const {
  return LoadU64Le(ByteSpan(attributes).first(8));
}

uint64_t SgxReportBody::xfrm() const { return LoadU64Le(ByteSpan(attributes).subspan(8)); }

uint64_t TdReportBody::td_attribute_bits() const { return LoadU64Le(td_attributes); }

ByteSpan Quote::report_data() const {
  if (td_body.has_value()) {
    return td_body->report_data;
  }
  return sgx_body->report_data;
}

absl::StatusOr<SgxReportBody> ParseSgxReportBody(ByteSpan data, std::string_view context) {
  if (data.size() != kSgxReportBodySize) {
    return InvalidArgumentf("{}: {} bytes, want {}", context, data.size(), kSgxReportBodySize);
  }
  ByteReader in(data, context);
  SgxReportBody body;
  VOUCH_RETURN_IF_ERROR(ReadSgxReportBody(in, body));
  return body;
}

absl::StatusOr<Quote> ParseQuote(ByteSpan data) {
  if (data.size() > kMaxQuoteInputBytes) {
    return InvalidArgumentf("{}: {} bytes, the limit is {}", kContext, data.size(),
                            kMaxQuoteInputBytes);
  }
  ByteReader in(data, kContext);
  Quote quote;
  VOUCH_RETURN_IF_ERROR(ReadHeader(in, quote.header));
  VOUCH_ASSIGN_OR_RETURN(quote.body_type, ReadBodyType(in, quote.header));
  if (quote.body_type == BodyType::kSgx) {
    VOUCH_RETURN_IF_ERROR(ReadSgxReportBody(in, quote.sgx_body.emplace()));
  } else {
    VOUCH_RETURN_IF_ERROR(ReadTdReportBody(in, quote.body_type, quote.td_body.emplace()));
  }
  quote.signed_size = in.offset();

  const size_t size_offset = in.offset();
  VOUCH_ASSIGN_OR_RETURN(const uint32_t signature_size, in.U32Le("signature data size"));
  if (signature_size > in.remaining()) {
    return InvalidArgumentf("{}: signature data size {} at offset {:#x} exceeds the {} bytes left",
                            kContext, signature_size, size_offset, in.remaining());
  }
  const size_t begin = in.offset();
  const size_t end = begin + signature_size;
  VOUCH_RETURN_IF_ERROR(ReadSignatureData(data, begin, end, quote));

  quote.trailing_bytes = data.size() - end;
  quote.raw.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(end));
  return quote;
}

}  // namespace vouch::dcap
