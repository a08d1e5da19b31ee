// The SEV-SNP certificate table: the certificates that the host hands to the
// guest with an extended attestation report (SNP_GET_EXT_REPORT on
// /dev/sev-guest, or `auxblob` of a configfs-tsm report).
//
// Layout (AMD "SEV-ES Guest-Hypervisor Communication Block Standardization",
// publication 56421, "SNP Extended Guest Request", certificate table; Linux
// Documentation/virt/coco/sev-guest.rst): an array of 24-byte entries
//
//   0x00  GUID    16 bytes, RFC 4122 byte order (as uuid_t stores it)
//   0x10  offset  u32 little-endian, from the start of the table buffer
//   0x14  length  u32 little-endian
//
// ended by an entry that is all zero. The certificates (DER) follow the
// table in the same buffer.
#ifndef VOUCH_SNP_CERT_TABLE_H_
#define VOUCH_SNP_CERT_TABLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"

namespace vouch::snp {

using Guid = std::array<uint8_t, 16>;

// GUIDs of the entries (GHCB specification, certificate table; the same
// values are in the Linux sev-guest documentation and in AMD's virtee/sev).
inline constexpr std::string_view kVcekGuid = "63da758d-e664-4564-adc5-f4b93be8accd";
inline constexpr std::string_view kVlekGuid = "a8074bc2-a25a-483e-aae6-39c045a0b8a1";
inline constexpr std::string_view kAskGuid = "4ab7b379-bbac-4fe4-a02f-05aef327c782";
inline constexpr std::string_view kArkGuid = "c0b406a4-a803-4952-9743-3fb6014cd0ae";

inline constexpr size_t kCertTableEntryBytes = 24;
// Limits of ParseCertTable. The kernel caps the whole buffer at 16 KiB
// (SEV_FW_BLOB_MAX_SIZE in Linux 6.x); these leave room for larger hosts.
inline constexpr size_t kMaxCertTableBytes = 1 << 20;
inline constexpr size_t kMaxCertTableEntries = 64;
inline constexpr size_t kMaxCertificateBytes = 64 * 1024;

// CertTableEntryKind names the entry kinds that vouch uses; others are kept
// as kOther with their GUID.
enum class CertTableEntryKind { kVcek, kVlek, kAsk, kArk, kOther };

std::string_view CertTableEntryKindName(CertTableEntryKind kind);

struct CertTableEntry {
  Guid guid{};
  CertTableEntryKind kind = CertTableEntryKind::kOther;
  uint32_t offset = 0;
  uint32_t length = 0;
  Bytes data;  // The `length` bytes at `offset`, copied out of the buffer.
};

// ParseGuid parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into RFC 4122 bytes.
absl::StatusOr<Guid> ParseGuid(std::string_view text);
// FormatGuid writes the lower-case text form of `guid`.
std::string FormatGuid(const Guid& guid);

// ParseCertTable parses a certificate table buffer. An empty buffer, or one
// that starts with the terminating entry, is an empty table. InvalidArgument,
// with a message naming the entry, rejects: a buffer larger than
// kMaxCertTableBytes, no terminating entry inside the buffer, more than
// kMaxCertTableEntries entries, and an entry with length 0 or above
// kMaxCertificateBytes. It also rejects data that runs past the end of the
// buffer or starts inside the table, overlapping data, and a repeated GUID. Bytes after the last certificate are ignored, because the
// kernel returns the table in a page-sized buffer.
absl::StatusOr<std::vector<CertTableEntry>> ParseCertTable(ByteSpan buffer);

// BuildCertTable writes `entries` (GUID and data; offset and length are
// computed) as a table followed by the data, for tests and fake devices.
Bytes BuildCertTable(const std::vector<CertTableEntry>& entries);

}  // namespace vouch::snp

#endif  // VOUCH_SNP_CERT_TABLE_H_
