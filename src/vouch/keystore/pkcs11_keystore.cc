#include "vouch/keystore/pkcs11_keystore.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/random.h"

namespace vouch::keystore {
namespace {

using Step = Pkcs11KeyStore::Step;

constexpr size_t kReferenceBytes = 1 + 1 + 2 + Pkcs11KeyStore::kObjectIdBytes;
constexpr size_t kGcmIvBytes = 12;
constexpr size_t kGcmTagBytes = 16;
constexpr size_t kMinSealedBytes = 1 + Pkcs11KeyStore::kObjectIdBytes + kGcmIvBytes + kGcmTagBytes;
constexpr size_t kMaxPinBytes = 256;

// DER of the named curve OIDs for CKA_EC_PARAMS (RFC 5480 section 2.1.1.1).
constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
constexpr uint8_t kP384Oid[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};

Step Check(const char* call, CK_RV rv) { return Step{rv, call}; }

// Template builds a CK_ATTRIBUTE array that owns its values. Values are
// wiped when the template is destroyed, because CKA_VALUE may be a key.
class Template {
 public:
  Template() = default;
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;
  ~Template() {
    for (std::vector<uint8_t>& value : values_) {
      SecureWipe(value);
    }
  }

  Template& Bool(CK_ATTRIBUTE_TYPE type, bool value) {
    const CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
    return Raw(type, ByteSpan(&b, sizeof(b)));
  }
  Template& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
    return Raw(type, ByteSpan(reinterpret_cast<const uint8_t*>(&value), sizeof(value)));
  }
  Template& Text(CK_ATTRIBUTE_TYPE type, std::string_view value) {
    return Raw(type, AsBytes(value));
  }
  Template& Raw(CK_ATTRIBUTE_TYPE type, ByteSpan value) {
    // A deque never moves its elements, so earlier pValue pointers stay valid.
    values_.emplace_back(value.begin(), value.end());
    attributes_.push_back(
        CK_ATTRIBUTE{type, values_.back().data(), static_cast<CK_ULONG>(values_.back().size())});
    return *this;
  }

  CK_ATTRIBUTE* data() { return attributes_.data(); }
  CK_ULONG size() const { return static_cast<CK_ULONG>(attributes_.size()); }

 private:
  std::deque<std::vector<uint8_t>> values_;
  std::vector<CK_ATTRIBUTE> attributes_;
};

absl::Status ValidateLabel(std::string_view label) {
  if (label.empty()) {
    return InvalidArgumentf("keystore: label must not be empty");
  }
  if (label.size() > Pkcs11KeyStore::kMaxLabelBytes) {
    return InvalidArgumentf("keystore: label has {} bytes, more than the limit of {}", label.size(),
                            Pkcs11KeyStore::kMaxLabelBytes);
  }
  return absl::OkStatus();
}

uint8_t KeyTypeByte(KeyType type) {
  switch (type) {
    case KeyType::kAes:
      return 1;
    case KeyType::kRsa:
      return 2;
    case KeyType::kEc:
      return 3;
  }
  return 0;
}

Bytes EncodeReference(const KeySpec& spec, ByteSpan id) {
  Bytes blob = {Pkcs11KeyStore::kReferenceFormat, KeyTypeByte(spec.type),
                static_cast<uint8_t>(spec.size_bits >> 8), static_cast<uint8_t>(spec.size_bits)};
  blob.insert(blob.end(), id.begin(), id.end());
  return blob;
}

absl::StatusOr<KeyReference> ParseReference(ByteSpan sealed, std::string_view label) {
  if (sealed.size() != kReferenceBytes) {
    return InvalidArgumentf("keystore: key reference for {} has {} bytes, want {}", label,
                            sealed.size(), kReferenceBytes);
  }
  KeyReference reference;
  switch (sealed[1]) {
    case 1:
      reference.spec.type = KeyType::kAes;
      break;
    case 2:
      reference.spec.type = KeyType::kRsa;
      break;
    case 3:
      reference.spec.type = KeyType::kEc;
      break;
    default:
      return InvalidArgumentf("keystore: key reference for {} has key type {}, want 1 to 3", label,
                              sealed[1]);
  }
  reference.spec.size_bits = (sealed[2] << 8) | sealed[3];
  VOUCH_RETURN_IF_ERROR(ValidateKeySpec(reference.spec));
  reference.id.assign(sealed.begin() + 4, sealed.end());
  return reference;
}

// SealedAssociatedData binds a sealed secret to its format, seal key and label.
Bytes SealedAssociatedData(ByteSpan seal_key_id, std::string_view label) {
  Bytes aad = {Pkcs11KeyStore::kSealedFormat};
  aad.insert(aad.end(), seal_key_id.begin(), seal_key_id.end());
  aad.insert(aad.end(), label.begin(), label.end());
  return aad;
}

// TrimTokenLabel removes the space padding of CK_TOKEN_INFO.label.
std::string TrimTokenLabel(const unsigned char (&label)[32]) {
  std::string text(reinterpret_cast<const char*>(label), sizeof(label));
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) {
    text.pop_back();
  }
  return text;
}

struct OaepMechanism {
  CK_MECHANISM_TYPE hash;
  CK_RSA_PKCS_MGF_TYPE mgf;
  const char* name;
};

absl::StatusOr<OaepMechanism> OaepFor(crypto::HashAlg hash) {
  switch (hash) {
    case crypto::HashAlg::kSha1:
      return OaepMechanism{CKM_SHA_1, CKG_MGF1_SHA1, "CKM_SHA_1 with CKG_MGF1_SHA1"};
    case crypto::HashAlg::kSha256:
      return OaepMechanism{CKM_SHA256, CKG_MGF1_SHA256, "CKM_SHA256 with CKG_MGF1_SHA256"};
    case crypto::HashAlg::kSha384:
      return OaepMechanism{CKM_SHA384, CKG_MGF1_SHA384, "CKM_SHA384 with CKG_MGF1_SHA384"};
    default:
      return InvalidArgumentf("keystore: RSA-OAEP with {} is not a release option",
                              crypto::HashAlgName(hash));
  }
}

// IsMechanismRejection reports the return values of a token that does not
// support a mechanism or its parameters.
bool IsMechanismRejection(CK_RV rv) {
  return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
         rv == CKR_ARGUMENTS_BAD;
}

// FindObjects returns the handles of the objects matching `match`.
Step FindObjects(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, Template& match,
                 std::vector<CK_OBJECT_HANDLE>& found) {
  found.clear();
  if (Step s = Check("C_FindObjectsInit", fn->C_FindObjectsInit(session, match.data(),
                                                                 match.size()));
      !s.ok()) {
    return s;
  }
  CK_OBJECT_HANDLE batch[16];
  for (;;) {
    CK_ULONG count = 0;
    const CK_RV rv = fn->C_FindObjects(session, batch, 16, &count);
    if (rv != CKR_OK) {
      fn->C_FindObjectsFinal(session);
      return Check("C_FindObjects", rv);
    }
    found.insert(found.end(), batch, batch + count);
    if (count < 16) {
      break;
    }
  }
  return Check("C_FindObjectsFinal", fn->C_FindObjectsFinal(session));
}

