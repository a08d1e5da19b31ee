#include "vouch/crypto/hash.h"

#include <openssl/evp.h>

#include "vouch/base/status.h"

namespace vouch::crypto {

const EVP_MD* EvpMd(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1:
      return EVP_sha1();
    case HashAlg::kSha256:
      return EVP_sha256();
    case HashAlg::kSha384:
      return EVP_sha384();
    case HashAlg::kSha512:
      return EVP_sha512();
  }
  VOUCH_UNREACHABLE("unknown HashAlg");
}

size_t HashSize(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1:
      return 20;
    case HashAlg::kSha256:
      return 32;
    case HashAlg::kSha384:
      return 48;
    case HashAlg::kSha512:
      return 64;
  }
  VOUCH_UNREACHABLE("unknown HashAlg");
}

std::string_view HashAlgName(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1:
      return "SHA-1";
    case HashAlg::kSha256:
      return "SHA-256";
    case HashAlg::kSha384:
      return "SHA-384";
    case HashAlg::kSha512:
      return "SHA-512";
  }
  VOUCH_UNREACHABLE("unknown HashAlg");
}

Bytes Hash(HashAlg alg, ByteSpan data) {
  Bytes digest(HashSize(alg));
  unsigned int size = 0;
  // A failure of EVP_Digest with a built-in digest means memory ran out or
  // the library is broken, neither of which a caller can handle.
  VOUCH_CHECK(EVP_Digest(data.data(), data.size(), digest.data(), &size, EvpMd(alg), nullptr) ==
              1);
  VOUCH_CHECK(size == digest.size());
  return digest;
}

Bytes Sha256(ByteSpan data) { return Hash(HashAlg::kSha256, data); }

Bytes Sha384(ByteSpan data) { return Hash(HashAlg::kSha384, data); }

}  // namespace vouch::crypto
