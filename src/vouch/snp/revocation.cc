#include "vouch/snp/revocation.h"

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "vouch/base/status.h"
#include "vouch/crypto/ssl_ptr.h"

namespace vouch::snp {
namespace {

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

bool IssuedBy(const crypto::Crl& crl, const crypto::Certificate& ark) {
  return X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ark.get())) == 0;
}

// CheckNotListed rejects `certificate` when `crl` lists its serial number.
absl::Status CheckNotListed(const crypto::Crl& crl, const crypto::Certificate& certificate,
                            std::string_view kind) {
  if (!crl.IsRevoked(certificate)) {
    return absl::OkStatus();
  }
  return Unauthenticatedf("snp revocation: the {} {} (serial {}) is revoked: the CRL of {} "
                          "(thisUpdate {}, nextUpdate {}) lists it",
                          kind, certificate.SubjectCommonName(),
                          HexEncode(crypto::SerialOf(certificate)), crl.IssuerCommonName(),
                          FormatUtc(crl.ThisUpdate()), FormatUtc(crl.NextUpdate()));
}

}  // namespace

std::string_view AmdCrlKeyKind(AmdCertKind leaf_kind) {
  return leaf_kind == AmdCertKind::kVlek ? "vlek" : "vcek";
}

absl::Status VerifyAmdCrl(const crypto::Crl& crl, const crypto::Certificate& ark, absl::Time now) {
  const absl::Status signature = crl.VerifySignedBy(ark);
  if (!signature.ok()) {
    crypto::ClearSslErrors();
    return Unauthenticatedf("snp revocation: signature: the CRL of {} does not verify under the "
                            "key of the pinned ARK {}: {}",
                            crl.Issuer(), ark.Subject(), signature.message());
  }
  const absl::Status dates = crl.CheckValidAt(now);
  if (!dates.ok()) {
    return Prefix("snp revocation: dates", dates);
  }
  return absl::OkStatus();
}

absl::Status CheckRevocation(const VerifiedChain& chain, const std::vector<crypto::Crl>& crls,
                             bool require_crl, absl::Time now) {
  const std::string_view intermediate_kind =
      chain.leaf_kind == AmdCertKind::kVlek ? "ASVK" : "ASK";
  size_t num_checked = 0;
  for (const crypto::Crl& crl : crls) {
    if (!IssuedBy(crl, chain.root)) {
      continue;
    }
    VOUCH_RETURN_IF_ERROR(VerifyAmdCrl(crl, chain.root, now));
    // Serial numbers are unique per issuer (RFC 5280 section 4.1.2.2), and
    // the ARK issues only the ASK and ASVK. The leaf's serial, assigned by
    // the ASK or ASVK, is not looked up in the ARK's CRL.
    VOUCH_RETURN_IF_ERROR(CheckNotListed(crl, chain.intermediate, intermediate_kind));
    ++num_checked;
  }
  if (num_checked == 0 && require_crl) {
    return FailedPreconditionf("snp revocation: a CRL is required, but none of the {} CRLs given "
                               "is issued by {} (the chain's ARK); supply AMD's CRL for product {}",
                               crls.size(), chain.root.SubjectCommonName(), chain.product);
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::Crl> IssueAmdCrl(const AmdCrlSpec& spec) {
  if (spec.ark == nullptr || spec.ark->empty() || spec.ark_key == nullptr) {
    return InvalidArgumentf("issue amd crl: the ARK certificate and key are required");
  }

  // crypto::IssueCrl builds the fields and signs with SHA-256. The copy is
  // then signed again with AMD's RSASSA-PSS SHA-384 parameters.
  crypto::CrlSpec base;
  base.issuer = spec.ark;
  base.issuer_key = spec.ark_key;
  base.this_update = spec.this_update;
  base.next_update = spec.next_update;
  base.revoked_serials = spec.revoked_serials;
  VOUCH_ASSIGN_OR_RETURN(const crypto::Crl unsigned_crl, crypto::IssueCrl(base));

  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_dup(unsigned_crl.get()),
                                                          &X509_CRL_free);
  crypto::SslPtr<EVP_MD_CTX> md_ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // Owned by md_ctx.
  if (!crl || !md_ctx ||
      EVP_DigestSignInit(md_ctx.get(), &pkey_ctx, EVP_sha384(), nullptr, spec.ark_key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_ctx, EVP_sha384()) != 1 ||
      X509_CRL_sign_ctx(crl.get(), md_ctx.get()) <= 0) {
    return crypto::SslError("issue amd crl: RSASSA-PSS SHA-384 signature failed");
  }

  unsigned char* der = nullptr;
  const int size = i2d_X509_CRL(crl.get(), &der);
  if (size <= 0) {
    return crypto::SslError("issue amd crl: DER encoding failed");
  }
  const Bytes out(der, der + size);
  OPENSSL_free(der);
  return crypto::Crl::Parse(out);
}

}  // namespace vouch::snp