// GetAttribute reads one attribute of variable size.
Step GetAttribute(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                  CK_ATTRIBUTE_TYPE type, std::vector<uint8_t>& value) {
  CK_ATTRIBUTE attribute{type, nullptr, 0};
  if (Step s = Check("C_GetAttributeValue", fn->C_GetAttributeValue(session, object, &attribute, 1));
      !s.ok()) {
    return s;
  }
  value.assign(attribute.ulValueLen, 0);
  attribute.pValue = value.data();
  return Check("C_GetAttributeValue", fn->C_GetAttributeValue(session, object, &attribute, 1));
}

// MatchKey selects the objects of one key: its CKA_ID and CKA_LABEL, and the
// class when `object_class` is set.
void MatchKey(Template& match, ByteSpan id, std::string_view label,
              std::optional<CK_OBJECT_CLASS> object_class) {
  match.Raw(CKA_ID, id).Text(CKA_LABEL, label);
  if (object_class.has_value()) {
    match.Ulong(CKA_CLASS, *object_class);
  }
}

CK_OBJECT_CLASS ReleasedClass(KeyType type) {
  return type == KeyType::kAes ? CKO_SECRET_KEY : CKO_PRIVATE_KEY;
}

// EcPointCoordinates reads CKA_EC_POINT, a DER OCTET STRING holding the
// uncompressed point 04 || x || y (PKCS#11 2.40 section 2.3.3), and
// returns x and y of `coordinate_bytes` each.
absl::StatusOr<std::pair<Bytes, Bytes>> EcPointCoordinates(ByteSpan ec_point,
                                                           size_t coordinate_bytes) {
  const size_t point_bytes = 1 + 2 * coordinate_bytes;
  ByteSpan point = ec_point;
  // Short and one-byte long DER lengths cover P-256 (65) and P-384 (97).
  if (point.size() == point_bytes + 2 && point[0] == 0x04 && point[1] == point_bytes) {
    point = point.subspan(2);
  } else if (point.size() == point_bytes + 3 && point[0] == 0x04 && point[1] == 0x81 &&
             point[2] == point_bytes) {
    point = point.subspan(3);
  }
  if (point.size() != point_bytes || point[0] != 0x04) {
    return InvalidArgumentf("pkcs11: CKA_EC_POINT has {} bytes, want an uncompressed point of {}",
                            ec_point.size(), point_bytes);
  }
  return std::make_pair(Bytes(point.begin() + 1, point.begin() + 1 + coordinate_bytes),
                        Bytes(point.begin() + 1 + coordinate_bytes, point.end()));
}

// PublicKeyJwk builds the public JWK of a generated key pair from the token
// attributes of its public key object.
absl::StatusOr<nlohmann::json> PublicKeyJwk(const KeySpec& spec, ByteSpan first, ByteSpan second) {
  if (spec.type == KeyType::kRsa) {
    return nlohmann::json{{"kty", "RSA"}, {"n", Base64UrlEncode(first)}, {"e", Base64UrlEncode(second)}};
  }
  VOUCH_ASSIGN_OR_RETURN(const std::string curve, EcCurveForSpec(spec));
  VOUCH_ASSIGN_OR_RETURN(const auto xy,
                         EcPointCoordinates(first, static_cast<size_t>(spec.size_bits / 8)));
  return nlohmann::json{{"kty", "EC"},
                        {"crv", curve},
                        {"x", Base64UrlEncode(xy.first)},
                        {"y", Base64UrlEncode(xy.second)}};
}

// RsaPublicParts returns the modulus and public exponent of an RSA key.
absl::StatusOr<std::pair<Bytes, Bytes>> RsaPublicParts(EVP_PKEY* key) {
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json jwk, crypto::PublicKeyToJwk(key));
  VOUCH_ASSIGN_OR_RETURN(Bytes n, Base64UrlDecode(jwk.at("n").get<std::string>()));
  VOUCH_ASSIGN_OR_RETURN(Bytes e, Base64UrlDecode(jwk.at("e").get<std::string>()));
  return std::make_pair(std::move(n), std::move(e));
}

// WrapKey runs C_WrapKey with a size query first.
Step WrapKey(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_MECHANISM* mechanism,
             CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key, const char* call,
             Bytes& wrapped) {
  CK_ULONG size = 0;
  if (Step s = Check(call, fn->C_WrapKey(session, mechanism, wrapping_key, key, nullptr, &size));
      !s.ok()) {
    return s;
  }
  wrapped.assign(size, 0);
  if (Step s =
          Check(call, fn->C_WrapKey(session, mechanism, wrapping_key, key, wrapped.data(), &size));
      !s.ok()) {
    return s;
  }
  wrapped.resize(size);
  return Step{};
}

}  // namespace

absl::StatusOr<SecretBytes> ReadPkcs11Pin(const std::string& pin_file) {
  if (pin_file.empty()) {
    const char* env = std::getenv(std::string(kPkcs11PinEnv).c_str());
    if (env == nullptr || env[0] == '\0') {
      return InvalidArgumentf("pkcs11: no PIN: set --pkcs11-pin-file PATH or the environment "
                              "variable {}",
                              kPkcs11PinEnv);
    }
    return SecretBytes(AsBytes(std::string_view(env)));
  }
  struct stat st {};
  if (stat(pin_file.c_str(), &st) != 0) {
    return NotFoundf("pkcs11: PIN file {} does not exist", pin_file);
  }
  if ((st.st_mode & 077) != 0) {
    return FailedPreconditionf("pkcs11: PIN file {} has mode {:04o}, which lets group or others "
                               "access it: run `chmod 600 {}`",
                               pin_file, st.st_mode & 07777, pin_file);
  }
  VOUCH_ASSIGN_OR_RETURN(Bytes text, ReadFile(pin_file, kMaxPinBytes));
  size_t size = text.size();
  while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == '\r' ||
                      text[size - 1] == ' ' || text[size - 1] == '\t')) {
    --size;
  }
  SecretBytes pin(ByteSpan(text).first(size));
  SecureWipe(text);
  if (pin.empty()) {
    return InvalidArgumentf("pkcs11: PIN file {} is empty", pin_file);
  }
  return pin;
}

