// TPM 2.0 quotes: TPMS_ATTEST and TPMT_SIGNATURE parsing and verification.
//
// Structures come from TPM 2.0 Library Part 2 (TPMS_ATTEST, table 124;
// TPMS_QUOTE_INFO, table 121; TPMT_SIGNATURE, table 190) and are unmarshalled
// with tpm2-tss's libtss2-mu. VerifyQuote checks, in order: the attestation
// structure (magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE), the
// signature with the attestation key, the qualifying data against the
// expected nonce, and the PCR digest against the supplied PCR values.
#ifndef VOUCH_TPM_ATTEST_H_
#define VOUCH_TPM_ATTEST_H_

#include <openssl/evp.h>

#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"
#include "vouch/crypto/hash.h"

namespace vouch::tpm {

inline constexpr uint32_t kTpmGeneratedValue = 0xFF544347;  // "\xffTCG"
inline constexpr uint16_t kTpmStAttestQuote = 0x8018;
// Upper bound on TPMS_ATTEST and TPMT_SIGNATURE input. TPM2B_ATTEST holds at
// most sizeof(TPMS_ATTEST) bytes, which is far below this.
inline constexpr size_t kMaxAttestBytes = 4096;

// One TPMS_PCR_SELECTION: a bank and its selected PCR indices, ascending.
struct PcrSelection {
  crypto::HashAlg alg = crypto::HashAlg::kSha256;
  std::vector<uint32_t> pcrs;
};

// QuoteAttest is a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE.
struct QuoteAttest {
  Bytes qualified_signer;  // TPM2B_NAME of the signing key
  Bytes extra_data;        // qualifying data: the caller's nonce
  uint64_t clock = 0;
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  bool safe = false;
  uint64_t firmware_version = 0;
  std::vector<PcrSelection> pcr_selections;  // in quote order
  Bytes pcr_digest;
};

// ParseQuoteAttest unmarshals a TPMS_ATTEST (the bytes the TPM signs, that
// is TPM2B_ATTEST without its size) and rejects trailing bytes, a magic other
// than TPM_GENERATED_VALUE, a type other than TPM_ST_ATTEST_QUOTE, a PCR bank
// of a hash vouch cannot compute and a bank selected twice. Errors are
// kInvalidArgument.
absl::StatusOr<QuoteAttest> ParseQuoteAttest(ByteSpan attest);

// StripTpm2bAttest returns the TPMS_ATTEST inside `input`: `input` itself when
// it starts with TPM_GENERATED_VALUE, else the body of a TPM2B_ATTEST whose
// size field matches the rest exactly.
absl::StatusOr<ByteSpan> StripTpm2bAttest(ByteSpan input);

enum class SignatureScheme { kRsassa, kRsapss, kEcdsa };

// QuoteSignature is a parsed TPMT_SIGNATURE, or a bare RSA signature with
// its scheme given by the caller (Azure's vTPM evidence carries only the
// signature bytes, RSASSA-PKCS1-v1_5 with SHA-256).
struct QuoteSignature {
  SignatureScheme scheme = SignatureScheme::kRsassa;
  crypto::HashAlg hash = crypto::HashAlg::kSha256;
  Bytes signature;  // RSA: the signature; ECDSA: unused
  Bytes ecdsa_r;    // ECDSA only, big-endian
  Bytes ecdsa_s;
};

// ParseSignature unmarshals a TPMT_SIGNATURE with scheme TPM_ALG_RSASSA,
// TPM_ALG_RSAPSS or TPM_ALG_ECDSA and rejects trailing bytes.
absl::StatusOr<QuoteSignature> ParseSignature(ByteSpan signature);

// PcrBank holds PCR values of one hash algorithm by index.
struct PcrBank {
  crypto::HashAlg alg = crypto::HashAlg::kSha256;
  std::map<uint32_t, Bytes> values;
};

// ExpectedPcrDigest computes the quote's pcrDigest: the hash (`digest_alg`)
// of the selected PCR values concatenated in selection order and, within a
// bank, in ascending index order (TPM 2.0 Part 1, section 18.4). Values not
// selected are ignored. Fails with kInvalidArgument when a selected value is
// missing or has the wrong size.
absl::StatusOr<Bytes> ExpectedPcrDigest(const std::vector<PcrSelection>& selections,
                                        const std::vector<PcrBank>& banks,
                                        crypto::HashAlg digest_alg);

struct VerifiedQuote {
  QuoteAttest attest;
  // The quoted PCR values, by bank, only for the selected registers.
  std::vector<PcrBank> quoted;
};

// VerifyQuote verifies a TPM2_Quote result: it parses `attest` (TPMS_ATTEST),
// verifies `signature` over those exact bytes with `ak` (RSA or EC public
// key), compares extraData with `expected_nonce` in constant time, and
// recomputes pcrDigest from `banks` with the signature's hash algorithm.
// Errors name the check: kInvalidArgument for malformed input or missing PCR
// values, kUnauthenticated for a signature, nonce or PCR digest mismatch.
absl::StatusOr<VerifiedQuote> VerifyQuote(ByteSpan attest, const QuoteSignature& signature,
                                          EVP_PKEY* ak, ByteSpan expected_nonce,
                                          const std::vector<PcrBank>& banks);

// VerifyQuoteSignature verifies only the signature over `attest`.
absl::Status VerifyQuoteSignature(ByteSpan attest, const QuoteSignature& signature, EVP_PKEY* ak);

}  // namespace vouch::tpm

#endif  // VOUCH_TPM_ATTEST_H_
