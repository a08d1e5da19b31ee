// Helper of scripts/bench.sh that plays the operator and the guest against a
// running `vouch serve`, so that wrk can replay the requests.
//
//   vouch_bench_client setup URL DATA_DIR ADMIN_TOKEN KEY OUT_DIR
//     creates key KEY with a release policy for simulated SEV-SNP evidence,
//     writes OUT_DIR/attest.json (a simulated SEV-SNP attestation request
//     without a nonce, so it can be sent again and again), attests once, and
//     writes OUT_DIR/release.json ({"target": token}) and OUT_DIR/token.
//   vouch_bench_client token URL OUT_DIR
//     attests again with OUT_DIR/attest.json and rewrites release.json and
//     token, for a server restarted on the same data folder.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/agent/http_client.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"
#include "vouch/crypto/jwk.h"
#include "vouch/crypto/keys.h"
#include "vouch/server/attest_request.h"
#include "vouch/snp/simulated.h"

namespace vouch::bench {
namespace {

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return Internalf("cannot write {}", path);
  }
  return absl::OkStatus();
}

// GuestRuntimeData returns runtime data as a SEV-SNP guest sends it: a JWKS
// with the RSA key that released keys are wrapped to.
absl::StatusOr<std::string> GuestRuntimeData() {
  VOUCH_ASSIGN_OR_RETURN(const crypto::SslPtr<EVP_PKEY> key, crypto::GenerateRsaKey(2048));
  VOUCH_ASSIGN_OR_RETURN(nlohmann::json jwk, crypto::PublicKeyToJwk(key.get()));
  jwk["kid"] = "TpmEphemeralEncryptionKey";
  jwk["key_ops"] = {"encrypt"};
  return nlohmann::json({{"keys", {jwk}}, {"vm-configuration", {{"tpm", false}}}}).dump();
}

// ReleasePolicy admits tokens for simulated SEV-SNP evidence from `issuer`.
nlohmann::json ReleasePolicy(const std::string& issuer) {
  const nlohmann::json all_of = {{{"claim", "x-ms-attestation-type"}, {"equals", "sevsnpvm"}},
                                 {{"claim", "x-vouch-simulated"}, {"equals", true}}};
  return {{"version", "1.0.0"},
          {"anyOf", {{{"authority", issuer + "/simulated"}, {"allOf", all_of}}}}};
}

absl::Status FetchToken(const agent::HttpClient& http, const std::string& url,
                        const std::string& out_dir) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes body, ReadFile(out_dir + "/attest.json"));
  VOUCH_ASSIGN_OR_RETURN(const agent::HttpResponse response,
                         http.PostJson(url + "/attest/SevSnpVm", ToString(body)));
  if (response.status != 200) {
    return FailedPreconditionf("attest: HTTP {}: {}", response.status, response.body);
  }
  const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("token") || !answer["token"].is_string()) {
    return FailedPreconditionf("attest: no token in {}", response.body);
  }
  const std::string token = answer["token"].get<std::string>();
  VOUCH_RETURN_IF_ERROR(WriteText(out_dir + "/token", token));
  return WriteText(out_dir + "/release.json", nlohmann::json({{"target", token}}).dump());
}

absl::Status Setup(const std::string& url, const std::string& data_dir,
                   const std::string& admin_token, const std::string& key,
                   const std::string& out_dir) {
  const agent::HttpClient http;
  const agent::HttpHeaders admin = {{"Authorization", "Bearer " + admin_token}};
  VOUCH_ASSIGN_OR_RETURN(const agent::HttpResponse issuer_metadata,
                         http.Get(url + "/.well-known/openid-configuration"));
  const nlohmann::json metadata = nlohmann::json::parse(issuer_metadata.body, nullptr, false);
  if (!metadata.is_object() || !metadata.contains("issuer") || !metadata["issuer"].is_string()) {
    return FailedPreconditionf("openid-configuration: no issuer in {}", issuer_metadata.body);
  }
  const std::string issuer = metadata["issuer"].get<std::string>();

  const nlohmann::json create = {
      {"attributes", {{"exportable", true}}},
      {"release_policy",
       {{"contentType", "application/json; charset=utf-8"},
        {"data", Base64UrlEncode(AsBytes(ReleasePolicy(issuer).dump()))}}}};
  VOUCH_ASSIGN_OR_RETURN(const agent::HttpResponse created,
                         http.PutJson(url + "/keys/" + key, create.dump(), admin));
  if (created.status != 200) {
    return FailedPreconditionf("create key {}: HTTP {}: {}", key, created.status, created.body);
  }

  VOUCH_ASSIGN_OR_RETURN(const snp::SimulatedSnp platform,
                         snp::SimulatedSnp::LoadOrCreate(data_dir + "/simulated-snp"));
  VOUCH_ASSIGN_OR_RETURN(const std::string runtime, GuestRuntimeData());
  Bytes report_data = crypto::Sha256(AsBytes(runtime));
  report_data.resize(64, 0);
  VOUCH_ASSIGN_OR_RETURN(const Bytes report, platform.GetReport(report_data));
  std::string chain;
  for (const crypto::Certificate& cert : platform.Certificates()) {
    chain += cert.Pem();
  }
  VOUCH_RETURN_IF_ERROR(WriteText(out_dir + "/attest.json",
                                  server::AttestRequestJson(report, chain, AsBytes(runtime)).dump()));
  return FetchToken(http, url, out_dir);
}

int Run(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  absl::Status status;
  if (command == "setup" && argc == 7) {
    status = Setup(argv[2], argv[3], argv[4], argv[5], argv[6]);
  } else if (command == "token" && argc == 4) {
    status = FetchToken(agent::HttpClient(), argv[2], argv[3]);
  } else {
    std::fprintf(stderr,
                 "usage: vouch_bench_client setup URL DATA_DIR ADMIN_TOKEN KEY OUT_DIR\n"
                 "       vouch_bench_client token URL OUT_DIR\n");
    return 2;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "vouch_bench_client %s: %s\n", command.c_str(),
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace vouch::bench

int main(int argc, char** argv) { return vouch::bench::Run(argc, argv); }
