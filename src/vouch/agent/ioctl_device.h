// A character device that takes ioctl requests (/dev/sev-guest,
// /dev/tdx_guest), behind an interface so that tests can serve the
// requests without the device.
#ifndef VOUCH_AGENT_IOCTL_DEVICE_H_
#define VOUCH_AGENT_IOCTL_DEVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace vouch::agent {

class IoctlDevice {
 public:
  virtual ~IoctlDevice() = default;

  // Ioctl sends `request` with the argument `arg` and returns 0 on success
  // or the negative errno of the failure.
  virtual int Ioctl(unsigned long request, void* arg) = 0;  // NOLINT(runtime/int)

  // Path returns the device path, for messages.
  virtual const std::string& Path() const = 0;
};

// OpenIoctlDevice opens `path` read-write. Errors: NotFound when the path
// does not exist, PermissionDenied when the process may not open it (the
// guest devices are usually root-only), Unavailable otherwise.
absl::StatusOr<std::unique_ptr<IoctlDevice>> OpenIoctlDevice(const std::string& path);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_IOCTL_DEVICE_H_
