#include "vouch/tpm/attest.h"

#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include <algorithm>
#include <optional>
#include <set>

#include "vouch/base/status.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/ssl_ptr.h"
#include "vouch/tpm/event_log.h"

namespace vouch::tpm {
namespace {

Bytes FromBuffer(const uint8_t* data, size_t size) { return Bytes(data, data + size); }

absl::StatusOr<PcrSelection> ConvertSelection(const TPMS_PCR_SELECTION& in) {
  const std::optional<crypto::HashAlg> alg = TpmAlgToHash(in.hash);
  if (!alg) {
    return InvalidArgumentf("tpm quote: PCR bank algorithm {:#06x} is not supported", in.hash);
  }
  if (in.sizeofSelect > TPM2_PCR_SELECT_MAX) {
    return InvalidArgumentf("tpm quote: sizeofSelect {}, at most {}", in.sizeofSelect,
                            TPM2_PCR_SELECT_MAX);
  }
  PcrSelection out;
  out.alg = *alg;
  for (uint32_t byte = 0; byte < in.sizeofSelect; ++byte) {
    for (uint32_t bit = 0; bit < 8; ++bit) {
      if ((in.pcrSelect[byte] >> bit) & 1) {
        out.pcrs.push_back(byte * 8 + bit);
      }
    }
  }
  return out;
}

absl::StatusOr<Bytes> RsaSignatureBytes(const TPMS_SIGNATURE_RSA& rsa) {
  if (rsa.sig.size > sizeof(rsa.sig.buffer)) {
    return InvalidArgumentf("tpm signature: RSA signature size {}", rsa.sig.size);
  }
  return FromBuffer(rsa.sig.buffer, rsa.sig.size);
}

absl::Status VerifyRsa(ByteSpan attest, const QuoteSignature& signature, EVP_PKEY* ak) {
  if (!crypto::IsRsaKey(ak)) {
    return InvalidArgumentf("tpm quote: signature scheme is RSA but the attestation key is not");
  }
  crypto::SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, crypto::EvpMd(signature.hash), nullptr, ak) !=
                  1) {
    return crypto::SslError("tpm quote: RSA verify init");
  }
  const bool pss = signature.scheme == SignatureScheme::kRsapss;
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) != 1) {
    return crypto::SslError("tpm quote: RSA padding");
  }
  // TPMs use a salt as long as the digest (TPM 2.0 Part 1, annex B.7), but
  // some older ones use the maximum, so the salt length is read from the
  // signature.
  if (pss && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) {
    return crypto::SslError("tpm quote: RSA-PSS salt length");
  }
  const int result = EVP_DigestVerify(ctx.get(), signature.signature.data(),
                                      signature.signature.size(), attest.data(), attest.size());
  if (result != 1) {
    crypto::ClearSslErrors();
    return Unauthenticatedf("tpm quote: {} signature does not verify with the attestation key",
                            pss ? "RSA-PSS" : "RSASSA-PKCS1-v1_5");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ByteSpan> StripTpm2bAttest(ByteSpan input) {
  if (input.size() >= 4 && input[0] == 0xFF && input[1] == 0x54 && input[2] == 0x43 &&
      input[3] == 0x47) {
    return input;
  }
  if (input.size() >= 2 && static_cast<size_t>((input[0] << 8) | input[1]) == input.size() - 2) {
    return input.subspan(2);
  }
  return InvalidArgumentf("tpm quote: input is neither TPMS_ATTEST nor TPM2B_ATTEST");
}

absl::StatusOr<QuoteAttest> ParseQuoteAttest(ByteSpan attest) {
  if (attest.size() > kMaxAttestBytes) {
    return InvalidArgumentf("tpm quote: TPMS_ATTEST of {} bytes, at most {}", attest.size(),
                            kMaxAttestBytes);
  }
  TPMS_ATTEST parsed{};
  size_t offset = 0;
  const TSS2_RC rc = Tss2_MU_TPMS_ATTEST_Unmarshal(attest.data(), attest.size(), &offset, &parsed);
  if (rc != TSS2_RC_SUCCESS) {
    return InvalidArgumentf("tpm quote: TPMS_ATTEST does not unmarshal (TSS error {:#x})", rc);
  }
  if (offset != attest.size()) {
    return InvalidArgumentf("tpm quote: {} trailing bytes after TPMS_ATTEST",
                            attest.size() - offset);
  }
  if (parsed.magic != kTpmGeneratedValue) {
    return InvalidArgumentf("tpm quote: magic {:#010x}, want TPM_GENERATED_VALUE {:#010x}",
                            parsed.magic, kTpmGeneratedValue);
  }
  if (parsed.type != kTpmStAttestQuote) {
    return InvalidArgumentf("tpm quote: type {:#06x}, want TPM_ST_ATTEST_QUOTE {:#06x}",
                            parsed.type, kTpmStAttestQuote);
  }

  QuoteAttest out;
  out.qualified_signer = FromBuffer(parsed.qualifiedSigner.name, parsed.qualifiedSigner.size);
  out.extra_data = FromBuffer(parsed.extraData.buffer, parsed.extraData.size);
  out.clock = parsed.clockInfo.clock;
  out.reset_count = parsed.clockInfo.resetCount;
  out.restart_count = parsed.clockInfo.restartCount;
  out.safe = parsed.clockInfo.safe != 0;
  out.firmware_version = parsed.firmwareVersion;
  const TPMS_QUOTE_INFO& quote = parsed.attested.quote;
  std::set<crypto::HashAlg> banks;
  for (uint32_t i = 0; i < quote.pcrSelect.count; ++i) {
    VOUCH_ASSIGN_OR_RETURN(PcrSelection selection, ConvertSelection(quote.pcrSelect.pcrSelections[i]));
    if (!banks.insert(selection.alg).second) {
      return InvalidArgumentf("tpm quote: PCR bank {} is selected twice",
                              crypto::HashAlgName(selection.alg));
    }
    out.pcr_selections.push_back(std::move(selection));
  }
  out.pcr_digest = FromBuffer(quote.pcrDigest.buffer, quote.pcrDigest.size);
  return out;
}

absl::StatusOr<QuoteSignature> ParseSignature(ByteSpan signature) {
  if (signature.size() > kMaxAttestBytes) {
    return InvalidArgumentf("tpm signature: {} bytes, at most {}", signature.size(),
                            kMaxAttestBytes);
  }
  TPMT_SIGNATURE parsed{};
  size_t offset = 0;
  const TSS2_RC rc =
      Tss2_MU_TPMT_SIGNATURE_Unmarshal(signature.data(), signature.size(), &offset, &parsed);
  if (rc != TSS2_RC_SUCCESS) {
    return InvalidArgumentf("tpm signature: TPMT_SIGNATURE does not unmarshal (TSS error {:#x})",
                            rc);
  }
  if (offset != signature.size()) {
    return InvalidArgumentf("tpm signature: {} trailing bytes", signature.size() - offset);
  }
  QuoteSignature out;
  TPMI_ALG_HASH hash = 0;
  switch (parsed.sigAlg) {
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS: {
      const TPMS_SIGNATURE_RSA& rsa =
          parsed.sigAlg == TPM2_ALG_RSASSA ? parsed.signature.rsassa : parsed.signature.rsapss;
      out.scheme =
          parsed.sigAlg == TPM2_ALG_RSASSA ? SignatureScheme::kRsassa : SignatureScheme::kRsapss;
      hash = rsa.hash;
      VOUCH_ASSIGN_OR_RETURN(out.signature, RsaSignatureBytes(rsa));
      break;
    }
    case TPM2_ALG_ECDSA:
      out.scheme = SignatureScheme::kEcdsa;
      hash = parsed.signature.ecdsa.hash;
      out.ecdsa_r = FromBuffer(parsed.signature.ecdsa.signatureR.buffer,
                               parsed.signature.ecdsa.signatureR.size);
      out.ecdsa_s = FromBuffer(parsed.signature.ecdsa.signatureS.buffer,
                               parsed.signature.ecdsa.signatureS.size);
      break;
    default:
      return InvalidArgumentf(
          "tpm signature: scheme {:#06x}, want RSASSA (0x0014), RSAPSS (0x0016) or ECDSA (0x0018)",
          parsed.sigAlg);
  }
  const std::optional<crypto::HashAlg> alg = TpmAlgToHash(hash);
  if (!alg || *alg == crypto::HashAlg::kSha1) {
    return InvalidArgumentf("tpm signature: hash {:#06x}, want SHA-256, SHA-384 or SHA-512", hash);
  }
  out.hash = *alg;
  return out;
}

absl::StatusOr<Bytes> ExpectedPcrDigest(const std::vector<PcrSelection>& selections,
                                        const std::vector<PcrBank>& banks,
                                        crypto::HashAlg digest_alg) {
  Bytes concatenated;
  for (const PcrSelection& selection : selections) {
    const auto bank = std::find_if(banks.begin(), banks.end(),
                                   [&](const PcrBank& b) { return b.alg == selection.alg; });
    if (bank == banks.end() && !selection.pcrs.empty()) {
      return InvalidArgumentf("tpm quote: no {} PCR values supplied for the quoted bank",
                              crypto::HashAlgName(selection.alg));
    }
    for (uint32_t index : selection.pcrs) {
      const auto value = bank->values.find(index);
      if (value == bank->values.end()) {
        return InvalidArgumentf("tpm quote: {} PCR {} is quoted but its value is missing",
                                crypto::HashAlgName(selection.alg), index);
      }
      if (value->second.size() != crypto::HashSize(selection.alg)) {
        return InvalidArgumentf("tpm quote: {} PCR {} value has {} bytes, want {}",
                                crypto::HashAlgName(selection.alg), index, value->second.size(),
                                crypto::HashSize(selection.alg));
      }
      concatenated.insert(concatenated.end(), value->second.begin(), value->second.end());
    }
  }
  return crypto::Hash(digest_alg, concatenated);
}

absl::Status VerifyQuoteSignature(ByteSpan attest, const QuoteSignature& signature, EVP_PKEY* ak) {
  if (ak == nullptr) {
    return InvalidArgumentf("tpm quote: no attestation key");
  }
  if (signature.scheme != SignatureScheme::kEcdsa) {
    return VerifyRsa(attest, signature, ak);
  }
  if (!crypto::IsEcKey(ak)) {
    return InvalidArgumentf("tpm quote: signature scheme is ECDSA but the attestation key is not");
  }
  return Prefix("tpm quote: ECDSA signature",
                crypto::VerifyEcdsaRaw(ak, signature.hash, attest, signature.ecdsa_r,
                                       signature.ecdsa_s));
}

absl::StatusOr<VerifiedQuote> VerifyQuote(ByteSpan attest, const QuoteSignature& signature,
                                          EVP_PKEY* ak, ByteSpan expected_nonce,
                                          const std::vector<PcrBank>& banks) {
  VOUCH_ASSIGN_OR_RETURN(QuoteAttest parsed, ParseQuoteAttest(attest));
  VOUCH_RETURN_IF_ERROR(VerifyQuoteSignature(attest, signature, ak));

  if (parsed.extra_data.size() != expected_nonce.size() ||
      CRYPTO_memcmp(parsed.extra_data.data(), expected_nonce.data(), expected_nonce.size()) != 0) {
    return Unauthenticatedf(
        "tpm quote: qualifying data ({} bytes) does not equal the expected nonce ({} bytes)",
        parsed.extra_data.size(), expected_nonce.size());
  }

  VOUCH_ASSIGN_OR_RETURN(const Bytes expected,
                         ExpectedPcrDigest(parsed.pcr_selections, banks, signature.hash));
  if (expected != parsed.pcr_digest) {
    return Unauthenticatedf(
        "tpm quote: pcrDigest {} does not match the supplied PCR values (digest {})",
        HexEncode(parsed.pcr_digest), HexEncode(expected));
  }

  VerifiedQuote out;
  for (const PcrSelection& selection : parsed.pcr_selections) {
    PcrBank quoted{selection.alg, {}};
    const auto bank = std::find_if(banks.begin(), banks.end(),
                                   [&](const PcrBank& b) { return b.alg == selection.alg; });
    for (uint32_t index : selection.pcrs) {
      quoted.values[index] = bank->values.at(index);
    }
    out.quoted.push_back(std::move(quoted));
  }
  out.attest = std::move(parsed);
  return out;
}

}  // namespace vouch::tpm
