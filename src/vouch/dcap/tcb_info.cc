#include "vouch/dcap/tcb_info.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>

#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/hash.h"
#include "vouch/dcap/intel_root.h"

namespace vouch::dcap {
namespace internal {

absl::StatusOr<const nlohmann::json*> Member(const nlohmann::json& object, std::string_view name,
                                             std::string_view context) {
  const auto it = object.find(std::string(name));
  if (it == object.end()) {
    return InvalidArgumentf("{}: missing member \"{}\"", context, name);
  }
  return &*it;
}

absl::StatusOr<std::string> StringMember(const nlohmann::json& object, std::string_view name,
                                         std::string_view context) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* value, Member(object, name, context));
  if (!value->is_string()) {
    return InvalidArgumentf("{}: member \"{}\" is {}, want a string", context, name,
                            value->type_name());
  }
  return value->get<std::string>();
}

absl::StatusOr<uint64_t> UintMember(const nlohmann::json& object, std::string_view name,
                                    uint64_t max, std::string_view context) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* value, Member(object, name, context));
  if (!value->is_number_unsigned()) {
    return InvalidArgumentf("{}: member \"{}\" is {}, want a non-negative integer", context, name,
                            value->dump());
  }
  const uint64_t number = value->get<uint64_t>();
  if (number > max) {
    return InvalidArgumentf("{}: member \"{}\" is {}, maximum {}", context, name, number, max);
  }
  return number;
}

absl::StatusOr<Bytes> HexMember(const nlohmann::json& object, std::string_view name, size_t size,
                                std::string_view context) {
  VOUCH_ASSIGN_OR_RETURN(const std::string text, StringMember(object, name, context));
  absl::StatusOr<Bytes> bytes = HexDecode(text);
  if (!bytes.ok()) {
    return InvalidArgumentf("{}: member \"{}\" is not hex: \"{}\"", context, name, text);
  }
  if (bytes->size() != size) {
    return InvalidArgumentf("{}: member \"{}\" has {} bytes, want {}", context, name,
                            bytes->size(), size);
  }
  return bytes;
}

absl::StatusOr<absl::Time> DateMember(const nlohmann::json& object, std::string_view name,
                                      std::string_view context, std::string* text) {
  VOUCH_ASSIGN_OR_RETURN(std::string value, StringMember(object, name, context));
  absl::StatusOr<absl::Time> t = ParseRfc3339(value);
  if (!t.ok() || value.find('T') == std::string::npos) {
    return InvalidArgumentf("{}: member \"{}\" is not an RFC 3339 date-time: \"{}\"", context,
                            name, value);
  }
  if (text != nullptr) {
    *text = std::move(value);
  }
  return t;
}

absl::StatusOr<TcbStatus> StatusMember(const nlohmann::json& object, std::string_view context) {
  VOUCH_ASSIGN_OR_RETURN(const std::string name, StringMember(object, "tcbStatus", context));
  absl::StatusOr<TcbStatus> status = ParseTcbStatus(name);
  if (!status.ok()) {
    return InvalidArgumentf("{}: unknown tcbStatus \"{}\"", context, name);
  }
  return status;
}

absl::StatusOr<std::vector<std::string>> AdvisoryIds(const nlohmann::json& object,
                                                     std::string_view context) {
  std::vector<std::string> ids;
  const auto it = object.find("advisoryIDs");
  if (it == object.end()) {
    return ids;
  }
  if (!it->is_array()) {
    return InvalidArgumentf("{}: advisoryIDs is {}, want an array", context, it->type_name());
  }
  for (const nlohmann::json& id : *it) {
    if (!id.is_string()) {
      return InvalidArgumentf("{}: advisoryIDs has a {}, want strings", context, id.type_name());
    }
    ids.push_back(id.get<std::string>());
  }
  return ids;
}

}  // namespace internal

namespace {

using internal::AdvisoryIds;
using internal::DateMember;
using internal::HexMember;
using internal::Member;
using internal::StatusMember;
using internal::StringMember;
using internal::UintMember;

constexpr int kMaxJsonDepth = 32;

// RawJsonScanner walks JSON text that nlohmann has already accepted, to find
// the exact byte range of a member value and to reject repeated member names
// (which nlohmann would silently resolve to the last one).
class RawJsonScanner {
 public:
  explicit RawJsonScanner(std::string_view text) : text_(text) {}

