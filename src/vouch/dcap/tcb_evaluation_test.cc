#include "vouch/dcap/tcb_evaluation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vouch/base/bytes.h"
#include "vouch/base/time.h"
#include "vouch/crypto/crl.h"
#include "vouch/crypto/ecdsa.h"
#include "vouch/crypto/keys.h"
#include "vouch/crypto/x509.h"
#include "vouch/dcap/pck.h"
#include "vouch/dcap/quote.h"
#include "vouch/dcap/tcb_info.h"
#include "vouch/testing/status_matchers.h"
#include "vouch/testing/vectors.h"

namespace vouch::dcap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vouch::testing::ReadVector;
using ::vouch::testing::StatusIs;

constexpr char kRootCrl2025[] = "intel-certs/intel_sgx_root_ca_crl_2025-03-20.der";

std::vector<crypto::Certificate> IntelCertificates() {
  std::vector<crypto::Certificate> out;
  for (const char* file :
       {"intel-certs/intel_sgx_root_ca.pem", "intel-certs/intel_sgx_tcb_signing_2018-2025.pem",
        "intel-certs/intel_sgx_tcb_signing_2025-2032.pem"}) {
    auto certs = crypto::ParseCertificates(ReadVector(file));
    EXPECT_TRUE(certs.ok()) << file;
    if (certs.ok()) {
      out.insert(out.end(), certs->begin(), certs->end());
    }
  }
  return out;
}

// QuoteInputs are a quote's TCB values and PCK chain, read with the quote
// parser and the PCK extension reader.
struct QuoteInputs {
  PlatformTcb platform;
  std::vector<crypto::Certificate> pck_chain;
};

QuoteInputs ReadQuoteInputs(const std::string& path) {
  QuoteInputs out;
  auto quote = ParseQuote(ReadVector(path));
  EXPECT_TRUE(quote.ok()) << path << ": " << quote.status();
  if (!quote.ok()) {
    return out;
  }
  auto chain = crypto::ParseCertificates(AsBytes(quote->qe.pck_chain_pem));
  EXPECT_TRUE(chain.ok()) << path << ": " << chain.status();
  if (!chain.ok()) {
    return out;
  }
  out.pck_chain = *chain;
  auto extensions = ReadPckExtensions(out.pck_chain[0]);
  EXPECT_TRUE(extensions.ok()) << path << ": " << extensions.status();
  if (!extensions.ok()) {
    return out;
  }
  PlatformTcb& platform = out.platform;
  platform.tee_type = quote->tee_type();
  platform.fmspc = extensions->fmspc;
  platform.pce_id = extensions->pce_id;
  platform.sgx_tcb_components = extensions->sgx_tcb_components;
  platform.pce_svn = extensions->pce_svn;
  if (quote->td_body.has_value()) {
    platform.tee_tcb_svn = quote->td_body->tee_tcb_svn;
    platform.mr_signer_seam.assign(quote->td_body->mr_signer_seam.begin(),
                                   quote->td_body->mr_signer_seam.end());
    platform.seam_attributes.assign(quote->td_body->seam_attributes.begin(),
                                    quote->td_body->seam_attributes.end());
  }
  const SgxReportBody& qe = quote->qe.qe_report;
  platform.qe_mrsigner.assign(qe.mr_signer.begin(), qe.mr_signer.end());
  platform.qe_isv_prod_id = qe.isv_prod_id;
  platform.qe_isv_svn = qe.isv_svn;
  platform.qe_miscselect = qe.misc_select;
  platform.qe_attributes.assign(qe.attributes.begin(), qe.attributes.end());
  return out;
}

QuoteCollateral ReadCollateral(const std::string& tcb_info, const std::string& qe_identity,
                               const std::string& pck_crl, const std::string& root_crl) {
  QuoteCollateral collateral;
  collateral.tcb_info_json = ToString(ReadVector("intel-collateral/" + tcb_info));
  collateral.qe_identity_json = ToString(ReadVector("intel-collateral/" + qe_identity));
  if (!pck_crl.empty()) {
    collateral.pck_crl = ReadVector("intel-collateral/" + pck_crl);
  }
  if (!root_crl.empty()) {
    collateral.root_ca_crl = ReadVector(root_crl);
  }
  collateral.intel_certificates = IntelCertificates();
  return collateral;
}

