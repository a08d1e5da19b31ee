#include "vouch/base/byte_reader.h"

#include "vouch/base/status.h"

namespace vouch {

absl::StatusOr<ByteSpan> ByteReader::Take(size_t size, std::string_view field) {
  if (size > remaining()) {
    return InvalidArgumentf("{}: {} at offset {:#x} needs {} bytes, {} left", context_, field,
                            offset_, size, remaining());
  }
  const ByteSpan out = input_.subspan(offset_, size);
  offset_ += size;
  return out;
}

absl::StatusOr<uint8_t> ByteReader::U8(std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(1, field));
  return b[0];
}

absl::StatusOr<uint16_t> ByteReader::U16Le(std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(2, field));
  return static_cast<uint16_t>(b[0] | b[1] << 8);
}

absl::StatusOr<uint32_t> ByteReader::U32Le(std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(4, field));
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | b[i];
  return v;
}

absl::StatusOr<uint64_t> ByteReader::U64Le(std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(8, field));
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[i];
  return v;
}

absl::StatusOr<uint16_t> ByteReader::U16Be(std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(2, field));
  return static_cast<uint16_t>(b[0] << 8 | b[1]);
}

absl::StatusOr<uint32_t> ByteReader::U32Be(std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(4, field));
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | b[i];
  return v;
}

absl::StatusOr<ByteSpan> ByteReader::Span(size_t size, std::string_view field) {
  return Take(size, field);
}

absl::StatusOr<Bytes> ByteReader::Copy(size_t size, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(size, field));
  return Bytes(b.begin(), b.end());
}

absl::Status ByteReader::Reserved(size_t size, std::string_view field) {
  const size_t start = offset_;
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan b, Take(size, field));
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i] != 0) {
      return InvalidArgumentf("{}: reserved field {} at offset {:#x} has byte {:#04x} at {:#x}, "
                              "want zero",
                              context_, field, start, b[i], start + i);
    }
  }
  return absl::OkStatus();
}

absl::Status ByteReader::Skip(size_t size, std::string_view field) {
  return Take(size, field).status();
}

absl::Status ByteReader::ExpectEnd() const {
  if (remaining() != 0) {
    return InvalidArgumentf("{}: {} trailing bytes at offset {:#x}", context_, remaining(),
                            offset_);
  }
  return absl::OkStatus();
}

}  // namespace vouch
