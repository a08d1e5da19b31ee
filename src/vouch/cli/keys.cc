// vouch keys: manage keys on a vouch server through its admin API.
//
//   vouch keys create NAME --server URL [--policy FILE] [--kty oct-HSM|RSA-HSM|EC-HSM]
//                          [--size BITS] [--crv P-256|P-384] [--no-export] [--immutable]
//                          [--tag NAME=VALUE]... [--format-luks IMAGE [--image-size MiB]]
//   vouch keys rotate NAME [--policy FILE [--immutable]]
//   vouch keys get NAME [--version V] | list | versions NAME
//   vouch keys enable|disable NAME VERSION
//   vouch keys delete|recover|purge NAME
//   vouch keys policy get NAME VERSION | policy set NAME VERSION --policy FILE [--immutable]
//   vouch keys rotate-signing-key
//
// Every subcommand takes --server URL. A key created with --policy is
// exportable unless --no-export is given. The admin token comes from
// --admin-token-file or $VOUCH_ADMIN_TOKEN, never from a command-line
// value, which other users could read in the process list.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "vouch/agent/core_dumps.h"
#include "vouch/agent/http_client.h"
#include "vouch/agent/key_admin_client.h"
#include "vouch/agent/luks.h"
#include "vouch/agent/unlock.h"
#include "vouch/base/file.h"
#include "vouch/base/secret_bytes.h"
#include "vouch/base/status.h"
#include "vouch/cli/admin_token.h"
#include "vouch/cli/command.h"
#include "vouch/crypto/random.h"

