#include "vouch/server/config.h"

#include <charconv>
#include <limits>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "vouch/base/bytes.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/crypto/hash.h"

namespace vouch::server {
namespace {

constexpr size_t kMaxConfigFileBytes = 1024 * 1024;
constexpr size_t kMaxTokenFileBytes = 64 * 1024;

absl::Status ReadString(const nlohmann::json& value, std::string_view key, std::string& out) {
  if (!value.is_string()) {
    return InvalidArgumentf("config: {} must be a string", key);
  }
  out = value.get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadBool(const nlohmann::json& value, std::string_view key, bool& out) {
  if (!value.is_boolean()) {
    return InvalidArgumentf("config: {} must be true or false", key);
  }
  out = value.get<bool>();
  return absl::OkStatus();
}

// ReadInteger accepts a non-negative JSON integer no larger than `max`.
absl::StatusOr<uint64_t> ReadInteger(const nlohmann::json& value, std::string_view key,
                                     uint64_t max) {
  // nlohmann::json stores a non-negative literal as signed or unsigned,
  // depending on how the value was built, so both are accepted.
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0)) {
    return InvalidArgumentf("config: {} must be a non-negative integer", key);
  }
  const uint64_t number = value.get<uint64_t>();
  if (number > max) {
    return InvalidArgumentf("config: {} is {}, the maximum is {}", key, number, max);
  }
  return number;
}

struct StringMember {
  std::string_view key;
  std::string Config::*field;
};
constexpr StringMember kStringMembers[] = {
    {"listen", &Config::listen},
    {"data_dir", &Config::data_dir},
    {"tls_cert", &Config::tls_cert_file},
    {"tls_key", &Config::tls_key_file},
    {"admin_token_sha256", &Config::admin_token_sha256},
    {"issuer", &Config::issuer},
    {"signing_key_type", &Config::signing_key_type},
    {"collateral_dir", &Config::collateral_dir},
    {"collateral_cache_dir", &Config::collateral_cache_dir},
    {"pcs_url", &Config::pcs_url},
    {"kds_url", &Config::kds_url},
    {"kds_product", &Config::kds_product},
    {"amd_crl", &Config::amd_crl},
    {"tpm_ek_roots", &Config::tpm_ek_roots},
    {"tpm_ek_crls", &Config::tpm_ek_crls},
    {"accept_tcb", &Config::accept_tcb},
    {"snp_min_tcb", &Config::snp_min_tcb},
    {"store", &Config::store},
    {"postgres_url_file", &Config::postgres_url_file},
    {"postgres_schema", &Config::postgres_schema},
    {"keystore", &Config::keystore},
    {"pkcs11_module", &Config::pkcs11_module},
    {"pkcs11_token_label", &Config::pkcs11_token_label},
    {"pkcs11_pin_file", &Config::pkcs11_pin_file},
    {"client_ca", &Config::tls_client_ca_file},
    {"roles_file", &Config::roles_file},
    {"oidc_issuer", &Config::oidc_issuer},
    {"oidc_jwks_file", &Config::oidc_jwks_file},
    {"oidc_audience", &Config::oidc_audience},
    {"oidc_role_claim", &Config::oidc_role_claim},
    {"token_audience", &Config::token_audience},
};

struct BoolMember {
  std::string_view key;
  bool Config::*field;
};
constexpr BoolMember kBoolMembers[] = {
    {"allow_simulated_snp", &Config::allow_simulated_snp},
    {"allow_debug", &Config::allow_debug},
    {"snp_require_crl", &Config::snp_require_crl},
    {"isolated", &Config::isolated},
    {"read_only", &Config::read_only},
    {"pkcs11_host_oaep", &Config::pkcs11_host_oaep},
    {"require_client_cert", &Config::require_client_certificate},
    {"release_requires_role", &Config::release_requires_role},
    {"development", &Config::development},
};

// MergeNumber sets the integer and duration members.
absl::Status MergeNumber(const std::string& key, const nlohmann::json& value, Config& config) {
  constexpr uint64_t kIntMax = std::numeric_limits<int>::max();
  if (key == "token_lifetime_seconds" || key == "io_timeout_seconds") {
    VOUCH_ASSIGN_OR_RETURN(const uint64_t seconds, ReadInteger(value, key, kIntMax));
    absl::Duration& field =
        key == "token_lifetime_seconds" ? config.token_lifetime : config.io_timeout;
    field = absl::Seconds(static_cast<int64_t>(seconds));
    return absl::OkStatus();
  }
  if (key == "pkcs11_slot") {
    VOUCH_ASSIGN_OR_RETURN(config.pkcs11_slot,
                           ReadInteger(value, key, std::numeric_limits<uint32_t>::max()));
    return absl::OkStatus();
  }
  if (key == "postgres_pool_size") {
    VOUCH_ASSIGN_OR_RETURN(const uint64_t size, ReadInteger(value, key, 1000));
    config.postgres_pool_size = static_cast<int>(size);
    return absl::OkStatus();
  }
  if (key == "threads" || key == "max_connections") {
    VOUCH_ASSIGN_OR_RETURN(const uint64_t number, ReadInteger(value, key, kIntMax));
    int& field = key == "threads" ? config.threads : config.max_connections;
    field = static_cast<int>(number);
    return absl::OkStatus();
  }
  if (key == "signing_key_reload_seconds") {
    VOUCH_ASSIGN_OR_RETURN(const uint64_t seconds, ReadInteger(value, key, 86400));
    config.signing_key_reload_interval = absl::Seconds(static_cast<int64_t>(seconds));
    return absl::OkStatus();
  }
  if (key == "key_recovery_days") {
    VOUCH_ASSIGN_OR_RETURN(const uint64_t days, ReadInteger(value, key, 90));
    config.key_recovery_days = static_cast<int>(days);
    return absl::OkStatus();
  }
  if (key == "max_vmpl") {
    VOUCH_ASSIGN_OR_RETURN(const uint64_t vmpl, ReadInteger(value, key, 3));
    config.max_vmpl = static_cast<uint32_t>(vmpl);
    return absl::OkStatus();
  }
  if (key == "max_body_bytes") {
    VOUCH_ASSIGN_OR_RETURN(const uint64_t bytes,
                           ReadInteger(value, key, std::numeric_limits<uint32_t>::max()));
    config.max_body_bytes = static_cast<size_t>(bytes);
    return absl::OkStatus();
  }
  return InvalidArgumentf("config: unknown member {:?}", key);
}

// MergeTrustedAuthorities reads [{"issuer": URL, "jwks_file": PATH}, ...].
absl::Status MergeTrustedAuthorities(const nlohmann::json& value, Config& config) {
  if (!value.is_array()) {
    return InvalidArgumentf("config: trusted_authorities must be an array of "
                            "{{\"issuer\", \"jwks_file\"}} objects");
  }
  for (const nlohmann::json& entry : value) {
    if (!entry.is_object() || entry.size() != 2 || !entry.contains("issuer") ||
        !entry.contains("jwks_file") || !entry["issuer"].is_string() ||
        !entry["jwks_file"].is_string()) {
      return InvalidArgumentf("config: each trusted_authorities entry must be "
                              "{{\"issuer\": URL, \"jwks_file\": PATH}}, not {}",
                              entry.dump().substr(0, 200));
    }
    config.trusted_authorities.push_back(
        {entry["issuer"].get<std::string>(), entry["jwks_file"].get<std::string>()});
  }
  return absl::OkStatus();
}

absl::Status MergeMember(const std::string& key, const nlohmann::json& value, Config& config) {
  for (const StringMember& member : kStringMembers) {
    if (key == member.key) {
      return ReadString(value, key, config.*member.field);
    }
  }
  for (const BoolMember& member : kBoolMembers) {
    if (key == member.key) {
      return ReadBool(value, key, config.*member.field);
    }
  }
  if (key == "trusted_authorities") {
    return MergeTrustedAuthorities(value, config);
  }
  if (key == "policy_signing_certs") {
    if (!value.is_array()) {
      return InvalidArgumentf("config: policy_signing_certs must be an array of file paths");
    }
    for (const nlohmann::json& path : value) {
      std::string file;
      VOUCH_RETURN_IF_ERROR(ReadString(path, "each policy_signing_certs entry", file));
      config.policy_signing_cert_files.push_back(std::move(file));
    }
    return absl::OkStatus();
  }
  if (key == "admin_token_file") {
    std::string path;
    VOUCH_RETURN_IF_ERROR(ReadString(value, key, path));
    VOUCH_ASSIGN_OR_RETURN(config.admin_token_sha256, ReadAdminTokenFile(path));
    return absl::OkStatus();
  }
  return MergeNumber(key, value, config);
}

bool IsLowerHex(std::string_view text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgumentf("listen address {:?}: want [IPv6]:port", text);
    }
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return InvalidArgumentf("listen address {:?}: want host:port, IPv6 in brackets", text);
    }
    address.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty()) {
    return InvalidArgumentf("listen address {:?}: missing host", text);
  }
  uint16_t port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size()) {
    return InvalidArgumentf("listen address {:?}: port {:?} is not a number from 0 to 65535", text,
                            port_text);
  }
  address.port = port;
  return address;
}

