// LUKS2 volumes through libcryptsetup: format an image with a released key,
// and open it with that key.
//
// The key is used as the passphrase of keyslot 0. libcryptsetup makes its own
// random volume key, so the released key only guards the keyslot. The key
// bytes leave the process only through libcryptsetup calls, and no message
// from this file contains them.
#ifndef VOUCH_AGENT_LUKS_H_
#define VOUCH_AGENT_LUKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::agent {

// CreateImageFile creates a sparse file of `size_bytes` at `path` (mode 0600)
// for tests and the demo. An existing file is an error, so a wrong path
// cannot truncate data.
absl::Status CreateImageFile(const std::string& path, uint64_t size_bytes);

// FormatLuks2 writes a new LUKS2 header (aes-xts-plain64, 512-bit volume key)
// to `device_path` and adds keyslot 0 with `key` as its passphrase. Everything
// already on the device is lost. LUKS2 reserves the first 16 MiB for its
// header and keyslots, so the data area is what follows.
absl::Status FormatLuks2(const std::string& device_path, const SecretBytes& key);

struct OpenResult {
  bool mapped = false;  // True when /dev/mapper/<mapped_name> now exists.
  int keyslot = -1;     // The keyslot that `key` opened.
  std::string message;  // One line for the user, e.g. "keyslot 0 opened; mapped as ...".
};

// OpenLuks2 opens the LUKS2 volume at `device_path` with `key`.
//
// With a non-empty `mapped_name` it activates the volume as
// /dev/mapper/<mapped_name>. Where device-mapper is unavailable (a container
// or a build machine), it still checks that `key` opens a keyslot and
// returns success with mapped == false and a message that reports it. With an
// empty `mapped_name` it only checks the key.
//
// Errors: InvalidArgument when the device contains no LUKS2 header;
// PermissionDenied when the key opens no keyslot; NotFound when the file is
// missing; Internal for other libcryptsetup failures (such as a mapped name
// already in use).
absl::StatusOr<OpenResult> OpenLuks2(const std::string& device_path, const SecretBytes& key,
                                     const std::string& mapped_name);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_LUKS_H_