  size_t pos() const { return pos_; }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // ReadString returns the raw text between the quotes (escapes kept).
  absl::StatusOr<std::string_view> ReadString() {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '"') {
      return InvalidArgumentf("json: string expected at offset {}", pos_);
    }
    const size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      pos_ += text_[pos_] == '\\' ? 2 : 1;
    }
    if (pos_ >= text_.size()) {
      return InvalidArgumentf("json: unterminated string at offset {}", start);
    }
    return text_.substr(start, pos_++ - start);
  }

  // SkipValue moves past one value, checking objects for repeated names.
  absl::Status SkipValue(int depth) {
    if (depth > kMaxJsonDepth) {
      return InvalidArgumentf("json: nested deeper than {}", kMaxJsonDepth);
    }
    SkipSpace();
    if (pos_ >= text_.size()) {
      return InvalidArgumentf("json: value expected at offset {}", pos_);
    }
    if (text_[pos_] == '"') {
      return ReadString().status();
    }
    if (text_[pos_] == '{') {
      return SkipObject(depth);
    }
    if (text_[pos_] == '[') {
      ++pos_;
      if (Consume(']')) {
        return absl::OkStatus();
      }
      do {
        VOUCH_RETURN_IF_ERROR(SkipValue(depth + 1));
      } while (Consume(','));
      return Consume(']') ? absl::OkStatus()
                          : InvalidArgumentf("json: ']' expected at offset {}", pos_);
    }
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' &&
           text_[pos_] != ']' && text_[pos_] != ' ' && text_[pos_] != '\n' &&
           text_[pos_] != '\r' && text_[pos_] != '\t') {
      ++pos_;
    }
    return absl::OkStatus();
  }

  // ForEachMember calls `visit(name, value_start, value_end)` for each member
  // of the object at the cursor.
  template <typename Visit>
  absl::Status ForEachMember(int depth, Visit visit) {
    if (!Consume('{')) {
      return InvalidArgumentf("json: object expected at offset {}", pos_);
    }
    std::set<std::string_view> names;
    if (Consume('}')) {
      return absl::OkStatus();
    }
    do {
      VOUCH_ASSIGN_OR_RETURN(const std::string_view name, ReadString());
      if (!names.insert(name).second) {
        return InvalidArgumentf("json: member \"{}\" appears twice", name);
      }
      if (!Consume(':')) {
        return InvalidArgumentf("json: ':' expected at offset {}", pos_);
      }
      SkipSpace();
      const size_t start = pos_;
      VOUCH_RETURN_IF_ERROR(SkipValue(depth + 1));
      VOUCH_RETURN_IF_ERROR(visit(name, start, pos_));
    } while (Consume(','));
    return Consume('}') ? absl::OkStatus()
                        : InvalidArgumentf("json: '}}' expected at offset {}", pos_);
  }

  absl::Status SkipObject(int depth) {
    return ForEachMember(depth, [](std::string_view, size_t, size_t) { return absl::OkStatus(); });
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::string FormatUtc(absl::Time t) { return FormatRfc3339(t); }

absl::StatusOr<std::array<uint8_t, 16>> ComponentArray(const nlohmann::json& tcb,
                                                       std::string_view name,
                                                       std::string_view context) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* list, Member(tcb, name, context));
  if (!list->is_array() || list->size() != 16) {
    return InvalidArgumentf("{}: \"{}\" must be an array of 16 components", context, name);
  }
  std::array<uint8_t, 16> svns{};
  for (size_t i = 0; i < 16; ++i) {
    const nlohmann::json& component = (*list)[i];
    if (!component.is_object()) {
      return InvalidArgumentf("{}: {}[{}] is not an object", context, name, i);
    }
    VOUCH_ASSIGN_OR_RETURN(const uint64_t svn,
                           UintMember(component, "svn", 255, fmt::format("{} {}[{}]", context, name, i)));
    svns[i] = static_cast<uint8_t>(svn);
  }
  return svns;
}

