// Sealed files: data encrypted for a key that the server releases only to
// an attested VM (`vouch seal` and `vouch unseal`).
//
// Format, version 1 (all lengths are byte counts):
//
//   offset  size  field
//   0       5     magic "VSEAL"
//   5       1     format version, 1
//   6       1     N, length of the key name (1 to 127)
//   7       N     key name (ASCII)
//   7+N     1     V, length of the key version (1 to 64)
//   8+N     V     key version (ASCII)
//   8+N+V   2     W, length of the wrapped data key, big-endian (40)
//   10+N+V  W     data key wrapped with the released key (AES key wrap with
//                 padding, RFC 5649)
//   then          AES-256-GCM of the content under the data key:
//                 nonce (12) || ciphertext || tag (16)
//
// The GCM additional data is every byte before the nonce, so the key name,
// key version and wrapped data key are authenticated with the content: a
// file whose header was edited to name another key or version fails to
// open. Each file has a fresh random 256-bit data key, so the GCM nonce
// limit of one key never comes near.
#ifndef VOUCH_AGENT_SEAL_H_
#define VOUCH_AGENT_SEAL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/platform.h"
#include "vouch/agent/unlock.h"
#include "vouch/base/bytes.h"
#include "vouch/base/secret_bytes.h"

namespace vouch::agent {

inline constexpr std::string_view kSealMagic = "VSEAL";
inline constexpr uint8_t kSealFormatVersion = 1;
// Sealed and unsealed data are held in memory whole.
inline constexpr size_t kMaxSealedFileBytes = 256 << 20;

struct SealedHeader {
  std::string key_name;
  std::string key_version;
  Bytes wrapped_data_key;
  size_t header_bytes = 0;  // Offset of the GCM nonce.
};

// SealData encrypts `plaintext` under a fresh data key, wraps the data key
// with `key` (the released key, 16, 24 or 32 bytes) and writes the format
// above.
absl::StatusOr<Bytes> SealData(ByteSpan plaintext, std::string_view key_name,
                               std::string_view key_version, const SecretBytes& key);

// ParseSealedHeader reads the header. InvalidArgument for a wrong magic,
// an unknown format version, lengths out of range or a truncated file.
absl::StatusOr<SealedHeader> ParseSealedHeader(ByteSpan sealed);

// UnsealData reverses SealData. Unauthenticated when the key is not the one
// the data was sealed for or when any byte was changed.
absl::StatusOr<SecretBytes> UnsealData(ByteSpan sealed, const SecretBytes& key);

struct SealFileOptions {
  std::string server_url;
  std::string key_name;
  std::string key_version;  // Seal: empty for the latest. Unseal: taken from the file.
  std::string input_path;
  std::string output_path;  // Created with mode 0600; an existing file is replaced.
};

struct SealFileResult {
  std::string key_name;
  std::string key_version;
  size_t bytes = 0;  // Plaintext size.
};

// SealFile attests this VM, has the key released (AttestAndRelease), and
// writes the sealed input to the output path.
absl::StatusOr<SealFileResult> SealFile(Platform& platform, const HttpClient& http,
                                        const SealFileOptions& options,
                                        const UnlockProgress& progress);

// UnsealFile reads the key name and version from the sealed file, attests,
// has that version released and writes the plaintext to the output path.
absl::StatusOr<SealFileResult> UnsealFile(Platform& platform, const HttpClient& http,
                                          const SealFileOptions& options,
                                          const UnlockProgress& progress);

}  // namespace vouch::agent

#endif  // VOUCH_AGENT_SEAL_H_