absl::StatusOr<std::unique_ptr<Pkcs11KeyStore>> Pkcs11KeyStore::Open(Pkcs11Options options) {
  if (options.token_label.empty() == !options.slot.has_value()) {
    return InvalidArgumentf("pkcs11: select the token by exactly one of --pkcs11-token-label and "
                            "--pkcs11-slot");
  }
  if (options.pin.empty()) {
    return InvalidArgumentf("pkcs11: no PIN: set --pkcs11-pin-file PATH or the environment "
                            "variable {}",
                            kPkcs11PinEnv);
  }
  VOUCH_ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Module> module,
                         Pkcs11Module::Load(options.module_path));
  CK_FUNCTION_LIST* fn = module->functions();

  CK_ULONG count = 0;
  CK_RV rv = fn->C_GetSlotList(CK_TRUE, nullptr, &count);
  std::vector<CK_SLOT_ID> slots(count);
  if (rv == CKR_OK) {
    rv = fn->C_GetSlotList(CK_TRUE, slots.data(), &count);
    slots.resize(count);
  }
  if (rv != CKR_OK) {
    return Pkcs11Error("list slots with a token", "C_GetSlotList", rv);
  }

  std::vector<std::string> labels;
  std::optional<CK_SLOT_ID> chosen;
  std::string token_name;
  for (const CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn->C_GetTokenInfo(slot, &info) != CKR_OK) {
      continue;
    }
    const std::string label = TrimTokenLabel(info.label);
    labels.push_back(fmt::format("'{}' (slot {})", label, slot));
    const bool match = options.slot.has_value() ? *options.slot == slot
                                                : label == options.token_label;
    if (match && !chosen.has_value()) {
      chosen = slot;
      token_name = fmt::format("token '{}' (slot {})", label, slot);
    }
  }
  if (!chosen.has_value()) {
    const std::string requested = options.slot.has_value()
                                   ? fmt::format("slot {}", *options.slot)
                                   : fmt::format("token label '{}'", options.token_label);
    return NotFoundf("pkcs11: module {} has no token with {}; tokens present: {}",
                     options.module_path, requested,
                     labels.empty() ? std::string("none") : fmt::format("{}", fmt::join(labels, ", ")));
  }

  std::unique_ptr<Pkcs11KeyStore> keystore(new Pkcs11KeyStore(
      std::move(module), *chosen, std::move(token_name), std::move(options.pin), options.host_oaep));
  {
    MutexLock lock(&keystore->mutex_);
    VOUCH_RETURN_IF_ERROR(keystore->OpenSessionLocked());
  }
  VOUCH_RETURN_IF_ERROR(keystore->ChooseMechanisms());
  VOUCH_RETURN_IF_ERROR(keystore->FindOrCreateSealKey());
  return keystore;
}

Pkcs11KeyStore::~Pkcs11KeyStore() {
  MutexLock lock(&mutex_);
  if (session_ != CK_INVALID_HANDLE) {
    fn_->C_Logout(session_);
    fn_->C_CloseSession(session_);
  }
}

absl::Status Pkcs11KeyStore::OpenSessionLocked() {
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  const CK_RV rv =
      fn_->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
  if (rv != CKR_OK) {
    return Pkcs11Error(fmt::format("open a session on {}", token_name_), "C_OpenSession", rv);
  }
  // C_Login takes a non-const pointer; the module only reads the PIN.
  const CK_RV login = fn_->C_Login(session, CKU_USER, const_cast<CK_UTF8CHAR*>(pin_.Expose().data()),
                                   static_cast<CK_ULONG>(pin_.size()));
  if (login != CKR_OK && login != CKR_USER_ALREADY_LOGGED_IN) {
    fn_->C_CloseSession(session);
    return Pkcs11Error(fmt::format("log in to {}", token_name_), "C_Login", login);
  }
  session_ = session;
  return absl::OkStatus();
}

absl::Status Pkcs11KeyStore::RunInSession(std::string_view operation,
                                          const std::function<Step(CK_SESSION_HANDLE)>& body) {
  MutexLock lock(&mutex_);
  for (int attempt = 0;; ++attempt) {
    if (session_ == CK_INVALID_HANDLE) {
      VOUCH_RETURN_IF_ERROR(OpenSessionLocked());
    }
    const Step step = body(session_);
    if (step.ok()) {
      return absl::OkStatus();
    }
    if (attempt == 0 && IsLostSession(step.rv)) {
      // The old handle may be gone already; closing it is best effort.
      fn_->C_CloseSession(session_);
      session_ = CK_INVALID_HANDLE;
      continue;
    }
    return Pkcs11Error(fmt::format("{} on {}", operation, token_name_), step.call, step.rv);
  }
}

void Pkcs11KeyStore::CloseSessionForTest() {
  MutexLock lock(&mutex_);
  fn_->C_CloseSession(session_);
}

absl::Status Pkcs11KeyStore::ChooseMechanisms() {
  std::vector<CK_MECHANISM_TYPE> mechanisms;
  CK_ULONG count = 0;
  CK_RV rv = fn_->C_GetMechanismList(slot_, nullptr, &count);
  if (rv == CKR_OK) {
    mechanisms.resize(count);
    rv = fn_->C_GetMechanismList(slot_, mechanisms.data(), &count);
    mechanisms.resize(count);
  }
  if (rv != CKR_OK) {
    return Pkcs11Error(fmt::format("list the mechanisms of {}", token_name_), "C_GetMechanismList",
                       rv);
  }
  const auto has = [&mechanisms](CK_MECHANISM_TYPE type) {
    return std::find(mechanisms.begin(), mechanisms.end(), type) != mechanisms.end();
  };
  if (has(kCkmAesKeyWrapKwp)) {
    key_wrap_mechanism_ = kCkmAesKeyWrapKwp;
  } else if (has(CKM_AES_KEY_WRAP_PAD)) {
    key_wrap_mechanism_ = CKM_AES_KEY_WRAP_PAD;
  } else {
    return FailedPreconditionf("pkcs11: {} offers neither CKM_AES_KEY_WRAP_KWP nor "
                               "CKM_AES_KEY_WRAP_PAD, so it cannot release keys",
                               token_name_);
  }
  for (const auto& [type, name] : {std::pair<CK_MECHANISM_TYPE, const char*>{CKM_AES_KEY_GEN,
                                                                              "CKM_AES_KEY_GEN"},
                                   {CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP"}}) {
    if (!has(type)) {
      return FailedPreconditionf("pkcs11: {} does not offer {}, which a release needs",
                                 token_name_, name);
    }
  }
  has_gcm_ = has(CKM_AES_GCM);
  return absl::OkStatus();
}

absl::Status Pkcs11KeyStore::FindOrCreateSealKey() {
  Bytes id;
  const absl::Status status = RunInSession("find or create the seal key", [&](CK_SESSION_HANDLE s) {
    Template match;
    match.Ulong(CKA_CLASS, CKO_SECRET_KEY).Text(CKA_LABEL, kSealKeyLabel);
    std::vector<CK_OBJECT_HANDLE> found;
    if (Step step = FindObjects(fn_, s, match, found); !step.ok()) {
      return step;
    }
    if (!found.empty()) {
      std::vector<uint8_t> value;
      Step step = GetAttribute(fn_, s, found.front(), CKA_ID, value);
      id.assign(value.begin(), value.end());
      return step;
    }
    id = crypto::RandomBytes(kObjectIdBytes);
    Template key;
    key.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_AES)
        .Ulong(CKA_VALUE_LEN, 32)
        .Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, false)
        .Bool(CKA_ENCRYPT, true)
        .Bool(CKA_DECRYPT, true)
        .Bool(CKA_WRAP, false)
        .Bool(CKA_UNWRAP, false)
        .Raw(CKA_ID, id)
        .Text(CKA_LABEL, kSealKeyLabel);
    CK_MECHANISM mechanism{CKM_AES_KEY_GEN, nullptr, 0};
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    return Check("C_GenerateKey", fn_->C_GenerateKey(s, &mechanism, key.data(), key.size(), &handle));
  });
  VOUCH_RETURN_IF_ERROR(status);
  seal_key_id_ = std::move(id);
  return absl::OkStatus();
}