absl::StatusOr<TcbLevel> ParseTcbLevel(const nlohmann::json& entry, const TcbInfo& info,
                                       size_t index) {
  const std::string context = fmt::format("tcb info: tcbLevels[{}]", index);
  if (!entry.is_object()) {
    return InvalidArgumentf("{}: not an object", context);
  }
  TcbLevel level;
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* tcb, Member(entry, "tcb", context));
  if (!tcb->is_object()) {
    return InvalidArgumentf("{}: \"tcb\" is not an object", context);
  }
  if (info.version == 2) {
    // Version 2 names each component: sgxtcbcomp01svn .. sgxtcbcomp16svn.
    for (size_t i = 0; i < 16; ++i) {
      VOUCH_ASSIGN_OR_RETURN(
          const uint64_t svn,
          UintMember(*tcb, fmt::format("sgxtcbcomp{:02}svn", i + 1), 255, context));
      level.sgx_components[i] = static_cast<uint8_t>(svn);
    }
  } else {
    VOUCH_ASSIGN_OR_RETURN(level.sgx_components, ComponentArray(*tcb, "sgxtcbcomponents", context));
    if (info.tee_type == TeeType::kTdx) {
      VOUCH_ASSIGN_OR_RETURN(level.tdx_components,
                             ComponentArray(*tcb, "tdxtcbcomponents", context));
    }
  }
  VOUCH_ASSIGN_OR_RETURN(const uint64_t pce_svn, UintMember(*tcb, "pcesvn", 65535, context));
  level.pce_svn = static_cast<uint16_t>(pce_svn);
  VOUCH_ASSIGN_OR_RETURN(level.tcb_date, DateMember(entry, "tcbDate", context, &level.tcb_date_text));
  VOUCH_ASSIGN_OR_RETURN(level.status, StatusMember(entry, context));
  VOUCH_ASSIGN_OR_RETURN(level.advisory_ids, AdvisoryIds(entry, context));
  return level;
}

absl::StatusOr<TdxModule> ParseTdxModule(const nlohmann::json& object, std::string_view context) {
  if (!object.is_object()) {
    return InvalidArgumentf("{}: not an object", context);
  }
  TdxModule module;
  VOUCH_ASSIGN_OR_RETURN(module.mrsigner, HexMember(object, "mrsigner", 48, context));
  VOUCH_ASSIGN_OR_RETURN(module.attributes, HexMember(object, "attributes", 8, context));
  VOUCH_ASSIGN_OR_RETURN(module.attributes_mask, HexMember(object, "attributesMask", 8, context));
  return module;
}

absl::StatusOr<TdxModuleIdentity> ParseTdxModuleIdentity(const nlohmann::json& entry,
                                                         size_t index) {
  const std::string context = fmt::format("tcb info: tdxModuleIdentities[{}]", index);
  TdxModuleIdentity identity;
  VOUCH_ASSIGN_OR_RETURN(identity.module, ParseTdxModule(entry, context));
  VOUCH_ASSIGN_OR_RETURN(identity.id, StringMember(entry, "id", context));
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* levels, Member(entry, "tcbLevels", context));
  if (!levels->is_array() || levels->empty()) {
    return InvalidArgumentf("{}: tcbLevels must be a non-empty array", context);
  }
  for (size_t i = 0; i < levels->size(); ++i) {
    const nlohmann::json& level_json = (*levels)[i];
    const std::string level_context = fmt::format("{} tcbLevels[{}]", context, i);
    if (!level_json.is_object()) {
      return InvalidArgumentf("{}: not an object", level_context);
    }
    TdxModuleTcbLevel level;
    VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* tcb, Member(level_json, "tcb", level_context));
    if (!tcb->is_object()) {
      return InvalidArgumentf("{}: \"tcb\" is not an object", level_context);
    }
    VOUCH_ASSIGN_OR_RETURN(const uint64_t isv_svn, UintMember(*tcb, "isvsvn", 255, level_context));
    level.isv_svn = static_cast<uint8_t>(isv_svn);
    VOUCH_ASSIGN_OR_RETURN(level.tcb_date, DateMember(level_json, "tcbDate", level_context,
                                                      &level.tcb_date_text));
    VOUCH_ASSIGN_OR_RETURN(level.status, StatusMember(level_json, level_context));
    VOUCH_ASSIGN_OR_RETURN(level.advisory_ids, AdvisoryIds(level_json, level_context));
    identity.tcb_levels.push_back(std::move(level));
  }
  return identity;
}

absl::Status ParseTdxParts(const nlohmann::json& body, TcbInfo& info) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* module, Member(body, "tdxModule", "tcb info"));
  VOUCH_ASSIGN_OR_RETURN(info.tdx_module, ParseTdxModule(*module, "tcb info: tdxModule"));
  const auto identities = body.find("tdxModuleIdentities");
  if (identities == body.end()) {
    return absl::OkStatus();
  }
  if (!identities->is_array()) {
    return InvalidArgumentf("tcb info: tdxModuleIdentities is not an array");
  }
  for (size_t i = 0; i < identities->size(); ++i) {
    VOUCH_ASSIGN_OR_RETURN(TdxModuleIdentity identity,
                           ParseTdxModuleIdentity((*identities)[i], i));
    info.tdx_module_identities.push_back(std::move(identity));
  }
  return absl::OkStatus();
}

