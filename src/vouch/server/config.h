// Configuration of `vouch serve`: defaults, a JSON config file, and the
// checks that run before the server starts.
//
// The config file is a JSON object with these optional members. Unknown
// members are rejected, so a misspelt security setting is never ignored.
//   listen                "127.0.0.1:8443" or "[::1]:8443"
//   data_dir              folder for vouch.db, root.key and simulated-snp/
//   tls_cert, tls_key     PEM files; both or neither
//   admin_token_sha256    SHA-256 of the admin bearer token, 64 hex digits
//   admin_token_file      file holding the admin token itself (hashed on load)
//   issuer                token issuer URL; default http(s)://host:port
//   signing_key_type      "rsa-3072" (default), "ec-p256" or "ec-p384": the type of
//                         a new token signing key (RS256, ES256 or ES384)
//   signing_key_reload_seconds  how often the token signing keys are read again
//                         from the store, to follow a rotation on another node;
//                         0 to 86400, default 30, 0 turns it off
//   trusted_authorities   [{"issuer": URL, "jwks_file": PATH}]: other attestation
//                         services whose tokens the key broker accepts
//   token_lifetime_seconds, allow_simulated_snp, allow_debug, max_vmpl,
//   collateral_dir, threads, max_body_bytes, io_timeout_seconds, max_connections,
//   key_recovery_days     days a deleted key stays recoverable: 7 to 90 (default 90)
//   accept_tcb            accepted SGX/TDX TCB statuses, "UpToDate,SWHardeningNeeded"
//   snp_min_tcb           lowest accepted SEV-SNP reported TCB,
//                         "bootloader=N,tee=N,snp=N,microcode=N[,fmc=N]"
//   collateral_cache_dir, pcs_url   Intel collateral cache and PCS v4 service
//   kds_url, kds_product  AMD KDS for VCEKs of SEV-SNP reports sent without one,
//                         and for AMD's CRLs
//   amd_crl, snp_require_crl  AMD CRL file or folder; reject chains without a CRL
//   tpm_ek_roots          PEM/DER file or folder of TPM manufacturers' EK root CAs
//   tpm_ek_crls           PEM/DER file or folder of CRLs of those CAs (fail closed)
//   isolated              accept only signed attestation policies
//   store                 "sqlite" (default) or "postgres"
//   postgres_url_file, postgres_schema, postgres_pool_size, read_only
//   policy_signing_certs  [PATH]: PEM certificates whose keys sign attestation policies
//   keystore              "software" (default, <data_dir>/root.key) or "pkcs11"
//   pkcs11_module, pkcs11_token_label or pkcs11_slot, pkcs11_pin_file, pkcs11_host_oaep
//   client_ca, require_client_cert   mutual TLS (access.h)
//   roles_file            JSON roles of client certificates and OIDC claim values
//   oidc_issuer, oidc_jwks_file, oidc_audience, oidc_role_claim
//   release_requires_role release also needs the release-user role
//   token_audience        expected "aud" of attestation tokens at release
//   development           relax the unsafe-configuration checks, with a warning each
#ifndef VOUCH_SERVER_CONFIG_H_
#define VOUCH_SERVER_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vouch/server/http_server.h"

