// A set of Intel PCS collateral files, identified by content, from which
// the collateral for one quote is selected.
//
// Files may be named anything. Each is recognised by what it contains:
// - TCB info: a JSON object {"tcbInfo":{...},"signature":...};
// - QE identity: {"enclaveIdentity":{...},"signature":...};
// - a QuoteCollateralV3 JSON object as Phala's dcap-qvl writes it
//   (tcb_info, tcb_info_signature, qe_identity, qe_identity_signature,
//   root_ca_crl and pck_crl in hex, and the issuer chains in PEM);
// - a CRL in DER or PEM;
// - certificates in PEM (issuer chains, Intel's CA certificates) or DER;
// - TCB evaluation data numbers ({"tcbEvaluationDataNumbers":...}), which
//   are recognised and not used.
// Anything else is listed as ignored. Parsing here checks format only;
// signatures and windows are checked by EvaluateTcb (or by Verify below).
#ifndef VOUCH_DCAP_COLLATERAL_SET_H_
#define VOUCH_DCAP_COLLATERAL_SET_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/qe_identity.h"
#include "vouch/dcap/tcb_evaluation.h"
#include "vouch/dcap/tcb_info.h"

namespace vouch::dcap {

// Upper bound for one collateral file; larger files are ignored.
inline constexpr size_t kMaxCollateralFileBytes = 4 * 1024 * 1024;

// CollateralKind is what a file was recognised as.
enum class CollateralKind {
  kTcbInfo,
  kQeIdentity,
  kCrl,
  kCertificates,
  kQuoteCollateralJson,
  kTcbEvaluationNumbers,
};

std::string_view CollateralKindName(CollateralKind kind);  // "tcb info", ...

// IdentifyCollateral returns the kind of `data`, or nullopt when `data` is
// not collateral.
std::optional<CollateralKind> IdentifyCollateral(ByteSpan data);

struct TcbInfoEntry {
  std::string source;  // file path or other origin, for messages
  std::string document;
  TcbInfo parsed;
};

struct QeIdentityEntry {
  std::string source;
  std::string document;
  QeIdentity parsed;
};

struct CrlEntry {
  std::string source;
  Bytes data;  // as received: DER or PEM
  crypto::Crl parsed;
};

// QuoteSelector names the quote that collateral is selected for.
struct QuoteSelector {
  TeeType tee_type = TeeType::kSgx;
  Bytes fmspc{};
  // pck_issuer is the PCK certificate's issuer name (RFC 2253), which picks
  // the PCK CRL. Empty picks any PCK CRL, the Platform CA's first.
  std::string pck_issuer{};
};

// CollateralSet contains parsed collateral from files, folders or a cache.
class CollateralSet {
 public:
  // AddFile identifies `data` and adds it. It returns the kind, or nullopt
  // (and records the file as ignored) when the content is not collateral.
  // A file that looks like collateral but does not parse is InvalidArgument
  // naming `source`.
  absl::StatusOr<std::optional<CollateralKind>> AddFile(const std::string& source, ByteSpan data);

  // AddDirectory adds every regular file of `dir` (not recursive, in name
  // order). A missing folder or an unreadable file is an error.
  absl::Status AddDirectory(const std::string& dir);

  void AddCertificates(const std::vector<crypto::Certificate>& certificates);

  // Select picks, for `selector`, the TCB info (same TEE type and FMSPC),
  // the QE identity (QE for SGX, TD_QE for TDX), the root CA CRL, the PCK
  // CRL and all certificates. Among several candidates it prefers one valid
  // at `now`, then the highest tcbEvaluationDataNumber, then the latest
  // issue date. An expired candidate is still selected when it is the only
  // one, so that EvaluateTcb reports its dates. A missing TCB info or QE
  // identity is NotFound, and missing CRLs leave the fields empty.
  absl::StatusOr<QuoteCollateral> Select(const QuoteSelector& selector, absl::Time now) const;

  const std::vector<TcbInfoEntry>& tcb_infos() const { return tcb_infos_; }
  const std::vector<QeIdentityEntry>& qe_identities() const { return qe_identities_; }
  const std::vector<CrlEntry>& crls() const { return crls_; }
  const std::vector<crypto::Certificate>& certificates() const { return certificates_; }
  // ignored lists "path: reason" for files that were not collateral.
  const std::vector<std::string>& ignored() const { return ignored_; }
  bool empty() const { return tcb_infos_.empty() && qe_identities_.empty() && crls_.empty(); }

 private:
  absl::Status AddTcbInfo(const std::string& source, std::string document);
  absl::Status AddQeIdentity(const std::string& source, std::string document);
  absl::Status AddCrl(const std::string& source, Bytes data);
  absl::Status AddQuoteCollateralJson(const std::string& source, std::string_view text);

  std::vector<TcbInfoEntry> tcb_infos_;
  std::vector<QeIdentityEntry> qe_identities_;
  std::vector<CrlEntry> crls_;
  std::vector<crypto::Certificate> certificates_;
  std::vector<std::string> ignored_;
};

// SelectorForQuote reads the TEE type from the quote and the FMSPC and PCK
// issuer from its PCK certificate (certification data type 5). Quotes
// without a PCK chain are FailedPrecondition.
absl::StatusOr<QuoteSelector> SelectorForQuote(ByteSpan quote);

// VerifySignedCollateral checks each TCB info and QE identity of `set` at
// its own issue date (signature, signing chain to `trusted_roots`), and
// each CRL's signature by an issuer among the set's certificates. It
// returns the first failure, naming the source.
absl::Status VerifySignedCollateral(const CollateralSet& set,
                                    const std::vector<Bytes>& trusted_roots);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_COLLATERAL_SET_H_
