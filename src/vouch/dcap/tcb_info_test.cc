#include "vouch/dcap/tcb_info.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/time.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/qe_identity.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

std::vector<crypto::Certificate> ReadCerts(const std::vector<std::string>& files) {
  std::vector<crypto::Certificate> out;
  for (const std::string& file : files) {
    auto certs = crypto::ParseCertificates(ReadVector(file));
    EXPECT_TRUE(certs.ok()) << file << ": " << certs.status();
    if (certs.ok()) {
      out.insert(out.end(), certs->begin(), certs->end());
    }
  }
  return out;
}

constexpr char kRoot[] = "intel-certs/intel_sgx_root_ca.pem";
constexpr char kSigning2018[] = "intel-certs/intel_sgx_tcb_signing_2018-2025.pem";
constexpr char kSigning2025[] = "intel-certs/intel_sgx_tcb_signing_2025-2032.pem";

// Every TCB info and QE identity document of the collateral folder, found
// by content.
struct CollateralDocument {
  std::string path;
  bool is_tcb_info;
};

std::vector<CollateralDocument> AllDocuments() {
  std::vector<CollateralDocument> out;
  const std::filesystem::path base =
      std::filesystem::path(::vouch::testing::VectorsDir()) / "intel-collateral";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(base)) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    const std::string relative =
        "intel-collateral/" + std::filesystem::relative(entry.path(), base).string();
    const std::string text = ToString(ReadVector(relative));
    if (text.rfind("{\"tcbInfo\"", 0) == 0) {
      out.push_back({relative, true});
    } else if (text.rfind("{\"enclaveIdentity\"", 0) == 0) {
      out.push_back({relative, false});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

struct Window {
  absl::Time issue;
  absl::Time next;
};

absl::Status VerifyDocument(const CollateralDocument& doc,
                            const std::vector<crypto::Certificate>& certs, absl::Time now,
                            Window* window) {
  const std::string text = ToString(ReadVector(doc.path));
  if (doc.is_tcb_info) {
    auto info = ParseTcbInfo(text);
    if (!info.ok()) {
      return info.status();
    }
    *window = {info->issue_date, info->next_update};
    return VerifyTcbInfo(*info, certs, {IntelRootSpkiSha256()}, now);
  }
  auto identity = ParseQeIdentity(text);
  if (!identity.ok()) {
    return identity.status();
  }
  *window = {identity->issue_date, identity->next_update};
  return VerifyQeIdentity(*identity, certs, {IntelRootSpkiSha256()}, now);
}

TEST(CollateralDocumentsTest, EveryDocumentVerifiesOnlyInsideItsWindow) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto certs = ReadCerts({kRoot, kSigning2018, kSigning2025});
  const auto documents = AllDocuments();
  EXPECT_GE(documents.size(), 26u);
  for (const CollateralDocument& doc : documents) {
    Window window;
    const absl::Status parsed = VerifyDocument(doc, certs, absl::InfinitePast(), &window);
    ASSERT_NE(parsed.code(), absl::StatusCode::kInvalidArgument) << doc.path << ": " << parsed;
    const absl::Time inside = window.issue + (window.next - window.issue) / 2;
    EXPECT_OK(VerifyDocument(doc, certs, inside, &window)) << doc.path;
    EXPECT_OK(VerifyDocument(doc, certs, window.issue, &window)) << doc.path;
    EXPECT_THAT(VerifyDocument(doc, certs, window.next + absl::Seconds(1), &window),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not valid at")))
        << doc.path;
    EXPECT_THAT(VerifyDocument(doc, certs, window.issue - absl::Seconds(1), &window),
                StatusIs(absl::StatusCode::kFailedPrecondition))
        << doc.path;
  }
}

TEST(CollateralDocumentsTest, ExpiredErrorNamesItemAndDates) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto certs = ReadCerts({kRoot, kSigning2018, kSigning2025});
  Window window;
  const absl::Time later = *ParseRfc3339("2025-03-01T00:00:00Z");
  EXPECT_THAT(
      VerifyDocument({"intel-collateral/2025-01-21_zkdcap/tcbinfo_tdx_00806f050000.json", true},
                     certs, later, &window),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("TDX tcb info fmspc 00806f050000 v3: issued 2025-01-21T11:14:05Z, next "
                         "update 2025-02-20T11:14:05Z, not valid at 2025-03-01T00:00:00Z")));
}