// MatrixRow is one row of the DCAP verification matrix of the vectors'
// SOURCES.md. An empty status means "TCB level not supported".
struct MatrixRow {
  const char* quote;
  const char* tcb_info;
  const char* qe_identity;
  const char* pck_crl;   // "" when none is available
  const char* root_crl;  // path below the vectors folder, "" when none
  const char* time;
  std::optional<TcbStatus> status;
  std::vector<std::string> advisory_ids;
};

const std::vector<MatrixRow>& Matrix() {
  static const auto* rows = new std::vector<MatrixRow>{
      {"tdx/trustee-v4-50806f.dat", "2023-06_go-tdx-guest/tcbinfo_tdx_50806f000000.json",
       "2023-06_go-tdx-guest/qeidentity_td_qe.json", "2023-06_go-tdx-guest/pck_platform_crl.der",
       "intel-collateral/2023-06_go-tdx-guest/root_ca_crl.der", "2023-07-01T01:00:00Z",
       TcbStatus::kUpToDate, {}},
      {"tdx/gotdxguest-spr-e4-v4-50806f.dat", "2023-06_go-tdx-guest/tcbinfo_tdx_50806f000000.json",
       "2023-06_go-tdx-guest/qeidentity_td_qe.json", "2023-06_go-tdx-guest/pck_platform_crl.der",
       "intel-collateral/2023-06_go-tdx-guest/root_ca_crl.der", "2023-07-01T01:00:00Z",
       std::nullopt, {}},
      {"tdx/gotdxqpl-spr-v4-00806f05.dat", "2023-02-17_go-tdx-qpl/tcbinfo_tdx_00806f050000.json",
       "2023-02-17_go-tdx-qpl/qeidentity_td_qe.json", "", "", "2023-03-01T00:00:00Z",
       TcbStatus::kUpToDate, {}},
      {"tdx/zkdcap-v4-00806f05.dat", "2025-01-21_zkdcap/tcbinfo_tdx_00806f050000.json",
       "2025-01-21_zkdcap/qeidentity_td_qe.json", "2025-01-21_zkdcap/pck_platform_crl.der",
       "intel-collateral/2025-01-21_zkdcap/root_ca_crl.der", "2025-02-01T00:00:00Z",
       TcbStatus::kUpToDate, {}},
      {"tdx/zkdcap-gcp-v4-00806f05-padded.dat", "2025-01-21_zkdcap/tcbinfo_tdx_00806f050000.json",
       "2025-01-21_zkdcap/qeidentity_td_qe.json", "2025-01-21_zkdcap/pck_platform_crl.der",
       "intel-collateral/2025-01-21_zkdcap/root_ca_crl.der", "2025-02-01T00:00:00Z",
       TcbStatus::kOutOfDate, {"INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"}},
      {"tdx/gotdxguest-gcp-cos113-v4-00806f05.dat",
       "2025-06_automata/tcbinfo_tdx_00806f050000.json", "2025-06_automata/qeidentity_td_qe.json",
       "2025-06-19_dcap-qvl/pck_platform_crl.der", kRootCrl2025, "2025-06-20T00:00:00Z",
       TcbStatus::kUpToDate, {}},
      {"tdx/gotdxguest-gcp-cos113-v4-00806f05.dat",
       "2025-10_automata/tcbinfo_tdx_00806f050000.json", "2025-10_automata/qeidentity_td_qe.json",
       "2025-10_automata/pck_platform_crl.der", kRootCrl2025, "2025-10-20T00:00:00Z",
       TcbStatus::kUpToDate, {}},
      {"azure/trustee-az-tdx-td-quote.dat", "2025-10_automata/tcbinfo_tdx_00806f050000.json",
       "2025-10_automata/qeidentity_td_qe.json", "2025-10_automata/pck_platform_crl.der",
       kRootCrl2025, "2025-10-20T00:00:00Z", TcbStatus::kOutOfDate,
       {"INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"}},
      {"tdx/trustee-v5-90c06f.dat", "2025-06_automata/tcbinfo_tdx_90c06f000000.json",
       "2025-06_automata/qeidentity_td_qe.json", "2025-06-19_dcap-qvl/pck_platform_crl.der",
       kRootCrl2025, "2025-06-20T00:00:00Z", std::nullopt, {}},
      {"tdx/automata-godcap-v4-90c06f.dat", "2025-06_automata/tcbinfo_tdx_90c06f000000.json",
       "2025-06_automata/qeidentity_td_qe.json", "2025-06-19_dcap-qvl/pck_platform_crl.der",
       kRootCrl2025, "2025-06-20T00:00:00Z", std::nullopt, {}},
      {"tdx/gotdxguest-v5-90c06f.dat", "2026-02_go-tdx-guest+dcap-qvl/tcbinfo_tdx_90c06f000000.json",
       "2026-02_go-tdx-guest+dcap-qvl/qeidentity_td_qe.json",
       "2026-02_go-tdx-guest+dcap-qvl/pck_platform_crl.der", kRootCrl2025, "2026-02-20T00:00:00Z",
       TcbStatus::kUpToDate, {}},
      {"tdx/dcapqvl-v5-90c06f-outdated.dat",
       "2026-02_go-tdx-guest+dcap-qvl/tcbinfo_tdx_90c06f000000.json",
       "2026-02_go-tdx-guest+dcap-qvl/qeidentity_td_qe.json",
       "2026-02_go-tdx-guest+dcap-qvl/pck_platform_crl.der", kRootCrl2025, "2026-02-20T00:00:00Z",
       std::nullopt, {}},
      {"tdx/dcapqvl-v4-b0c06f.dat", "2025-06-19_dcap-qvl/tcbinfo_tdx.json",
       "2025-06-19_dcap-qvl/qeidentity_tdx.json", "2025-06-19_dcap-qvl/pck_platform_crl.der",
       kRootCrl2025, "2025-06-20T12:00:00Z", TcbStatus::kUpToDate, {}},
      {"tdx/dcapqvl-v4-b0c06f-tdxhex.dat", "2025-06-19_dcap-qvl/tcbinfo_tdx.json",
       "2025-06-19_dcap-qvl/qeidentity_tdx.json", "2025-06-19_dcap-qvl/pck_platform_crl.der",
       kRootCrl2025, "2025-06-20T12:00:00Z", std::nullopt, {}},
      {"tdx/dcapqvl-near-v4-20a06f.dat", "2025-09-02_dcap-qvl-near/tcbinfo_tdx_20a06f000000.json",
       "2025-09-02_dcap-qvl-near/qeidentity_td_qe.json",
       "2025-09-02_dcap-qvl-near/pck_platform_crl.der", kRootCrl2025, "2025-09-10T00:00:00Z",
       TcbStatus::kUpToDate, {}},
      {"sgx/trustee-occlum-v3-00606a.dat", "2025-08-15_automata/tcbinfo_sgx_00606a000000.json",
       "2025-08-15_automata/qeidentity_qe.json", "2025-08-15_automata/pck_platform_crl.der",
       kRootCrl2025, "2025-08-20T00:00:00Z", TcbStatus::kOutOfDate,
       {"INTEL-SA-00586", "INTEL-SA-00614", "INTEL-SA-00615", "INTEL-SA-00657", "INTEL-SA-00730",
        "INTEL-SA-00738", "INTEL-SA-00767", "INTEL-SA-00828", "INTEL-SA-00837",
        "INTEL-SA-00960"}},
      {"sgx/trustee-occlum-v3-00606a.dat", "2025-06_automata/tcbinfo_sgx_00606a000000_v2.json",
       "2025-06_automata/qeidentity_qe.json", "2025-06-19_dcap-qvl/pck_platform_crl.der",
       kRootCrl2025, "2025-06-20T00:00:00Z", TcbStatus::kOutOfDate, {}},
      {"sgx/dcapqvl-v3-00a067110000.dat", "2025-06-19_dcap-qvl/tcbinfo_sgx.json",
       "2025-06-19_dcap-qvl/qeidentity_sgx.json", "2025-06-19_dcap-qvl/pck_processor_crl.der",
       kRootCrl2025, "2025-06-20T12:00:00Z", TcbStatus::kConfigurationAndSwHardeningNeeded,
       {"INTEL-SA-00289", "INTEL-SA-00615"}},
  };
  return *rows;
}