absl::StatusOr<GeneratedKey> Pkcs11KeyStore::GenerateKey(const KeySpec& spec,
                                                         std::string_view label) {
  VOUCH_RETURN_IF_ERROR(ValidateKeySpec(spec));
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  Bytes id;
  std::vector<uint8_t> first;   // RSA modulus or EC point
  std::vector<uint8_t> second;  // RSA public exponent
  const absl::Status status =
      RunInSession(fmt::format("generate {} key {}", KeySpecName(spec), label),
                   [&](CK_SESSION_HANDLE s) -> Step {
                     // A fresh id per attempt, so a retry never meets a
                     // half-made object of the first attempt.
                     id = crypto::RandomBytes(kObjectIdBytes);
                     Template secret;
                     secret.Bool(CKA_TOKEN, true)
                         .Bool(CKA_PRIVATE, true)
                         .Bool(CKA_SENSITIVE, true)
                         .Bool(CKA_EXTRACTABLE, true)
                         .Raw(CKA_ID, id)
                         .Text(CKA_LABEL, label);
                     if (spec.type == KeyType::kAes) {
                       secret.Ulong(CKA_CLASS, CKO_SECRET_KEY)
                           .Ulong(CKA_KEY_TYPE, CKK_AES)
                           .Ulong(CKA_VALUE_LEN, static_cast<CK_ULONG>(spec.size_bits / 8))
                           .Bool(CKA_ENCRYPT, true)
                           .Bool(CKA_DECRYPT, true)
                           .Bool(CKA_WRAP, false)
                           .Bool(CKA_UNWRAP, false);
                       CK_MECHANISM mechanism{CKM_AES_KEY_GEN, nullptr, 0};
                       CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
                       return Check("C_GenerateKey", fn_->C_GenerateKey(s, &mechanism, secret.data(),
                                                                        secret.size(), &handle));
                     }

                     Template pub;
                     pub.Bool(CKA_TOKEN, true)
                         .Bool(CKA_PRIVATE, false)
                         .Bool(CKA_VERIFY, true)
                         .Raw(CKA_ID, id)
                         .Text(CKA_LABEL, label);
                     secret.Bool(CKA_SIGN, true);
                     CK_MECHANISM mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
                     if (spec.type == KeyType::kRsa) {
                       const uint8_t exponent[] = {0x01, 0x00, 0x01};
                       pub.Ulong(CKA_MODULUS_BITS, static_cast<CK_ULONG>(spec.size_bits))
                           .Raw(CKA_PUBLIC_EXPONENT, exponent)
                           .Bool(CKA_ENCRYPT, true);
                       secret.Bool(CKA_DECRYPT, true);
                     } else {
                       mechanism.mechanism = CKM_EC_KEY_PAIR_GEN;
                       pub.Raw(CKA_EC_PARAMS, spec.size_bits == 256 ? ByteSpan(kP256Oid)
                                                                    : ByteSpan(kP384Oid));
                     }
                     CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
                     CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
                     if (Step step = Check("C_GenerateKeyPair",
                                           fn_->C_GenerateKeyPair(s, &mechanism, pub.data(),
                                                                  pub.size(), secret.data(),
                                                                  secret.size(), &public_key,
                                                                  &private_key));
                         !step.ok()) {
                       return step;
                     }
                     if (spec.type == KeyType::kEc) {
                       return GetAttribute(fn_, s, public_key, CKA_EC_POINT, first);
                     }
                     if (Step step = GetAttribute(fn_, s, public_key, CKA_MODULUS, first);
                         !step.ok()) {
                       return step;
                     }
                     return GetAttribute(fn_, s, public_key, CKA_PUBLIC_EXPONENT, second);
                   });
  VOUCH_RETURN_IF_ERROR(status);

  GeneratedKey generated;
  generated.spec = spec;
  generated.sealed = EncodeReference(spec, id);
  if (spec.type == KeyType::kAes) {
    return generated;
  }
  absl::StatusOr<crypto::SslPtr<EVP_PKEY>> public_key = [&]() -> absl::StatusOr<crypto::SslPtr<EVP_PKEY>> {
    VOUCH_ASSIGN_OR_RETURN(const nlohmann::json jwk, PublicKeyJwk(spec, first, second));
    return crypto::PublicKeyFromJwk(jwk);
  }();
  if (!public_key.ok()) {
    // Destroy the key pair, since a key without a readable public key is unusable.
    DestroyKey(generated.sealed, label).IgnoreError();
    return Prefix(fmt::format("pkcs11: public key of {}", label), public_key.status());
  }
  VOUCH_ASSIGN_OR_RETURN(generated.public_key_pem, crypto::PublicKeyToPem(public_key->get()));
  VOUCH_ASSIGN_OR_RETURN(generated.public_jwk, crypto::PublicKeyToJwk(public_key->get()));
  return generated;
}

absl::StatusOr<Bytes> Pkcs11KeyStore::GenerateSymmetric(int size_bits, std::string_view label) {
  VOUCH_ASSIGN_OR_RETURN(GeneratedKey generated, GenerateKey(KeySpec::Aes(size_bits), label));
  return std::move(generated.sealed);
}

absl::StatusOr<Bytes> Pkcs11KeyStore::ImportSymmetric(const SecretBytes& key,
                                                      std::string_view label) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return InvalidArgumentf("keystore: imported AES key has {} bytes, want 16, 24 or 32",
                            key.size());
  }
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  Bytes id;
  const absl::Status status =
      RunInSession(fmt::format("import AES key {}", label), [&](CK_SESSION_HANDLE s) {
        id = crypto::RandomBytes(kObjectIdBytes);
        Template object;
        object.Ulong(CKA_CLASS, CKO_SECRET_KEY)
            .Ulong(CKA_KEY_TYPE, CKK_AES)
            .Raw(CKA_VALUE, key.Expose())
            .Bool(CKA_TOKEN, true)
            .Bool(CKA_PRIVATE, true)
            .Bool(CKA_SENSITIVE, true)
            .Bool(CKA_EXTRACTABLE, true)
            .Bool(CKA_ENCRYPT, true)
            .Bool(CKA_DECRYPT, true)
            .Bool(CKA_WRAP, false)
            .Bool(CKA_UNWRAP, false)
            .Raw(CKA_ID, id)
            .Text(CKA_LABEL, label);
        CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
        return Check("C_CreateObject", fn_->C_CreateObject(s, object.data(), object.size(), &handle));
      });
  VOUCH_RETURN_IF_ERROR(status);
  return EncodeReference(KeySpec::Aes(static_cast<int>(key.size() * 8)), id);
}

