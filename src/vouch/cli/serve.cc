// vouch serve: run the attestation service and key broker until SIGINT or
// SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vouch/base/file.h"
#include "vouch/base/status.h"
#include "vouch/cli/command.h"
#include "vouch/server/config.h"
#include "vouch/server/logging.h"
#include "vouch/server/server.h"

namespace vouch::cli {
namespace {

struct ServeFlags {
  std::string config_file;
  std::string port_file;
  std::string admin_token_file;
  int64_t token_lifetime_seconds = 0;
  int64_t signing_key_reload_seconds = 0;
  // Values parsed from the flags; BuildConfig applies only the flags present.
  server::Config flag_values;

  CLI::Option* listen = nullptr;
  CLI::Option* data_dir = nullptr;
  CLI::Option* tls_cert = nullptr;
  CLI::Option* tls_key = nullptr;
  CLI::Option* admin_token_sha256 = nullptr;
  CLI::Option* admin_token_file_option = nullptr;
  CLI::Option* allow_simulated_snp = nullptr;
  CLI::Option* allow_debug = nullptr;
  CLI::Option* max_vmpl = nullptr;
  CLI::Option* accept_tcb = nullptr;
  CLI::Option* snp_min_tcb = nullptr;
  CLI::Option* recovery_days = nullptr;
  CLI::Option* collateral_dir = nullptr;
  CLI::Option* collateral_cache_dir = nullptr;
  CLI::Option* pcs_url = nullptr;
  CLI::Option* kds_url = nullptr;
  CLI::Option* kds_product = nullptr;
  CLI::Option* amd_crl = nullptr;
  CLI::Option* snp_require_crl = nullptr;
  CLI::Option* tpm_ek_roots = nullptr;
  CLI::Option* tpm_ek_crls = nullptr;
  std::vector<std::string> trusted_authorities;
  std::vector<std::string> policy_signing_certs;
  CLI::Option* isolated = nullptr;
  CLI::Option* issuer = nullptr;
  CLI::Option* signing_key_type = nullptr;
  CLI::Option* token_lifetime = nullptr;
  CLI::Option* signing_key_reload = nullptr;
  CLI::Option* threads = nullptr;
  CLI::Option* max_body_bytes = nullptr;
  CLI::Option* keystore = nullptr;
  CLI::Option* pkcs11_module = nullptr;
  CLI::Option* pkcs11_token_label = nullptr;
  CLI::Option* pkcs11_slot = nullptr;
  uint64_t pkcs11_slot_value = 0;
  CLI::Option* pkcs11_pin_file = nullptr;
  CLI::Option* pkcs11_host_oaep = nullptr;
  CLI::Option* store = nullptr;
  CLI::Option* postgres_url_file = nullptr;
  CLI::Option* postgres_schema = nullptr;
  CLI::Option* postgres_pool_size = nullptr;
  CLI::Option* read_only = nullptr;
  CLI::Option* client_ca = nullptr;
  CLI::Option* require_client_cert = nullptr;
  CLI::Option* roles_file = nullptr;
  CLI::Option* oidc_issuer = nullptr;
  CLI::Option* oidc_jwks = nullptr;
  CLI::Option* oidc_audience = nullptr;
  CLI::Option* oidc_role_claim = nullptr;
  CLI::Option* release_requires_role = nullptr;
  CLI::Option* token_audience = nullptr;
  CLI::Option* development = nullptr;
};

// DisableCoreDumps keeps key material out of core files: no core limit, and
// not dumpable (which also stops other processes of the user from ptrace).
absl::Status DisableCoreDumps() {
  const rlimit no_core{0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return Internalf("setrlimit(RLIMIT_CORE, 0) failed");
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return Internalf("prctl(PR_SET_DUMPABLE, 0) failed");
  }
  return absl::OkStatus();
}

// BuildConfig starts from the config file (or the defaults) and applies
// every flag given on the command line, so flags win.
absl::StatusOr<server::Config> BuildConfig(const ServeFlags& flags) {
  server::Config config;
  if (!flags.config_file.empty()) {
    VOUCH_ASSIGN_OR_RETURN(config, server::LoadConfigFile(flags.config_file));
  }

  const server::Config& flag_values = flags.flag_values;
  const auto apply = [](const CLI::Option* option, auto& field, const auto& value) {
    if (option->count() > 0) {
      field = value;
    }
  };
  apply(flags.listen, config.listen, flag_values.listen);
  apply(flags.data_dir, config.data_dir, flag_values.data_dir);
  apply(flags.tls_cert, config.tls_cert_file, flag_values.tls_cert_file);
  apply(flags.tls_key, config.tls_key_file, flag_values.tls_key_file);
  apply(flags.admin_token_sha256, config.admin_token_sha256, flag_values.admin_token_sha256);
  apply(flags.allow_simulated_snp, config.allow_simulated_snp, flag_values.allow_simulated_snp);
  apply(flags.allow_debug, config.allow_debug, flag_values.allow_debug);
  apply(flags.max_vmpl, config.max_vmpl, flag_values.max_vmpl);
  apply(flags.accept_tcb, config.accept_tcb, flag_values.accept_tcb);
  apply(flags.snp_min_tcb, config.snp_min_tcb, flag_values.snp_min_tcb);
  apply(flags.recovery_days, config.key_recovery_days, flag_values.key_recovery_days);
  apply(flags.collateral_dir, config.collateral_dir, flag_values.collateral_dir);
  apply(flags.collateral_cache_dir, config.collateral_cache_dir, flag_values.collateral_cache_dir);
  apply(flags.pcs_url, config.pcs_url, flag_values.pcs_url);
  apply(flags.kds_url, config.kds_url, flag_values.kds_url);
  apply(flags.kds_product, config.kds_product, flag_values.kds_product);
  apply(flags.amd_crl, config.amd_crl, flag_values.amd_crl);
  apply(flags.snp_require_crl, config.snp_require_crl, flag_values.snp_require_crl);
  apply(flags.tpm_ek_roots, config.tpm_ek_roots, flag_values.tpm_ek_roots);
  apply(flags.tpm_ek_crls, config.tpm_ek_crls, flag_values.tpm_ek_crls);
  apply(flags.issuer, config.issuer, flag_values.issuer);
  apply(flags.signing_key_type, config.signing_key_type, flag_values.signing_key_type);
  apply(flags.threads, config.threads, flag_values.threads);
  apply(flags.max_body_bytes, config.max_body_bytes, flag_values.max_body_bytes);
  apply(flags.token_lifetime, config.token_lifetime, absl::Seconds(flags.token_lifetime_seconds));
  apply(flags.signing_key_reload, config.signing_key_reload_interval,
        absl::Seconds(flags.signing_key_reload_seconds));

  apply(flags.keystore, config.keystore, flag_values.keystore);
  apply(flags.pkcs11_module, config.pkcs11_module, flag_values.pkcs11_module);
  apply(flags.pkcs11_token_label, config.pkcs11_token_label, flag_values.pkcs11_token_label);
  apply(flags.pkcs11_slot, config.pkcs11_slot, std::optional<uint64_t>(flags.pkcs11_slot_value));
  apply(flags.pkcs11_pin_file, config.pkcs11_pin_file, flag_values.pkcs11_pin_file);
  apply(flags.pkcs11_host_oaep, config.pkcs11_host_oaep, flag_values.pkcs11_host_oaep);
  apply(flags.store, config.store, flag_values.store);
  apply(flags.postgres_url_file, config.postgres_url_file, flag_values.postgres_url_file);
  apply(flags.postgres_schema, config.postgres_schema, flag_values.postgres_schema);
  apply(flags.postgres_pool_size, config.postgres_pool_size, flag_values.postgres_pool_size);
  apply(flags.read_only, config.read_only, flag_values.read_only);

  apply(flags.client_ca, config.tls_client_ca_file, flag_values.tls_client_ca_file);
  apply(flags.require_client_cert, config.require_client_certificate,
        flag_values.require_client_certificate);
  apply(flags.roles_file, config.roles_file, flag_values.roles_file);
  apply(flags.oidc_issuer, config.oidc_issuer, flag_values.oidc_issuer);
  apply(flags.oidc_jwks, config.oidc_jwks_file, flag_values.oidc_jwks_file);
  apply(flags.oidc_audience, config.oidc_audience, flag_values.oidc_audience);
  apply(flags.oidc_role_claim, config.oidc_role_claim, flag_values.oidc_role_claim);
  apply(flags.release_requires_role, config.release_requires_role,
        flag_values.release_requires_role);
  apply(flags.token_audience, config.token_audience, flag_values.token_audience);
  apply(flags.development, config.development, flag_values.development);

  apply(flags.isolated, config.isolated, flag_values.isolated);
  config.policy_signing_cert_files.insert(config.policy_signing_cert_files.end(),
                                          flags.policy_signing_certs.begin(),
                                          flags.policy_signing_certs.end());

  for (const std::string& text : flags.trusted_authorities) {
    VOUCH_ASSIGN_OR_RETURN(server::TrustedAuthorityFile trusted,
                           server::ParseTrustedAuthority(text));
    config.trusted_authorities.push_back(std::move(trusted));
  }

  if (flags.admin_token_file_option->count() > 0) {
    absl::StatusOr<std::string> token_hash = server::ReadAdminTokenFile(flags.admin_token_file);
    if (!token_hash.ok()) {
      return Prefix("--admin-token-file", token_hash.status());
    }
    config.admin_token_sha256 = *std::move(token_hash);
  }

  VOUCH_RETURN_IF_ERROR(server::ValidateConfig(config));
  return config;
}

// WaitForStopSignal blocks until SIGINT or SIGTERM arrives. The signals are
// blocked in every thread (see Run), so only this sigwait receives them.
int WaitForStopSignal(const sigset_t& signals) {
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) != 0) {
  }
  return signal_number;
}

