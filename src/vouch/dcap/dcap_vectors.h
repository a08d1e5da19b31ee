// The real DCAP quotes of the vectors folder with their catalogued facts.
// Only the dcap tests include it.
#ifndef VOUCH_DCAP_DCAP_VECTORS_H_
#define VOUCH_DCAP_DCAP_VECTORS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vouch::dcap::testing {

struct QuoteVector {
  std::string_view path;  // below the vectors folder
  uint16_t version;
  bool tdx;
  size_t trailing_bytes;
  std::string_view fmspc;  // lower-case hex
  // A time (RFC 3339) at which the PCK chain is valid: the catalogued
  // verification time.
  std::string_view valid_at;
};

inline constexpr QuoteVector kProductionQuotes[] = {
    {"tdx/gotdxguest-spr-e4-v4-50806f.dat", 4, true, 39, "50806f000000", "2023-07-01T01:00:00Z"},
    {"tdx/trustee-v4-50806f.dat", 4, true, 0, "50806f000000", "2023-07-01T01:00:00Z"},
    {"tdx/gotdxqpl-spr-v4-00806f05.dat", 4, true, 0, "00806f050000", "2023-03-01T00:00:00Z"},
    {"tdx/gotdxguest-gcp-cos113-v4-00806f05.dat", 4, true, 3065, "00806f050000",
     "2025-06-20T00:00:00Z"},
    {"tdx/trustee-v5-90c06f.dat", 5, true, 0, "90c06f000000", "2025-06-20T00:00:00Z"},
    {"tdx/gotdxguest-v5-90c06f.dat", 5, true, 0, "90c06f000000", "2026-02-20T00:00:00Z"},
    {"tdx/dcapqvl-v4-b0c06f.dat", 4, true, 70, "b0c06f000000", "2025-06-20T12:00:00Z"},
    {"tdx/dcapqvl-v5-90c06f-outdated.dat", 5, true, 0, "90c06f000000", "2026-02-20T00:00:00Z"},
    {"tdx/dcapqvl-v4-b0c06f-tdxhex.dat", 4, true, 70, "b0c06f000000", "2025-06-20T12:00:00Z"},
    {"tdx/dcapqvl-near-v4-20a06f.dat", 4, true, 70, "20a06f000000", "2025-09-10T00:00:00Z"},
    {"tdx/automata-godcap-v4-90c06f.dat", 4, true, 70, "90c06f000000", "2025-06-20T00:00:00Z"},
    {"tdx/zkdcap-gcp-v4-00806f05-padded.dat", 4, true, 3065, "00806f050000",
     "2025-02-01T00:00:00Z"},
    {"tdx/zkdcap-v4-00806f05.dat", 4, true, 0, "00806f050000", "2025-02-01T00:00:00Z"},
    {"azure/trustee-az-tdx-td-quote.dat", 4, true, 70, "00806f050000", "2025-10-20T00:00:00Z"},
    {"sgx/trustee-occlum-v3-00606a.dat", 3, false, 0, "00606a000000", "2025-08-20T00:00:00Z"},
    {"sgx/dcapqvl-v3-00a067110000.dat", 3, false, 0, "00a067110000", "2025-06-20T12:00:00Z"},
};

// Signed correctly, but its PCK chain ends at Intel's non-production sample root.
inline constexpr QuoteVector kNonProductionRootQuote = {
    "sgx/negative/intel-qvl-sample-nonprod-root-v3.dat", 3, false, 0, "00808e300000",
    "2020-01-01T00:00:00Z"};

}  // namespace vouch::dcap::testing

#endif  // VOUCH_DCAP_DCAP_VECTORS_H_
