#include "vouch/server/tpm_attestation.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "vouch/azure/claims.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/base/time.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/random.h"
#include "vouch/server/attestation_policies.h"
#include "vouch/server/request_json.h"
#include "vouch/server/status_mapping.h"
#include "vouch/tpm/attest.h"
#include "vouch/tpm/credential.h"
#include "vouch/tpm/event_log.h"

namespace vouch::server {
namespace {

constexpr size_t kEnrollmentIdBytes = 16;
// Maximum number of certificates from the EK certificate up to, not
// including, the root.
constexpr size_t kMaxEkChainDepth = 5;
constexpr size_t kMaxEkRootFileBytes = 1 << 20;
// PCR 7 contains the secure boot policy measurements (PC Client PFP 1.05,
// section 3.3.4.8).
constexpr uint32_t kSecureBootPcr = 7;

std::optional<HttpResponse> RejectNonJson(const HttpRequest& request) {
  const std::optional<std::string> type = request.Header("content-type");
  if (!type.has_value()) {
    return std::nullopt;
  }
  const std::string_view media_type = std::string_view(*type).substr(0, type->find(';'));
  if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(AbslView(media_type)),
                             "application/json")) {
    return std::nullopt;
  }
  return ErrorResponseFor(
      415, fmt::format("Content-Type {:?} is not supported, want application/json", *type));
}

absl::StatusOr<nlohmann::json> ParseObject(std::string_view context, std::string_view body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return InvalidArgumentf("{}: body is not a JSON object", context);
  }
  return json;
}

absl::StatusOr<std::string> StringMember(std::string_view context, const nlohmann::json& object,
                                         const std::string& key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return InvalidArgumentf("{}: {} is missing or not a string", context, key);
  }
  return it->get<std::string>();
}

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// ParseEkCertificates reads PEM text or base64url DER (one or more
// certificates).
absl::StatusOr<std::vector<crypto::Certificate>> ParseEkCertificates(std::string_view text) {
  if (absl::StrContains(AbslView(text), "-----BEGIN")) {
    return crypto::ParseCertificates(AsBytes(text));
  }
  absl::StatusOr<Bytes> der = Base64UrlDecode(text);
  if (!der.ok()) {
    return InvalidArgumentf("tpm enroll: ekCertificate is neither PEM nor base64url DER");
  }
  return crypto::ParseCertificates(*der);
}

// AsUnauthenticated keeps the message of a failed check but makes its code
// 401, because an expired EK chain is an authentication failure, not bad input.
absl::Status AsUnauthenticated(std::string_view context, const absl::Status& status) {
  return Unauthenticatedf("{}: {}", context, status.message());
}

