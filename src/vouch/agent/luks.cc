#include "vouch/agent/luks.h"

#include <fcntl.h>
#include <libcryptsetup.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/cleanup/cleanup.h"
#include "vouch/base/status.h"

namespace vouch::agent {
namespace {

// libcryptsetup reports details (why a header did not load, why activation
// failed) only through its log callback, which prints to stdout and stderr
// by default. The callback below keeps the last error line of the calling
// thread instead, so it can be appended to the returned status. Debug
// logging stays off; libcryptsetup never logs passphrases.
thread_local std::string last_crypt_error;

void CaptureCryptLog(int level, const char* msg, void* /*usrptr*/) {
  if (level != CRYPT_LOG_ERROR || msg == nullptr) {
    return;
  }
  std::string_view line(msg);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  last_crypt_error = std::string(line);
}

void RouteCryptLogOnce() {
  static std::once_flag once;
  std::call_once(once, [] { crypt_set_log_callback(nullptr, CaptureCryptLog, nullptr); });
}

// CryptDetail describes a failed libcryptsetup call from its negative errno
// return value and the last error line that libcryptsetup logged.
std::string CryptDetail(int r) {
  std::string detail = std::strerror(-r);
  if (!last_crypt_error.empty()) {
    detail += " (" + last_crypt_error + ")";
  }
  return detail;
}

struct CryptDeviceDeleter {
  void operator()(crypt_device* cd) const { crypt_free(cd); }
};
using CryptDevice = std::unique_ptr<crypt_device, CryptDeviceDeleter>;

// InitDevice opens a libcryptsetup context on `path` after checking that
// the file exists, so a typo reads "not found" and not an errno string.
absl::StatusOr<CryptDevice> InitDevice(const std::string& path) {
  RouteCryptLogOnce();
  last_crypt_error.clear();

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return NotFoundf("luks2: {}: no such file or device", path);
    }
    return InvalidArgumentf("luks2: {}: {}", path, std::strerror(err));
  }

  crypt_device* raw = nullptr;
  const int r = crypt_init(&raw, path.c_str());
  if (r < 0) {
    return Internalf("luks2: cannot open {}: {}", path, CryptDetail(r));
  }
  return CryptDevice(raw);
}

// LoadLuks2 reads and checks the LUKS2 header of `path`.
absl::StatusOr<CryptDevice> LoadLuks2(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(CryptDevice cd, InitDevice(path));
  const int r = crypt_load(cd.get(), CRYPT_LUKS2, nullptr);
  if (r == -EINVAL && last_crypt_error.empty()) {
    return InvalidArgumentf("luks2: {} is not a LUKS2 volume: no valid LUKS2 header found", path);
  }
  if (r < 0) {
    return InvalidArgumentf("luks2: {}: no valid LUKS2 header: {}", path, CryptDetail(r));
  }
  return cd;
}

// CheckKey returns the keyslot that `key` opens, without activating.
absl::StatusOr<int> CheckKey(crypt_device* cd, const std::string& path, const SecretBytes& key) {
  const ByteSpan bytes = key.Expose();
  const int r = crypt_activate_by_passphrase(
      cd, nullptr, CRYPT_ANY_SLOT, reinterpret_cast<const char*>(bytes.data()), bytes.size(), 0);
  if (r == -EPERM) {
    return PermissionDeniedf("luks2: {}: the key did not open any keyslot", path);
  }
  if (r < 0) {
    return Internalf("luks2: {}: keyslot check failed: {}", path, CryptDetail(r));
  }
  return r;
}

// ReadHeader reads the fields that CheckLuks2Header compares from a loaded
// context.
Luks2Header ReadHeader(crypt_device* cd) {
  Luks2Header header;
  const char* uuid = crypt_get_uuid(cd);
  const char* cipher = crypt_get_cipher(cd);
  const char* mode = crypt_get_cipher_mode(cd);
  header.uuid = uuid != nullptr ? uuid : "";
  header.cipher = cipher != nullptr ? cipher : "";
  header.cipher_mode = mode != nullptr ? mode : "";
  header.volume_key_bytes = crypt_get_volume_key_size(cd);
  const int max_slots = crypt_keyslot_max(CRYPT_LUKS2);
  for (int slot = 0; slot < max_slots; ++slot) {
    const crypt_keyslot_info info = crypt_keyslot_status(cd, slot);
    if (info == CRYPT_SLOT_ACTIVE || info == CRYPT_SLOT_ACTIVE_LAST || info == CRYPT_SLOT_UNBOUND) {
      header.keyslots.push_back(slot);
    }
  }
  // LUKS2 has at most 32 tokens (LUKS2_TOKENS_MAX in libcryptsetup).
  for (int token = 0; token < 32; ++token) {
    const crypt_token_info info = crypt_token_status(cd, token, nullptr);
    if (info != CRYPT_TOKEN_INACTIVE && info != CRYPT_TOKEN_INVALID) {
      header.tokens.push_back(token);
    }
  }
  return header;
}

}  // namespace

absl::StatusOr<Luks2Header> ReadLuks2Header(const std::string& device_path) {
  VOUCH_ASSIGN_OR_RETURN(CryptDevice cd, LoadLuks2(device_path));
  return ReadHeader(cd.get());
}

