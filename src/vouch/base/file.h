// Whole-file reads and atomic writes.
#ifndef VOUCH_BASE_FILE_H_
#define VOUCH_BASE_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "vouch/base/bytes.h"

namespace vouch {

// ReadFile reads the whole file. Files larger than `max_bytes` are rejected
// before they are read, so a wrong path cannot make vouch read a disk image.
absl::StatusOr<Bytes> ReadFile(const std::string& path, size_t max_bytes = 64 << 20);

// WriteFileAtomic writes `data` to a temporary file beside `path` with mode
// `mode`, flushes it to disk, and renames it over `path`. A crash leaves
// either the old file or the new one, never a mix.
absl::Status WriteFileAtomic(const std::string& path, ByteSpan data, mode_t mode = 0644);

}  // namespace vouch

#endif  // VOUCH_BASE_FILE_H_