// Intel re-issued the TCB Signing certificate in May 2025 with the same key
// and serial: each document verifies with the certificate valid at its time.
TEST(CollateralDocumentsTest, ReissuedSigningCertificateEachSide) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto old_only = ReadCerts({kRoot, kSigning2018});
  const auto new_only = ReadCerts({kRoot, kSigning2025});
  const absl::Time change = *ParseRfc3339("2025-05-21T10:50:10Z");
  for (const CollateralDocument& doc : AllDocuments()) {
    Window window;
    (void)VerifyDocument(doc, new_only, absl::InfinitePast(), &window);
    const absl::Time inside = window.issue + absl::Hours(1);
    if (inside < change) {
      EXPECT_OK(VerifyDocument(doc, old_only, inside, &window)) << doc.path;
      if (inside < *ParseRfc3339("2025-05-06T00:00:00Z")) {
        EXPECT_THAT(VerifyDocument(doc, new_only, inside, &window),
                    StatusIs(absl::StatusCode::kFailedPrecondition))
            << doc.path;
      }
    } else {
      EXPECT_OK(VerifyDocument(doc, new_only, inside, &window)) << doc.path;
      EXPECT_THAT(VerifyDocument(doc, old_only, inside, &window),
                  StatusIs(absl::StatusCode::kFailedPrecondition))
          << doc.path;
    }
  }
}

TEST(CollateralDocumentsTest, IssuerChainFilesVerifyOldCollateral) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto chain = ReadCerts({"intel-collateral/2023-06_go-tdx-guest/tcb_info_issuer_chain.pem"});
  Window window;
  EXPECT_OK(VerifyDocument(
      {"intel-collateral/2023-06_go-tdx-guest/tcbinfo_tdx_50806f000000.json", true}, chain,
      *ParseRfc3339("2023-07-01T01:00:00Z"), &window));
}

