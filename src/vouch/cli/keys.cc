// vouch keys: create and inspect keys on a vouch server.
//
//   vouch keys create NAME --server URL --policy FILE [--size 256]
//                          [--format-luks IMAGE [--image-size MiB]]
//   vouch keys get NAME --server URL [--version V]
//
// The admin token comes from --admin-token-file or $VOUCH_ADMIN_TOKEN, never
// from a command-line value, which other users could read in the process list.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nlohmann/json.hpp"
#include "vouch/agent/core_dumps.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/key_admin_client.h"
#include "vouch/agent/luks.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/cli/command.h"
#include "vouch/crypto/random.h"

namespace vouch::cli {
namespace {

constexpr size_t kMaxPolicyBytes = 64 * 1024;
constexpr size_t kMaxTokenFileBytes = 4096;

struct CommonFlags {
  std::string server;
  std::string admin_token_file;
  std::string ca_cert;
};

struct CreateFlags {
  std::string name;
  std::string policy_file;
  int size_bits = 256;
  std::string format_luks;
  uint64_t image_size_mib = 32;
};

struct GetFlags {
  std::string name;
  std::string version;
};

void PrintError(std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "vouch keys: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               std::string(status.message()).c_str());
}

// PrintStatus prints an error whose message names what failed by itself.
void PrintStatus(const absl::Status& status) {
  std::fprintf(stderr, "vouch keys: %s\n", std::string(status.message()).c_str());
}

// ReadAdminToken reads the token from `file`, else from $VOUCH_ADMIN_TOKEN,
// without the trailing newline that editors add.
absl::StatusOr<SecretBytes> ReadAdminToken(const std::string& file) {
  std::string token;
  if (!file.empty()) {
    absl::StatusOr<Bytes> bytes = ReadFile(file, kMaxTokenFileBytes);
    if (!bytes.ok()) {
      return Prefix("admin token file", bytes.status());
    }
    token = ToString(*bytes);
    SecureWipe(*bytes);
  } else if (const char* env = std::getenv("VOUCH_ADMIN_TOKEN"); env != nullptr) {
    token = env;
  } else {
    return InvalidArgumentf(
        "admin token missing: set --admin-token-file FILE or $VOUCH_ADMIN_TOKEN");
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) {
    return InvalidArgumentf("admin token is empty");
  }
  SecretBytes secret(AsBytes(token));
  SecureWipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(token.data()), token.size()));
  return secret;
}

agent::HttpClient MakeHttpClient(const CommonFlags& flags) {
  agent::HttpClientOptions options;
  options.ca_bundle_path = flags.ca_cert;
  return agent::HttpClient(options);
}

void PrintCreated(const nlohmann::json& metadata, const std::string& name) {
  std::string kid = "(no kid in the answer)";
  if (auto key = metadata.find("key"); key != metadata.end() && key->is_object()) {
    if (auto k = key->find("kid"); k != key->end() && k->is_string()) {
      kid = k->get<std::string>();
    }
  }
  const size_t slash = kid.rfind('/');
  const std::string version = slash == std::string::npos ? "" : kid.substr(slash + 1);
  std::printf("key %s version %s created\nkid: %s\n", name.c_str(), version.c_str(), kid.c_str());
}

// FormatImage creates IMAGE and formats it as LUKS2 with `key`.
int FormatImage(const CreateFlags& flags, const SecretBytes& key) {
  const uint64_t size_bytes = flags.image_size_mib << 20;
  if (absl::Status status = agent::CreateImageFile(flags.format_luks, size_bytes); !status.ok()) {
    PrintError("--format-luks", status);
    return kExitUsage;
  }
  if (absl::Status status = agent::FormatLuks2(flags.format_luks, key); !status.ok()) {
    PrintError("format LUKS2", status);
    std::remove(flags.format_luks.c_str());
    return kExitRejected;
  }
  std::printf("formatted %s as LUKS2 (%llu MiB, keyslot 0 holds the new key)\n",
              flags.format_luks.c_str(), static_cast<unsigned long long>(flags.image_size_mib));
  return kExitOk;
}

