#include "vouch/agent/ioctl_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

class FileIoctlDevice final : public IoctlDevice {
 public:
  FileIoctlDevice(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~FileIoctlDevice() override { ::close(fd_); }
  FileIoctlDevice(const FileIoctlDevice&) = delete;
  FileIoctlDevice& operator=(const FileIoctlDevice&) = delete;

  int Ioctl(unsigned long request, void* arg) override {  // NOLINT(runtime/int)
    int r = 0;
    do {
      r = ::ioctl(fd_, request, arg);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
  }

  const std::string& Path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<IoctlDevice>> OpenIoctlDevice(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return NotFoundf("{}: no such device", path);
    }
    if (err == EACCES || err == EPERM) {
      return PermissionDeniedf("{}: permission denied; run as root", path);
    }
    return Unavailablef("{}: open failed: {}", path, std::strerror(err));
  }
  return std::make_unique<FileIoctlDevice>(path, fd);
}

}  // namespace vouch::agent