absl::Status CheckLuks2Header(const std::string& device_path, const Luks2Header& header,
                              const Luks2Expectations& expected) {
  if (header.cipher != expected.cipher || header.cipher_mode != expected.cipher_mode) {
    return FailedPreconditionf(
        "luks2: {}: cipher {}-{}, want {}-{}; the header is not the one vouch formatted",
        device_path, header.cipher, header.cipher_mode, expected.cipher, expected.cipher_mode);
  }
  if (header.volume_key_bytes != expected.volume_key_bytes) {
    return FailedPreconditionf("luks2: {}: volume key of {} bits, want {}", device_path,
                               header.volume_key_bytes * 8, expected.volume_key_bytes * 8);
  }
  for (const int slot : header.keyslots) {
    if (std::find(expected.allowed_keyslots.begin(), expected.allowed_keyslots.end(), slot) ==
        expected.allowed_keyslots.end()) {
      return FailedPreconditionf(
          "luks2: {}: unexpected keyslot {} is in use; someone else may hold a passphrase for "
          "this volume (remove it with `cryptsetup luksKillSlot` if you added it)",
          device_path, slot);
    }
  }
  if (!expected.allow_tokens && !header.tokens.empty()) {
    return FailedPreconditionf(
        "luks2: {}: unexpected token {} in the header; tokens let other tools unlock the volume",
        device_path, header.tokens.front());
  }
  if (!expected.uuid.empty() && header.uuid != expected.uuid) {
    return FailedPreconditionf(
        "luks2: {}: volume UUID {}, but the key is for volume {}; the disk or its header was "
        "replaced",
        device_path, header.uuid, expected.uuid);
  }
  return absl::OkStatus();
}

absl::Status CreateImageFile(const std::string& path, uint64_t size_bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return InvalidArgumentf("create image {}: {}", path, std::strerror(errno));
  }
  absl::Cleanup close_fd = [fd] { ::close(fd); };

  if (::ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return InvalidArgumentf("create image {}: set size {} bytes: {}", path, size_bytes,
                            std::strerror(err));
  }
  return absl::OkStatus();
}

absl::Status FormatLuks2(const std::string& device_path, const SecretBytes& key) {
  if (key.size() < 16) {
    return InvalidArgumentf("luks2: key of {} bytes is too short, want at least 16", key.size());
  }
  VOUCH_ASSIGN_OR_RETURN(CryptDevice cd, InitDevice(device_path));

  // PBKDF2-SHA256 with 1000 iterations (libcryptsetup's minimum) instead of
  // the default argon2id. Key stretching protects guessable passphrases.
  // This passphrase is a random key of 128 to 256 bits, so guessing it is
  // infeasible with or without stretching. The argon2id default of
  // libcryptsetup 2.6.1 would also take up to 1 GiB of memory and two
  // seconds at every unlock in a small VM or initramfs. NO_BENCHMARK makes
  // libcryptsetup use the iteration count as given.
  crypt_pbkdf_type pbkdf{};
  pbkdf.type = CRYPT_KDF_PBKDF2;
  pbkdf.hash = "sha256";
  pbkdf.iterations = 1000;
  pbkdf.flags = CRYPT_PBKDF_NO_BENCHMARK;
  int r = crypt_set_pbkdf_type(cd.get(), &pbkdf);
  if (r < 0) {
    return Internalf("luks2: {}: set PBKDF2: {}", device_path, CryptDetail(r));
  }

  crypt_params_luks2 params{};
  params.sector_size = 512;
  // A null volume key makes libcryptsetup generate a random 512-bit one.
  r = crypt_format(cd.get(), CRYPT_LUKS2, "aes", "xts-plain64", nullptr, nullptr, 64, &params);
  if (r < 0) {
    return Internalf("luks2: format {}: {}", device_path, CryptDetail(r));
  }

  const ByteSpan bytes = key.Expose();
  r = crypt_keyslot_add_by_volume_key(cd.get(), 0, nullptr, 0,
                                      reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (r < 0) {
    return Internalf("luks2: {}: add keyslot 0: {}", device_path, CryptDetail(r));
  }
  return absl::OkStatus();
}

absl::StatusOr<OpenResult> OpenLuks2(const std::string& device_path, const SecretBytes& key,
                                     const std::string& mapped_name,
                                     const Luks2Expectations& expected) {
  VOUCH_ASSIGN_OR_RETURN(CryptDevice cd, LoadLuks2(device_path));
  VOUCH_RETURN_IF_ERROR(CheckLuks2Header(device_path, ReadHeader(cd.get()), expected));

  OpenResult result;
  if (mapped_name.empty()) {
    VOUCH_ASSIGN_OR_RETURN(result.keyslot, CheckKey(cd.get(), device_path, key));
    result.message =
        fmt::format("keyslot {} opened; volume not mapped: no mapped name given", result.keyslot);
    return result;
  }

  const ByteSpan bytes = key.Expose();
  const int r =
      crypt_activate_by_passphrase(cd.get(), mapped_name.c_str(), CRYPT_ANY_SLOT,
                                   reinterpret_cast<const char*>(bytes.data()), bytes.size(), 0);
  if (r >= 0) {
    result.mapped = true;
    result.keyslot = r;
    result.message = fmt::format("keyslot {} opened; mapped as /dev/mapper/{}", r, mapped_name);
    return result;
  }
  if (r == -EPERM) {
    return PermissionDeniedf("luks2: {}: the key did not open any keyslot", device_path);
  }

  // libcryptsetup returns -ENOTSUP when it cannot initialize device-mapper
  // (no dm_mod, no /dev/mapper/control, or no privilege). It checks this
  // before trying the key, so the key is checked on its own here.
  const std::string activate_error = CryptDetail(r);
  VOUCH_ASSIGN_OR_RETURN(result.keyslot, CheckKey(cd.get(), device_path, key));
  if (r != -ENOTSUP) {
    return Internalf("luks2: {}: keyslot {} opened but activation as {} failed: {}", device_path,
                     result.keyslot, mapped_name, activate_error);
  }
  result.message = fmt::format("keyslot {} opened; volume not mapped: device-mapper unavailable",
                               result.keyslot);
  return result;
}

}  // namespace vouch::agent