absl::StatusOr<std::vector<tpm::PcrBank>> ParsePcrBanks(const nlohmann::json& body) {
  const auto pcrs = body.find("pcrs");
  if (pcrs == body.end() || !pcrs->is_object() || pcrs->empty()) {
    return InvalidArgumentf(
        "tpm attest request: pcrs is missing; want {{\"sha256\": {{\"0\": hex, ...}}}}");
  }
  const std::map<std::string, crypto::HashAlg> names = {{"sha1", crypto::HashAlg::kSha1},
                                                        {"sha256", crypto::HashAlg::kSha256},
                                                        {"sha384", crypto::HashAlg::kSha384},
                                                        {"sha512", crypto::HashAlg::kSha512}};
  std::vector<tpm::PcrBank> banks;
  for (const auto& [bank_name, values] : pcrs->items()) {
    const auto alg = names.find(bank_name);
    if (alg == names.end() || !values.is_object()) {
      return InvalidArgumentf(
          "tpm attest request: pcrs.{} is not a bank; want sha1, sha256, sha384 or sha512 "
          "mapping PCR indices to hex",
          bank_name);
    }
    tpm::PcrBank bank;
    bank.alg = alg->second;
    for (const auto& [index_text, value] : values.items()) {
      uint32_t index = 0;
      const bool digits = !index_text.empty() && index_text.size() <= 2 &&
                          std::all_of(index_text.begin(), index_text.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
      if (digits) {
        index = static_cast<uint32_t>(std::stoul(index_text));
      }
      if (!digits || index >= 24 || !value.is_string()) {
        return InvalidArgumentf("tpm attest request: pcrs.{}.{} is not a PCR index 0..23 with a "
                                "hex value",
                                bank_name, index_text);
      }
      absl::StatusOr<Bytes> digest = HexDecode(value.get<std::string>());
      if (!digest.ok() || digest->size() != crypto::HashSize(bank.alg)) {
        return InvalidArgumentf("tpm attest request: pcrs.{}.{} is not hex of {} bytes", bank_name,
                                index_text, crypto::HashSize(bank.alg));
      }
      bank.values[index] = *std::move(digest);
    }
    banks.push_back(std::move(bank));
  }
  return banks;
}

const char* BankName(crypto::HashAlg alg) {
  switch (alg) {
    case crypto::HashAlg::kSha1:
      return "sha1";
    case crypto::HashAlg::kSha256:
      return "sha256";
    case crypto::HashAlg::kSha384:
      return "sha384";
    case crypto::HashAlg::kSha512:
      return "sha512";
  }
  return "unknown";
}

// PcrClaim returns the quoted PCR values as {"sha256": {"0": hex, ...}}.
nlohmann::json PcrClaim(const std::vector<tpm::PcrBank>& quoted) {
  nlohmann::json out = nlohmann::json::object();
  for (const tpm::PcrBank& bank : quoted) {
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [index, value] : bank.values) {
      values[std::to_string(index)] = HexEncode(value);
    }
    out[BankName(bank.alg)] = std::move(values);
  }
  return out;
}

// AddEventLogClaims replays the event log, compares it with the quoted
// SHA-256 PCRs and adds the event-log claims. A covered PCR whose replayed
// value differs from the quote is Unauthenticated.
absl::Status AddEventLogClaims(ByteSpan log, const tpm::VerifiedQuote& quote,
                               nlohmann::json& claims) {
  absl::StatusOr<std::vector<tpm::EventLogEntry>> events = tpm::ParseCryptoAgileEventLog(log);
  if (!events.ok()) {
    return Prefix("tpm attest request: eventLog", events.status());
  }
  VOUCH_ASSIGN_OR_RETURN(const tpm::ReplayResult replay,
                         tpm::Replay(*events, tpm::ReplayOptions{}));
  std::vector<uint32_t> verified;
  std::vector<uint32_t> not_covered;
  for (const tpm::PcrBank& bank : quote.quoted) {
    if (bank.alg != crypto::HashAlg::kSha256) {
      continue;
    }
    for (const auto& [index, value] : bank.values) {
      if (index >= replay.values.size()) {
        continue;
      }
      if (replay.covered[index]) {
        if (value != replay.values[index]) {
          return Unauthenticatedf("tpm evidence: event log replays PCR {} to {}, but the quote "
                                  "has {}",
                                  index, HexEncode(replay.values[index]), HexEncode(value));
        }
        verified.push_back(index);
      } else if (value != replay.values[index]) {
        not_covered.push_back(index);
      }
    }
  }
  claims["x-vouch-tpm-eventlog-verified-pcrs"] = verified;
  claims["x-vouch-tpm-eventlog-uncovered-pcrs"] = not_covered;
  // Secure boot state counts only when the quote vouches for PCR 7.
  if (std::find(verified.begin(), verified.end(), kSecureBootPcr) != verified.end()) {
    if (const std::optional<bool> secure_boot = azure::SecureBootFromEventLog(*events)) {
      claims["secureboot"] = *secure_boot;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> Handle(
    std::string_view context, const HttpRequest& request,
    const std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json&)>& work) {
  if (std::optional<HttpResponse> rejected = RejectNonJson(request)) {
    return *std::move(rejected);
  }
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json body, ParseObject(context, request.body));
  VOUCH_ASSIGN_OR_RETURN(const nlohmann::json answer, work(body));
  return JsonResponse(200, answer);
}

}  // namespace