absl::Status MergeConfigJson(const nlohmann::json& json, Config& config) {
  if (!json.is_object()) {
    return InvalidArgumentf("config: want a JSON object, found {}", json.type_name());
  }
  for (const auto& [key, value] : json.items()) {
    VOUCH_RETURN_IF_ERROR(MergeMember(key, value, config));
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes data, ReadFile(path, kMaxConfigFileBytes));
  const nlohmann::json json = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
  if (json.is_discarded()) {
    return InvalidArgumentf("config file {}: invalid JSON", path);
  }
  Config config;
  VOUCH_RETURN_IF_ERROR(Prefix(fmt::format("config file {}", path), MergeConfigJson(json, config)));
  return config;
}

absl::Status ValidateConfig(const Config& config) {
  if (config.data_dir.empty()) {
    return InvalidArgumentf("config: a data folder is required (--data-dir)");
  }
  VOUCH_RETURN_IF_ERROR(ParseListenAddress(config.listen).status());
  if (!config.admin_token_sha256.empty() &&
      (config.admin_token_sha256.size() != 64 || !IsLowerHex(config.admin_token_sha256))) {
    return InvalidArgumentf("config: admin token SHA-256 must be 64 lower-case hex digits");
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return InvalidArgumentf("config: TLS needs both a certificate and a key file");
  }
  if (config.token_lifetime < absl::Seconds(10) || config.token_lifetime > absl::Hours(24)) {
    return InvalidArgumentf("config: token lifetime {} is outside 10s..24h",
                            absl::FormatDuration(config.token_lifetime));
  }
  if (!config.signing_key_type.empty() && config.signing_key_type != "rsa-3072" &&
      config.signing_key_type != "ec-p256" && config.signing_key_type != "ec-p384") {
    return InvalidArgumentf("config: signing key type {:?} unknown, want rsa-3072, ec-p256 or "
                            "ec-p384",
                            config.signing_key_type);
  }
  if (config.key_recovery_days < 7 || config.key_recovery_days > 90) {
    return InvalidArgumentf("config: key recovery period {} days is outside 7..90",
                            config.key_recovery_days);
  }
  if (config.max_vmpl > 3) {
    return InvalidArgumentf("config: max VMPL {} is outside 0..3", config.max_vmpl);
  }
  if (config.threads < 1 || config.threads > 64) {
    return InvalidArgumentf("config: threads {} is outside 1..64", config.threads);
  }
  if (config.max_body_bytes < 1024 || config.max_body_bytes > 64 * 1024 * 1024) {
    return InvalidArgumentf("config: body limit {} bytes is outside 1 KiB..64 MiB",
                            config.max_body_bytes);
  }
  if (config.io_timeout < absl::Seconds(1) || config.max_connections < 1) {
    return InvalidArgumentf("config: the I/O timeout must be at least 1s and max connections >= 1");
  }
  if (config.store != "sqlite" && config.store != "postgres") {
    return InvalidArgumentf("config: store {:?} is unknown, want \"sqlite\" or \"postgres\"",
                            config.store);
  }
  if (config.postgres_pool_size < 1 || config.postgres_pool_size > 1000) {
    return InvalidArgumentf("config: postgres pool size {} is outside 1..1000",
                            config.postgres_pool_size);
  }
  if (config.keystore != "software" && config.keystore != "pkcs11") {
    return InvalidArgumentf("config: keystore {:?} is unknown, want \"software\" or \"pkcs11\"",
                            config.keystore);
  }
  if (config.keystore == "pkcs11" && config.pkcs11_module.empty()) {
    return InvalidArgumentf("config: keystore pkcs11 needs a module path (--pkcs11-module, for "
                            "SoftHSM2 /usr/lib/softhsm/libsofthsm2.so)");
  }
  if (config.keystore == "pkcs11" &&
      config.pkcs11_token_label.empty() == !config.pkcs11_slot.has_value()) {
    return InvalidArgumentf("config: keystore pkcs11 needs exactly one of --pkcs11-token-label "
                            "and --pkcs11-slot");
  }
  if (config.isolated && config.policy_signing_cert_files.empty()) {
    return InvalidArgumentf("config: isolated mode needs at least one policy-signing certificate "
                            "(--policy-signing-cert FILE)");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return InvalidArgumentf("config: a client CA (--client-ca) needs TLS (--tls-cert, --tls-key)");
  }
  if (config.require_client_certificate && config.tls_client_ca_file.empty()) {
    return InvalidArgumentf("config: --require-client-cert needs a client CA (--client-ca)");
  }
  const bool oidc_any = !config.oidc_issuer.empty() || !config.oidc_jwks_file.empty() ||
                        !config.oidc_audience.empty();
  if (oidc_any && (config.oidc_issuer.empty() || config.oidc_jwks_file.empty() ||
                   config.oidc_audience.empty())) {
    return InvalidArgumentf("config: OpenID Connect needs --oidc-issuer, --oidc-jwks and "
                            "--oidc-audience together");
  }
  if (oidc_any && config.oidc_role_claim.empty()) {
    return InvalidArgumentf("config: --oidc-role-claim must not be empty");
  }
  return absl::OkStatus();
}