TEST(EvaluateTcbTest, ReproducesEveryMatrixRow) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const MatrixRow& row : Matrix()) {
    SCOPED_TRACE(std::string(row.quote) + " with " + row.tcb_info + " at " + row.time);
    const QuoteInputs inputs = ReadQuoteInputs(row.quote);
    ASSERT_FALSE(inputs.pck_chain.empty());
    const QuoteCollateral collateral =
        ReadCollateral(row.tcb_info, row.qe_identity, row.pck_crl, row.root_crl);
    TcbEvaluationOptions options;
    options.require_crls = row.pck_crl[0] != '\0';
    const absl::Time now = *ParseRfc3339(row.time);
    absl::StatusOr<TcbVerdict> verdict =
        EvaluateTcb(collateral, inputs.platform, inputs.pck_chain, now, options);
    if (!row.status.has_value()) {
      EXPECT_THAT(verdict, StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr("tcb level not supported")));
      continue;
    }
    ASSERT_OK(verdict.status());
    EXPECT_EQ(TcbStatusName(verdict->status), TcbStatusName(*row.status));
    EXPECT_EQ(verdict->advisory_ids, row.advisory_ids);
    EXPECT_EQ(verdict->revocation_checked, options.require_crls);
    EXPECT_EQ(verdict->collateral.size(), options.require_crls ? 4u : 2u);
  }
}