absl::Status ParseHeaderFields(const nlohmann::json& body, TcbInfo& info) {
  VOUCH_ASSIGN_OR_RETURN(const uint64_t version, UintMember(body, "version", 3, "tcb info"));
  if (version != 2 && version != 3) {
    return InvalidArgumentf("tcb info: version {}, want 2 or 3", version);
  }
  info.version = static_cast<uint32_t>(version);
  if (info.version == 3) {
    VOUCH_ASSIGN_OR_RETURN(const std::string id, StringMember(body, "id", "tcb info"));
    if (id != "SGX" && id != "TDX") {
      return InvalidArgumentf("tcb info: id \"{}\", want \"SGX\" or \"TDX\"", id);
    }
    info.tee_type = id == "TDX" ? TeeType::kTdx : TeeType::kSgx;
  }
  VOUCH_ASSIGN_OR_RETURN(info.issue_date,
                         DateMember(body, "issueDate", "tcb info", &info.issue_date_text));
  VOUCH_ASSIGN_OR_RETURN(info.next_update,
                         DateMember(body, "nextUpdate", "tcb info", &info.next_update_text));
  VOUCH_ASSIGN_OR_RETURN(info.fmspc, HexMember(body, "fmspc", 6, "tcb info"));
  VOUCH_ASSIGN_OR_RETURN(info.pce_id, HexMember(body, "pceId", 2, "tcb info"));
  VOUCH_ASSIGN_OR_RETURN(const uint64_t tcb_type, UintMember(body, "tcbType", 0xffffffff, "tcb info"));
  // tcbType 0 is the only type Intel defines: components are compared one
  // by one as SVNs.
  if (tcb_type != 0) {
    return InvalidArgumentf("tcb info: tcbType {}, want 0", tcb_type);
  }
  VOUCH_ASSIGN_OR_RETURN(const uint64_t eval_number,
                         UintMember(body, "tcbEvaluationDataNumber", 0xffffffff, "tcb info"));
  info.tcb_evaluation_data_number = static_cast<uint32_t>(eval_number);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SignedJson> SplitSignedJson(std::string_view document, std::string_view body_key) {
  if (document.size() > kMaxCollateralJsonBytes) {
    return InvalidArgumentf("{}: document has {} bytes, limit {}", body_key, document.size(),
                            kMaxCollateralJsonBytes);
  }
  const nlohmann::json parsed = nlohmann::json::parse(document, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgumentf("{}: document is not a JSON object", body_key);
  }
  SignedJson out;
  std::optional<std::string> signature_hex;
  bool have_body = false;
  RawJsonScanner scanner(document);
  VOUCH_RETURN_IF_ERROR(scanner.ForEachMember(0, [&](std::string_view name, size_t start,
                                                     size_t end) -> absl::Status {
    if (name == body_key) {
      if (document[start] != '{') {
        return InvalidArgumentf("{}: member \"{}\" is not an object", body_key, name);
      }
      out.body = std::string(document.substr(start, end - start));
      have_body = true;
      return absl::OkStatus();
    }
    if (name == "signature") {
      signature_hex = parsed["signature"].is_string() ? parsed["signature"].get<std::string>() : "";
      return absl::OkStatus();
    }
    return InvalidArgumentf("{}: unexpected member \"{}\"", body_key, name);
  }));
  scanner.SkipSpace();
  if (scanner.pos() != document.size()) {
    return InvalidArgumentf("{}: text after the JSON object", body_key);
  }
  if (!have_body) {
    return InvalidArgumentf("{}: missing member \"{}\"", body_key, body_key);
  }
  if (!signature_hex.has_value()) {
    return InvalidArgumentf("{}: missing member \"signature\"", body_key);
  }
  absl::StatusOr<Bytes> signature = HexDecode(*signature_hex);
  if (!signature.ok() || signature->size() != 64) {
    return InvalidArgumentf("{}: signature must be 64 bytes (r||s) in hex, got \"{}\"", body_key,
                            *signature_hex);
  }
  out.signature = *std::move(signature);
  return out;
}

Bytes IntelRootSpkiSha256() {
  absl::StatusOr<Bytes> pin = HexDecode(kIntelSgxRootCaSpkiSha256Hex);
  VOUCH_CHECK(pin.ok());
  return *std::move(pin);
}

namespace {

// FindRoot returns a pinned, self-signed root among `certificates` that
// issued `signer` and is valid at `now`.
absl::StatusOr<crypto::Certificate> FindRoot(const crypto::Certificate& signer,
                                             const std::vector<crypto::Certificate>& certificates,
                                             const std::vector<Bytes>& trusted_roots,
                                             absl::Time now, std::string_view what) {
  absl::Status last = Unauthenticatedf("{}: no trusted root issued {}", what, signer.Subject());
  for (const crypto::Certificate& root : certificates) {
    if (std::find(trusted_roots.begin(), trusted_roots.end(), root.SpkiSha256()) ==
        trusted_roots.end()) {
      continue;
    }
    if (!root.VerifySignedBy(root).ok() || !signer.VerifySignedBy(root).ok()) {
      continue;
    }
    absl::Status valid = root.CheckValidAt(now);
    if (!valid.ok()) {
      last = valid;
      continue;
    }
    return root;
  }
  return last;
}

}  // namespace

absl::Status VerifyTcbSigningChain(const SignedJson& signed_json,
                                   const std::vector<crypto::Certificate>& certificates,
                                   const std::vector<Bytes>& trusted_roots, absl::Time now,
                                   std::string_view what) {
  absl::Status last = FailedPreconditionf(
      "{}: no \"{}\" certificate among the {} collateral certificates", what,
      kTcbSigningCommonName, certificates.size());
  for (const crypto::Certificate& signer : certificates) {
    if (signer.SubjectCommonName() != kTcbSigningCommonName || signer.IsCa()) {
      continue;
    }
    // The signature is raw r||s over the body, ECDSA P-256 with SHA-256.
    absl::Status signature = crypto::VerifyEcdsaP1363(signer.PublicKey(), crypto::HashAlg::kSha256,
                                                      AsBytes(signed_json.body),
                                                      signed_json.signature);
    if (!signature.ok()) {
      last = Unauthenticatedf("{}: signature does not verify with the key of {}", what,
                              signer.Subject());
      continue;
    }
    absl::Status valid = signer.CheckValidAt(now);
    if (!valid.ok()) {
      last = Prefix(what, valid);
      continue;
    }
    absl::StatusOr<crypto::Certificate> root =
        FindRoot(signer, certificates, trusted_roots, now, what);
    if (!root.ok()) {
      last = root.status();
      continue;
    }
    return absl::OkStatus();
  }
  return last;
}

absl::Status CheckCollateralWindow(std::string_view what, absl::Time issue_date,
                                   absl::Time next_update, absl::Time now) {
  if (now < issue_date || now > next_update) {
    return FailedPreconditionf("{}: issued {}, next update {}, not valid at {}{}", what,
                               FormatUtc(issue_date), FormatUtc(next_update), FormatUtc(now),
                               now > next_update ? " (expired)" : " (not yet issued)");
  }
  return absl::OkStatus();
}

std::string TcbInfo::Describe() const {
  return fmt::format("{} tcb info fmspc {} v{}", TeeTypeName(tee_type), HexEncode(fmspc), version);
}

absl::StatusOr<TcbInfo> ParseTcbInfo(std::string_view document) {
  TcbInfo info;
  VOUCH_ASSIGN_OR_RETURN(info.signed_json, SplitSignedJson(document, "tcbInfo"));
  const nlohmann::json body = nlohmann::json::parse(info.signed_json.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return InvalidArgumentf("tcb info: tcbInfo is not a JSON object");
  }
  VOUCH_RETURN_IF_ERROR(ParseHeaderFields(body, info));
  if (info.tee_type == TeeType::kTdx) {
    VOUCH_RETURN_IF_ERROR(ParseTdxParts(body, info));
  }
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json* levels, Member(body, "tcbLevels", "tcb info"));
  if (!levels->is_array() || levels->empty()) {
    return InvalidArgumentf("tcb info: tcbLevels must be a non-empty array");
  }
  for (size_t i = 0; i < levels->size(); ++i) {
    VOUCH_ASSIGN_OR_RETURN(TcbLevel level, ParseTcbLevel((*levels)[i], info, i));
    info.tcb_levels.push_back(std::move(level));
  }
  return info;
}

absl::Status VerifyTcbInfo(const TcbInfo& info,
                           const std::vector<crypto::Certificate>& certificates,
                           const std::vector<Bytes>& trusted_roots, absl::Time now) {
  const std::string what = info.Describe();
  VOUCH_RETURN_IF_ERROR(
      VerifyTcbSigningChain(info.signed_json, certificates, trusted_roots, now, what));
  return CheckCollateralWindow(what, info.issue_date, info.next_update, now);
}

}  // namespace vouch::dcap
