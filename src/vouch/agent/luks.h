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
#include <vector>

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

// Luks2Expectations describes the header that a volume must have before
// the key is tried on it. A host can swap a disk, or only its header, for
// one with a keyslot it can open, a weaker cipher or a token that makes other
// tools unlock it another way. The defaults are what FormatLuks2 writes.
struct Luks2Expectations {
  std::string cipher = "aes";
  std::string cipher_mode = "xts-plain64";
  int volume_key_bytes = 64;
  // Keyslots that may be in use; any other active or unbound keyslot is
  // rejected.
  std::vector<int> allowed_keyslots = {0};
  // LUKS2 tokens (such as systemd-tpm2 or clevis) are rejected unless allowed.
  bool allow_tokens = false;
  // The volume UUID the key was made for; empty skips the check (see
  // docs/boot-unlock.md for where the expected value comes from).
  std::string uuid;
};

// Luks2Header is what CheckLuks2Header reads from a header.
struct Luks2Header {
  std::string uuid;
  std::string cipher;
  std::string cipher_mode;
  int volume_key_bytes = 0;
  std::vector<int> keyslots;  // Active or unbound keyslots.
  std::vector<int> tokens;    // Token ids in use.
};

// ReadLuks2Header loads the LUKS2 header of `device_path`. Errors as for
// OpenLuks2.
absl::StatusOr<Luks2Header> ReadLuks2Header(const std::string& device_path);

// CheckLuks2Header compares `header` with `expected`. FailedPrecondition
// names the first difference (cipher, key size, keyslot, token or UUID)
// and what it means for the operator.
absl::Status CheckLuks2Header(const std::string& device_path, const Luks2Header& header,
                              const Luks2Expectations& expected);

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
// Before the key is tried, the header is checked against `expected` (see
// CheckLuks2Header) on the same libcryptsetup context that later opens it.
//
// Errors: InvalidArgument when the device contains no LUKS2 header;
// FailedPrecondition when the header differs from `expected`;
// PermissionDenied when the key opens no keyslot; NotFound when the file is
// missing; Internal for other libcryptsetup failures (such as a mapped name
// already in use).
absl::StatusOr<OpenResult> OpenLuks2(const std::string& device_path, const SecretBytes& key,
                                     const std::string& mapped_name,
                                     const Luks2Expectations& expected = {});

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_LUKS_H_
