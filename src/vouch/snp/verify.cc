#include "vouch/snp/verify.h"

#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/keys.h"
#include "vouch/snp/chain_cache.h"
#include "vouch/snp/revocation.h"

namespace vouch::snp {
namespace {

std::vector<AmdCertificate> ClassifyAll(const std::vector<crypto::Certificate>& certificates) {
  std::vector<AmdCertificate> out;
  for (const crypto::Certificate& certificate : certificates) {
    absl::StatusOr<AmdCertificate> classified = ClassifyAmdCertificate(certificate);
    if (classified.ok()) {
      out.push_back(*std::move(classified));
    }
  }
  return out;
}

bool SameProduct(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AbslView(a), AbslView(b));
}

constexpr int kAmdCaRsaBits = 4096;

// FoundIssuer is FindIssuer's choice. link_verified is true when the
// issuer's key verified the child's signature, so the caller need not
// verify that link again.
struct FoundIssuer {
  AmdCertificate issuer;
  bool link_verified = false;
};

// FindIssuer picks the certificate of kind `want` whose subject name is
// `child`'s issuer name. Among several, it prefers one whose key verifies
// `child`. When none verifies it returns the first, unverified, and the
// caller's CheckLink reports the failed link. A certificate with the right
// name but the wrong kind (a VLEK under an ASK) is rejected.
absl::StatusOr<FoundIssuer> FindIssuer(const crypto::Certificate& child,
                                          std::string_view child_kind, AmdCertKind want,
                                          const std::vector<AmdCertificate>& pool) {
  const std::string issuer_name = child.Issuer();
  // The same name test as ChainCacheKey, so a cached chain and a verified
  // one always pick the same issuers.
  const X509_NAME* issuer = X509_get_issuer_name(child.get());
  std::vector<const AmdCertificate*> named;
  std::vector<const AmdCertificate*> candidates;
  for (const AmdCertificate& c : pool) {
    if (X509_NAME_cmp(X509_get_subject_name(c.certificate.get()), issuer) != 0) {
      continue;
    }
    named.push_back(&c);
    if (c.kind == want) {
      candidates.push_back(&c);
    }
  }
  if (candidates.empty() && !named.empty()) {
    return Unauthenticatedf("snp chain: the {} is issued by an {} ({}), want an {}", child_kind,
                            AmdCertKindName(named.front()->kind), issuer_name,
                            AmdCertKindName(want));
  }
  if (candidates.empty()) {
    return FailedPreconditionf("snp chain: no {} certificate with subject {} (the {}'s issuer) "
                               "among the {} AMD certificates given",
                               AmdCertKindName(want), issuer_name, child_kind, pool.size());
  }
  // AMD's ARK, ASK and ASVK keys are RSA-4096. Trying only keys of that size
  // keeps a request from spending seconds on huge keys under a copied name.
  std::vector<const AmdCertificate*> sized;
  for (const AmdCertificate* c : candidates) {
    if (EVP_PKEY_get_base_id(c->certificate.PublicKey()) == EVP_PKEY_RSA &&
        EVP_PKEY_get_bits(c->certificate.PublicKey()) == kAmdCaRsaBits) {
      sized.push_back(c);
    }
  }
  if (sized.empty()) {
    return Unauthenticatedf("snp chain: no {} named {} has an RSA-{} key, as AMD's CA keys have",
                            AmdCertKindName(want), issuer_name, kAmdCaRsaBits);
  }
  for (const AmdCertificate* c : sized) {
    if (child.VerifySignedBy(c->certificate).ok()) {
      return FoundIssuer{*c, true};
    }
  }
  crypto::ClearSslErrors();
  return FoundIssuer{*sized.front(), false};
}

// ChainCacheKey returns the ChainCache key for `leaf` when `pool` contains
// exactly one issuer candidate at each level (by name and kind), which is
// the usual VCEK, ASK, ARK set. Otherwise it returns nullopt and the chain
// is verified without the cache, because FindIssuer's choice among several
// candidates depends on their signatures.
std::optional<std::string> ChainCacheKey(const crypto::Certificate& leaf, AmdCertKind want,
                                         const std::vector<AmdCertificate>& pool,
                                         const std::vector<TrustedRoot>& roots) {
  // Names are compared as X509_NAMEs: printing them costs more than the
  // rest of a cache hit.
  const auto unique_issuer = [&pool](const X509_NAME* name,
                                     AmdCertKind kind) -> const AmdCertificate* {
    const AmdCertificate* found = nullptr;
    for (const AmdCertificate& c : pool) {
      if (X509_NAME_cmp(X509_get_subject_name(c.certificate.get()), name) != 0) {
        continue;
      }
      if (found != nullptr && c.kind == kind &&
          X509_cmp(found->certificate.get(), c.certificate.get()) == 0) {
        continue;  // the same certificate given twice
      }
      if (c.kind != kind || found != nullptr) {
        return nullptr;
      }
      found = &c;
    }
    return found;
  };
  const AmdCertificate* intermediate = unique_issuer(X509_get_issuer_name(leaf.get()), want);
  if (intermediate == nullptr) {
    return std::nullopt;
  }
  const AmdCertificate* ark =
      unique_issuer(X509_get_issuer_name(intermediate->certificate.get()), AmdCertKind::kArk);
  if (ark == nullptr) {
    return std::nullopt;
  }
  // Each part is length-prefixed, so no two inputs give the same bytes.
  Bytes material;
  const auto append = [&material](ByteSpan part) {
    const uint64_t size = part.size();
    for (int shift = 56; shift >= 0; shift -= 8) {
      material.push_back(static_cast<uint8_t>(size >> shift));
    }
    material.insert(material.end(), part.begin(), part.end());
  };
  for (const TrustedRoot& root : roots) {
    append(AsBytes(root.product));
    append(root.spki_sha256);
  }
  append(leaf.Der());
  append(intermediate->certificate.Der());
  append(ark->certificate.Der());
  const Bytes digest = crypto::Sha256(material);
  return std::string(digest.begin(), digest.end());
}

absl::StatusOr<std::string> CheckRootPinned(const AmdCertificate& ark,
                                            const std::vector<TrustedRoot>& roots) {
  const Bytes spki_sha256 = ark.certificate.SpkiSha256();
  for (const TrustedRoot& root : roots) {
    if (root.spki_sha256 == spki_sha256) {
      return root.product;
    }
  }
  std::string trusted;
  for (const TrustedRoot& root : roots) {
    trusted += trusted.empty() ? root.product : ", " + root.product;
  }
  return Unauthenticatedf("snp chain: root pin: ARK {} has key SHA-256 {}, want the key of a "
                          "trusted root ({})",
                          ark.certificate.Subject(), HexEncode(spki_sha256),
                          trusted.empty() ? "none configured" : trusted);
}

absl::Status CheckChainProductNames(const AmdCertificate& ark, const AmdCertificate& intermediate,
                                    std::string_view product) {
  for (const AmdCertificate* c : {&ark, &intermediate}) {
    if (!SameProduct(c->product, product)) {
      return Unauthenticatedf("snp chain: product: {} {} names product {:?}, want {:?} (the "
                              "pinned root's product)",
                              AmdCertKindName(c->kind), c->certificate.Subject(), c->product,
                              product);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLink(const AmdCertificate& child, const AmdCertificate& issuer) {
  const absl::Status status = child.certificate.VerifySignedBy(issuer.certificate);
  if (!status.ok()) {
    return Prefix(fmt::format("snp chain: signature of the {} by the {}",
                              AmdCertKindName(child.kind), AmdCertKindName(issuer.kind)),
                  status);
  }
  return absl::OkStatus();
}

absl::Status CheckValidity(const std::vector<const AmdCertificate*>& chain, absl::Time now) {
  for (const AmdCertificate* c : chain) {
    const absl::Status status = c->certificate.CheckValidAt(now);
    if (!status.ok()) {
      return Prefix(fmt::format("snp chain: validity of the {}", AmdCertKindName(c->kind)), status);
    }
  }
  return absl::OkStatus();
}

// ---- Matching the leaf to the report ----

absl::Status CheckSpl(std::string_view kind, std::string_view spl_name, std::string_view oid,
                      uint8_t certified, std::string_view report_field, uint8_t reported) {
  if (certified != reported) {
    return Unauthenticatedf("snp verify: tcb: reported_tcb.{} {}, want {} ({} {}, {})",
                            report_field, reported, certified, kind, spl_name, oid);
  }
  return absl::OkStatus();
}

// Each TCB component the leaf certifies must equal REPORTED_TCB, the TCB
// from which the firmware derived the VCEK (or for which the VLEK was issued).
absl::Status MatchTcb(const AttestationReport& report, const EndorsementKeyExtensions& ext,
                      std::string_view kind) {
  const TcbVersion& tcb = report.reported_tcb;
  VOUCH_RETURN_IF_ERROR(
      CheckSpl(kind, "blSPL", kOidBootLoaderSpl, ext.boot_loader_spl, "boot_loader", tcb.boot_loader));
  VOUCH_RETURN_IF_ERROR(CheckSpl(kind, "teeSPL", kOidTeeSpl, ext.tee_spl, "tee", tcb.tee));
  VOUCH_RETURN_IF_ERROR(CheckSpl(kind, "snpSPL", kOidSnpSpl, ext.snp_spl, "snp", tcb.snp));
  VOUCH_RETURN_IF_ERROR(CheckSpl(kind, "ucodeSPL", kOidMicrocodeSpl, ext.microcode_spl,
                                 "microcode", tcb.microcode));
  if (report.is_turin() && !ext.fmc_spl) {
    return Unauthenticatedf("snp verify: tcb: the report is from Turin (cpuid_fam_id 0x1a) but "
                            "the {} has no fmcSPL ({})",
                            kind, kOidFmcSpl);
  }
  if (!report.is_turin() && ext.fmc_spl) {
    return Unauthenticatedf("snp verify: tcb: the {} has an fmcSPL ({}) as on Turin, but the "
                            "report is not from Turin",
                            kind, kOidFmcSpl);
  }
  if (ext.fmc_spl) {
    VOUCH_RETURN_IF_ERROR(CheckSpl(kind, "fmcSPL", kOidFmcSpl, *ext.fmc_spl, "fmc", tcb.fmc));
  }
  return absl::OkStatus();
}

// A VCEK certifies one chip: its hwID must equal CHIP_ID (the first 8 bytes
// on Turin, with the other 56 zero). VLEKs are not chip-specific and carry
// no hwID, and their reports may have CHIP_ID masked.
absl::Status MatchHardwareId(const AttestationReport& report, const EndorsementKeyExtensions& ext,
                             AmdCertKind kind) {
  if (kind == AmdCertKind::kVlek) {
    return absl::OkStatus();
  }
  if (!ext.hardware_id) {
    return Unauthenticatedf("snp verify: hwID: the VCEK has no hwID extension ({})",
                            kOidHardwareId);
  }
  if (IsAllZero(report.chip_id)) {
    return Unauthenticatedf("snp verify: hwID: chip_id is all zero{}, want {} (VCEK hwID); a "
                            "report with a masked chip id cannot be matched to a VCEK",
                            report.mask_chip_key ? " (MASK_CHIP_KEY is set)" : "",
                            HexEncode(*ext.hardware_id));
  }
  const ByteSpan hardware_id = report.hardware_id();
  if (report.is_turin() && !IsAllZero(ByteSpan(report.chip_id).subspan(8))) {
    return Unauthenticatedf("snp verify: hwID: chip_id bytes 8..63 are {}, want zero on Turin",
                            HexEncode(ByteSpan(report.chip_id).subspan(8)));
  }
  if (!std::equal(hardware_id.begin(), hardware_id.end(), ext.hardware_id->begin(),
                  ext.hardware_id->end())) {
    return Unauthenticatedf("snp verify: hwID: chip_id {}, want {} (VCEK hwID, {})",
                            HexEncode(hardware_id), HexEncode(*ext.hardware_id), kOidHardwareId);
  }
  return absl::OkStatus();
}

absl::Status MatchLeaf(const AttestationReport& report, const EndorsementKeyExtensions& ext,
                       AmdCertKind kind) {
  VOUCH_RETURN_IF_ERROR(MatchHardwareId(report, ext, kind));
  return MatchTcb(report, ext, AmdCertKindName(kind));
}

// CPUID family and model per product line. Milan is family 19h models
// 00h-0Fh, Genoa family 19h models 10h-1Fh, and Turin family 1Ah. The
// simulated platform reports a Milan CPUID.
// NOTE: models A0h-AFh (Bergamo, Siena) are accepted under Genoa's chain on
// the assumption that AMD KDS serves them as "Genoa". No such report was at
// hand to confirm it.
bool CpuidMatchesProduct(uint8_t family, uint8_t model, std::string_view product) {
  const uint8_t model_range = model >> 4;
  if (SameProduct(product, "Turin")) {
    return family == kTurinCpuidFamily;
  }
  if (SameProduct(product, "Genoa")) {
    return family == kZen3Zen4CpuidFamily && (model_range == 0x1 || model_range == 0xA);
  }
  if (SameProduct(product, "Milan") || SameProduct(product, kSimulatedProduct)) {
    return family == kZen3Zen4CpuidFamily && model_range == 0x0;
  }
  return false;
}

// The product of the chain (from the pinned root) must agree with the
// report's CPUID (version 3 and later) and with the leaf's productName.
absl::Status CheckProduct(const AttestationReport& report, const EndorsementKeyExtensions& ext,
                          std::string_view product) {
  if (!report.cpuid_fam_id && SameProduct(product, "Turin")) {
    return Unauthenticatedf("snp verify: product: the chain is Turin's, but the report is "
                            "version {} without CPUID; Turin firmware writes version 3 or later",
                            report.version);
  }
  if (report.cpuid_fam_id &&
      !CpuidMatchesProduct(*report.cpuid_fam_id, *report.cpuid_mod_id, product)) {
    return Unauthenticatedf("snp verify: product: report cpuid_fam_id {:#04x} cpuid_mod_id "
                            "{:#04x} is not a {} processor (the chain's product)",
                            *report.cpuid_fam_id, *report.cpuid_mod_id, product);
  }
  if (ext.product_name) {
    const std::string_view name = *ext.product_name;
    const std::string_view line = name.substr(0, name.find('-'));  // "Milan-B0" -> "Milan"
    if (!SameProduct(line, product)) {
      return Unauthenticatedf("snp verify: product: leaf productName {:?}, want {:?} (the chain's "
                              "product)",
                              name, product);
    }
  }
  return absl::OkStatus();
}

// The report signature is ECDSA P-384 with SHA-384 over bytes 0x000..0x29F;
// R and S are stored as 72-byte little-endian integers (SEV-SNP ABI, ECDSA
// signature format table).
absl::Status VerifyReportSignature(const AttestationReport& report, const crypto::Certificate& leaf,
                                   AmdCertKind kind) {
  EVP_PKEY* key = leaf.PublicKey();
  const absl::StatusOr<std::string> curve = crypto::EcCurveName(key);
  if (!curve.ok() || *curve != "P-384") {
    return Unauthenticatedf("snp verify: signature: the {} key is {}, want an EC P-384 key",
                            AmdCertKindName(kind), curve.ok() ? *curve : "not an EC key");
  }
  const Bytes r_be(report.signature_r.rbegin(), report.signature_r.rend());
  const Bytes s_be(report.signature_s.rbegin(), report.signature_s.rend());
  const absl::Status status =
      crypto::VerifyEcdsaRaw(key, crypto::HashAlg::kSha384, report.signed_bytes(), r_be, s_be);
  if (!status.ok()) {
    return Unauthenticatedf("snp verify: signature: the report signature (ECDSA P-384 SHA-384 "
                            "over bytes 0x000..0x29F) does not verify with the {} key: {}",
                            AmdCertKindName(kind), status.message());
  }
  return absl::OkStatus();
}

struct Candidate {
  crypto::Certificate leaf;
  EndorsementKeyExtensions extensions;
};

// VerifyWithLeaf runs the steps after the leaf has been matched: the report
// signature, the chain, and the product.
absl::StatusOr<VerifiedReport> VerifyWithLeaf(const AttestationReport& report,
                                              const Candidate& candidate, AmdCertKind kind,
                                              const std::vector<crypto::Certificate>& certificates,
                                              const VerifyOptions& options) {
  // The report signature (one ECDSA check) comes before the chain (RSA-4096
  // checks), so a pool of copied leaves costs little. Both must pass.
  VOUCH_RETURN_IF_ERROR(VerifyReportSignature(report, candidate.leaf, kind));
  VOUCH_ASSIGN_OR_RETURN(VerifiedChain chain,
                         VerifyEndorsementChain(candidate.leaf, certificates, options));
  VOUCH_RETURN_IF_ERROR(CheckProduct(report, candidate.extensions, chain.product));

  VerifiedReport verified;
  verified.report = report;
  verified.product = std::move(chain.product);
  verified.signing_key = kind == AmdCertKind::kVcek ? VerifiedReport::kVcek : VerifiedReport::kVlek;
  verified.signer = candidate.leaf;
  verified.intermediate = std::move(chain.intermediate);
  verified.root = std::move(chain.root);
  verified.signer_extensions = candidate.extensions;
  return verified;
}

}  // namespace

absl::StatusOr<VerifiedChain> VerifyEndorsementChain(
    const crypto::Certificate& leaf, const std::vector<crypto::Certificate>& certificates,
    const VerifyOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(const AmdCertificate amd_leaf, ClassifyAmdCertificate(leaf));
  if (amd_leaf.kind != AmdCertKind::kVcek && amd_leaf.kind != AmdCertKind::kVlek) {
    return InvalidArgumentf("snp chain: leaf {} is an {}, want a VCEK or VLEK", leaf.Subject(),
                            AmdCertKindName(amd_leaf.kind));
  }
  const std::string_view leaf_kind = AmdCertKindName(amd_leaf.kind);
  const std::vector<AmdCertificate> pool = ClassifyAll(certificates);
  const AmdCertKind want =
      amd_leaf.kind == AmdCertKind::kVcek ? AmdCertKind::kAsk : AmdCertKind::kAsvk;

  // A chain verified before, with the same certificates and roots, needs no
  // signature checks while every certificate is still valid. Revocation
  // depends on the CRLs and the time, so it is checked on every call.
  const std::optional<std::string> cache_key = ChainCacheKey(leaf, want, pool, options.roots);
  if (cache_key.has_value()) {
    std::optional<VerifiedChain> cached = SharedChainCache().Lookup(*cache_key, options.now);
    if (cached.has_value()) {
      VOUCH_RETURN_IF_ERROR(
          CheckRevocation(*cached, options.crls, options.require_crl, options.now));
      return *std::move(cached);
    }
  }

  // Step 1: the issuers, by name and kind: a VCEK needs an ASK and a VLEK an ASVK.
  VOUCH_ASSIGN_OR_RETURN(const FoundIssuer found_intermediate,
                         FindIssuer(leaf, leaf_kind, want, pool));
  const AmdCertificate& intermediate = found_intermediate.issuer;
  VOUCH_ASSIGN_OR_RETURN(const FoundIssuer found_ark,
                         FindIssuer(intermediate.certificate, AmdCertKindName(want),
                                    AmdCertKind::kArk, pool));
  const AmdCertificate& ark = found_ark.issuer;

  // Step 2: the ARK is self-signed, and its key is a trusted root.
  if (ark.certificate.Issuer() != ark.certificate.Subject()) {
    return Unauthenticatedf("snp chain: ARK {} is issued by {}, want self-issued",
                            ark.certificate.Subject(), ark.certificate.Issuer());
  }
  VOUCH_RETURN_IF_ERROR(CheckLink(ark, ark));
  VOUCH_ASSIGN_OR_RETURN(std::string product, CheckRootPinned(ark, options.roots));
  VOUCH_RETURN_IF_ERROR(CheckChainProductNames(ark, intermediate, product));

  // Step 3: each link's signature (RSA-PSS with SHA-384 for AMD's chains).
  // FindIssuer has already verified the links whose issuer it picked by
  // signature; the others are checked here and fail with the link named.
  if (!found_ark.link_verified) {
    VOUCH_RETURN_IF_ERROR(CheckLink(intermediate, ark));
  }
  if (!found_intermediate.link_verified) {
    VOUCH_RETURN_IF_ERROR(CheckLink(amd_leaf, intermediate));
  }

  // Step 4: every certificate is valid at the verification time.
  VOUCH_RETURN_IF_ERROR(CheckValidity({&amd_leaf, &intermediate, &ark}, options.now));

  VerifiedChain chain;
  chain.product = std::move(product);
  chain.leaf_kind = amd_leaf.kind;
  chain.leaf = leaf;
  chain.intermediate = intermediate.certificate;
  chain.root = ark.certificate;
  if (cache_key.has_value()) {
    const absl::Time not_before = std::max(
        {leaf.NotBefore(), intermediate.certificate.NotBefore(), ark.certificate.NotBefore()});
    const absl::Time not_after = std::min(
        {leaf.NotAfter(), intermediate.certificate.NotAfter(), ark.certificate.NotAfter()});
    SharedChainCache().Insert(*cache_key, chain, not_before, not_after);
  }

  // Step 5: revocation, against the CRLs of the ARK (revocation.h). The
  // chain cache stores the chain before this step, because a CRL changes no
  // signature check, and a cache hit runs this step again.
  VOUCH_RETURN_IF_ERROR(CheckRevocation(chain, options.crls, options.require_crl, options.now));
  return chain;
}

absl::StatusOr<VerifiedReport> VerifyReport(ByteSpan report_bytes,
                                            const std::vector<crypto::Certificate>& certificates,
                                            const VerifyOptions& options) {
  // Step 1: the report's format.
  VOUCH_ASSIGN_OR_RETURN(const AttestationReport report, ParseReport(report_bytes));

  // Step 2: SIGNING_KEY (0x048 bits 4:2) selects the leaf: VCEK or VLEK.
  if (report.signing_key == SigningKey::kNone) {
    return InvalidArgumentf("snp verify: signing_key 7 (none): the report is not signed, want 0 "
                            "(VCEK) or 1 (VLEK)");
  }
  const AmdCertKind kind =
      report.signing_key == SigningKey::kVcek ? AmdCertKind::kVcek : AmdCertKind::kVlek;

  // Step 3: the leaves of that kind whose extensions match the report.
  std::vector<Candidate> matched;
  std::optional<absl::Status> first_mismatch;
  size_t num_leaves = 0;
  for (const AmdCertificate& c : ClassifyAll(certificates)) {
    if (c.kind != kind) {
      continue;
    }
    ++num_leaves;
    absl::StatusOr<EndorsementKeyExtensions> ext = ReadEndorsementKeyExtensions(c.certificate);
    absl::Status status = ext.ok() ? MatchLeaf(report, *ext, kind) : ext.status();
    if (status.ok()) {
      matched.push_back(Candidate{c.certificate, *std::move(ext)});
    } else if (!first_mismatch) {
      first_mismatch = std::move(status);
    }
  }
  if (num_leaves == 0) {
    return FailedPreconditionf("snp verify: the report's signing_key is {}, but none of the {} "
                               "certificates given is a {}",
                               SigningKeyName(report.signing_key), certificates.size(),
                               AmdCertKindName(kind));
  }
  if (matched.empty()) {
    return num_leaves == 1 ? *first_mismatch
                           : Prefix(fmt::format("snp verify: none of the {} {} certificates "
                                                "matches the report; the first",
                                                num_leaves, AmdCertKindName(kind)),
                                    *first_mismatch);
  }

  // Steps 4-6: the report signature, chain and product, for each match.
  std::optional<absl::Status> first_error;
  for (const Candidate& candidate : matched) {
    absl::StatusOr<VerifiedReport> verified =
        VerifyWithLeaf(report, candidate, kind, certificates, options);
    if (verified.ok()) {
      return verified;
    }
    if (!first_error) {
      first_error = verified.status();
    }
  }
  return *first_error;
}

}  // namespace vouch::snp
