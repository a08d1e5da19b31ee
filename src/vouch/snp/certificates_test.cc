#include "vouch/snp/certificates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vouch/base/bytes.h"
#include "vouch/snp/snp_vectors.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::snp {
namespace {

using ::testing::HasSubstr;
using ::vouch::snp::testing::LoadPool;
using ::vouch::testing::StatusIs;

TEST(ClassifyAmdCertificateTest, ClassifiesEveryAmdChain) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  struct Case {
    const char* file;
    AmdCertKind intermediate;
    const char* product;
  };
  const Case cases[] = {
      {"amd-certs/milan_chain.pem", AmdCertKind::kAsk, "Milan"},
      {"amd-certs/milan_vlek_chain.pem", AmdCertKind::kAsvk, "Milan"},
      {"amd-certs/genoa_chain.pem", AmdCertKind::kAsk, "Genoa"},
      {"amd-certs/genoa_vlek_chain.pem", AmdCertKind::kAsvk, "Genoa"},
      {"amd-certs/turin_chain.pem", AmdCertKind::kAsk, "Turin"},
      {"amd-certs/turin_vlek_chain.pem", AmdCertKind::kAsvk, "Turin"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::vector<crypto::Certificate> chain = LoadPool({c.file});
    ASSERT_EQ(chain.size(), 2U);
    ASSERT_OK_AND_ASSIGN(const AmdCertificate intermediate, ClassifyAmdCertificate(chain[0]));
    EXPECT_EQ(intermediate.kind, c.intermediate);
    EXPECT_EQ(intermediate.product, c.product);
    ASSERT_OK_AND_ASSIGN(const AmdCertificate ark, ClassifyAmdCertificate(chain[1]));
    EXPECT_EQ(ark.kind, AmdCertKind::kArk);
    EXPECT_EQ(ark.product, c.product);
  }
}

TEST(ClassifyAmdCertificateTest, RejectsOtherCertificates) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> intel = LoadPool({"intel-certs/intel_sgx_root_ca.pem"});
  ASSERT_EQ(intel.size(), 1U);
  EXPECT_THAT(ClassifyAmdCertificate(intel[0]),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an AMD")));
}

// The pins are the SHA-256 of each ARK's public key; the VCEK and VLEK chains
// of a product carry the same ARK.
TEST(PinnedAmdRootsTest, MatchArksOfBothChains) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<TrustedRoot> roots = PinnedAmdRoots();
  ASSERT_EQ(roots.size(), 3U);
  for (const TrustedRoot& root : roots) {
    SCOPED_TRACE(root.product);
    std::string lower = root.product;
    lower[0] = static_cast<char>(lower[0] - 'A' + 'a');
    for (const std::string suffix : {"_chain.pem", "_vlek_chain.pem"}) {
      const std::vector<crypto::Certificate> chain = LoadPool({"amd-certs/" + lower + suffix});
      ASSERT_EQ(chain.size(), 2U);
      EXPECT_EQ(chain[1].SpkiSha256(), root.spki_sha256) << suffix;
      EXPECT_NE(chain[0].SpkiSha256(), root.spki_sha256) << suffix;
    }
  }
}

struct ExtensionCase {
  const char* file;
  uint8_t boot_loader, tee, snp, microcode;
  std::optional<uint8_t> fmc;
  size_t hardware_id_size;  // 0: no hwID
  const char* product_name;
};

TEST(ReadEndorsementKeyExtensionsTest, ReadsRealLeaves) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const ExtensionCase cases[] = {
      {"sev-snp/gosevguest-milan-vcek.der", 2, 0, 5, 68, std::nullopt, 64, "Milan-B0"},
      {"sev-snp/virtee-milan-vcek.der", 3, 0, 8, 115, std::nullopt, 64, "Milan-B0"},
      {"sev-snp/oak-genoa-vcek.der", 10, 0, 25, 84, std::nullopt, 64, "Genoa"},
      {"sev-snp/trustee-aws-milan-vlek-v3-vlek.der", 4, 0, 24, 217, std::nullopt, 0, "Milan"},
      {"sev-snp/virtee-turin-vcek-only.der", 0, 0, 0, 9, 0, 8, "Turin"},
  };
  for (const ExtensionCase& c : cases) {
    SCOPED_TRACE(c.file);
    const std::vector<crypto::Certificate> leaf = LoadPool({c.file});
    ASSERT_EQ(leaf.size(), 1U);
    ASSERT_OK_AND_ASSIGN(const EndorsementKeyExtensions ext, ReadEndorsementKeyExtensions(leaf[0]));
    EXPECT_EQ(ext.boot_loader_spl, c.boot_loader);
    EXPECT_EQ(ext.tee_spl, c.tee);
    EXPECT_EQ(ext.snp_spl, c.snp);
    EXPECT_EQ(ext.microcode_spl, c.microcode);
    EXPECT_EQ(ext.fmc_spl, c.fmc);
    EXPECT_EQ(ext.hardware_id ? ext.hardware_id->size() : 0U, c.hardware_id_size);
    EXPECT_EQ(ext.product_name, c.product_name);
  }
}

TEST(ReadEndorsementKeyExtensionsTest, ReadsTurinHardwareId) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> leaf = LoadPool({"sev-snp/virtee-turin-vcek-only.der"});
  ASSERT_OK_AND_ASSIGN(const EndorsementKeyExtensions ext, ReadEndorsementKeyExtensions(leaf[0]));
  ASSERT_TRUE(ext.hardware_id.has_value());
  EXPECT_EQ(HexEncode(*ext.hardware_id), "1e550a8ee5cf9f4d");
}

TEST(ReadEndorsementKeyExtensionsTest, ReadsVlekCspId) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::vector<crypto::Certificate> leaf =
      LoadPool({"sev-snp/trustee-aws-milan-vlek-v3-vlek.der"});
  ASSERT_OK_AND_ASSIGN(const EndorsementKeyExtensions ext, ReadEndorsementKeyExtensions(leaf[0]));
  EXPECT_EQ(ext.csp_id, "CN=cc-us-east-2.amazonaws.com");
  ASSERT_OK_AND_ASSIGN(const AmdCertificate classified, ClassifyAmdCertificate(leaf[0]));
  EXPECT_EQ(classified.kind, AmdCertKind::kVlek);
}

// The legacy form stores the 64 hwID bytes raw, the new form wraps them in an
// OCTET STRING; both decode to the same bytes 00 01 .. 3f.
TEST(ReadEndorsementKeyExtensionsTest, ReadsRawAndWrappedHardwareId) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  Bytes expected(64);
  for (size_t i = 0; i < expected.size(); ++i) {
    expected[i] = static_cast<uint8_t>(i);
  }
  for (const char* file : {"sev-snp/negative/test-vcek-invalid-legacy.der",
                           "sev-snp/negative/test-vcek-invalid-new.der"}) {
    SCOPED_TRACE(file);
    const std::vector<crypto::Certificate> leaf = LoadPool({file});
    ASSERT_EQ(leaf.size(), 1U);
    ASSERT_OK_AND_ASSIGN(const EndorsementKeyExtensions ext, ReadEndorsementKeyExtensions(leaf[0]));
    EXPECT_EQ(ext.hardware_id, expected);
  }
}

}  // namespace
}  // namespace vouch::snp