absl::StatusOr<std::vector<crypto::Certificate>> LoadTpmEkRoots(const std::string& path) {
  if (path.empty()) {
    return std::vector<crypto::Certificate>{};
  }
  std::vector<crypto::Certificate> roots;
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    VOUCH_ASSIGN_OR_RETURN(roots, crypto::LoadCertificatesFromDir(path));
  } else {
    VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(path, kMaxEkRootFileBytes));
    absl::StatusOr<std::vector<crypto::Certificate>> parsed = crypto::ParseCertificates(data);
    if (!parsed.ok()) {
      return Prefix(fmt::format("TPM EK roots {}", path), parsed.status());
    }
    roots = *std::move(parsed);
  }
  if (roots.empty()) {
    return InvalidArgumentf("TPM EK roots {}: no certificates found", path);
  }
  for (const crypto::Certificate& root : roots) {
    if (!root.IsCa()) {
      return InvalidArgumentf("TPM EK roots {}: {} is not a CA certificate", path, root.Subject());
    }
  }
  return roots;
}

absl::StatusOr<std::vector<crypto::Crl>> LoadTpmEkCrls(const std::string& path) {
  if (path.empty()) {
    return std::vector<crypto::Crl>{};
  }
  std::vector<std::string> files;
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
      if (entry.is_regular_file()) {
        files.push_back(entry.path().string());
      }
    }
    if (error) {
      return InvalidArgumentf("TPM EK CRLs {}: cannot list the folder: {}", path,
                              error.message());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<crypto::Crl> crls;
  for (const std::string& file : files) {
    VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(file, crypto::kMaxCrlBytes));
    absl::StatusOr<crypto::Crl> crl = crypto::Crl::Parse(data);
    if (!crl.ok()) {
      return Prefix(fmt::format("TPM EK CRL {}", file), crl.status());
    }
    crls.push_back(*std::move(crl));
  }
  if (crls.empty()) {
    return InvalidArgumentf("TPM EK CRLs {}: no CRL files found", path);
  }
  return crls;
}

std::vector<std::string> TpmClaimTypes() {
  return {"x-ms-attestation-type",
          "secureboot",
          "x-vouch-tpm-pcrs",
          "x-vouch-tpm-ak-name",
          "x-vouch-tpm-ek-issuer",
          "x-vouch-tpm-ek-subject",
          "x-vouch-tpm-eventlog-verified-pcrs",
          "x-vouch-tpm-eventlog-uncovered-pcrs"};
}

absl::StatusOr<std::shared_ptr<const TpmAttestation>> TpmAttestation::Create(
    store::Store& store, TpmAttestationOptions options) {
  RegisterKnownClaims(kTpmKind, TpmClaimTypes());
  return std::shared_ptr<const TpmAttestation>(new TpmAttestation(store, std::move(options)));
}

absl::Status TpmAttestation::AddRoutes(Router& router,
                                       std::shared_ptr<const TpmAttestation> attestation,
                                       IssueToken issue) {
  VOUCH_RETURN_IF_ERROR(
      router.Add("POST", "/tpm/enroll", [attestation](const HttpRequest& request) {
        return Handle("tpm enroll", request, [&](const nlohmann::json& body) {
          return attestation->Enroll(body, absl::Now());
        });
      }));
  VOUCH_RETURN_IF_ERROR(
      router.Add("POST", "/tpm/activate", [attestation](const HttpRequest& request) {
        return Handle("tpm activate", request, [&](const nlohmann::json& body) {
          return attestation->Activate(body, absl::Now());
        });
      }));
  return router.Add(
      "POST", "/attest/Tpm",
      [attestation, issue](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
        if (std::optional<HttpResponse> rejected = RejectNonJson(request)) {
          return *std::move(rejected);
        }
        VOUCH_ASSIGN_OR_RETURN(const nlohmann::json body,
                               ParseObject("tpm attest request", request.body));
        VOUCH_ASSIGN_OR_RETURN(nlohmann::json claims, attestation->Attest(body, absl::Now()));
        return issue(std::move(claims));
      });
}

