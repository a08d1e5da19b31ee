#include "vouch/snp/cert_table.h"

#include <algorithm>
#include <utility>

#include "vouch/base/byte_reader.h"
#include "vouch/base/status.h"

namespace vouch::snp {
namespace {

struct KnownGuid {
  std::string_view text;
  CertTableEntryKind kind;
};

constexpr KnownGuid kKnownGuids[] = {
    {kVcekGuid, CertTableEntryKind::kVcek},
    {kVlekGuid, CertTableEntryKind::kVlek},
    {kAskGuid, CertTableEntryKind::kAsk},
    {kArkGuid, CertTableEntryKind::kArk},
};

CertTableEntryKind KindOf(const Guid& guid) {
  for (const KnownGuid& known : kKnownGuids) {
    absl::StatusOr<Guid> parsed = ParseGuid(known.text);
    if (parsed.ok() && *parsed == guid) {
      return known.kind;
    }
  }
  return CertTableEntryKind::kOther;
}

// ReadEntries reads the 24-byte entries up to and including the all-zero
// terminator, and returns the entries before it.
absl::StatusOr<std::vector<CertTableEntry>> ReadEntries(ByteSpan buffer) {
  std::vector<CertTableEntry> entries;
  ByteReader in(buffer, "snp certificate table");
  while (true) {
    if (in.remaining() < kCertTableEntryBytes) {
      return InvalidArgumentf(
          "snp certificate table: no terminating all-zero entry within {} bytes "
          "(after {} entries)",
          buffer.size(), entries.size());
    }
    VOUCH_ASSIGN_OR_RETURN(const ByteSpan guid, in.Span(16, "guid"));
    VOUCH_ASSIGN_OR_RETURN(const uint32_t offset, in.U32Le("offset"));
    VOUCH_ASSIGN_OR_RETURN(const uint32_t length, in.U32Le("length"));
    if (IsAllZero(guid) && offset == 0 && length == 0) {
      return entries;
    }
    if (entries.size() == kMaxCertTableEntries) {
      return InvalidArgumentf("snp certificate table: more than {} entries",
                              kMaxCertTableEntries);
    }
    CertTableEntry entry;
    std::copy(guid.begin(), guid.end(), entry.guid.begin());
    entry.kind = KindOf(entry.guid);
    entry.offset = offset;
    entry.length = length;
    entries.push_back(std::move(entry));
  }
}

// CheckEntryBounds checks one entry's data range against the buffer and
// the table.
absl::Status CheckEntryBounds(const CertTableEntry& entry, size_t index, size_t table_bytes,
                              size_t buffer_bytes) {
  const std::string guid = FormatGuid(entry.guid);
  if (entry.length == 0 || entry.length > kMaxCertificateBytes) {
    return InvalidArgumentf("snp certificate table: entry {} ({}): length {}, want 1 to {}",
                            index, guid, entry.length, kMaxCertificateBytes);
  }
  if (entry.offset < table_bytes) {
    return InvalidArgumentf(
        "snp certificate table: entry {} ({}): offset {} points into the table ({} bytes)",
        index, guid, entry.offset, table_bytes);
  }
  const uint64_t end = uint64_t{entry.offset} + entry.length;
  if (end > buffer_bytes) {
    return InvalidArgumentf(
        "snp certificate table: entry {} ({}): offset {} + length {} runs past the end of the "
        "{}-byte buffer",
        index, guid, entry.offset, entry.length, buffer_bytes);
  }
  return absl::OkStatus();
}

// CheckNoOverlapOrDuplicate rejects two entries with the same GUID or with
// overlapping data.
absl::Status CheckNoOverlapOrDuplicate(const std::vector<CertTableEntry>& entries) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (size_t i = 0; i < entries.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (entries[i].guid == entries[j].guid) {
        return InvalidArgumentf("snp certificate table: GUID {} appears in entries {} and {}",
                                FormatGuid(entries[i].guid), j, i);
      }
    }
    ranges.emplace_back(entries[i].offset, uint64_t{entries[i].offset} + entries[i].length);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      return InvalidArgumentf(
          "snp certificate table: data at offsets {}..{} and {}..{} overlap", ranges[i - 1].first,
          ranges[i - 1].second, ranges[i].first, ranges[i].second);
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view CertTableEntryKindName(CertTableEntryKind kind) {
  switch (kind) {
    case CertTableEntryKind::kVcek:
      return "VCEK";
    case CertTableEntryKind::kVlek:
      return "VLEK";
    case CertTableEntryKind::kAsk:
      return "ASK";
    case CertTableEntryKind::kArk:
      return "ARK";
    case CertTableEntryKind::kOther:
      return "other";
  }
  return "other";
}

absl::StatusOr<Guid> ParseGuid(std::string_view text) {
  // 8-4-4-4-12 hex digits.
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return InvalidArgumentf("guid \"{}\": want the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                            text);
  }
  std::string hex;
  for (const char c : text) {
    if (c != '-') {
      hex.push_back(c);
    }
  }
  absl::StatusOr<Bytes> bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != 16) {
    return InvalidArgumentf("guid \"{}\": invalid hex digit", text);
  }
  Guid guid{};
  std::copy(bytes->begin(), bytes->end(), guid.begin());
  return guid;
}

std::string FormatGuid(const Guid& guid) {
  const std::string hex = HexEncode(guid);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

absl::StatusOr<std::vector<CertTableEntry>> ParseCertTable(ByteSpan buffer) {
  if (buffer.empty()) {
    return std::vector<CertTableEntry>{};
  }
  if (buffer.size() > kMaxCertTableBytes) {
    return InvalidArgumentf("snp certificate table: {} bytes, want at most {}", buffer.size(),
                            kMaxCertTableBytes);
  }
  VOUCH_ASSIGN_OR_RETURN(std::vector<CertTableEntry> entries, ReadEntries(buffer));

  // The table takes its entries plus the terminator.
  const size_t table_bytes = (entries.size() + 1) * kCertTableEntryBytes;
  for (size_t i = 0; i < entries.size(); ++i) {
    VOUCH_RETURN_IF_ERROR(CheckEntryBounds(entries[i], i, table_bytes, buffer.size()));
  }
  VOUCH_RETURN_IF_ERROR(CheckNoOverlapOrDuplicate(entries));

  for (CertTableEntry& entry : entries) {
    const ByteSpan data = buffer.subspan(entry.offset, entry.length);
    entry.data.assign(data.begin(), data.end());
  }
  return entries;
}

Bytes BuildCertTable(const std::vector<CertTableEntry>& entries) {
  const size_t table_bytes = (entries.size() + 1) * kCertTableEntryBytes;
  Bytes out(table_bytes, 0);
  size_t offset = table_bytes;
  for (size_t i = 0; i < entries.size(); ++i) {
    uint8_t* entry = out.data() + i * kCertTableEntryBytes;
    std::copy(entries[i].guid.begin(), entries[i].guid.end(), entry);
    const auto length = static_cast<uint32_t>(entries[i].data.size());
    for (int b = 0; b < 4; ++b) {
      entry[16 + b] = static_cast<uint8_t>(offset >> (8 * b));
      entry[20 + b] = static_cast<uint8_t>(length >> (8 * b));
    }
    offset += length;
  }
  for (const CertTableEntry& entry : entries) {
    out.insert(out.end(), entry.data.begin(), entry.data.end());
  }
  return out;
}

}  // namespace vouch::snp
