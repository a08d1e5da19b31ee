// Intel QE identity documents (PCS v4 "qe/identity" responses): the
// identity of the Quoting Enclave ("QE", SGX) or TD Quoting Enclave
// ("TD_QE", TDX), version 2.
//
// Source: Intel "SGX and TDX PCS API" v4, "Enclave Identity" model. The
// signature covers the exact bytes of the "enclaveIdentity" value (see
// SplitSignedJson in tcb_info.h).
#ifndef VOUCH_DCAP_QE_IDENTITY_H_
#define VOUCH_DCAP_QE_IDENTITY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/tcb_evaluation.h"
#include "vouch/dcap/tcb_info.h"

namespace vouch::dcap {

// QeTcbLevel is one TCB level of a QE identity, selected by ISVSVN.
struct QeTcbLevel {
  uint16_t isv_svn = 0;
  absl::Time tcb_date{};
  std::string tcb_date_text{};
  TcbStatus status = TcbStatus::kUpToDate;
  std::vector<std::string> advisory_ids{};
};

// QeIdentity is a parsed QE identity document.
struct QeIdentity {
  std::string id{};  // "QE" (SGX) or "TD_QE" (TDX)
  uint32_t version = 0;
  absl::Time issue_date{};
  absl::Time next_update{};
  std::string issue_date_text{};
  std::string next_update_text{};
  uint32_t tcb_evaluation_data_number = 0;
  uint32_t miscselect = 0;
  uint32_t miscselect_mask = 0;
  Bytes attributes{};       // 16 bytes
  Bytes attributes_mask{};  // 16 bytes
  Bytes mrsigner{};         // 32 bytes
  uint16_t isv_prod_id = 0;
  std::vector<QeTcbLevel> tcb_levels{};  // in document order

  SignedJson signed_json{};

  // tee_type is SGX for "QE" and TDX for "TD_QE".
  TeeType tee_type() const { return id == "TD_QE" ? TeeType::kTdx : TeeType::kSgx; }
  // Describe returns "TD_QE identity v2".
  std::string Describe() const;
};

// ParseQeIdentity parses a QE identity document: version 2, id "QE" or
// "TD_QE", the hex fields with their sizes (miscselect 4 bytes, big-endian
// in the text as Intel writes it), isvprodid and the TCB levels. Other ids
// (such as "QVE") and versions are InvalidArgument.
absl::StatusOr<QeIdentity> ParseQeIdentity(std::string_view document);

// VerifyQeIdentity checks the signature and signing chain (see
// VerifyTcbSigningChain) and the issueDate/nextUpdate window at `now`.
absl::Status VerifyQeIdentity(const QeIdentity& identity,
                              const std::vector<crypto::Certificate>& certificates,
                              const std::vector<Bytes>& trusted_roots, absl::Time now);

}  // namespace vouch::dcap

#endif  // VOUCH_DCAP_QE_IDENTITY_H_