absl::StatusOr<Bytes> Pkcs11KeyStore::WrapForRelease(ByteSpan sealed, std::string_view label,
                                                     EVP_PKEY* target, crypto::HashAlg oaep_hash) {
  if (target == nullptr || !crypto::IsRsaKey(target)) {
    return InvalidArgumentf("keystore: release target for {} must be an RSA public key", label);
  }
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (!sealed.empty() && sealed[0] == kSealedFormat) {
    return FailedPreconditionf(
        "keystore: the blob for {} is a sealed secret, not a key, so it cannot be released", label);
  }
  if (sealed.empty() || sealed[0] != kReferenceFormat) {
    return InvalidArgumentf("keystore: blob for {} is not a PKCS#11 key reference", label);
  }
  VOUCH_ASSIGN_OR_RETURN(const KeyReference reference, ParseReference(sealed, label));
  VOUCH_ASSIGN_OR_RETURN(const OaepMechanism oaep, OaepFor(oaep_hash));

  bool oaep_rejected = false;
  absl::StatusOr<Bytes> wrapped =
      WrapInToken(reference, label, target, oaep_hash, /*host_oaep=*/false, oaep_rejected);
  if (!oaep_rejected) {
    return wrapped;
  }
  if (!host_oaep_) {
    return FailedPreconditionf(
        "pkcs11: {} does not support CKM_RSA_PKCS_OAEP with {}, so the release of {} cannot wrap "
        "its session key inside the token: request enc CKM_RSA_AES_KEY_WRAP (OAEP with SHA-1), "
        "or start the server with --pkcs11-host-oaep to run RSA-OAEP in the server",
        token_name_, oaep.name, label);
  }
  return WrapInToken(reference, label, target, oaep_hash, /*host_oaep=*/true, oaep_rejected);
}

absl::StatusOr<Bytes> Pkcs11KeyStore::WrapInToken(const KeyReference& reference,
                                                  std::string_view label, EVP_PKEY* target,
                                                  crypto::HashAlg oaep_hash, bool host_oaep,
                                                  bool& oaep_rejected) {
  VOUCH_ASSIGN_OR_RETURN(const OaepMechanism oaep, OaepFor(oaep_hash));
  VOUCH_ASSIGN_OR_RETURN(const auto rsa_parts, RsaPublicParts(target));
  bool found = false;
  Bytes rsa_ciphertext;
  Bytes key_wrap;
  SecretBytes session_key;  // host_oaep only
  oaep_rejected = false;

  const absl::Status status =
      RunInSession(fmt::format("release {}", label), [&](CK_SESSION_HANDLE s) -> Step {
        Template match;
        MatchKey(match, reference.id, label, ReleasedClass(reference.spec.type));
        std::vector<CK_OBJECT_HANDLE> objects;
        if (Step step = FindObjects(fn_, s, match, objects); !step.ok() || objects.empty()) {
          return step;
        }
        found = true;

        // 1. The requester's RSA key as a session object.
        Template rsa;
        rsa.Ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .Ulong(CKA_KEY_TYPE, CKK_RSA)
            .Bool(CKA_TOKEN, false)
            .Bool(CKA_WRAP, true)
            .Bool(CKA_ENCRYPT, true)
            .Raw(CKA_MODULUS, rsa_parts.first)
            .Raw(CKA_PUBLIC_EXPONENT, rsa_parts.second);
        CK_OBJECT_HANDLE rsa_handle = CK_INVALID_HANDLE;
        if (Step step = Check("C_CreateObject (requester RSA key)",
                              fn_->C_CreateObject(s, rsa.data(), rsa.size(), &rsa_handle));
            !step.ok()) {
          return step;
        }
        absl::Cleanup destroy_rsa = [&] { fn_->C_DestroyObject(s, rsa_handle); };

        // 2. A session AES-256 key.
        Template aes;
        aes.Ulong(CKA_CLASS, CKO_SECRET_KEY)
            .Ulong(CKA_KEY_TYPE, CKK_AES)
            .Ulong(CKA_VALUE_LEN, 32)
            .Bool(CKA_TOKEN, false)
            .Bool(CKA_PRIVATE, true)
            .Bool(CKA_SENSITIVE, !host_oaep)
            .Bool(CKA_EXTRACTABLE, true)
            .Bool(CKA_WRAP, true);
        CK_MECHANISM generate{CKM_AES_KEY_GEN, nullptr, 0};
        CK_OBJECT_HANDLE aes_handle = CK_INVALID_HANDLE;
        if (Step step = Check("C_GenerateKey (session AES key)",
                              fn_->C_GenerateKey(s, &generate, aes.data(), aes.size(), &aes_handle));
            !step.ok()) {
          return step;
        }
        absl::Cleanup destroy_aes = [&] { fn_->C_DestroyObject(s, aes_handle); };

        // 3. The target under the session key, RFC 5649.
        CK_MECHANISM kwp{key_wrap_mechanism_, nullptr, 0};
        if (Step step = WrapKey(fn_, s, &kwp, aes_handle, objects.front(),
                                key_wrap_mechanism_ == kCkmAesKeyWrapKwp
                                    ? "C_WrapKey (CKM_AES_KEY_WRAP_KWP)"
                                    : "C_WrapKey (CKM_AES_KEY_WRAP_PAD)",
                                key_wrap);
            !step.ok()) {
          return step;
        }

        // 4. The session key to the requester, RSA-OAEP.
        if (host_oaep) {
          std::vector<uint8_t> value;
          Step step = GetAttribute(fn_, s, aes_handle, CKA_VALUE, value);
          session_key = SecretBytes(value);
          SecureWipe(value);
          return step;
        }
        CK_RSA_PKCS_OAEP_PARAMS params{oaep.hash, oaep.mgf, CKZ_DATA_SPECIFIED, nullptr, 0};
        CK_MECHANISM rsa_oaep{CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
        Step step = WrapKey(fn_, s, &rsa_oaep, rsa_handle, aes_handle,
                            "C_WrapKey (CKM_RSA_PKCS_OAEP)", rsa_ciphertext);
        if (IsMechanismRejection(step.rv)) {
          oaep_rejected = true;
          return Step{};
        }
        return step;
      });
  VOUCH_RETURN_IF_ERROR(status);
  if (!found) {
    return Unauthenticatedf(
        "keystore: {} holds no key for this reference under label {}: the blob belongs to another "
        "key or token, or the key was destroyed",
        token_name_, label);
  }
  if (oaep_rejected) {
    return FailedPreconditionf("pkcs11: {} rejected CKM_RSA_PKCS_OAEP with {}", token_name_,
                               oaep.name);
  }
  if (host_oaep) {
    absl::StatusOr<Bytes> encrypted = crypto::RsaOaepEncrypt(target, oaep_hash, session_key.Expose());
    if (!encrypted.ok()) {
      return Prefix(fmt::format("keystore: wrap {} for release", label), encrypted.status());
    }
    rsa_ciphertext = *std::move(encrypted);
  }
  Bytes out = std::move(rsa_ciphertext);
  out.insert(out.end(), key_wrap.begin(), key_wrap.end());
  return out;
}

absl::Status Pkcs11KeyStore::DestroyKey(ByteSpan sealed, std::string_view label) {
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (!sealed.empty() && sealed[0] == kSealedFormat) {
    // A sealed secret lives in the blob alone; dropping the blob destroys it.
    return absl::OkStatus();
  }
  if (sealed.empty() || sealed[0] != kReferenceFormat) {
    return InvalidArgumentf("keystore: blob for {} is not a PKCS#11 key reference", label);
  }
  VOUCH_ASSIGN_OR_RETURN(const KeyReference reference, ParseReference(sealed, label));
  return RunInSession(fmt::format("destroy key {}", label), [&](CK_SESSION_HANDLE s) {
    Template match;
    MatchKey(match, reference.id, label, std::nullopt);
    std::vector<CK_OBJECT_HANDLE> objects;
    if (Step step = FindObjects(fn_, s, match, objects); !step.ok()) {
      return step;
    }
    for (const CK_OBJECT_HANDLE object : objects) {
      const CK_RV rv = fn_->C_DestroyObject(s, object);
      // Another process may have destroyed it between find and destroy.
      if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID) {
        return Check("C_DestroyObject", rv);
      }
    }
    return Step{};
  });
}

