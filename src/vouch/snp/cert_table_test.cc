#include "vouch/snp/cert_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::StatusIs;

Guid MustGuid(std::string_view text) {
  absl::StatusOr<Guid> guid = ParseGuid(text);
  EXPECT_TRUE(guid.ok()) << guid.status();
  return guid.ok() ? *guid : Guid{};
}

CertTableEntry Entry(std::string_view guid, Bytes data) {
  CertTableEntry entry;
  entry.guid = MustGuid(guid);
  entry.data = std::move(data);
  return entry;
}

void PutU32Le(Bytes& buffer, size_t at, uint32_t value) {
  for (int b = 0; b < 4; ++b) {
    buffer[at + b] = static_cast<uint8_t>(value >> (8 * b));
  }
}

std::vector<CertTableEntry> ThreeEntries() {
  return {Entry(kVcekGuid, Bytes(100, 0xAA)), Entry(kAskGuid, Bytes(200, 0xBB)),
          Entry(kArkGuid, Bytes(300, 0xCC))};
}

TEST(GuidTest, ParsesInRfc4122ByteOrder) {
  const Guid guid = MustGuid(kVcekGuid);
  EXPECT_EQ(guid[0], 0x63);
  EXPECT_EQ(guid[1], 0xda);
  EXPECT_EQ(guid[15], 0xcd);
  EXPECT_EQ(FormatGuid(guid), kVcekGuid);
}

