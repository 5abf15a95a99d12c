#pragma once
// Where fedi keeps its things on a machine, and the NixOS paths it reads there: the one
// definition of each. The remote scripts (resources/host/, see remote_scripts.hpp) get
// them filled in; the commands fedi builds (remote_commands.hpp) use them as they are.

namespace fedi::host {

// Activation logs and results (root only).
constexpr const char* kActivationDir = "/var/lib/fedi/activations";
// An activation's runtime state (a tmpfs: a reboot ends any wait): ID.waiting,
// ID.confirm, ID.abort; and the log and result when kActivationDir cannot be written
// (a full or read-only /var/lib), so fedi still learns the outcome, and why.
constexpr const char* kRuntimeActivationDir = "/run/fedi/activations";
// The machine's lock (resources/host/lock.sh; flock), holding its holder's record. Under
// /run: always writable, and a reboot ends whatever held it.
constexpr const char* kMachineLock = "/run/fedi/lock";
// The installed remote scripts (content-addressed names).
constexpr const char* kScriptDir = "/var/lib/fedi/bin";
// Secret files (0700 root: services read them through systemd's EnvironmentFile= or
// LoadCredential=, as root).
constexpr const char* kSecretsDir = "/var/lib/fedi/secrets";
// The key the machine's Nix reads an s3:// binary cache with (0700 root, written like the
// secrets): an AWS shared credentials file, named in the fetch's environment.
constexpr const char* kCacheCredentialsDir = "/var/lib/fedi/cache";
constexpr const char* kCacheCredentialsFile = "aws-credentials";

constexpr const char* kProfilesDir = "/nix/var/nix/profiles";
constexpr const char* kSystemProfile = "/nix/var/nix/profiles/system";
constexpr const char* kCurrentSystem = "/run/current-system";
constexpr const char* kBootedSystem = "/run/booted-system";

} // namespace fedi::host