absl::StatusOr<TrustedAuthorityFile> ParseTrustedAuthority(std::string_view text) {
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == text.size()) {
    return InvalidArgumentf("--trust-authority {:?}: want ISSUER=JWKS_FILE", text);
  }
  return TrustedAuthorityFile{std::string(text.substr(0, equals)),
                              std::string(text.substr(equals + 1))};
}

std::string HashAdminToken(std::string_view token) {
  return HexEncode(crypto::Sha256(AsBytes(token)));
}

absl::StatusOr<std::string> ReadAdminTokenFile(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(Bytes data, ReadFile(path, kMaxTokenFileBytes));
  absl::Cleanup wipe = [&data] { SecureWipe(data); };
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  const std::string_view token = StdView(absl::StripAsciiWhitespace(AbslView(text)));
  if (token.empty()) {
    return InvalidArgumentf("admin token file {}: empty", path);
  }
  return HashAdminToken(token);
}

absl::StatusOr<HttpServerOptions> ToHttpServerOptions(const Config& config) {
  VOUCH_ASSIGN_OR_RETURN(const ListenAddress address, ParseListenAddress(config.listen));
  HttpServerOptions options;
  options.host = address.host;
  options.port = address.port;
  options.tls_cert_file = config.tls_cert_file;
  options.tls_key_file = config.tls_key_file;
  options.client_ca_file = config.tls_client_ca_file;
  options.require_client_certificate = config.require_client_certificate;
  options.allow_plain_http_on_any_address = config.development;
  options.num_threads = config.threads;
  options.max_body_bytes = config.max_body_bytes;
  options.io_timeout = config.io_timeout;
  options.max_connections = config.max_connections;
  return options;
}