absl::StatusOr<Bytes> Pkcs11KeyStore::Seal(const SecretBytes& secret, std::string_view label) {
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (secret.empty()) {
    return InvalidArgumentf("keystore: cannot seal an empty secret under {}", label);
  }
  if (secret.size() > kMaxSecretBytes) {
    return InvalidArgumentf("keystore: secret has {} bytes, more than the limit of {}",
                            secret.size(), kMaxSecretBytes);
  }
  if (!has_gcm_) {
    return FailedPreconditionf("pkcs11: {} does not offer CKM_AES_GCM, which sealing needs",
                               token_name_);
  }
  Bytes iv = crypto::RandomBytes(kGcmIvBytes);
  Bytes aad = SealedAssociatedData(seal_key_id_, label);
  Bytes ciphertext;
  bool found = false;
  const absl::Status status = RunInSession(fmt::format("seal {}", label), [&](CK_SESSION_HANDLE s) {
    Template match;
    match.Ulong(CKA_CLASS, CKO_SECRET_KEY).Raw(CKA_ID, seal_key_id_).Text(CKA_LABEL, kSealKeyLabel);
    std::vector<CK_OBJECT_HANDLE> objects;
    if (Step step = FindObjects(fn_, s, match, objects); !step.ok() || objects.empty()) {
      return step;
    }
    found = true;
    CK_GCM_PARAMS params{iv.data(), iv.size(), iv.size() * 8, aad.data(), aad.size(),
                         kGcmTagBytes * 8};
    CK_MECHANISM mechanism{CKM_AES_GCM, &params, sizeof(params)};
    if (Step step = Check("C_EncryptInit (CKM_AES_GCM)",
                          fn_->C_EncryptInit(s, &mechanism, objects.front()));
        !step.ok()) {
      return step;
    }
    // Single-part C_Encrypt with room for the tag; PKCS#11 ends the operation
    // with this call whatever it returns.
    CK_ULONG size = static_cast<CK_ULONG>(secret.size() + kGcmTagBytes);
    ciphertext.assign(size, 0);
    const CK_RV rv = fn_->C_Encrypt(s, const_cast<uint8_t*>(secret.Expose().data()),
                                    static_cast<CK_ULONG>(secret.size()), ciphertext.data(), &size);
    ciphertext.resize(size);
    return Check("C_Encrypt (CKM_AES_GCM)", rv);
  });
  VOUCH_RETURN_IF_ERROR(status);
  if (!found) {
    return FailedPreconditionf("pkcs11: the seal key of {} was deleted from the token; sealed "
                               "secrets cannot be made or opened",
                               token_name_);
  }
  Bytes blob = {kSealedFormat};
  blob.insert(blob.end(), seal_key_id_.begin(), seal_key_id_.end());
  blob.insert(blob.end(), iv.begin(), iv.end());
  blob.insert(blob.end(), ciphertext.begin(), ciphertext.end());
  return blob;
}