// Moving the time past the earliest nextUpdate of each set must report
// expired collateral, naming the item.
TEST(EvaluateTcbTest, ExpiredCollateralNamesItem) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  for (const MatrixRow& row : Matrix()) {
    SCOPED_TRACE(row.quote);
    const QuoteInputs inputs = ReadQuoteInputs(row.quote);
    const QuoteCollateral collateral =
        ReadCollateral(row.tcb_info, row.qe_identity, row.pck_crl, row.root_crl);
    TcbEvaluationOptions options;
    options.require_crls = false;
    EXPECT_THAT(EvaluateTcb(collateral, inputs.platform, inputs.pck_chain,
                            *ParseRfc3339("2053-07-01T00:00:00Z"), options),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  const MatrixRow& row = Matrix()[0];
  const QuoteInputs inputs = ReadQuoteInputs(row.quote);
  const QuoteCollateral collateral =
      ReadCollateral(row.tcb_info, row.qe_identity, row.pck_crl, row.root_crl);
  // 2023-07-10: TCB info still valid (next update 07-18), QE identity not (07-08).
  EXPECT_THAT(EvaluateTcb(collateral, inputs.platform, inputs.pck_chain,
                          *ParseRfc3339("2023-07-10T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("TD_QE identity v2: issued 2023-06-08T07:24:59Z, next update "
                                 "2023-07-08T07:24:59Z, not valid at 2023-07-10T00:00:00Z")));
}

TEST(EvaluateTcbTest, MissingCrlsRejectedByDefault) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const MatrixRow& row = Matrix()[2];  // go-tdx-qpl: no CRL of that date exists
  const QuoteInputs inputs = ReadQuoteInputs(row.quote);
  const QuoteCollateral collateral = ReadCollateral(row.tcb_info, row.qe_identity, "", "");
  EXPECT_THAT(EvaluateTcb(collateral, inputs.platform, inputs.pck_chain, *ParseRfc3339(row.time)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("revocation")));
}