namespace {

// DescribeKeyStore names the key store and token, never the PIN.
std::string DescribeKeyStore(const Config& config) {
  if (config.keystore != "pkcs11") {
    return config.keystore;
  }
  const std::string token = config.pkcs11_slot.has_value()
                                ? fmt::format("slot {}", *config.pkcs11_slot)
                                : fmt::format("token {:?}", config.pkcs11_token_label);
  return fmt::format("pkcs11(module={:?} {} host_oaep={})", config.pkcs11_module, token,
                     config.pkcs11_host_oaep);
}

}  // namespace

std::string DescribeConfig(const Config& config) {
  return fmt::format(
      "listen={} tls={} data_dir={:?} issuer={:?} token_lifetime={} admin_token={} "
      "allow_simulated_snp={} allow_debug={} max_vmpl={} collateral_dir={:?} threads={} "
      "max_body_bytes={} isolated={} policy_signing_certs={} store={} read_only={} keystore={} "
      "client_ca={} roles_file={:?} oidc_issuer={:?} release_requires_role={} development={}",
      config.listen, config.tls_cert_file.empty() ? "off" : "on", config.data_dir,
      config.issuer.empty() ? "(from listen address)" : config.issuer,
      absl::FormatDuration(config.token_lifetime),
      config.admin_token_sha256.empty() ? "unset" : "set", config.allow_simulated_snp,
      config.allow_debug, config.max_vmpl, config.collateral_dir, config.threads,
      config.max_body_bytes, config.isolated, config.policy_signing_cert_files.size(),
      config.store, config.read_only, DescribeKeyStore(config),
      config.tls_client_ca_file.empty() ? "off" : (config.require_client_certificate ? "required" : "optional"),
      config.roles_file, config.oidc_issuer, config.release_requires_role, config.development);
}

}  // namespace vouch::server