absl::StatusOr<SecretBytes> Pkcs11KeyStore::Unseal(ByteSpan sealed, std::string_view label) {
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (sealed.empty()) {
    return InvalidArgumentf("keystore: sealed blob for {} is empty", label);
  }
  if (sealed[0] == kReferenceFormat && sealed.size() == kReferenceBytes) {
    return FailedPreconditionf("keystore: the blob for {} refers to a key inside {}, which leaves "
                               "the token only through a release",
                               label, token_name_);
  }
  if (sealed[0] != kSealedFormat) {
    return InvalidArgumentf("keystore: sealed blob for {} has format {:#04x}, want {:#04x}", label,
                            sealed[0], kSealedFormat);
  }
  if (sealed.size() < kMinSealedBytes) {
    return InvalidArgumentf("keystore: sealed blob for {} has {} bytes, want at least {}", label,
                            sealed.size(), kMinSealedBytes);
  }
  const ByteSpan key_id = sealed.subspan(1, kObjectIdBytes);
  Bytes iv(sealed.begin() + 1 + kObjectIdBytes, sealed.begin() + 1 + kObjectIdBytes + kGcmIvBytes);
  Bytes ciphertext(sealed.begin() + 1 + kObjectIdBytes + kGcmIvBytes, sealed.end());
  Bytes aad = SealedAssociatedData(key_id, label);
  std::vector<uint8_t> plaintext;
  absl::Cleanup wipe = [&plaintext] { SecureWipe(plaintext); };
  bool found = false;
  CK_RV decrypt_rv = CKR_OK;
  const absl::Status status =
      RunInSession(fmt::format("unseal {}", label), [&](CK_SESSION_HANDLE s) {
        Template match;
        match.Ulong(CKA_CLASS, CKO_SECRET_KEY).Raw(CKA_ID, key_id).Text(CKA_LABEL, kSealKeyLabel);
        std::vector<CK_OBJECT_HANDLE> objects;
        if (Step step = FindObjects(fn_, s, match, objects); !step.ok() || objects.empty()) {
          return step;
        }
        found = true;
        CK_GCM_PARAMS params{iv.data(), iv.size(), iv.size() * 8, aad.data(), aad.size(),
                             kGcmTagBytes * 8};
        CK_MECHANISM mechanism{CKM_AES_GCM, &params, sizeof(params)};
        if (Step step = Check("C_DecryptInit (CKM_AES_GCM)",
                              fn_->C_DecryptInit(s, &mechanism, objects.front()));
            !step.ok()) {
          return step;
        }
        CK_ULONG size = static_cast<CK_ULONG>(ciphertext.size());
        plaintext.assign(size, 0);
        decrypt_rv = fn_->C_Decrypt(s, ciphertext.data(), static_cast<CK_ULONG>(ciphertext.size()),
                                    plaintext.data(), &size);
        if (decrypt_rv == CKR_OK) {
          plaintext.resize(size);
          return Step{};
        }
        if (IsLostSession(decrypt_rv)) {
          return Check("C_Decrypt (CKM_AES_GCM)", decrypt_rv);
        }
        // A tag mismatch: reported below as Unauthenticated.
        return Step{};
      });
  VOUCH_RETURN_IF_ERROR(status);
  if (!found || decrypt_rv != CKR_OK) {
    return Unauthenticatedf(
        "keystore: sealed blob does not open under label {}: it was modified, belongs to another "
        "key, or was sealed by another token's seal key{}",
        label, found ? fmt::format(" ({} from C_Decrypt)", CkrName(decrypt_rv)) : std::string());
  }
  return SecretBytes(plaintext);
}

Pkcs11KeyStore::Step Pkcs11KeyStore::CreateWrappingKey(CK_SESSION_HANDLE session,
                                                       const SecretBytes& wrapping_key,
                                                       CK_OBJECT_HANDLE& handle) {
  Template key;
  key.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Raw(CKA_VALUE, wrapping_key.Expose())
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_WRAP, true)
      .Bool(CKA_UNWRAP, true);
  return Check("C_CreateObject (backup wrapping key)",
               fn_->C_CreateObject(session, key.data(), key.size(), &handle));
}

absl::StatusOr<Bytes> Pkcs11KeyStore::ExportWrapped(ByteSpan sealed, std::string_view label,
                                                    const SecretBytes& wrapping_key) {
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (wrapping_key.size() != 32) {
    return InvalidArgumentf("keystore: backup wrapping key has {} bytes, want 32",
                            wrapping_key.size());
  }
  if (sealed.empty() || sealed[0] != kReferenceFormat) {
    return InvalidArgumentf("keystore: blob for {} is not a PKCS#11 key reference", label);
  }
  VOUCH_ASSIGN_OR_RETURN(const KeyReference reference, ParseReference(sealed, label));
  bool found = false;
  bool extractable = false;
  Bytes wrapped;
  const absl::Status status =
      RunInSession(fmt::format("export {} wrapped", label), [&](CK_SESSION_HANDLE s) -> Step {
        Template match;
        MatchKey(match, reference.id, label, ReleasedClass(reference.spec.type));
        std::vector<CK_OBJECT_HANDLE> objects;
        if (Step step = FindObjects(fn_, s, match, objects); !step.ok() || objects.empty()) {
          return step;
        }
        found = true;
        CK_BBOOL flag = CK_FALSE;
        CK_ATTRIBUTE attribute{CKA_EXTRACTABLE, &flag, sizeof(flag)};
        if (Step step = Check("C_GetAttributeValue (CKA_EXTRACTABLE)",
                              fn_->C_GetAttributeValue(s, objects.front(), &attribute, 1));
            !step.ok()) {
          return step;
        }
        extractable = flag == CK_TRUE;
        if (!extractable) {
          return Step{};
        }
        CK_OBJECT_HANDLE wrapping = CK_INVALID_HANDLE;
        if (Step step = CreateWrappingKey(s, wrapping_key, wrapping); !step.ok()) {
          return step;
        }
        absl::Cleanup destroy_wrapping = [&] { fn_->C_DestroyObject(s, wrapping); };
        CK_MECHANISM mechanism{key_wrap_mechanism_, nullptr, 0};
        return WrapKey(fn_, s, &mechanism, wrapping, objects.front(),
                       "C_WrapKey (backup wrapping key)", wrapped);
      });
  VOUCH_RETURN_IF_ERROR(status);
  if (!found) {
    return NotFoundf("keystore: {} has no key object for {}: the key was destroyed or lives on "
                     "another token",
                     token_name_, label);
  }
  if (!extractable) {
    return FailedPreconditionf("keystore: key {} on {} has CKA_EXTRACTABLE false, so it cannot "
                               "leave the token wrapped",
                               label, token_name_);
  }
  return wrapped;
}