TEST(CollateralDocumentsTest, MissingSigningCertificateOrPinnedRootFails) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const CollateralDocument doc{"intel-collateral/2025-10_automata/tcbinfo_tdx_00806f050000.json",
                               true};
  const absl::Time now = *ParseRfc3339("2025-10-20T00:00:00Z");
  Window window;
  EXPECT_THAT(VerifyDocument(doc, ReadCerts({kRoot}), now, &window),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Intel SGX TCB Signing")));
  EXPECT_THAT(VerifyDocument(doc, ReadCerts({kSigning2025}), now, &window),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no trusted root")));
  // A document signed by another key: the non-production sample root is not
  // a TCB signing certificate and not the pinned root.
  EXPECT_THAT(
      VerifyDocument(doc, ReadCerts({"sgx/negative/intel-qvl-sample-nonprod-root.pem"}), now,
                     &window),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  // The Intel root and signing certificate are given, but the pin names
  // another root.
  ASSERT_OK_AND_ASSIGN(const TcbInfo info, ParseTcbInfo(ToString(ReadVector(doc.path))));
  EXPECT_THAT(VerifyTcbInfo(info, ReadCerts({kRoot, kSigning2025}), {Bytes(32, 0)}, now),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no trusted root")));
}

TEST(TamperedJsonTest, OneCharacterBreaksTheSignature) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const auto certs = ReadCerts({kRoot, kSigning2025});
  const std::string text =
      ToString(ReadVector("intel-collateral/2025-06-19_dcap-qvl/tcbinfo_sgx.json"));
  const absl::Time now = *ParseRfc3339("2025-06-20T12:00:00Z");
  ASSERT_OK_AND_ASSIGN(const TcbInfo good, ParseTcbInfo(text));
  ASSERT_OK(VerifyTcbInfo(good, certs, {IntelRootSpkiSha256()}, now));

  // "UpToDate" -> "UpToDatf" would not parse, so change an SVN digit and a
  // date digit, each of which keeps the document valid.
  for (const std::string_view target : {"\"pcesvn\":13", "2024-03-13"}) {
    std::string tampered = text;
    const size_t at = tampered.find(target);
    ASSERT_NE(at, std::string::npos) << target;
    tampered[at + target.size() - 1] = tampered[at + target.size() - 1] == '3' ? '2' : '3';
    ASSERT_OK_AND_ASSIGN(const TcbInfo info, ParseTcbInfo(tampered));
    EXPECT_THAT(VerifyTcbInfo(info, certs, {IntelRootSpkiSha256()}, now),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")))
        << target;
  }
  // Whitespace inside the body is part of the signed bytes, too.
  std::string spaced = text;
  spaced.insert(spaced.find("\"version\""), " ");
  ASSERT_OK_AND_ASSIGN(const TcbInfo info, ParseTcbInfo(spaced));
  EXPECT_THAT(VerifyTcbInfo(info, certs, {IntelRootSpkiSha256()}, now),
              StatusIs(absl::StatusCode::kUnauthenticated));

  // A flipped signature byte fails, too.
  std::string bad_signature = text;
  const size_t sig = bad_signature.find("\"signature\":\"") + 13;
  bad_signature[sig] = bad_signature[sig] == '0' ? '1' : '0';
  ASSERT_OK_AND_ASSIGN(const TcbInfo info2, ParseTcbInfo(bad_signature));
  EXPECT_THAT(VerifyTcbInfo(info2, certs, {IntelRootSpkiSha256()}, now),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(SplitSignedJsonTest, KeepsExactBodyBytes) {
  ASSERT_OK_AND_ASSIGN(const SignedJson split,
                       SplitSignedJson("{\"tcbInfo\": {\"a\" : [1, {\"b\":\"}\\\"\"}]} ,"
                                       "\"signature\":\"" +
                                           std::string(128, 'a') + "\"}",
                                       "tcbInfo"));
  EXPECT_EQ(split.body, "{\"a\" : [1, {\"b\":\"}\\\"\"}]}");
  EXPECT_EQ(split.signature.size(), 64u);
}

TEST(SplitSignedJsonTest, RejectsMalformedEnvelopes) {
  const std::string sig = "\"signature\":\"" + std::string(128, 'a') + "\"";
  const std::string cases[] = {
      "",
      "[]",
      "{\"tcbInfo\":{}}",
      "{" + sig + "}",
      "{\"tcbInfo\":{}," + sig + ",\"extra\":1}",
      "{\"tcbInfo\":{}," + sig + ",\"tcbInfo\":{}}",
      "{\"tcbInfo\":{\"a\":1,\"a\":2}," + sig + "}",
      "{\"tcbInfo\":[]," + sig + "}",
      "{\"tcbInfo\":{},\"signature\":\"abcd\"}",
      "{\"tcbInfo\":{},\"signature\":7}",
      "{\"tcbInfo\":{}," + sig + "} x",
  };
  for (const std::string& text : cases) {
    EXPECT_THAT(SplitSignedJson(text, "tcbInfo"), StatusIs(absl::StatusCode::kInvalidArgument))
        << text;
  }
}

TEST(ParseTcbInfoTest, ReadsTdxVersion3) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(
      const TcbInfo info,
      ParseTcbInfo(ToString(ReadVector("intel-collateral/2025-06-19_dcap-qvl/tcbinfo_tdx.json"))));
  EXPECT_EQ(info.tee_type, TeeType::kTdx);
  EXPECT_EQ(info.version, 3u);
  EXPECT_EQ(HexEncode(info.fmspc), "b0c06f000000");
  EXPECT_EQ(HexEncode(info.pce_id), "0000");
  EXPECT_EQ(info.tcb_evaluation_data_number, 17u);
  ASSERT_TRUE(info.tdx_module.has_value());
  EXPECT_EQ(info.tdx_module->mrsigner.size(), 48u);
  ASSERT_EQ(info.tdx_module_identities.size(), 2u);
  EXPECT_EQ(info.tdx_module_identities[0].id, "TDX_03");
  EXPECT_EQ(info.tdx_module_identities[1].tcb_levels.size(), 2u);
  EXPECT_EQ(info.tdx_module_identities[1].tcb_levels[1].status, TcbStatus::kOutOfDate);
  ASSERT_FALSE(info.tcb_levels.empty());
  EXPECT_EQ(info.tcb_levels[0].sgx_components[7], 5);
  ASSERT_TRUE(info.tcb_levels[0].tdx_components.has_value());
  EXPECT_EQ(info.Describe(), "TDX tcb info fmspc b0c06f000000 v3");
}

TEST(ParseTcbInfoTest, ReadsSgxVersion2) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const TcbInfo info,
                       ParseTcbInfo(ToString(ReadVector(
                           "intel-collateral/2025-06_automata/tcbinfo_sgx_00606a000000_v2.json"))));
  EXPECT_EQ(info.tee_type, TeeType::kSgx);
  EXPECT_EQ(info.version, 2u);
  EXPECT_EQ(info.tcb_levels[0].sgx_components[0], 14);
  EXPECT_EQ(info.tcb_levels[0].sgx_components[4], 255);
  EXPECT_EQ(info.tcb_levels[0].pce_svn, 13);
  EXPECT_EQ(info.tcb_levels[0].status, TcbStatus::kSwHardeningNeeded);
  EXPECT_FALSE(info.tcb_levels[0].tdx_components.has_value());
}

TEST(ParseTcbInfoTest, RejectsBadMembers) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::string text =
      ToString(ReadVector("intel-collateral/2025-06-19_dcap-qvl/tcbinfo_tdx.json"));
  const std::pair<std::string_view, std::string_view> edits[] = {
      {"\"version\":3", "\"version\":4"},
      {"\"id\":\"TDX\"", "\"id\":\"SEV\""},
      {"\"fmspc\":\"B0C06F000000\"", "\"fmspc\":\"B0C06F0000\""},
      {"\"tcbType\":0", "\"tcbType\":1"},
      {"\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"Fine\""},
      {"\"issueDate\":\"2025-06-19T10:16:03Z\"", "\"issueDate\":\"yesterday\""},
      {"\"pcesvn\":1", "\"pcesvn\":-1"},
      {"{\"svn\":2,", "{\"svn\":256,"},
      {"\"tdxModule\":", "\"tdxModuleX\":"},
  };
  for (const auto& [from, to] : edits) {
    std::string edited = text;
    const size_t at = edited.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    edited.replace(at, from.size(), to);
    EXPECT_THAT(ParseTcbInfo(edited), StatusIs(absl::StatusCode::kInvalidArgument)) << to;
  }
}

TEST(ParseQeIdentityTest, ReadsSgxQe) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  ASSERT_OK_AND_ASSIGN(const QeIdentity identity,
                       ParseQeIdentity(ToString(
                           ReadVector("intel-collateral/2025-06-19_dcap-qvl/qeidentity_sgx.json"))));
  EXPECT_EQ(identity.id, "QE");
  EXPECT_EQ(identity.tee_type(), TeeType::kSgx);
  EXPECT_EQ(identity.miscselect, 0u);
  EXPECT_EQ(identity.miscselect_mask, 0xffffffffu);
  EXPECT_EQ(HexEncode(identity.attributes), "11000000000000000000000000000000");
  EXPECT_EQ(identity.isv_prod_id, 1);
  ASSERT_EQ(identity.tcb_levels.size(), 6u);
  EXPECT_EQ(identity.tcb_levels[1].isv_svn, 6);
  EXPECT_EQ(identity.tcb_levels[1].advisory_ids, std::vector<std::string>{"INTEL-SA-00615"});
}

TEST(ParseQeIdentityTest, RejectsOtherEnclaves) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  std::string text =
      ToString(ReadVector("intel-collateral/2025-06-19_dcap-qvl/qeidentity_sgx.json"));
  text.replace(text.find("\"id\":\"QE\""), 9, "\"id\":\"QVE\"");
  EXPECT_THAT(ParseQeIdentity(text), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTcbInfoTest, RejectsEveryTruncation) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const std::string text =
      ToString(ReadVector("intel-collateral/2025-09-02_dcap-qvl-near/qeidentity_td_qe.json"));
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(ParseQeIdentity(text.substr(0, n)).ok()) << "length " << n;
  }
}

}  // namespace
}  // namespace vouch::dcap