namespace vouch::cli {
namespace {

constexpr size_t kMaxPolicyBytes = 64 * 1024;

struct CommonFlags {
  std::string server;
  std::string admin_token_file;
  std::string ca_cert;
  std::string client_cert;
  std::string client_key;
};

struct CreateFlags {
  std::string name;
  std::string policy_file;
  int size_bits = 0;  // 0: the server's default for the key type
  std::string kty = "oct-HSM";
  std::string crv;
  bool no_export = false;
  bool immutable = false;
  std::vector<std::string> tags;
  std::string format_luks;
  uint64_t image_size_mib = 32;
};

// LifecycleFlags are the arguments of the other subcommands.
struct LifecycleFlags {
  std::string name;
  std::string version;
  std::string policy_file;
  bool immutable = false;
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

agent::HttpClient MakeHttpClient(const CommonFlags& flags) {
  agent::HttpClientOptions options;
  options.ca_bundle_path = flags.ca_cert;
  options.client_cert_path = flags.client_cert;
  options.client_key_path = flags.client_key;
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

int LuksKeyBits(const CreateFlags& flags) { return flags.size_bits == 0 ? 256 : flags.size_bits; }

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

int RunCreateLuks(const CommonFlags& common, const CreateFlags& flags) {
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
  absl::StatusOr<SecretBytes> token = ReadAdminCredential(common.admin_token_file, common.client_cert);
  if (!token.ok()) {
    PrintStatus(token.status());
    return kExitUsage;
  }

  // With --format-luks the key is made here, so the volume can be formatted
  // before the server has the key. The local copy is wiped on return.
  SecretBytes key;
  nlohmann::json tags = nlohmann::json::object();
  if (!flags.format_luks.empty()) {
    key = crypto::RandomSecret(static_cast<size_t>(LuksKeyBits(flags)) / 8);
    if (const int status = FormatImage(flags, key); status != kExitOk) {
      return status;
    }
    // The volume's UUID goes into the key's tags, and from there into every
    // signed release, so the agent refuses a disk or header swapped by the host.
    absl::StatusOr<agent::Luks2Header> header = agent::ReadLuks2Header(flags.format_luks);
    if (!header.ok()) {
      PrintError("read LUKS2 header", header.status());
      std::remove(flags.format_luks.c_str());
      return kExitRejected;
    }
    tags[std::string(agent::kLuksUuidTag)] = header->uuid;
  }
  absl::StatusOr<SecretBytes> body = agent::BuildCreateKeyRequest(
      policy, LuksKeyBits(flags), key.empty() ? nullptr : &key, tags);
  if (!body.ok()) {
    PrintError("create", body.status());
    if (!flags.format_luks.empty()) {
      std::remove(flags.format_luks.c_str());
    }
    return kExitUsage;
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
  absl::StatusOr<SecretBytes> token = ReadAdminCredential(common.admin_token_file, common.client_cert);
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
  app.add_option("--client-cert", flags.client_cert,
                 "PEM client certificate for mutual TLS; its roles come from the server's --roles")
      ->check(CLI::ExistingFile);
  app.add_option("--client-key", flags.client_key, "PEM private key of --client-cert")
      ->check(CLI::ExistingFile);
}


// ReadPolicy reads a release policy JSON object from `file`.
absl::StatusOr<nlohmann::json> ReadPolicy(const std::string& file) {
  VOUCH_ASSIGN_OR_RETURN(const Bytes bytes, ReadFile(file, kMaxPolicyBytes));
  nlohmann::json policy = nlohmann::json::parse(ToString(bytes), nullptr, false);
  if (!policy.is_object()) {
    return InvalidArgumentf("--policy: {} is not a JSON object", file);
  }
  return policy;
}

// BuildCreateBody returns the create body of key_request.h for `flags`.
absl::StatusOr<nlohmann::json> BuildCreateBody(const CreateFlags& flags) {
  nlohmann::json body = {{"kty", flags.kty}};
  if (flags.size_bits != 0) {
    body["key_size"] = flags.size_bits;
  }
  if (!flags.crv.empty()) {
    body["crv"] = flags.crv;
  }
  if (!flags.policy_file.empty()) {
    VOUCH_ASSIGN_OR_RETURN(body["release_policy"], ReadPolicy(flags.policy_file));
    body["exportable"] = !flags.no_export;
    body["immutable"] = flags.immutable;
  }
  for (const std::string& tag : flags.tags) {
    const size_t equals = tag.find('=');
    if (equals == std::string::npos || equals == 0) {
      return InvalidArgumentf("--tag {:?}: want NAME=VALUE", tag);
    }
    body["tags"][tag.substr(0, equals)] = tag.substr(equals + 1);
  }
  return body;
}

// CallServer sends one admin request, prints the JSON response (nothing for
// 204) and returns the exit status.
int CallServer(const CommonFlags& common, std::string_view what, std::string_view method,
               const std::string& path, const nlohmann::json& body = nullptr) {
  absl::StatusOr<SecretBytes> token = ReadAdminCredential(common.admin_token_file, common.client_cert);
  if (!token.ok()) {
    PrintStatus(token.status());
    return kExitUsage;
  }
  const agent::HttpClient http = MakeHttpClient(common);
  const agent::KeyAdminClient client(common.server, http, *std::move(token));
  absl::StatusOr<nlohmann::json> answer =
      client.Call(method, path, body.is_null() ? "" : body.dump());
  if (!answer.ok()) {
    PrintError(what, answer.status());
    return kExitRejected;
  }
  if (!answer->is_null()) {
    std::printf("%s\n", answer->dump(2).c_str());
  }
  return kExitOk;
}

int RunCreate(const CommonFlags& common, const CreateFlags& flags) {
  if (!flags.format_luks.empty()) {
    if (flags.policy_file.empty() || flags.kty != "oct-HSM") {
      PrintError("--format-luks", InvalidArgumentf("needs --policy and an oct-HSM key"));
      return kExitUsage;
    }
    return RunCreateLuks(common, flags);
  }
  absl::StatusOr<nlohmann::json> body = BuildCreateBody(flags);
  if (!body.ok()) {
    PrintStatus(body.status());
    return kExitUsage;
  }
  return CallServer(common, "create", "PUT", "/keys/" + flags.name, *body);
}

int RunRotate(const CommonFlags& common, const LifecycleFlags& flags) {
  nlohmann::json body = nlohmann::json::object();
  if (!flags.policy_file.empty()) {
    absl::StatusOr<nlohmann::json> policy = ReadPolicy(flags.policy_file);
    if (!policy.ok()) {
      PrintStatus(policy.status());
      return kExitUsage;
    }
    body["release_policy"] = *policy;
    body["immutable"] = flags.immutable;
  }
  return CallServer(common, "rotate", "POST", "/keys/" + flags.name + "/rotate", body);
}

int RunSetPolicy(const CommonFlags& common, const LifecycleFlags& flags) {
  absl::StatusOr<nlohmann::json> policy = ReadPolicy(flags.policy_file);
  if (!policy.ok()) {
    PrintStatus(policy.status());
    return kExitUsage;
  }
  const nlohmann::json body = {{"contentType", "application/json; charset=utf-8"},
                               {"data", Base64UrlEncode(AsBytes(policy->dump()))},
                               {"immutable", flags.immutable}};
  return CallServer(common, "policy set", "PUT",
                    "/keys/" + flags.name + "/" + flags.version + "/releasepolicy", body);
}

CLI::App* AddNameCommand(CLI::App& sub, const char* name, const char* description,
                         CommonFlags& common, LifecycleFlags& flags, bool with_version) {
  CLI::App* command = sub.add_subcommand(name, description);
  command->add_option("name", flags.name, "Key name")->required();
  if (with_version) {
    command->add_option("version", flags.version, "Key version")->required();
  }
  AddCommonFlags(*command, common);
  return command;
}

}  // namespace

Runner SetupKeys(CLI::App& sub) {
  auto common = std::make_shared<CommonFlags>();
  auto create = std::make_shared<CreateFlags>();
  auto get = std::make_shared<GetFlags>();
  auto flags = std::make_shared<LifecycleFlags>();
  sub.require_subcommand(1);

  CLI::App* create_cmd = sub.add_subcommand(
      "create", "Create a key (a new version): AES, RSA or EC, made inside the key store");
  create_cmd->add_option("name", create->name, "Key name")->required();
  AddCommonFlags(*create_cmd, *common);
  create_cmd->add_option("--policy", create->policy_file, "Release policy JSON file")
      ->check(CLI::ExistingFile);
  create_cmd->add_option("--kty", create->kty, "Key type (default oct-HSM)")
      ->check(CLI::IsMember({"oct-HSM", "RSA-HSM", "EC-HSM"}));
  create_cmd
      ->add_option("--size", create->size_bits,
                   "Key size in bits: AES 128, 192 or 256 (default 256); RSA 2048, 3072 or "
                   "4096 (default 2048)")
      ->check(CLI::IsMember({128, 192, 256, 2048, 3072, 4096}));
  create_cmd->add_option("--crv", create->crv, "EC curve (default P-256)")
      ->check(CLI::IsMember({"P-256", "P-384"}));
  create_cmd->add_flag("--no-export", create->no_export,
                       "Keep the key from ever being released, even with --policy");
  create_cmd->add_flag("--immutable", create->immutable,
                       "Make the release policy immutable: it can never be changed");
  create_cmd->add_option("--tag", create->tags, "Tag NAME=VALUE (repeatable, at most 15)");
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

  CLI::App* rotate_cmd = AddNameCommand(
      sub, "rotate", "Make a new version; policy and exportable carry over unless --policy",
      *common, *flags, false);
  rotate_cmd->add_option("--policy", flags->policy_file, "New release policy JSON file")
      ->check(CLI::ExistingFile);
  rotate_cmd->add_flag("--immutable", flags->immutable, "Make the new policy immutable");
  CLI::App* list_cmd = sub.add_subcommand("list", "List keys (latest version of each)");
  AddCommonFlags(*list_cmd, *common);
  CLI::App* versions_cmd =
      AddNameCommand(sub, "versions", "List every version of a key", *common, *flags, false);
  CLI::App* enable_cmd =
      AddNameCommand(sub, "enable", "Enable a key version", *common, *flags, true);
  CLI::App* disable_cmd = AddNameCommand(
      sub, "disable", "Disable a key version: it is never released", *common, *flags, true);
  CLI::App* delete_cmd = AddNameCommand(
      sub, "delete", "Soft-delete a key: recoverable for the recovery period", *common, *flags,
      false);
  CLI::App* recover_cmd =
      AddNameCommand(sub, "recover", "Recover a deleted key", *common, *flags, false);
  CLI::App* purge_cmd = AddNameCommand(
      sub, "purge", "Remove a deleted key for good and destroy its key material", *common,
      *flags, false);

  CLI::App* rotate_signing_key_cmd = sub.add_subcommand(
      "rotate-signing-key",
      "Replace the token signing key, keeping the previous one in /certs. The node that "
      "rotates signs with the new key at once; the others within --signing-key-reload-seconds");
  AddCommonFlags(*rotate_signing_key_cmd, *common);

  CLI::App* policy_cmd = sub.add_subcommand("policy", "Read or replace a release policy");
  policy_cmd->require_subcommand(1);
  CLI::App* policy_get_cmd = AddNameCommand(*policy_cmd, "get", "Print the release policy",
                                            *common, *flags, true);
  CLI::App* policy_set_cmd = AddNameCommand(
      *policy_cmd, "set", "Replace the release policy atomically", *common, *flags, true);
  policy_set_cmd->add_option("--policy", flags->policy_file, "Release policy JSON file")
      ->required()
      ->check(CLI::ExistingFile);
  policy_set_cmd->add_flag("--immutable", flags->immutable, "Make the policy immutable");

  return [=] {
    const std::string key_path = "/keys/" + flags->name;
    const std::string version_path = key_path + "/" + flags->version;
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
    if (rotate_cmd->parsed()) {
      return RunRotate(*common, *flags);
    }
    if (list_cmd->parsed()) {
      return CallServer(*common, "list", "GET", "/keys");
    }
    if (versions_cmd->parsed()) {
      return CallServer(*common, "versions", "GET", key_path + "/versions");
    }
    // HttpClient has no PATCH, so enable and disable use the POST alias.
    if (enable_cmd->parsed() || disable_cmd->parsed()) {
      return CallServer(*common, enable_cmd->parsed() ? "enable" : "disable", "POST",
                        version_path + "/attributes",
                        {{"enabled", enable_cmd->parsed()}});
    }
    if (delete_cmd->parsed()) {
      return CallServer(*common, "delete", "DELETE", key_path);
    }
    if (recover_cmd->parsed()) {
      return CallServer(*common, "recover", "POST", "/deletedkeys/" + flags->name + "/recover");
    }
    if (purge_cmd->parsed()) {
      const int status = CallServer(*common, "purge", "DELETE", "/deletedkeys/" + flags->name);
      if (status == kExitOk) {
        std::printf("key %s purged\n", flags->name.c_str());
      }
      return status;
    }
    if (rotate_signing_key_cmd->parsed()) {
      return CallServer(*common, "rotate-signing-key", "POST", "/signing-keys/rotate",
                        nlohmann::json::object());
    }
    if (policy_get_cmd->parsed()) {
      return CallServer(*common, "policy get", "GET", version_path + "/releasepolicy");
    }
    if (policy_set_cmd->parsed()) {
      return RunSetPolicy(*common, *flags);
    }
    return kExitUsage;
  };
}

}  // namespace vouch::cli