int Run(const ServeFlags& flags) {
  const std::shared_ptr<spdlog::logger> logger = server::ServerLogger();
  if (const absl::Status status = DisableCoreDumps(); !status.ok()) {
    logger->error("vouch serve: {}", status);
    return kExitRejected;
  }
  absl::StatusOr<server::Config> config = BuildConfig(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "vouch serve: %s\n", std::string(config.status().message()).c_str());
    return kExitUsage;
  }

  // Block the stop signals before the worker threads start, so they inherit
  // the mask and the signals reach only sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  logger->info("vouch serve: starting: {}", server::DescribeConfig(*config));
  absl::StatusOr<std::unique_ptr<server::Server>> running = server::Server::Start(*config);
  if (!running.ok()) {
    logger->error("vouch serve: start failed: {}", running.status());
    // A setting that cannot work (a bad TLS file) is a usage error, like an
    // invalid flag; an unsafe configuration is FailedPrecondition.
    return running.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                         : kExitRejected;
  }
  server::Server& srv = **running;
  logger->info("vouch serve: listening on {} issuer={}", srv.url(), srv.issuer());

  if (!flags.port_file.empty()) {
    const absl::Status written =
        WriteFileAtomic(flags.port_file, AsBytes(std::to_string(srv.port()) + "\n"), 0644);
    if (!written.ok()) {
      logger->error("vouch serve: cannot write port file: {}", written);
      return kExitRejected;
    }
  }

  const int signal_number = WaitForStopSignal(signals);
  logger->info("vouch serve: stopping on signal {} ({})", signal_number,
               signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  srv.Stop();
  logger->info("vouch serve: stopped, {} is closed", srv.url());
  return kExitOk;
}

}  // namespace