TEST(GuidTest, RejectsMalformedText) {
  EXPECT_THAT(ParseGuid("63da758d-e664-4564-adc5-f4b93be8acc"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGuid("63da758d-e664-4564-adc5-f4b93be8acczz"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGuid("63da758dxe664-4564-adc5-f4b93be8accd"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGuid("63da758d-e664-4564-adc5-f4b93be8acgd"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CertTableTest, RoundTripsThreeEntries) {
  const Bytes buffer = BuildCertTable(ThreeEntries());
  ASSERT_OK_AND_ASSIGN(const std::vector<CertTableEntry> entries, ParseCertTable(buffer));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].kind, CertTableEntryKind::kVcek);
  EXPECT_EQ(entries[1].kind, CertTableEntryKind::kAsk);
  EXPECT_EQ(entries[2].kind, CertTableEntryKind::kArk);
  EXPECT_EQ(entries[0].offset, 4 * kCertTableEntryBytes);
  EXPECT_EQ(entries[1].data, Bytes(200, 0xBB));
  EXPECT_EQ(entries[2].length, 300u);
}

TEST(CertTableTest, AcceptsPagePaddingAfterData) {
  Bytes buffer = BuildCertTable(ThreeEntries());
  buffer.resize(4096, 0);
  ASSERT_OK_AND_ASSIGN(const std::vector<CertTableEntry> entries, ParseCertTable(buffer));
  EXPECT_EQ(entries.size(), 3u);
}

TEST(CertTableTest, EmptyBufferAndLoneTerminatorAreEmpty) {
  ASSERT_OK_AND_ASSIGN(std::vector<CertTableEntry> entries, ParseCertTable({}));
  EXPECT_TRUE(entries.empty());
  ASSERT_OK_AND_ASSIGN(entries, ParseCertTable(Bytes(4096, 0)));
  EXPECT_TRUE(entries.empty());
}

TEST(CertTableTest, KeepsUnknownGuidAsOther) {
  const Bytes buffer =
      BuildCertTable({Entry("92f81bc3-5811-4d3d-97ff-d19f88dc67ea", Bytes(10, 1))});
  ASSERT_OK_AND_ASSIGN(const std::vector<CertTableEntry> entries, ParseCertTable(buffer));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, CertTableEntryKind::kOther);
}

TEST(CertTableTest, RejectsMissingTerminator) {
  Bytes buffer = BuildCertTable(ThreeEntries());
  // Overwrite the terminator (entry 3) with a copy of entry 0's GUID bytes.
  for (size_t i = 0; i < 16; ++i) {
    buffer[3 * kCertTableEntryBytes + i] = 0x11;
  }
  buffer.resize(4 * kCertTableEntryBytes);
  EXPECT_THAT(ParseCertTable(buffer), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("no terminating all-zero entry")));
}

TEST(CertTableTest, RejectsDataPastEnd) {
  Bytes buffer = BuildCertTable(ThreeEntries());
  PutU32Le(buffer, 2 * kCertTableEntryBytes + 20, 301);  // ARK length one too many.
  EXPECT_THAT(ParseCertTable(buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("runs past the end")));
}

TEST(CertTableTest, RejectsOffsetOverflowingU32) {
  Bytes buffer = BuildCertTable(ThreeEntries());
  PutU32Le(buffer, 16, 0xFFFFFFF0);
  PutU32Le(buffer, 20, 0x100);
  EXPECT_THAT(ParseCertTable(buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("runs past the end")));
}

TEST(CertTableTest, RejectsOffsetInsideTable) {
  Bytes buffer = BuildCertTable(ThreeEntries());
  PutU32Le(buffer, 16, 8);
  EXPECT_THAT(ParseCertTable(buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("points into the table")));
}

TEST(CertTableTest, RejectsOverlappingData) {
  Bytes buffer = BuildCertTable(ThreeEntries());
  // ASK data starts 10 bytes into the VCEK data.
  PutU32Le(buffer, kCertTableEntryBytes + 16, 4 * kCertTableEntryBytes + 10);
  EXPECT_THAT(ParseCertTable(buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overlap")));
}

TEST(CertTableTest, RejectsZeroAndHugeLength) {
  Bytes buffer = BuildCertTable(ThreeEntries());
  PutU32Le(buffer, 20, 0);
  EXPECT_THAT(ParseCertTable(buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("length 0")));
  Bytes big = BuildCertTable({Entry(kVcekGuid, Bytes(kMaxCertificateBytes + 1, 1))});
  EXPECT_THAT(ParseCertTable(big), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("want 1 to")));
}

TEST(CertTableTest, RejectsDuplicateGuid) {
  const Bytes buffer =
      BuildCertTable({Entry(kVcekGuid, Bytes(10, 1)), Entry(kVcekGuid, Bytes(10, 2))});
  EXPECT_THAT(ParseCertTable(buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("appears in entries")));
}

TEST(CertTableTest, RejectsTooManyEntries) {
  std::vector<CertTableEntry> entries;
  for (size_t i = 0; i <= kMaxCertTableEntries; ++i) {
    CertTableEntry entry;
    entry.guid.fill(0x42);
    entry.guid[0] = static_cast<uint8_t>(i);
    entry.data = Bytes(1, 1);
    entries.push_back(entry);
  }
  EXPECT_THAT(ParseCertTable(BuildCertTable(entries)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than")));
}

TEST(CertTableTest, RejectsOversizedBuffer) {
  EXPECT_THAT(ParseCertTable(Bytes(kMaxCertTableBytes + 1, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CertTableTest, EveryTruncationFailsOrParsesFewer) {
  const Bytes good = BuildCertTable(ThreeEntries());
  for (size_t n = 1; n < good.size(); ++n) {
    EXPECT_THAT(ParseCertTable(ByteSpan(good).first(n)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "length " << n;
  }
}

TEST(CertTableTest, ByteFlipsNeverCrash) {
  const Bytes good = BuildCertTable(ThreeEntries());
  for (size_t i = 0; i < 4 * kCertTableEntryBytes; ++i) {
    Bytes bad = good;
    bad[i] ^= 0x80;
    // Either a clean error or a table whose entries lie inside the buffer.
    absl::StatusOr<std::vector<CertTableEntry>> entries = ParseCertTable(bad);
    if (entries.ok()) {
      for (const CertTableEntry& entry : *entries) {
        EXPECT_LE(uint64_t{entry.offset} + entry.length, bad.size()) << "flip at " << i;
      }
    }
  }
}

TEST(CertTableTest, CarriesRealVcekDer) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const Bytes vcek = ::vouch::testing::ReadVector("sev-snp/gosevguest-milan-vcek.der");
  const Bytes buffer = BuildCertTable({Entry(kVcekGuid, vcek)});
  ASSERT_OK_AND_ASSIGN(const std::vector<CertTableEntry> entries, ParseCertTable(buffer));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].data, vcek);
}

}  // namespace
}  // namespace vouch::snp