int RunCreate(const CommonFlags& common, const CreateFlags& flags) {
  absl::StatusOr<Bytes> policy_bytes = ReadFile(flags.policy_file, kMaxPolicyBytes);
  if (!policy_bytes.ok()) {
    PrintError("--policy", policy_bytes.status());
    return kExitUsage;
  }
  const nlohmann::json policy = nlohmann::json::parse(ToString(*policy_bytes), nullptr, false);
  if (!policy.is_object()) {
    PrintError("--policy", InvalidArgumentf("{} is not a JSON object", flags.policy_file));
    return kExitUsage;
  }
  absl::StatusOr<SecretBytes> token = ReadAdminToken(common.admin_token_file);
  if (!token.ok()) {
    PrintStatus(token.status());
    return kExitUsage;
  }

  // With --format-luks the key is made here, so the volume can be formatted
  // before the server has the key. The local copy is wiped on return.
  SecretBytes key;
  if (!flags.format_luks.empty()) {
    key = crypto::RandomSecret(static_cast<size_t>(flags.size_bits) / 8);
  }
  absl::StatusOr<SecretBytes> body =
      agent::BuildCreateKeyRequest(policy, flags.size_bits, key.empty() ? nullptr : &key);
  if (!body.ok()) {
    PrintError("create", body.status());
    return kExitUsage;
  }
  if (!flags.format_luks.empty()) {
    if (const int status = FormatImage(flags, key); status != kExitOk) {
      return status;
    }
  }
  const agent::HttpClient http = MakeHttpClient(common);
  const agent::KeyAdminClient client(common.server, http, *std::move(token));
  absl::StatusOr<nlohmann::json> metadata = client.CreateKey(flags.name, *body);
  if (!metadata.ok()) {
    PrintError("create", metadata.status());
    if (!flags.format_luks.empty()) {
      // The server did not import the key, so no attested VM can ever open
      // this volume.
      std::remove(flags.format_luks.c_str());
      std::fprintf(stderr, "vouch keys: removed %s because the key was not imported\n",
                   flags.format_luks.c_str());
    }
    return kExitRejected;
  }
  PrintCreated(*metadata, flags.name);
  return kExitOk;
}

int RunGet(const CommonFlags& common, const GetFlags& flags) {
  absl::StatusOr<SecretBytes> token = ReadAdminToken(common.admin_token_file);
  if (!token.ok()) {
    PrintStatus(token.status());
    return kExitUsage;
  }
  const agent::HttpClient http = MakeHttpClient(common);
  const agent::KeyAdminClient client(common.server, http, *std::move(token));
  absl::StatusOr<nlohmann::json> metadata = client.GetKey(flags.name, flags.version);
  if (!metadata.ok()) {
    PrintError("get", metadata.status());
    return kExitRejected;
  }
  std::printf("%s\n", metadata->dump(2).c_str());
  return kExitOk;
}

void AddCommonFlags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--server", flags.server,
                 "Base URL of the vouch server, e.g. http://127.0.0.1:8443")
      ->required();
  app.add_option("--admin-token-file", flags.admin_token_file,
                 "File with the admin bearer token (default: $VOUCH_ADMIN_TOKEN)")
      ->check(CLI::ExistingFile);
  app.add_option("--ca-cert", flags.ca_cert,
                 "PEM CA bundle that the server's TLS certificate chains to")
      ->check(CLI::ExistingFile);
}

}  // namespace

Runner SetupKeys(CLI::App& sub) {
  auto common = std::make_shared<CommonFlags>();
  auto create = std::make_shared<CreateFlags>();
  auto get = std::make_shared<GetFlags>();
  sub.require_subcommand(1);

  CLI::App* create_cmd =
      sub.add_subcommand("create", "Create a key (a new version) with a release policy");
  create_cmd->add_option("name", create->name, "Key name")->required();
  AddCommonFlags(*create_cmd, *common);
  create_cmd->add_option("--policy", create->policy_file, "Release policy JSON file")
      ->required()
      ->check(CLI::ExistingFile);
  create_cmd->add_option("--size", create->size_bits, "Key size in bits: 128, 192 or 256")
      ->check(CLI::IsMember({128, 192, 256}));
  CLI::Option* format_opt = create_cmd->add_option(
      "--format-luks", create->format_luks,
      "Make the key here, create this image file and format it as LUKS2 with the key, then "
      "import the key");
  create_cmd
      ->add_option("--image-size", create->image_size_mib,
                   "Size of the --format-luks image in MiB (at least 17: LUKS2 takes 16)")
      ->needs(format_opt)
      ->check(CLI::Range(17, 1 << 20));

  CLI::App* get_cmd = sub.add_subcommand("get", "Print a key's metadata (never its bytes)");
  get_cmd->add_option("name", get->name, "Key name")->required();
  get_cmd->add_option("--version", get->version, "Key version (default: the latest)");
  AddCommonFlags(*get_cmd, *common);

  return [common, create, get, create_cmd, get_cmd] {
    if (create_cmd->parsed()) {
      if (!create->format_luks.empty()) {
        if (absl::Status status = agent::DisableCoreDumps(); !status.ok()) {
          PrintError("start-up", status);
          return kExitUsage;
        }
      }
      return RunCreate(*common, *create);
    }
    if (get_cmd->parsed()) {
      return RunGet(*common, *get);
    }
    return kExitUsage;
  };
}

}  // namespace vouch::cli