Runner SetupServe(CLI::App& sub) {
  auto flags = std::make_shared<ServeFlags>();
  server::Config& flag_values = flags->flag_values;
  sub.add_option("--config", flags->config_file,
                 "JSON config file; flags on the command line override its values");
  sub.add_option("--port-file", flags->port_file,
                 "Write the bound port to this file (atomically) once listening");

  flags->listen = sub.add_option("--listen", flag_values.listen,
                                 "Address to listen on, host:port or [IPv6]:port; port 0 picks "
                                 "a free port. Plain HTTP only on loopback")
                      ->capture_default_str();
  flags->data_dir = sub.add_option("--data-dir", flag_values.data_dir,
                                   "Folder for vouch.db, root.key and simulated-snp/ (created "
                                   "with mode 0700); required unless set in --config");
  flags->tls_cert =
      sub.add_option("--tls-cert", flag_values.tls_cert_file, "PEM certificate chain for HTTPS");
  flags->tls_key =
      sub.add_option("--tls-key", flag_values.tls_key_file, "PEM private key for HTTPS");
  flags->admin_token_sha256 =
      sub.add_option("--admin-token-sha256", flag_values.admin_token_sha256,
                     "SHA-256 (64 hex digits) of the admin bearer token for /keys management");
  flags->admin_token_file_option =
      sub.add_option("--admin-token-file", flags->admin_token_file,
                     "File holding the admin bearer token; the server keeps only its SHA-256")
          ->excludes(flags->admin_token_sha256);

  flags->allow_simulated_snp =
      sub.add_flag("--allow-simulated-snp", flag_values.allow_simulated_snp,
                   "Trust the simulated SEV-SNP root in <data-dir>/simulated-snp; its tokens "
                   "carry x-vouch-simulated: true");
  flags->allow_debug = sub.add_flag("--allow-debug", flag_values.allow_debug,
                                    "Accept SEV-SNP guests whose policy allows debugging");
  flags->max_vmpl = sub.add_option("--max-vmpl", flag_values.max_vmpl,
                                   "Highest SEV-SNP VMPL accepted (0-3, default 0)")
                        ->check(CLI::Range(0, 3));
  flags->accept_tcb = sub.add_option("--accept-tcb", flag_values.accept_tcb,
                                     "Accepted SGX/TDX TCB statuses, comma separated (default "
                                     "UpToDate; Revoked is never accepted)");
  flags->snp_min_tcb =
      sub.add_option("--snp-min-tcb", flag_values.snp_min_tcb,
                     "Lowest accepted SEV-SNP reported TCB: "
                     "bootloader=N,tee=N,snp=N,microcode=N[,fmc=N]");
  flags->recovery_days =
      sub.add_option("--recovery-days", flag_values.key_recovery_days,
                     "Days a deleted key stays recoverable before it can be purged (7 to 90)")
          ->check(CLI::Range(7, 90));
  sub.add_option("--trust-authority", flags->trusted_authorities,
                 "Also accept release tokens from another attestation service: "
                 "ISSUER=JWKS_FILE (repeatable); release policies name ISSUER as authority");
  sub.add_option("--policy-signing-cert", flags->policy_signing_certs,
                 "PEM certificate whose key may sign attestation policies (repeatable)");
  flags->isolated = sub.add_flag("--isolated", flag_values.isolated,
                                 "Accept attestation policies only as a JWS signed by a "
                                 "--policy-signing-cert certificate");
  flags->collateral_dir =
      sub.add_option("--collateral", flag_values.collateral_dir,
                     "Folder of AMD certificates (VCEK/VLEK, ASK/ASVK, ARK) for reports sent "
                     "without a certificate chain");
  flags->collateral_cache_dir =
      sub.add_option("--collateral-cache", flag_values.collateral_cache_dir,
                     "Cache folder of Intel collateral and PCK certificates (for example one "
                     "filled by `vouch collateral import`) and of AMD VCEKs (subfolder amd)");
  flags->pcs_url = sub.add_option("--pcs-url", flag_values.pcs_url,
                                  "Intel PCS v4 service (Intel's or a caching PCCS) to fetch "
                                  "collateral missing from the folder and cache; unset means "
                                  "offline");
  flags->kds_url = sub.add_option(
      "--kds-url", flag_values.kds_url,
      "AMD KDS (https://kdsintf.amd.com or a caching proxy) to fetch the VCEK of SEV-SNP "
      "reports sent without one, cached in --collateral-cache; unset means offline. Reports "
      "with a masked chip id or signed by a VLEK never cause a request");
  flags->kds_product = sub.add_option(
      "--kds-product", flag_values.kds_product,
      "KDS product name (Milan, Genoa or Turin) for version 2 SEV-SNP reports, which carry no "
      "CPUID; later reports name their product themselves");
  flags->amd_crl = sub.add_option(
      "--amd-crl", flag_values.amd_crl,
      "AMD CRL (DER or PEM file, or a folder of them) checked against every SEV-SNP chain of "
      "its ARK, in addition to the CRL found per report in --collateral (amd/crl-vcek-<product>"
      ".der, amd/crl-vlek-<product>.der), the cache or KDS (default: unset)");
  flags->snp_require_crl = sub.add_flag(
      "--snp-require-crl", flag_values.snp_require_crl,
      "Reject SEV-SNP evidence whose chain has no AMD CRL at hand (default: off, so that "
      "revocation is checked only when a CRL is found)");
  flags->tpm_ek_roots =
      sub.add_option("--tpm-ek-roots", flag_values.tpm_ek_roots,
                     "PEM or DER file, or folder, of TPM manufacturers' EK root CA certificates "
                     "that POST /tpm/enroll accepts; unset disables TPM enrollment");
  flags->tpm_ek_crls =
      sub.add_option("--tpm-ek-crls", flag_values.tpm_ek_crls,
                     "PEM or DER file, or folder (one CRL per file), of CRLs of the EK CAs; a "
                     "revoked EK certificate, or a CRL that does not verify or has expired, "
                     "rejects enrollment");

  flags->issuer = sub.add_option("--issuer", flag_values.issuer,
                                 "Token issuer URL and base of key ids (default: the URL of the "
                                 "listen address)");
  flags->signing_key_type =
      sub.add_option("--signing-key-type", flag_values.signing_key_type,
                     "Token signing key type: rsa-3072 (RS256), ec-p256 (ES256) or ec-p384 "
                     "(ES384). Applies to the first key and to rotations; default: rsa-3072 "
                     "for the first key, the current key's type when rotating")
          ->check(CLI::IsMember({"rsa-3072", "ec-p256", "ec-p384"}));
  flags->token_lifetime = sub.add_option("--token-lifetime", flags->token_lifetime_seconds,
                                         "Attestation token lifetime in seconds (default 300)")
                              ->check(CLI::Range(int64_t{10}, int64_t{86400}));
  flags->signing_key_reload =
      sub.add_option("--signing-key-reload-seconds", flags->signing_key_reload_seconds,
                     "Seconds between reads of the token signing keys from the store, so that "
                     "this node follows a rotation on another node (default 30, 0 = off)")
          ->check(CLI::Range(int64_t{0}, int64_t{86400}));
  flags->threads = sub.add_option("--threads", flag_values.threads,
                                  "Worker threads serving requests (default 2)")
                       ->check(CLI::Range(1, 64));
  flags->max_body_bytes = sub.add_option("--max-body-bytes", flag_values.max_body_bytes,
                                         "Largest request body accepted, in bytes (default "
                                         "1048576); larger bodies get 413");

  flags->keystore = sub.add_option("--keystore", flag_values.keystore,
                                   "Where keys live: software (sealed under <data-dir>/root.key, "
                                   "the default) or pkcs11 (inside a PKCS#11 token)")
                        ->check(CLI::IsMember({"software", "pkcs11"}));
  flags->pkcs11_module = sub.add_option("--pkcs11-module", flag_values.pkcs11_module,
                                        "PKCS#11 module path, e.g. "
                                        "/usr/lib/softhsm/libsofthsm2.so");
  flags->pkcs11_token_label = sub.add_option("--pkcs11-token-label",
                                             flag_values.pkcs11_token_label,
                                             "Label of the PKCS#11 token that holds the keys");
  flags->pkcs11_slot = sub.add_option("--pkcs11-slot", flags->pkcs11_slot_value,
                                      "Slot id of the PKCS#11 token, instead of its label")
                           ->excludes(flags->pkcs11_token_label);
  flags->pkcs11_pin_file = sub.add_option("--pkcs11-pin-file", flag_values.pkcs11_pin_file,
                                          "File (mode 0600) holding the token's user PIN; "
                                          "without it the PIN comes from VOUCH_PKCS11_PIN");
  flags->pkcs11_host_oaep =
      sub.add_flag("--pkcs11-host-oaep", flag_values.pkcs11_host_oaep,
                   "Run RSA-OAEP of a release in the server when the token lacks OAEP with the "
                   "requested hash (SoftHSM2 supports only SHA-1); the key stays wrapped in the "
                   "token");

  flags->store = sub.add_option("--store", flag_values.store,
                                "Where keys, policies and the audit log live: sqlite "
                                "(<data-dir>/vouch.db, default) or postgres")
                     ->check(CLI::IsMember({"sqlite", "postgres"}));
  flags->postgres_url_file =
      sub.add_option("--postgres-url-file", flag_values.postgres_url_file,
                     "File holding the PostgreSQL connection string (postgresql://...); "
                     "without it the string comes from VOUCH_POSTGRES_URL. Never logged");
  flags->postgres_schema = sub.add_option("--postgres-schema", flag_values.postgres_schema,
                                          "PostgreSQL schema for vouch's tables (a-z, 0-9, _; "
                                          "default: the connection's search_path)");
  flags->postgres_pool_size =
      sub.add_option("--postgres-pool-size", flag_values.postgres_pool_size,
                     "Most PostgreSQL connections this node opens (default 8)")
          ->check(CLI::Range(1, 1000));
  flags->read_only = sub.add_flag("--read-only", flag_values.read_only,
                                  "Start as a disaster-recovery standby: verify and release, "
                                  "refuse key changes with 503 until `vouch dr promote`");

  flags->client_ca = sub.add_option("--client-ca", flag_values.tls_client_ca_file,
                                    "PEM CA certificates for mutual TLS: the server asks for a "
                                    "client certificate and verifies it against these");
  flags->require_client_cert =
      sub.add_flag("--require-client-cert", flag_values.require_client_certificate,
                   "Reject TLS connections without a client certificate (needs --client-ca)");
  flags->roles_file = sub.add_option("--roles", flag_values.roles_file,
                                     "JSON file mapping client certificates (subject or SHA-256) "
                                     "and OIDC role claim values to roles: administrator, "
                                     "release-user, auditor");
  flags->oidc_issuer = sub.add_option("--oidc-issuer", flag_values.oidc_issuer,
                                      "Issuer URL of the OpenID Connect provider whose bearer "
                                      "tokens carry roles (never contacted)");
  flags->oidc_jwks = sub.add_option("--oidc-jwks", flag_values.oidc_jwks_file,
                                    "File holding the OIDC provider's JWKS");
  flags->oidc_audience = sub.add_option("--oidc-audience", flag_values.oidc_audience,
                                        "Required \"aud\" of OIDC bearer tokens");
  flags->oidc_role_claim = sub.add_option("--oidc-role-claim", flag_values.oidc_role_claim,
                                          "OIDC token claim whose values map to roles "
                                          "(default roles)");
  flags->release_requires_role =
      sub.add_flag("--release-requires-role", flag_values.release_requires_role,
                   "Key release also needs the release-user role (client certificate or OIDC "
                   "token); by default the attestation token alone is the credential");
  flags->token_audience = sub.add_option("--token-audience", flag_values.token_audience,
                                         "Required \"aud\" of attestation tokens presented at "
                                         "key release (default: not checked)");
  flags->development = sub.add_flag("--development", flag_values.development,
                                    "Development setup: start despite an unsafe configuration "
                                    "(no admin credential, simulated evidence or plain HTTP on "
                                    "a non-loopback address, readable key files), logging a "
                                    "warning for each");

  return [flags] { return Run(*flags); };
}

}  // namespace vouch::cli