absl::Status Pkcs11KeyStore::ImportWrapped(ByteSpan sealed, std::string_view label,
                                           const SecretBytes& wrapping_key, ByteSpan wrapped,
                                           ByteSpan public_key_der) {
  VOUCH_RETURN_IF_ERROR(ValidateLabel(label));
  if (wrapping_key.size() != 32) {
    return InvalidArgumentf("keystore: backup wrapping key has {} bytes, want 32",
                            wrapping_key.size());
  }
  if (sealed.empty() || sealed[0] != kReferenceFormat) {
    return InvalidArgumentf("keystore: blob for {} is not a PKCS#11 key reference", label);
  }
  VOUCH_ASSIGN_OR_RETURN(const KeyReference reference, ParseReference(sealed, label));
  const KeySpec& spec = reference.spec;

  // The public key object of a key pair is rebuilt from the store's
  // SubjectPublicKeyInfo; its attributes follow GenerateKey.
  Template pub;
  if (spec.type != KeyType::kAes) {
    VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> public_key,
                           crypto::PublicKeyFromDer(public_key_der));
    pub.Ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, false)
        .Bool(CKA_VERIFY, true)
        .Raw(CKA_ID, reference.id)
        .Text(CKA_LABEL, label);
    if (spec.type == KeyType::kRsa) {
      if (!crypto::IsRsaKey(public_key.get())) {
        return InvalidArgumentf("keystore: public key of {} is not an RSA key", label);
      }
      VOUCH_ASSIGN_OR_RETURN(const auto parts, RsaPublicParts(public_key.get()));
      pub.Ulong(CKA_KEY_TYPE, CKK_RSA)
          .Raw(CKA_MODULUS, parts.first)
          .Raw(CKA_PUBLIC_EXPONENT, parts.second)
          .Bool(CKA_ENCRYPT, true);
    } else {
      if (!crypto::IsEcKey(public_key.get())) {
        return InvalidArgumentf("keystore: public key of {} is not an EC key", label);
      }
      VOUCH_ASSIGN_OR_RETURN(const nlohmann::json jwk, crypto::PublicKeyToJwk(public_key.get()));
      VOUCH_ASSIGN_OR_RETURN(const Bytes x, Base64UrlDecode(jwk.at("x").get<std::string>()));
      VOUCH_ASSIGN_OR_RETURN(const Bytes y, Base64UrlDecode(jwk.at("y").get<std::string>()));
      // CKA_EC_POINT is the DER OCTET STRING of 04 || x || y.
      Bytes point = {0x04, static_cast<uint8_t>(1 + x.size() + y.size()), 0x04};
      if (1 + x.size() + y.size() > 127) {
        point = {0x04, 0x81, static_cast<uint8_t>(1 + x.size() + y.size()), 0x04};
      }
      point.insert(point.end(), x.begin(), x.end());
      point.insert(point.end(), y.begin(), y.end());
      pub.Ulong(CKA_KEY_TYPE, CKK_EC)
          .Raw(CKA_EC_PARAMS, spec.size_bits == 256 ? ByteSpan(kP256Oid) : ByteSpan(kP384Oid))
          .Raw(CKA_EC_POINT, point);
    }
  }

  Template key;
  key.Ulong(CKA_CLASS, ReleasedClass(spec.type))
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true)
      .Raw(CKA_ID, reference.id)
      .Text(CKA_LABEL, label);
  switch (spec.type) {
    case KeyType::kAes:
      key.Ulong(CKA_KEY_TYPE, CKK_AES)
          .Bool(CKA_ENCRYPT, true)
          .Bool(CKA_DECRYPT, true)
          .Bool(CKA_WRAP, false)
          .Bool(CKA_UNWRAP, false);
      break;
    case KeyType::kRsa:
      key.Ulong(CKA_KEY_TYPE, CKK_RSA).Bool(CKA_SIGN, true).Bool(CKA_DECRYPT, true);
      break;
    case KeyType::kEc:
      key.Ulong(CKA_KEY_TYPE, CKK_EC).Bool(CKA_SIGN, true);
      break;
  }

  bool exists = false;
  Bytes input(wrapped.begin(), wrapped.end());
  const absl::Status status =
      RunInSession(fmt::format("import {} wrapped", label), [&](CK_SESSION_HANDLE s) -> Step {
        Template match;
        MatchKey(match, reference.id, label, std::nullopt);
        std::vector<CK_OBJECT_HANDLE> objects;
        if (Step step = FindObjects(fn_, s, match, objects); !step.ok() || !objects.empty()) {
          exists = !objects.empty();
          return step;
        }
        CK_OBJECT_HANDLE wrapping = CK_INVALID_HANDLE;
        if (Step step = CreateWrappingKey(s, wrapping_key, wrapping); !step.ok()) {
          return step;
        }
        absl::Cleanup destroy_wrapping = [&] { fn_->C_DestroyObject(s, wrapping); };
        CK_MECHANISM mechanism{key_wrap_mechanism_, nullptr, 0};
        CK_OBJECT_HANDLE unwrapped = CK_INVALID_HANDLE;
        if (Step step = Check("C_UnwrapKey (backup wrapping key)",
                              fn_->C_UnwrapKey(s, &mechanism, wrapping, input.data(),
                                               static_cast<CK_ULONG>(input.size()), key.data(),
                                               key.size(), &unwrapped));
            !step.ok()) {
          return step;
        }
        if (spec.type == KeyType::kAes) {
          return Step{};
        }
        CK_OBJECT_HANDLE public_handle = CK_INVALID_HANDLE;
        Step step = Check("C_CreateObject (public key)",
                          fn_->C_CreateObject(s, pub.data(), pub.size(), &public_handle));
        if (!step.ok()) {
          fn_->C_DestroyObject(s, unwrapped);
        }
        return step;
      });
  VOUCH_RETURN_IF_ERROR(status);
  if (exists) {
    return absl::AlreadyExistsError(fmt::format(
        "keystore: {} has a key object for {} already: restore only into a token without "
        "this instance's keys",
        token_name_, label));
  }
  return absl::OkStatus();
}

absl::Status Pkcs11KeyStore::SetNotExtractableForTest(ByteSpan sealed, std::string_view label) {
  VOUCH_ASSIGN_OR_RETURN(const KeyReference reference, ParseReference(sealed, label));
  return RunInSession("set CKA_EXTRACTABLE false for a test", [&](CK_SESSION_HANDLE s) -> Step {
    Template match;
    MatchKey(match, reference.id, label, ReleasedClass(reference.spec.type));
    std::vector<CK_OBJECT_HANDLE> objects;
    if (Step step = FindObjects(fn_, s, match, objects); !step.ok() || objects.empty()) {
      return step.ok() ? Check("C_FindObjects", CKR_OBJECT_HANDLE_INVALID) : step;
    }
    Template value;
    value.Bool(CKA_EXTRACTABLE, false);
    return Check("C_SetAttributeValue (CKA_EXTRACTABLE)",
                 fn_->C_SetAttributeValue(s, objects.front(), value.data(), value.size()));
  });
}

absl::StatusOr<Bytes> Pkcs11KeyStore::EncryptWithKeyForTest(ByteSpan sealed, std::string_view label,
                                                            ByteSpan plaintext) {
  if (sealed.empty() || sealed[0] != kReferenceFormat) {
    return InvalidArgumentf("keystore: not a key reference");
  }
  VOUCH_ASSIGN_OR_RETURN(const KeyReference reference, ParseReference(sealed, label));
  Bytes input(plaintext.begin(), plaintext.end());
  Bytes output(plaintext.size() + 16, 0);
  bool found = false;
  VOUCH_RETURN_IF_ERROR(RunInSession("encrypt for a test", [&](CK_SESSION_HANDLE s) {
    Template match;
    MatchKey(match, reference.id, label, CKO_SECRET_KEY);
    std::vector<CK_OBJECT_HANDLE> objects;
    if (Step step = FindObjects(fn_, s, match, objects); !step.ok() || objects.empty()) {
      return step;
    }
    found = true;
    CK_MECHANISM mechanism{CKM_AES_ECB, nullptr, 0};
    if (Step step = Check("C_EncryptInit", fn_->C_EncryptInit(s, &mechanism, objects.front()));
        !step.ok()) {
      return step;
    }
    CK_ULONG size = static_cast<CK_ULONG>(output.size());
    const CK_RV rv = fn_->C_Encrypt(s, input.data(), static_cast<CK_ULONG>(input.size()),
                                    output.data(), &size);
    output.resize(size);
    return Check("C_Encrypt", rv);
  }));
  if (!found) {
    return NotFoundf("keystore: no AES key for this reference under {}", label);
  }
  return output;
}

}  // namespace vouch::keystore
