#include "vouch/agent/seal.h"

#include <utility>

#include "vouch/base/byte_reader.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/aead.h"
#include "vouch/crypto/key_wrap.h"
#include "vouch/crypto/random.h"

namespace vouch::agent {
namespace {

constexpr size_t kMaxKeyNameBytes = 127;
constexpr size_t kMaxKeyVersionBytes = 64;
constexpr size_t kMaxWrappedKeyBytes = 512;

absl::StatusOr<std::string> ReadLengthPrefixed(ByteReader& in, size_t max, std::string_view field) {
  VOUCH_ASSIGN_OR_RETURN(const uint8_t length, in.U8(field));
  if (length == 0 || length > max) {
    return InvalidArgumentf("sealed file: {} of {} bytes, want 1 to {}", field, length, max);
  }
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan bytes, in.Span(length, field));
  return ToString(bytes);
}

Bytes BuildHeader(std::string_view key_name, std::string_view key_version, ByteSpan wrapped) {
  Bytes header(kSealMagic.begin(), kSealMagic.end());
  header.push_back(kSealFormatVersion);
  header.push_back(static_cast<uint8_t>(key_name.size()));
  header.insert(header.end(), key_name.begin(), key_name.end());
  header.push_back(static_cast<uint8_t>(key_version.size()));
  header.insert(header.end(), key_version.begin(), key_version.end());
  header.push_back(static_cast<uint8_t>(wrapped.size() >> 8));
  header.push_back(static_cast<uint8_t>(wrapped.size() & 0xFF));
  header.insert(header.end(), wrapped.begin(), wrapped.end());
  return header;
}

absl::StatusOr<Bytes> ReadInput(const std::string& path) {
  absl::StatusOr<Bytes> data = ReadFile(path, kMaxSealedFileBytes);
  if (!data.ok()) {
    return Prefix("input", data.status());
  }
  return data;
}

}  // namespace

absl::StatusOr<Bytes> SealData(ByteSpan plaintext, std::string_view key_name,
                               std::string_view key_version, const SecretBytes& key) {
  if (key_name.empty() || key_name.size() > kMaxKeyNameBytes) {
    return InvalidArgumentf("seal: key name of {} bytes, want 1 to {}", key_name.size(),
                            kMaxKeyNameBytes);
  }
  if (key_version.empty() || key_version.size() > kMaxKeyVersionBytes) {
    return InvalidArgumentf("seal: key version of {} bytes, want 1 to {}", key_version.size(),
                            kMaxKeyVersionBytes);
  }
  const SecretBytes data_key = crypto::RandomSecret(crypto::kAesGcmKeyBytes);
  VOUCH_ASSIGN_OR_RETURN(const Bytes wrapped, crypto::AesKeyWrapPad(key, data_key.Expose()));
  Bytes out = BuildHeader(key_name, key_version, wrapped);
  VOUCH_ASSIGN_OR_RETURN(const Bytes sealed, crypto::AesGcmSeal(data_key, plaintext, out));
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

absl::StatusOr<SealedHeader> ParseSealedHeader(ByteSpan sealed) {
  ByteReader in(sealed, "sealed file");
  VOUCH_ASSIGN_OR_RETURN(const ByteSpan magic, in.Span(kSealMagic.size(), "magic"));
  if (ToString(magic) != kSealMagic) {
    return InvalidArgumentf("sealed file: not a vouch sealed file (no \"VSEAL\" magic)");
  }
  VOUCH_ASSIGN_OR_RETURN(const uint8_t version, in.U8("format version"));
  if (version != kSealFormatVersion) {
    return InvalidArgumentf("sealed file: format version {}, want {}", version,
                            kSealFormatVersion);
  }
  SealedHeader header;
  VOUCH_ASSIGN_OR_RETURN(header.key_name, ReadLengthPrefixed(in, kMaxKeyNameBytes, "key name"));
  VOUCH_ASSIGN_OR_RETURN(header.key_version,
                         ReadLengthPrefixed(in, kMaxKeyVersionBytes, "key version"));
  VOUCH_ASSIGN_OR_RETURN(const uint16_t wrapped_bytes, in.U16Be("wrapped key length"));
  if (wrapped_bytes == 0 || wrapped_bytes > kMaxWrappedKeyBytes) {
    return InvalidArgumentf("sealed file: wrapped key of {} bytes, want 1 to {}", wrapped_bytes,
                            kMaxWrappedKeyBytes);
  }
  VOUCH_ASSIGN_OR_RETURN(header.wrapped_data_key, in.Copy(wrapped_bytes, "wrapped key"));
  header.header_bytes = in.offset();
  if (in.remaining() < crypto::kAesGcmNonceBytes + crypto::kAesGcmTagBytes) {
    return InvalidArgumentf("sealed file: {} bytes after the header, want at least {}",
                            in.remaining(), crypto::kAesGcmNonceBytes + crypto::kAesGcmTagBytes);
  }
  return header;
}

absl::StatusOr<SecretBytes> UnsealData(ByteSpan sealed, const SecretBytes& key) {
  VOUCH_ASSIGN_OR_RETURN(const SealedHeader header, ParseSealedHeader(sealed));
  absl::StatusOr<SecretBytes> data_key = crypto::AesKeyUnwrapPad(key, header.wrapped_data_key);
  if (!data_key.ok()) {
    return Unauthenticatedf(
        "sealed file: the released key does not unwrap the data key of {} version {}",
        header.key_name, header.key_version);
  }
  const ByteSpan aad = sealed.first(header.header_bytes);
  absl::StatusOr<SecretBytes> plaintext =
      crypto::AesGcmOpen(*data_key, sealed.subspan(header.header_bytes), aad);
  if (!plaintext.ok()) {
    return Unauthenticatedf("sealed file: content or header was modified (GCM tag mismatch)");
  }
  return plaintext;
}

absl::StatusOr<SealFileResult> SealFile(Platform& platform, const HttpClient& http,
                                        const SealFileOptions& options,
                                        const UnlockProgress& progress) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes plaintext, ReadInput(options.input_path));
  ReleaseFlowOptions release;
  release.server_url = options.server_url;
  release.key_name = options.key_name;
  release.key_version = options.key_version;
  VOUCH_ASSIGN_OR_RETURN(const AttestedKey attested,
                         AttestAndRelease(platform, http, release, progress));

  VOUCH_ASSIGN_OR_RETURN(const Bytes sealed, SealData(plaintext, options.key_name,
                                                      attested.key_version, attested.key));
  VOUCH_RETURN_IF_ERROR(WriteFileAtomic(options.output_path, sealed, 0600));
  return SealFileResult{options.key_name, attested.key_version, plaintext.size()};
}

absl::StatusOr<SealFileResult> UnsealFile(Platform& platform, const HttpClient& http,
                                          const SealFileOptions& options,
                                          const UnlockProgress& progress) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes sealed, ReadInput(options.input_path));
  VOUCH_ASSIGN_OR_RETURN(const SealedHeader header, ParseSealedHeader(sealed));
  ReleaseFlowOptions release;
  release.server_url = options.server_url;
  release.key_name = header.key_name;
  release.key_version = header.key_version;
  VOUCH_ASSIGN_OR_RETURN(const AttestedKey attested,
                         AttestAndRelease(platform, http, release, progress));

  VOUCH_ASSIGN_OR_RETURN(const SecretBytes plaintext, UnsealData(sealed, attested.key));
  VOUCH_RETURN_IF_ERROR(WriteFileAtomic(options.output_path, plaintext.Expose(), 0600));
  return SealFileResult{header.key_name, header.key_version, plaintext.size()};
}

}  // namespace vouch::agent