absl::StatusOr<crypto::Certificate> TpmAttestation::VerifyEkCertificate(
    const std::vector<crypto::Certificate>& chain, absl::Time now) const {
  const crypto::Certificate& ek_cert = chain.front();
  if (ek_cert.IsCa()) {
    return Unauthenticatedf("tpm enroll: the EK certificate {} is a CA certificate",
                            ek_cert.Subject());
  }
  crypto::Certificate current = ek_cert;
  for (size_t depth = 0; depth < kMaxEkChainDepth; ++depth) {
    if (absl::Status valid = current.CheckValidAt(now); !valid.ok()) {
      return AsUnauthenticated("tpm enroll: EK certificate chain", valid);
    }
    for (const crypto::Certificate& root : options_.ek_roots) {
      if (current.VerifySignedBy(root).ok()) {
        if (absl::Status valid = root.CheckValidAt(now); !valid.ok()) {
          return AsUnauthenticated("tpm enroll: EK manufacturer root", valid);
        }
        VOUCH_RETURN_IF_ERROR(CheckNotRevoked(current, root, now));
        return ek_cert;
      }
    }
    // Not issued by a root: look for the issuing CA among the intermediates.
    const crypto::Certificate* issuer = nullptr;
    for (size_t i = 1; i < chain.size(); ++i) {
      if (chain[i].IsCa() && current.VerifySignedBy(chain[i]).ok()) {
        issuer = &chain[i];
        break;
      }
    }
    if (issuer == nullptr) {
      return Unauthenticatedf(
          "tpm enroll: the EK certificate chain does not lead to a configured manufacturer root "
          "(no root or CA certificate sent signs {:?}, issued by {:?})",
          current.Subject(), current.Issuer());
    }
    VOUCH_RETURN_IF_ERROR(CheckNotRevoked(current, *issuer, now));
    current = *issuer;
  }
  return Unauthenticatedf("tpm enroll: the EK certificate chain is longer than {} certificates",
                          kMaxEkChainDepth);
}

