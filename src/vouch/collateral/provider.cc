#include "vouch/collateral/provider.h"

#include <fmt/format.h>

#include <optional>
#include <utility>

#include "absl/strings/str_join.h"

#include "vouch/base/status.h"
#include "vouch/dcap/qe_identity.h"
#include "vouch/dcap/tcb_info.h"
#include "vouch/dcap/verify.h"

namespace vouch::collateral {
namespace {

// VerifyFetched checks the signatures and signing chains of fetched TCB
// info and QE identity at `now`, before anything is cached.
absl::Status VerifyFetched(const dcap::QuoteCollateral& collateral,
                           const std::vector<Bytes>& trusted_roots, absl::Time now) {
  std::vector<crypto::Certificate> certificates = collateral.tcb_info_issuer_chain;
  certificates.insert(certificates.end(), collateral.qe_identity_issuer_chain.begin(),
                      collateral.qe_identity_issuer_chain.end());
  VOUCH_ASSIGN_OR_RETURN(const dcap::TcbInfo info, dcap::ParseTcbInfo(collateral.tcb_info_json));
  VOUCH_RETURN_IF_ERROR(dcap::VerifyTcbInfo(info, certificates, trusted_roots, now));
  VOUCH_ASSIGN_OR_RETURN(const dcap::QeIdentity identity,
                         dcap::ParseQeIdentity(collateral.qe_identity_json));
  return dcap::VerifyQeIdentity(identity, certificates, trusted_roots, now);
}

// VerifiesQuote is OK when the QE report of `quote` verifies under one of
// `certificates` up to a trusted root.
absl::Status VerifiesQuote(ByteSpan quote, const std::vector<crypto::Certificate>& certificates,
                           const std::vector<Bytes>& trusted_roots, absl::Time now) {
  dcap::VerifyOptions options;
  options.now = now;
  options.trusted_root_spki_sha256 = trusted_roots;
  options.pck_certificates = certificates;
  return dcap::VerifyQuoteSignatures(quote, dcap::QuoteCollateral{}, options).status();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CollateralProvider>> CollateralProvider::Create(
    ProviderOptions options) {
  std::unique_ptr<CollateralProvider> provider(new CollateralProvider(std::move(options)));
  for (const std::string& dir : provider->options_.collateral_dirs) {
    VOUCH_RETURN_IF_ERROR(provider->folders_.AddDirectory(dir));
  }
  return provider;
}

absl::StatusOr<ProvidedCollateral> CollateralProvider::Get(const dcap::QuoteSelector& selector,
                                                           absl::Time now,
                                                           const dcap::QuoteCollateral* request) const {
  if (request != nullptr && !request->tcb_info_json.empty() &&
      !request->qe_identity_json.empty()) {
    return ProvidedCollateral{*request, "request"};
  }
  if (!folders_.empty()) {
    absl::StatusOr<dcap::QuoteCollateral> selected = folders_.Select(selector, now);
    if (selected.ok()) {
      return ProvidedCollateral{*std::move(selected), "folder"};
    }
    if (selected.status().code() != absl::StatusCode::kNotFound) {
      return selected.status();
    }
  }
  std::optional<CollateralCache> cache;
  if (options_.cache_dir.has_value()) {
    cache.emplace(*options_.cache_dir);
    absl::StatusOr<dcap::QuoteCollateral> cached = cache->Lookup(selector, now);
    if (cached.ok()) {
      return ProvidedCollateral{*std::move(cached), "cache " + *options_.cache_dir};
    }
    if (cached.status().code() != absl::StatusCode::kNotFound) {
      return cached.status();
    }
  }
  if (!options_.pcs.has_value()) {
    return NotFoundf("collateral: no {} collateral for fmspc {} in the request, folders or cache, "
                     "and no collateral service is configured",
                     dcap::TeeTypeName(selector.tee_type), HexEncode(selector.fmspc));
  }
  const PcsClient client(*options_.pcs);
  const std::string issuer_cn =
      selector.pck_issuer.find("Processor") != std::string::npos ? "Processor" : "Platform";
  VOUCH_ASSIGN_OR_RETURN(dcap::QuoteCollateral fetched,
                         client.FetchQuoteCollateral(selector.tee_type, selector.fmspc, issuer_cn));
  const std::vector<Bytes> trusted_roots = options_.trusted_root_spki_sha256.empty()
                                               ? std::vector<Bytes>{dcap::IntelRootSpkiSha256()}
                                               : options_.trusted_root_spki_sha256;
  VOUCH_RETURN_IF_ERROR(Prefix("collateral from pcs", VerifyFetched(fetched, trusted_roots, now)));
  if (cache.has_value()) {
    VOUCH_RETURN_IF_ERROR(cache->Store(fetched));
  }
  return ProvidedCollateral{std::move(fetched), "pcs " + client.options().base_url};
}

absl::StatusOr<ProvidedPckCertificates> CollateralProvider::GetPckCertificates(
    ByteSpan quote_bytes, absl::Time now) const {
  VOUCH_ASSIGN_OR_RETURN(const dcap::Quote quote, dcap::ParseQuote(quote_bytes));
  if (!quote.qe.encrypted_ppid.has_value()) {
    return InvalidArgumentf("collateral: the quote carries its PCK certificate chain, not an "
                            "encrypted PPID");
  }
  const dcap::EncryptedPpid& ppid = *quote.qe.encrypted_ppid;
  const std::vector<Bytes> trusted_roots = options_.trusted_root_spki_sha256.empty()
                                               ? std::vector<Bytes>{dcap::IntelRootSpkiSha256()}
                                               : options_.trusted_root_spki_sha256;
  std::vector<std::string> tried;
  if (!folders_.certificates().empty()) {
    const absl::Status verified = VerifiesQuote(quote_bytes, folders_.certificates(),
                                                trusted_roots, now);
    if (verified.ok()) {
      return ProvidedPckCertificates{folders_.certificates(), "folder"};
    }
    tried.push_back(fmt::format("folders: {}", verified.message()));
  }
  std::optional<CollateralCache> cache;
  if (options_.cache_dir.has_value()) {
    cache.emplace(*options_.cache_dir);
    absl::StatusOr<std::vector<crypto::Certificate>> cached =
        cache->LookupPckCertificate(ppid, now);
    if (cached.ok()) {
      const absl::Status verified = VerifiesQuote(quote_bytes, *cached, trusted_roots, now);
      if (verified.ok()) {
        return ProvidedPckCertificates{*std::move(cached), "cache " + *options_.cache_dir};
      }
      tried.push_back(fmt::format("cache: {}", verified.message()));
    } else if (cached.status().code() != absl::StatusCode::kNotFound) {
      return cached.status();
    } else {
      tried.push_back(fmt::format("cache: {}", cached.status().message()));
    }
  }
  if (!options_.pcs.has_value()) {
    const std::string searched =
        tried.empty() ? std::string("no folder or cache") : absl::StrJoin(tried, "; ");
    return NotFoundf("collateral: no PCK certificate for this encrypted PPID ({}), and no "
                     "collateral service is configured",
                     searched);
  }
  const PcsClient client(*options_.pcs);
  VOUCH_ASSIGN_OR_RETURN(const PcsDocument document, client.FetchPckCertificate(ppid));
  VOUCH_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> certificates,
                         crypto::ParseCertificates(AsBytes(document.body)));
  certificates.insert(certificates.end(), document.issuer_chain.begin(),
                      document.issuer_chain.end());
  VOUCH_RETURN_IF_ERROR(Prefix("pck certificate from pcs",
                               VerifiesQuote(quote_bytes, certificates, trusted_roots, now)));
  if (cache.has_value()) {
    VOUCH_RETURN_IF_ERROR(cache->StorePckCertificate(ppid, certificates));
  }
  return ProvidedPckCertificates{std::move(certificates), "pcs " + client.options().base_url};
}

}  // namespace vouch::collateral
