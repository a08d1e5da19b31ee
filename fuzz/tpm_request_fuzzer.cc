// Fuzz target: the JSON bodies of POST /tpm/enroll, /tpm/activate and
// /attest/Tpm. Each body that parses as a JSON object goes through all three
// handlers, as the routes call them after parsing. Their parsers cover the EK
// certificate chain, the TPMT_PUBLIC areas of EK and AK, the enrollment id
// and secret, the TPMS_ATTEST quote, the TPMT_SIGNATURE, the PCR banks and
// the event log.
//
// The handlers run on a SQLite store in a temporary file and with one EK
// root (a fresh self-signed CA), so enrollment reaches its parsers instead
// of stopping at "not configured". No fuzz input can chain to that root, so
// the store never gains an enrollment and every input runs against the same state.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/clock.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/server/tpm_attestation.h"
#include "vouch/store/sqlite_store.h"

namespace {

struct Fixture {
  std::unique_ptr<vouch::store::SqliteStore> store;
  std::shared_ptr<const vouch::server::TpmAttestation> attestation;
};

Fixture* MakeFixture() {
  auto* fixture = new Fixture();
  char pattern[] = "/tmp/vouch_fuzz_tpm_request_XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    std::abort();
  }
  // The folder and its one small database stay until the process exits.
  auto store = vouch::store::SqliteStore::Open(std::string(pattern) + "/fuzz.db");
  auto key = vouch::crypto::GenerateEcKey("P-256");
  if (!store.ok() || !key.ok()) {
    std::abort();
  }

  vouch::crypto::CertificateSpec spec;
  spec.common_name = "vouch fuzz EK root";
  spec.subject_key = key->get();
  spec.issuer_key = key->get();
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24 * 365);
  spec.is_ca = true;
  spec.signature = vouch::crypto::SignatureScheme::kEcdsaSha256;
  auto root = vouch::crypto::IssueCertificate(spec);
  if (!root.ok()) {
    std::abort();
  }

  vouch::server::TpmAttestationOptions options;
  options.ek_roots.push_back(*root);
  auto attestation = vouch::server::TpmAttestation::Create(**store, std::move(options));
  if (!attestation.ok()) {
    std::abort();
  }
  fixture->store = *std::move(store);
  fixture->attestation = *std::move(attestation);
  return fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = MakeFixture();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The routes parse with nlohmann::json and require an object.
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return 0;
  }
  const absl::Time now = absl::Now();
  (void)fixture->attestation->Enroll(body, now);
  (void)fixture->attestation->Activate(body, now);
  (void)fixture->attestation->Attest(body, now);
  return 0;
}