namespace vouch::server {

// TrustedAuthorityFile names another attestation service whose tokens the
// key broker accepts: its issuer URL (the tokens' "iss") and a file holding
// its JWKS. Release policies name the issuer as their authority.
struct TrustedAuthorityFile {
  std::string issuer;
  std::string jwks_file;
};

struct Config {
  std::string listen = "127.0.0.1:8443";
  std::string data_dir;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Lower-case hex SHA-256 of the admin bearer token. Empty disables the
  // admin routes, which then return 401.
  std::string admin_token_sha256;
  // Token issuer ("iss") and base of key ids. Empty means the URL of the
  // bound address, http(s)://host:port.
  std::string issuer;
  absl::Duration token_lifetime = absl::Seconds(300);
  // Type of a new token signing key: "rsa-3072" (RS256), "ec-p256" (ES256)
  // or "ec-p384" (ES384). Empty means rsa-3072 for the first key, and the
  // current key's type for a rotation. A stored key of another type is
  // kept until POST /signing-keys/rotate replaces it with this type.
  std::string signing_key_type;
  // Trust the simulated SEV-SNP root under <data_dir>/simulated-snp.
  bool allow_simulated_snp = false;
  // SEV-SNP appraisal: accept debug-enabled guests, and VMPLs up to max_vmpl.
  bool allow_debug = false;
  uint32_t max_vmpl = 0;
  // Folder of AMD certificates used for reports sent without a chain, and
  // of Intel collateral (TCB info, QE identity, CRLs, certificates) for
  // SGX and TDX quotes.
  std::string collateral_dir;
  // Intel collateral beyond that folder: a cache folder, and a collateral
  // service speaking Intel's PCS v4 API (Intel's PCS or a caching PCCS).
  // Both empty by default, so the server never goes to the network unless
  // told to. Quotes with an encrypted PPID take their PCK certificate from
  // the same sources.
  std::string collateral_cache_dir;
  std::string pcs_url;
  // AMD KDS (https://kdsintf.amd.com, or a caching proxy) for VCEKs of
  // SEV-SNP reports sent without one; fetched VCEKs are cached in
  // collateral_cache_dir/amd. Empty by default: no request to KDS. kds_product
  // ("Milan", "Genoa", "Turin") is needed only for version 2 reports, which
  // carry no CPUID.
  std::string kds_url;
  std::string kds_product;
  // AMD CRLs (a DER or PEM file, or a folder of them) checked against every
  // SEV-SNP chain of their ARK, in addition to the CRL that the
  // collateral folder (amd/crl-vcek-<product>.der), the cache or KDS has.
  std::string amd_crl;
  // Reject an SEV-SNP chain when no CRL of its ARK is at hand. Off by
  // default: without a CRL, revocation is not checked.
  bool snp_require_crl = false;
  // TPM manufacturers' EK root CA certificates (a PEM or DER file, or a
  // folder of them) for POST /tpm/enroll. Empty disables TPM enrollment.
  std::string tpm_ek_roots;
  // CRLs of the EK CAs (a PEM or DER file, or a folder of them, one CRL per
  // file). A CRL that does not verify or is not current rejects enrollment.
  std::string tpm_ek_crls;
  // SGX and TDX appraisal: the accepted TCB statuses, comma separated
  // ("UpToDate,SWHardeningNeeded"). Revoked is never accepted.
  std::string accept_tcb = "UpToDate";
  // SEV-SNP appraisal: the lowest accepted REPORTED_TCB per component
  // (snp::ParseMinimumTcb); empty accepts any.
  std::string snp_min_tcb;
  // Verification time of SGX and TDX quotes and their collateral, for tests
  // only: real quotes and Intel collateral expire, so tests pin the time.
  // Neither the config file nor the command line can set it.
  std::optional<absl::Time> dcap_verification_time_for_test;
  // Attestation services trusted besides this one, which is always trusted.
  std::vector<TrustedAuthorityFile> trusted_authorities;
  // Attestation policies: PEM files of the certificates whose keys may sign
  // a policy JWS, and isolated mode, in which PUT /policies/{kind} accepts
  // only policies signed by one of them. Fixed at start-up.
  std::vector<std::string> policy_signing_cert_files;
  bool isolated = false;
  int threads = 2;
  size_t max_body_bytes = 1024 * 1024;
  absl::Duration io_timeout = absl::Seconds(10);
  int max_connections = 256;
  // Interval of the periodic reload of the token signing keys
  // (signing_key_set.h); zero turns it off.
  absl::Duration signing_key_reload_interval = absl::Seconds(30);
  // Days a deleted key stays recoverable before it can be purged (7 to 90,
  // as in Azure Key Vault).
  int key_recovery_days = 90;
  // Store: "sqlite" (<data_dir>/vouch.db) or "postgres". The PostgreSQL
  // connection string may hold a password, so it comes only from
  // postgres_url_file or the VOUCH_POSTGRES_URL environment variable
  // (dr_mode.h), never from a flag, and is never logged.
  std::string store = "sqlite";
  std::string postgres_url_file;
  std::string postgres_schema;  // empty: the connection's search_path
  int postgres_pool_size = 8;
  // Start read-only (disaster-recovery standby); see dr_mode.h.
  bool read_only = false;
  // Key store: "software" (keys sealed under <data_dir>/root.key) or
  // "pkcs11" (keys inside a PKCS#11 token, see keystore/pkcs11_keystore.h).
  // The PIN comes only from pkcs11_pin_file or the VOUCH_PKCS11_PIN
  // environment variable, never from a flag, and is never logged.
  std::string keystore = "software";
  std::string pkcs11_module;
  std::string pkcs11_token_label;  // or pkcs11_slot; exactly one of them
  std::optional<uint64_t> pkcs11_slot;
  std::string pkcs11_pin_file;
  // Run RSA-OAEP of releases in the server where the token lacks OAEP with
  // SHA-256/384 (SoftHSM2); the released key is still wrapped in the token.
  bool pkcs11_host_oaep = false;