absl::Status TpmAttestation::CheckNotRevoked(const crypto::Certificate& cert,
                                             const crypto::Certificate& issuer,
                                             absl::Time now) const {
  for (const crypto::Crl& crl : options_.ek_crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_issuer_name(cert.get())) != 0) {
      continue;
    }
    // A CRL that cannot be trusted fails closed: the certificate might be
    // on the CRL that should have been there.
    if (absl::Status signed_by = crl.VerifySignedBy(issuer); !signed_by.ok()) {
      return Unauthenticatedf("tpm enroll: the configured CRL of {:?} does not verify with the "
                              "key of the CA certificate in the EK chain ({}); replace the CRL "
                              "in --tpm-ek-crls",
                              crl.Issuer(), signed_by.message());
    }
    if (absl::Status current = crl.CheckValidAt(now); !current.ok()) {
      return Unauthenticatedf("tpm enroll: the configured CRL of {:?} is not current ({}); "
                              "install a fresh CRL in --tpm-ek-crls",
                              crl.Issuer(), current.message());
    }
    if (crl.IsRevoked(cert)) {
      return Unauthenticatedf("tpm enroll: certificate serial {} ({:?}) issued by {:?} is revoked",
                              HexEncode(crypto::SerialOf(cert)), cert.Subject(), cert.Issuer());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> TpmAttestation::Enroll(const nlohmann::json& body,
                                                      absl::Time now) const {
  constexpr std::string_view kContext = "tpm enroll";
  if (options_.ek_roots.empty()) {
    return Unavailablef(
        "TPM enrollment is not configured: start the server with --tpm-ek-roots naming the TPM "
        "manufacturers' EK root certificates");
  }
  VOUCH_RETURN_IF_ERROR(
      CheckMembers(kContext, body, "body", {"ekCertificate", "ekPublic", "akPublic"}));
  VOUCH_ASSIGN_OR_RETURN(const std::string ek_cert_text,
                         StringMember(kContext, body, "ekCertificate"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes ek_public_area,
                         DecodeMember(kContext, body, "body", "ekPublic"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes ak_public_area,
                         DecodeMember(kContext, body, "body", "akPublic"));

  absl::StatusOr<std::vector<crypto::Certificate>> chain = ParseEkCertificates(ek_cert_text);
  if (!chain.ok()) {
    return Prefix("tpm enroll: ekCertificate", chain.status());
  }
  absl::StatusOr<tpm::ObjectPublic> ek = tpm::ParsePublicArea(ek_public_area);
  if (!ek.ok()) {
    return Prefix("tpm enroll: ekPublic", ek.status());
  }
  absl::StatusOr<tpm::ObjectPublic> ak = tpm::ParsePublicArea(ak_public_area);
  if (!ak.ok()) {
    return Prefix("tpm enroll: akPublic", ak.status());
  }

  VOUCH_ASSIGN_OR_RETURN(const crypto::Certificate ek_cert, VerifyEkCertificate(*chain, now));
  if (EVP_PKEY_eq(ek_cert.PublicKey(), ek->key.get()) != 1) {
    return Unauthenticatedf("tpm enroll: the EK certificate {:?} certifies another key than "
                            "ekPublic",
                            ek_cert.Subject());
  }
  constexpr uint32_t kStorageKey = tpm::kTpmaRestricted | tpm::kTpmaDecrypt | tpm::kTpmaFixedTpm;
  if ((ek->attributes & kStorageKey) != kStorageKey || (ek->attributes & tpm::kTpmaSign) != 0) {
    return InvalidArgumentf("tpm enroll: ekPublic attributes 0x{:08x} are not those of an "
                            "endorsement key (restricted, decrypt, fixedTPM, not sign)",
                            ek->attributes);
  }
  if (absl::Status fits = tpm::CheckAttestationKeyAttributes(*ak); !fits.ok()) {
    return Prefix("tpm enroll: akPublic", fits);
  }

  const SecretBytes secret = crypto::RandomSecret(kTpmCredentialSecretBytes);
  absl::StatusOr<tpm::MadeCredential> credential = tpm::MakeCredential(*ek, ak->name, secret);
  if (!credential.ok()) {
    return Prefix("tpm enroll: MakeCredential", credential.status());
  }
  const std::string enrollment_id = HexEncode(crypto::RandomBytes(kEnrollmentIdBytes));
  const nlohmann::json pending = {
      {"secretSha256", HexEncode(crypto::Sha256(secret.Expose()))},
      {"akPublic", Base64UrlEncode(ak_public_area)},
      {"ekIssuer", ek_cert.Issuer()},
      {"ekSubject", ek_cert.Subject()},
      {"ekSerial", HexEncode(crypto::SerialOf(ek_cert))},
      {"expires", FormatRfc3339(now + options_.enrollment_lifetime)}};
  VOUCH_RETURN_IF_ERROR(
      store_.PutBlob(kTpmEnrollmentBlobPrefix + enrollment_id, AsBytes(pending.dump())));
  return nlohmann::json{{"enrollmentId", enrollment_id},
                        {"credentialBlob", Base64UrlEncode(credential->credential_blob)},
                        {"encryptedSecret", Base64UrlEncode(credential->encrypted_secret)}};
}

absl::StatusOr<nlohmann::json> TpmAttestation::Activate(const nlohmann::json& body,
                                                        absl::Time now) const {
  constexpr std::string_view kContext = "tpm activate";
  VOUCH_RETURN_IF_ERROR(CheckMembers(kContext, body, "body", {"enrollmentId", "secret"}));
  VOUCH_ASSIGN_OR_RETURN(const std::string id, StringMember(kContext, body, "enrollmentId"));
  if (id.size() != 2 * kEnrollmentIdBytes || !IsLowerHex(id)) {
    return InvalidArgumentf("tpm activate: enrollmentId is not {} lower-case hex characters",
                            2 * kEnrollmentIdBytes);
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes secret_bytes, DecodeMember(kContext, body, "body", "secret"));
  const SecretBytes secret(secret_bytes);

  // Each enrollment admits one attempt: the pending blob is deleted before
  // the secret is compared. When two requests race, DeleteBlob succeeds for
  // only one of them.
  const std::string blob_name = kTpmEnrollmentBlobPrefix + id;
  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> stored, store_.GetBlob(blob_name));
  const absl::Status deleted = stored.has_value() ? store_.DeleteBlob(blob_name)
                                                  : absl::NotFoundError("no pending enrollment");
  if (absl::IsNotFound(deleted)) {
    return Unauthenticatedf(
        "tpm activate: enrollment {} is unknown or was already used; enroll again with "
        "POST /tpm/enroll",
        id);
  }
  VOUCH_RETURN_IF_ERROR(deleted);

  const nlohmann::json pending = nlohmann::json::parse(stored->begin(), stored->end(), nullptr,
                                                       false);
  if (!pending.is_object() || !pending.contains("secretSha256") || !pending.contains("expires") ||
      !pending.contains("akPublic")) {
    return Internalf("tpm activate: stored enrollment {} is malformed", id);
  }
  VOUCH_ASSIGN_OR_RETURN(const absl::Time expires,
                         ParseRfc3339(pending["expires"].get<std::string>()));
  if (now > expires) {
    return Unauthenticatedf("tpm activate: enrollment {} expired at {}; enroll again", id,
                            FormatRfc3339(expires));
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes want, HexDecode(pending["secretSha256"].get<std::string>()));
  const Bytes got = crypto::Sha256(secret.Expose());
  if (want.size() != got.size() || CRYPTO_memcmp(want.data(), got.data(), got.size()) != 0) {
    return Unauthenticatedf(
        "tpm activate: the secret does not match enrollment {}; the TPM that holds the EK must "
        "recover it with TPM2_ActivateCredential, and the enrollment is now used",
        id);
  }

  VOUCH_ASSIGN_OR_RETURN(const Bytes ak_public_area,
                         Base64UrlDecode(pending["akPublic"].get<std::string>()));
  VOUCH_ASSIGN_OR_RETURN(const tpm::ObjectPublic ak, tpm::ParsePublicArea(ak_public_area));
  const std::string ak_name = HexEncode(ak.name);
  const nlohmann::json enrolled = {{"akPublic", pending["akPublic"]},
                                   {"ekIssuer", pending.value("ekIssuer", "")},
                                   {"ekSubject", pending.value("ekSubject", "")},
                                   {"ekSerial", pending.value("ekSerial", "")},
                                   {"enrolled", FormatRfc3339(now)}};
  VOUCH_RETURN_IF_ERROR(store_.PutBlob(kTpmAkBlobPrefix + ak_name, AsBytes(enrolled.dump())));
  return nlohmann::json{{"akName", ak_name}};
}

absl::StatusOr<nlohmann::json> TpmAttestation::Attest(const nlohmann::json& body,
                                                      absl::Time now) const {
  constexpr std::string_view kContext = "tpm attest request";
  VOUCH_RETURN_IF_ERROR(CheckMembers(kContext, body, "body",
                                     {"akName", "quote", "signature", "pcrs", "eventLog", "nonce"}));
  VOUCH_ASSIGN_OR_RETURN(const std::string ak_name, StringMember(kContext, body, "akName"));
  // A name is a 2-byte nameAlg and a digest of at most 64 bytes.
  if (ak_name.size() < 2 * (2 + 32) || ak_name.size() > 2 * (2 + 64) || !IsLowerHex(ak_name)) {
    return InvalidArgumentf("tpm attest request: akName is not the lower-case hex name of a key");
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes quote, DecodeMember(kContext, body, "body", "quote"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes signature_bytes,
                         DecodeMember(kContext, body, "body", "signature"));
  VOUCH_ASSIGN_OR_RETURN(const Bytes nonce, DecodeMember(kContext, body, "body", "nonce"));
  if (nonce.empty() || nonce.size() > 64) {
    return InvalidArgumentf("tpm attest request: nonce is not base64url of 1 to 64 bytes; get "
                            "one from POST /challenge");
  }
  std::optional<Bytes> event_log;
  if (body.contains("eventLog")) {
    VOUCH_ASSIGN_OR_RETURN(event_log, DecodeMember(kContext, body, "body", "eventLog"));
  }
  VOUCH_ASSIGN_OR_RETURN(const std::vector<tpm::PcrBank> banks, ParsePcrBanks(body));
  absl::StatusOr<tpm::QuoteSignature> signature = tpm::ParseSignature(signature_bytes);
  if (!signature.ok()) {
    return Prefix("tpm attest request: signature", signature.status());
  }

  VOUCH_ASSIGN_OR_RETURN(const std::optional<Bytes> stored,
                         store_.GetBlob(kTpmAkBlobPrefix + ak_name));
  if (!stored.has_value()) {
    return Unauthenticatedf("tpm attest request: AK {} is not enrolled; enroll it with "
                            "POST /tpm/enroll and POST /tpm/activate",
                            ak_name);
  }
  const nlohmann::json enrolled = nlohmann::json::parse(stored->begin(), stored->end(), nullptr,
                                                        false);
  if (!enrolled.is_object() || !enrolled.contains("akPublic")) {
    return Internalf("tpm attest request: stored AK {} is malformed", ak_name);
  }
  VOUCH_ASSIGN_OR_RETURN(const Bytes ak_public_area,
                         Base64UrlDecode(enrolled["akPublic"].get<std::string>()));
  VOUCH_ASSIGN_OR_RETURN(const tpm::ObjectPublic ak, tpm::ParsePublicArea(ak_public_area));

  // The nonce is consumed before the quote is checked, so each nonce admits
  // one attempt.
  const absl::Status consumed = store_.ConsumeNonce(nonce, now);
  if (absl::IsNotFound(consumed)) {
    return Unauthenticatedf("nonce was not issued by POST /challenge or was already used");
  }
  if (absl::IsFailedPrecondition(consumed)) {
    return Unauthenticatedf("nonce expired; get a new one from POST /challenge");
  }
  VOUCH_RETURN_IF_ERROR(consumed);

  absl::StatusOr<tpm::VerifiedQuote> verified =
      tpm::VerifyQuote(quote, *signature, ak.key.get(), nonce, banks);
  if (!verified.ok()) {
    return Prefix(fmt::format("tpm evidence: quote by AK {}", ak_name), verified.status());
  }
  nlohmann::json claims = {{"x-ms-attestation-type", "tpm"},
                           {"x-vouch-tpm-pcrs", PcrClaim(verified->quoted)},
                           {"x-vouch-tpm-ak-name", ak_name},
                           {"x-vouch-tpm-ek-issuer", enrolled.value("ekIssuer", "")},
                           {"x-vouch-tpm-ek-subject", enrolled.value("ekSubject", "")}};
  if (event_log.has_value()) {
    VOUCH_RETURN_IF_ERROR(AddEventLogClaims(*event_log, *verified, claims));
  }
  return claims;
}

}  // namespace vouch::server
