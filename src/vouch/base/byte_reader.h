// ByteReader: a bounds-checked cursor over untrusted bytes.
//
// Every read checks the remaining length first and moves the cursor only on
// success. Each read takes the field's name, so an error names the structure
// and the field that ran past the end: "snp report: policy at offset 0x8
// needs 8 bytes, 4 left".
#ifndef VOUCH_BASE_BYTE_READER_H_
#define VOUCH_BASE_BYTE_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"

namespace vouch {

class ByteReader {
 public:
  // `context` names the structure being read ("snp report"); it starts each error.
  ByteReader(ByteSpan input, std::string_view context) : input_(input), context_(context) {}

  absl::StatusOr<uint8_t> U8(std::string_view field);
  absl::StatusOr<uint16_t> U16Le(std::string_view field);
  absl::StatusOr<uint32_t> U32Le(std::string_view field);
  absl::StatusOr<uint64_t> U64Le(std::string_view field);
  absl::StatusOr<uint16_t> U16Be(std::string_view field);
  absl::StatusOr<uint32_t> U32Be(std::string_view field);
  // Span returns the next `size` bytes as a view into the input.
  absl::StatusOr<ByteSpan> Span(size_t size, std::string_view field);
  // Copy returns the next `size` bytes as an owned buffer.
  absl::StatusOr<Bytes> Copy(size_t size, std::string_view field);
  // Reserved reads `size` bytes that the format requires to be zero, and
  // rejects the input when any of them is not.
  absl::Status Reserved(size_t size, std::string_view field);
  // Skip moves past `size` bytes whose content the format leaves open.
  absl::Status Skip(size_t size, std::string_view field);
  // ExpectEnd rejects trailing bytes.
  absl::Status ExpectEnd() const;

  size_t offset() const { return offset_; }
  size_t remaining() const { return input_.size() - offset_; }
  ByteSpan rest() const { return input_.subspan(offset_); }

 private:
  absl::StatusOr<ByteSpan> Take(size_t size, std::string_view field);

  ByteSpan input_;
  std::string context_;
  size_t offset_ = 0;
};

}  // namespace vouch

#endif  // VOUCH_BASE_BYTE_READER_H_