  // Access control (access.h). Mutual TLS: PEM CA certificates that client
  // certificates must chain to, and whether every connection needs one.
  std::string tls_client_ca_file;
  bool require_client_certificate = false;
  // JSON file mapping client certificates and OIDC claim values to roles.
  std::string roles_file;
  // OpenID Connect bearer tokens: the provider's issuer URL, a file with its
  // JWKS (never fetched), the required audience and the claim holding roles.
  std::string oidc_issuer;
  std::string oidc_jwks_file;
  std::string oidc_audience;
  std::string oidc_role_claim = "roles";
  // Release needs the release-user role besides the attestation token.
  bool release_requires_role = false;
  // Expected "aud" of attestation tokens presented at release; empty: not checked.
  std::string token_audience;
  // Development setup: unsafe configurations start with a warning each
  // instead of failing (CheckUnsafeConfig in access.h).
  bool development = false;
};

struct ListenAddress {
  std::string host;  // Without brackets: "127.0.0.1", "::1".
  uint16_t port = 0;
};

// ParseListenAddress reads "host:port", with IPv6 hosts in brackets
// ("[::1]:8443"). Port 0 lets the system pick a free port.
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

// MergeConfigJson sets the members of `config` present in `json`, which
// must be an object of the members listed above with the right types.
absl::Status MergeConfigJson(const nlohmann::json& json, Config& config);

// LoadConfigFile reads a JSON config file over the defaults of Config.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// ValidateConfig checks ranges and formats. It requires a data folder, a
// parsable listen address, a 64-digit hex admin hash and TLS files in pairs.
// The token lifetime must be 10 s to 24 h, max_vmpl 0..3, threads 1..64, and
// the body limit 1 KiB to 64 MiB. Isolated mode needs a policy-signing
// certificate.
absl::Status ValidateConfig(const Config& config);

// ParseTrustedAuthority reads the --trust-authority value "ISSUER=JWKS_FILE",
// split at the first '=' (issuer URLs with '=' cannot be given this way; use
// the config file's "trusted_authorities" member).
absl::StatusOr<TrustedAuthorityFile> ParseTrustedAuthority(std::string_view text);

// HashAdminToken returns the lower-case hex SHA-256 of `token`.
std::string HashAdminToken(std::string_view token);

// ReadAdminTokenFile reads a token file (surrounding whitespace is ignored)
// and returns the token's hash. An empty token is rejected.
absl::StatusOr<std::string> ReadAdminTokenFile(const std::string& path);

// ToHttpServerOptions derives the transport options from `config`.
absl::StatusOr<HttpServerOptions> ToHttpServerOptions(const Config& config);

// DescribeConfig returns a one-line summary for the start-up log. It shows
// whether an admin token is set but never prints its hash.
std::string DescribeConfig(const Config& config);

}  // namespace vouch::server

#endif  // VOUCH_SERVER_CONFIG_H_
