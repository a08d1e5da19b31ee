#include "vouch/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "vouch/base/status.h"

namespace vouch {

namespace {

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  const int err = errno;
  const std::string message = fmt::format("{} {}: {}", what, path, std::strerror(err));
  if (err == ENOENT) {
    return absl::NotFoundError(message);
  }
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<Bytes> ReadFile(const std::string& path, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError("open", path);
  }
  absl::Cleanup close_fd = [fd] { close(fd); };

  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return ErrnoError("stat", path);
  }
  if (S_ISDIR(st.st_mode)) {
    return InvalidArgumentf("read {}: is a directory", path);
  }
  if (st.st_size > 0 && static_cast<size_t>(st.st_size) > max_bytes) {
    return InvalidArgumentf("read {}: {} bytes, more than the limit of {}", path, st.st_size,
                            max_bytes);
  }

  Bytes out;
  uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return InvalidArgumentf("read {}: more than the limit of {} bytes", path, max_bytes);
    }
    out.insert(out.end(), buffer, buffer + n);
  }
  return out;
}

absl::Status WriteFileAtomic(const std::string& path, ByteSpan data, mode_t mode) {
  const std::string temp = path + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return ErrnoError("create", temp);
  }
  bool closed = false;
  absl::Cleanup cleanup = [&] {
    if (!closed) close(fd);
  };
  if (fchmod(fd, mode) != 0) {
    return ErrnoError("chmod", temp);
  }
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", temp);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    return ErrnoError("fsync", temp);
  }
  closed = true;
  if (close(fd) != 0) {
    return ErrnoError("close", temp);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    return ErrnoError("rename to", path);
  }
  return absl::OkStatus();
}

}  // namespace vouch