TEST(EvaluateTcbTest, WrongCollateralIsRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const QuoteInputs tdx = ReadQuoteInputs("tdx/dcapqvl-v4-b0c06f.dat");
  const QuoteInputs sgx = ReadQuoteInputs("sgx/dcapqvl-v3-00a067110000.dat");
  const absl::Time now = *ParseRfc3339("2025-06-20T12:00:00Z");
  const QuoteCollateral tdx_set =
      ReadCollateral("2025-06-19_dcap-qvl/tcbinfo_tdx.json", "2025-06-19_dcap-qvl/qeidentity_tdx.json",
                     "2025-06-19_dcap-qvl/pck_platform_crl.der", kRootCrl2025);
  const QuoteCollateral sgx_set = ReadCollateral(
      "2025-06-19_dcap-qvl/tcbinfo_sgx.json", "2025-06-19_dcap-qvl/qeidentity_sgx.json",
      "2025-06-19_dcap-qvl/pck_processor_crl.der", kRootCrl2025);
  // TEE type mismatch (TDX TCB info for an SGX quote and back).
  EXPECT_THAT(EvaluateTcb(tdx_set, sgx.platform, sgx.pck_chain, now),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is for TDX")));
  EXPECT_THAT(EvaluateTcb(sgx_set, tdx.platform, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // FMSPC mismatch.
  PlatformTcb other_fmspc = tdx.platform;
  other_fmspc.fmspc[0] ^= 1;
  EXPECT_THAT(EvaluateTcb(tdx_set, other_fmspc, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fmspc")));
  PlatformTcb other_pce = tdx.platform;
  other_pce.pce_id[1] ^= 1;
  EXPECT_THAT(EvaluateTcb(tdx_set, other_pce, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("pceId")));
  // QE identity of the other TEE.
  QuoteCollateral mixed = tdx_set;
  mixed.qe_identity_json = sgx_set.qe_identity_json;
  EXPECT_THAT(EvaluateTcb(mixed, tdx.platform, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("QE identity")));
  // PCK CRL of the wrong CA (processor CRL for a platform-CA PCK).
  QuoteCollateral wrong_crl = tdx_set;
  wrong_crl.pck_crl = sgx_set.pck_crl;
  EXPECT_THAT(EvaluateTcb(wrong_crl, tdx.platform, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("pck crl")));
  // A garbage CRL is an error, never "nothing revoked".
  QuoteCollateral garbage_crl = tdx_set;
  garbage_crl.pck_crl = ToBytes("garbage");
  EXPECT_THAT(EvaluateTcb(garbage_crl, tdx.platform, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pck crl")));
}

TEST(EvaluateTcbTest, QeIdentityMismatchesAreRejected) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const QuoteInputs sgx = ReadQuoteInputs("sgx/dcapqvl-v3-00a067110000.dat");
  const absl::Time now = *ParseRfc3339("2025-06-20T12:00:00Z");
  const QuoteCollateral set = ReadCollateral(
      "2025-06-19_dcap-qvl/tcbinfo_sgx.json", "2025-06-19_dcap-qvl/qeidentity_sgx.json",
      "2025-06-19_dcap-qvl/pck_processor_crl.der", kRootCrl2025);
  PlatformTcb signer = sgx.platform;
  signer.qe_mrsigner[0] ^= 1;
  EXPECT_THAT(EvaluateTcb(set, signer, sgx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("mrsigner")));
  PlatformTcb prod = sgx.platform;
  prod.qe_isv_prod_id = 7;
  EXPECT_THAT(EvaluateTcb(set, prod, sgx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("isvprodid")));
  PlatformTcb misc = sgx.platform;
  misc.qe_miscselect = 1;
  EXPECT_THAT(EvaluateTcb(set, misc, sgx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("miscselect")));
  PlatformTcb attributes = sgx.platform;
  attributes.qe_attributes[0] ^= 0x02;  // DEBUG
  EXPECT_THAT(EvaluateTcb(set, attributes, sgx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("attributes")));
  // An old QE: isvsvn 6 is OutOfDate with INTEL-SA-00615, merged into the
  // platform's ConfigurationAndSWHardeningNeeded.
  PlatformTcb old_qe = sgx.platform;
  old_qe.qe_isv_svn = 6;
  ASSERT_OK_AND_ASSIGN(const TcbVerdict verdict, EvaluateTcb(set, old_qe, sgx.pck_chain, now));
  EXPECT_EQ(verdict.status, TcbStatus::kOutOfDateConfigurationNeeded);
  EXPECT_EQ(verdict.qe_status, TcbStatus::kOutOfDate);
  EXPECT_THAT(verdict.advisory_ids, ElementsAre("INTEL-SA-00289", "INTEL-SA-00615"));
  PlatformTcb ancient_qe = sgx.platform;
  ancient_qe.qe_isv_svn = 0;
  EXPECT_THAT(EvaluateTcb(set, ancient_qe, sgx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tcb level not supported")));
}

TEST(EvaluateTcbTest, TdxModuleIdentityChecks) {
  VOUCH_REQUIRE_VECTORS_OR_SKIP();
  const QuoteInputs tdx = ReadQuoteInputs("tdx/dcapqvl-v4-b0c06f.dat");
  ASSERT_EQ(tdx.platform.tee_tcb_svn[1], 1);
  const absl::Time now = *ParseRfc3339("2025-06-20T12:00:00Z");
  const QuoteCollateral set =
      ReadCollateral("2025-06-19_dcap-qvl/tcbinfo_tdx.json", "2025-06-19_dcap-qvl/qeidentity_tdx.json",
                     "2025-06-19_dcap-qvl/pck_platform_crl.der", kRootCrl2025);
  ASSERT_OK_AND_ASSIGN(const TcbVerdict good, EvaluateTcb(set, tdx.platform, tdx.pck_chain, now));
  EXPECT_EQ(good.tdx_module_id, "TDX_01");
  EXPECT_EQ(good.tdx_module_status, TcbStatus::kUpToDate);

  // TDX_01 lists isvsvn 4 UpToDate and 2 OutOfDate.
  PlatformTcb old_module = tdx.platform;
  old_module.tee_tcb_svn[0] = 3;
  ASSERT_OK_AND_ASSIGN(const TcbVerdict old, EvaluateTcb(set, old_module, tdx.pck_chain, now));
  EXPECT_EQ(old.tdx_module_status, TcbStatus::kOutOfDate);
  EXPECT_EQ(old.status, TcbStatus::kOutOfDate);
  PlatformTcb older_module = tdx.platform;
  older_module.tee_tcb_svn[0] = 1;
  EXPECT_THAT(EvaluateTcb(set, older_module, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tcb level not supported")));
  PlatformTcb unknown_module = tdx.platform;
  unknown_module.tee_tcb_svn[1] = 2;
  EXPECT_THAT(EvaluateTcb(set, unknown_module, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("TDX_02")));
  PlatformTcb signer = tdx.platform;
  signer.mr_signer_seam[5] = 1;
  EXPECT_THAT(EvaluateTcb(set, signer, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("mrsigner_seam")));
  PlatformTcb attributes = tdx.platform;
  attributes.seam_attributes[0] = 1;
  EXPECT_THAT(EvaluateTcb(set, attributes, tdx.pck_chain, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("seam_attributes")));
}

TEST(TcbStatusTest, NamesRoundTrip) {
  for (const TcbStatus status :
       {TcbStatus::kUpToDate, TcbStatus::kSwHardeningNeeded, TcbStatus::kConfigurationNeeded,
        TcbStatus::kConfigurationAndSwHardeningNeeded, TcbStatus::kOutOfDate,
        TcbStatus::kOutOfDateConfigurationNeeded, TcbStatus::kRevoked}) {
    ASSERT_OK_AND_ASSIGN(const TcbStatus parsed, ParseTcbStatus(TcbStatusName(status)));
    EXPECT_EQ(parsed, status);
  }
  EXPECT_EQ(TcbStatusName(TcbStatus::kSwHardeningNeeded), "SWHardeningNeeded");
  EXPECT_THAT(ParseTcbStatus("uptodate"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TcbAcceptanceTest, ParsesListsAndRejectsRevoked) {
  ASSERT_OK_AND_ASSIGN(const auto statuses,
                       ParseAcceptedTcbStatuses("UpToDate, SWHardeningNeeded"));
  EXPECT_THAT(statuses, ElementsAre(TcbStatus::kUpToDate, TcbStatus::kSwHardeningNeeded));
  EXPECT_THAT(ParseAcceptedTcbStatuses("UpToDate,Revoked"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAcceptedTcbStatuses(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAcceptedTcbStatuses("UpToDate,,OutOfDate"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TcbAcceptanceTest, ChecksStatusAndAdvisories) {
  TcbVerdict verdict;
  verdict.status = TcbStatus::kOutOfDate;
  verdict.advisory_ids = {"INTEL-SA-00960"};
  EXPECT_THAT(CheckTcbAccepted(verdict, {}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("OutOfDate")));
  TcbAcceptance out_of_date;
  out_of_date.statuses = {TcbStatus::kUpToDate, TcbStatus::kOutOfDate};
  EXPECT_OK(CheckTcbAccepted(verdict, out_of_date));
  out_of_date.advisory_ids = std::vector<std::string>{"INTEL-SA-00615"};
  EXPECT_THAT(CheckTcbAccepted(verdict, out_of_date),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("INTEL-SA-00960")));
  verdict.status = TcbStatus::kRevoked;
  TcbAcceptance everything;
  everything.statuses = {TcbStatus::kRevoked};
  EXPECT_THAT(CheckTcbAccepted(verdict, everything),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

// TestPki is a stand-in for Intel's PKI: a root, a TCB signing certificate
// and a PCK CA with one PCK certificate, all P-256.
struct TestPki {
  crypto::SslPtr<EVP_PKEY> root_key, signing_key, ca_key, pck_key;
  crypto::Certificate root, signing, ca, pck;
};

crypto::Certificate Issue(const std::string& cn, EVP_PKEY* subject, EVP_PKEY* issuer_key,
                          const crypto::Certificate* issuer, bool is_ca, uint64_t serial) {
  crypto::CertificateSpec spec;
  spec.common_name = cn;
  spec.organization = "Test";
  spec.subject_key = subject;
  spec.issuer_key = issuer_key;
  if (issuer != nullptr) {
    spec.issuer = *issuer;
  }
  spec.serial = serial;
  spec.not_before = *ParseRfc3339("2020-01-01T00:00:00Z");
  spec.not_after = *ParseRfc3339("2040-01-01T00:00:00Z");
  spec.is_ca = is_ca;
  spec.signature = crypto::SignatureScheme::kEcdsaSha256;
  auto cert = crypto::IssueCertificate(spec);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? *cert : crypto::Certificate();
}

TestPki MakeTestPki() {
  TestPki pki;
  pki.root_key = *crypto::GenerateEcKey("P-256");
  pki.signing_key = *crypto::GenerateEcKey("P-256");
  pki.ca_key = *crypto::GenerateEcKey("P-256");
  pki.pck_key = *crypto::GenerateEcKey("P-256");
  pki.root = Issue("Test SGX Root CA", pki.root_key.get(), pki.root_key.get(), nullptr, true, 1);
  pki.signing = Issue(std::string(kTcbSigningCommonName), pki.signing_key.get(),
                      pki.root_key.get(), &pki.root, false, 2);
  pki.ca = Issue("Test PCK Platform CA", pki.ca_key.get(), pki.root_key.get(), &pki.root, true, 3);
  pki.pck = Issue("Test PCK Certificate", pki.pck_key.get(), pki.ca_key.get(), &pki.ca, false,
                  0x7e3882d5);
  return pki;
}

// Resign replaces the signature of a collateral document with one by `key`
// over the same body bytes.
std::string Resign(const std::string& document, std::string_view body_key, EVP_PKEY* key) {
  auto split = SplitSignedJson(document, body_key);
  EXPECT_TRUE(split.ok()) << split.status();
  auto signature = crypto::SignEcdsaRaw(key, crypto::HashAlg::kSha256, AsBytes(split->body));
  EXPECT_TRUE(signature.ok()) << signature.status();
  return "{\"" + std::string(body_key) + "\":" + split->body + ",\"signature\":\"" +
         HexEncode(*signature) + "\"}";
}

crypto::Crl MakeCrl(const crypto::Certificate& issuer, EVP_PKEY* key, std::vector<Bytes> revoked) {
  crypto::CrlSpec spec;
  spec.issuer = &issuer;
  spec.issuer_key = key;
  spec.this_update = *ParseRfc3339("2025-01-01T00:00:00Z");
  spec.next_update = *ParseRfc3339("2025-03-01T00:00:00Z");
  spec.revoked_serials = std::move(revoked);
  auto crl = crypto::IssueCrl(spec);
  EXPECT_TRUE(crl.ok()) << crl.status();
  return *crl;
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VOUCH_REQUIRE_VECTORS_OR_SKIP();
    pki_ = MakeTestPki();
    // The zkdcap quote's TCB values with collateral re-signed by the test PKI.
    inputs_ = ReadQuoteInputs("tdx/zkdcap-v4-00806f05.dat");
    collateral_.tcb_info_json = Resign(
        ToString(ReadVector("intel-collateral/2025-01-21_zkdcap/tcbinfo_tdx_00806f050000.json")),
        "tcbInfo", pki_.signing_key.get());
    collateral_.qe_identity_json = Resign(
        ToString(ReadVector("intel-collateral/2025-01-21_zkdcap/qeidentity_td_qe.json")),
        "enclaveIdentity", pki_.signing_key.get());
    collateral_.intel_certificates = {pki_.root, pki_.signing};
    collateral_.root_ca_crl = MakeCrl(pki_.root, pki_.root_key.get(), {}).Der();
    collateral_.pck_crl = MakeCrl(pki_.ca, pki_.ca_key.get(), {Bytes{0x01, 0x02}}).Der();
    options_.trusted_root_spki_sha256 = {pki_.root.SpkiSha256()};
  }

  std::vector<crypto::Certificate> Chain() const { return {pki_.pck, pki_.ca, pki_.root}; }

  TestPki pki_;
  QuoteInputs inputs_;
  QuoteCollateral collateral_;
  TcbEvaluationOptions options_;
  absl::Time now_ = *ParseRfc3339("2025-02-01T00:00:00Z");
};

TEST_F(RevocationTest, TestPkiCollateralVerifies) {
  ASSERT_OK_AND_ASSIGN(const TcbVerdict verdict,
                       EvaluateTcb(collateral_, inputs_.platform, Chain(), now_, options_));
  EXPECT_EQ(verdict.status, TcbStatus::kUpToDate);
  // The production pin does not trust the test root.
  EXPECT_THAT(EvaluateTcb(collateral_, inputs_.platform, Chain(), now_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no trusted root")));
}

TEST_F(RevocationTest, RevokedPckIsRejected) {
  collateral_.pck_crl = MakeCrl(pki_.ca, pki_.ca_key.get(), {crypto::SerialOf(pki_.pck)}).Der();
  EXPECT_THAT(EvaluateTcb(collateral_, inputs_.platform, Chain(), now_, options_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("tcb status Revoked: certificate")));
}

TEST_F(RevocationTest, RevokedPckCaIsRejected) {
  collateral_.root_ca_crl =
      MakeCrl(pki_.root, pki_.root_key.get(), {crypto::SerialOf(pki_.ca)}).Der();
  EXPECT_THAT(EvaluateTcb(collateral_, inputs_.platform, Chain(), now_, options_),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("root ca crl")));
}

TEST_F(RevocationTest, CrlSignedByAnotherKeyIsRejected) {
  auto other_key = *crypto::GenerateEcKey("P-256");
  collateral_.pck_crl = MakeCrl(pki_.ca, other_key.get(), {}).Der();
  EXPECT_THAT(EvaluateTcb(collateral_, inputs_.platform, Chain(), now_, options_),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(RevocationTest, ExpiredCrlIsRejected) {
  EXPECT_THAT(EvaluateTcb(collateral_, inputs_.platform, Chain(),
                          *ParseRfc3339("2025-02-10T00:00:00Z") + absl::Hours(24 * 30), options_),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // The PCK CRL is past its nextUpdate while the TCB info and QE identity
  // are still valid, so only the CRL's dates reject it.
  crypto::CrlSpec spec;
  spec.issuer = &pki_.ca;
  spec.issuer_key = pki_.ca_key.get();
  spec.this_update = *ParseRfc3339("2025-01-01T00:00:00Z");
  spec.next_update = *ParseRfc3339("2025-01-31T00:00:00Z");
  ASSERT_OK_AND_ASSIGN(const crypto::Crl expired, crypto::IssueCrl(spec));
  collateral_.pck_crl = expired.Der();
  EXPECT_THAT(EvaluateTcb(collateral_, inputs_.platform, Chain(), now_, options_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("pck crl")));
}

TEST_F(RevocationTest, RevokedTcbLevelGivesRevokedStatus) {
  // Rewrite every UpToDate level (the selected one among them) to Revoked,
  // then re-sign.
  auto split = SplitSignedJson(collateral_.tcb_info_json, "tcbInfo");
  ASSERT_OK(split.status());
  std::string body = split->body;
  for (size_t at = body.find("\"tcbStatus\":\"UpToDate\""); at != std::string::npos;
       at = body.find("\"tcbStatus\":\"UpToDate\"", at)) {
    body.replace(at, 22, "\"tcbStatus\":\"Revoked\"");
  }
  collateral_.tcb_info_json =
      Resign("{\"tcbInfo\":" + body + ",\"signature\":\"" + std::string(128, '0') + "\"}",
             "tcbInfo", pki_.signing_key.get());
  ASSERT_OK_AND_ASSIGN(const TcbVerdict verdict,
                       EvaluateTcb(collateral_, inputs_.platform, Chain(), now_, options_));
  EXPECT_EQ(verdict.status, TcbStatus::kRevoked);
  TcbAcceptance acceptance;
  EXPECT_THAT(CheckTcbAccepted(verdict, acceptance), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(RevocationTest, TamperedBodyFailsSignature) {
  std::string tampered = collateral_.qe_identity_json;
  const size_t at = tampered.find("\"isvprodid\":2");
  ASSERT_NE(at, std::string::npos);
  tampered[at + 12] = '3';
  collateral_.qe_identity_json = tampered;
  EXPECT_THAT(EvaluateTcb(collateral_, inputs_.platform, Chain(), now_, options_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

}  // namespace
}  // namespace vouch::dcap
