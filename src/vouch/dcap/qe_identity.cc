#include "vouch/dcap/qe_identity.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <utility>

#include "vouch/base/status.h"

namespace vouch::dcap {
namespace {

using internal::AdvisoryIds;
using internal::DateMember;
using internal::HexMember;
using internal::Member;
using internal::StatusMember;
using internal::StringMember;
using internal::UintMember;

// ReadU32Hex reads 4 bytes of hex as a big-endian number ("000000FF" = 255),
// as Intel writes miscselect and miscselectMask.
absl::StatusOr<uint32_t> U32HexMember(const nlohmann::json& object, std::string_view name) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes bytes, HexMember(object, name, 4, "qe identity"));
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

absl::StatusOr<QeTcbLevel> ParseQeTcbLevel(const nlohmann::json& entry, size_t index) {
  const std::string context = fmt::format("qe identity: tcbLevels[{}]", index);
  if (!entry.is_object()) {
    return InvalidArgumentf("{}: not an object", context);
  }
  QeTcbLevel level;
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* tcb, Member(entry, "tcb", context));
  if (!tcb->is_object()) {
    return InvalidArgumentf("{}: \"tcb\" is not an object", context);
  }
  VOUCH_ASSIGN_OR_RETURN(const uint64_t isv_svn, UintMember(*tcb, "isvsvn", 65535, context));
  level.isv_svn = static_cast<uint16_t>(isv_svn);
  VOUCH_ASSIGN_OR_RETURN(level.tcb_date,
                         DateMember(entry, "tcbDate", context, &level.tcb_date_text));
  VOUCH_ASSIGN_OR_RETURN(level.status, StatusMember(entry, context));
  VOUCH_ASSIGN_OR_RETURN(level.advisory_ids, AdvisoryIds(entry, context));
  return level;
}

}  // namespace

std::string QeIdentity::Describe() const { return fmt::format("{} identity v{}", id, version); }

absl::StatusOr<QeIdentity> ParseQeIdentity(std::string_view document) {
  QeIdentity identity;
  VOUCH_ASSIGN_OR_RETURN(identity.signed_json, SplitSignedJson(document, "enclaveIdentity"));
  const nlohmann::json body = nlohmann::json::parse(identity.signed_json.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return InvalidArgumentf("qe identity: enclaveIdentity is not a JSON object");
  }
  constexpr std::string_view kContext = "qe identity";
  VOUCH_ASSIGN_OR_RETURN(identity.id, StringMember(body, "id", kContext));
  if (identity.id != "QE" && identity.id != "TD_QE") {
    return InvalidArgumentf("qe identity: id \"{}\", want \"QE\" or \"TD_QE\"", identity.id);
  }
  VOUCH_ASSIGN_OR_RETURN(const uint64_t version, UintMember(body, "version", 0xffffffff, kContext));
  if (version != 2) {
    return InvalidArgumentf("qe identity: version {}, want 2", version);
  }
  identity.version = 2;
  VOUCH_ASSIGN_OR_RETURN(identity.issue_date,
                         DateMember(body, "issueDate", kContext, &identity.issue_date_text));
  VOUCH_ASSIGN_OR_RETURN(identity.next_update,
                         DateMember(body, "nextUpdate", kContext, &identity.next_update_text));
  VOUCH_ASSIGN_OR_RETURN(const uint64_t eval_number,
                         UintMember(body, "tcbEvaluationDataNumber", 0xffffffff, kContext));
  identity.tcb_evaluation_data_number = static_cast<uint32_t>(eval_number);
  VOUCH_ASSIGN_OR_RETURN(identity.miscselect, U32HexMember(body, "miscselect"));
  VOUCH_ASSIGN_OR_RETURN(identity.miscselect_mask, U32HexMember(body, "miscselectMask"));
  VOUCH_ASSIGN_OR_RETURN(identity.attributes, HexMember(body, "attributes", 16, kContext));
  VOUCH_ASSIGN_OR_RETURN(identity.attributes_mask, HexMember(body, "attributesMask", 16, kContext));
  VOUCH_ASSIGN_OR_RETURN(identity.mrsigner, HexMember(body, "mrsigner", 32, kContext));
  VOUCH_ASSIGN_OR_RETURN(const uint64_t prod_id, UintMember(body, "isvprodid", 65535, kContext));
  identity.isv_prod_id = static_cast<uint16_t>(prod_id);

  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* levels, Member(body, "tcbLevels", kContext));
  if (!levels->is_array() || levels->empty()) {
    return InvalidArgumentf("qe identity: tcbLevels must be a non-empty array");
  }
  for (size_t i = 0; i < levels->size(); ++i) {
    VOUCH_ASSIGN_OR_RETURN(QeTcbLevel level, ParseQeTcbLevel((*levels)[i], i));
    identity.tcb_levels.push_back(std::move(level));
  }
  return identity;
}

absl::Status VerifyQeIdentity(const QeIdentity& identity,
                              const std::vector<crypto::Certificate>& certificates,
                              const std::vector<Bytes>& trusted_roots, absl::Time now) {
  const std::string what = identity.Describe();
  VOUCH_RETURN_IF_ERROR(
      VerifyTcbSigningChain(identity.signed_json, certificates, trusted_roots, now, what));
  return CheckCollateralWindow(what, identity.issue_date, identity.next_update, now);
}

}  // namespace vouch::dcap
