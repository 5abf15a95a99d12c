#pragma once
// Secret files on a machine: what fedi puts in /var/lib/fedi/secrets (bucket keys,
// account passwords, generated and operator-given secrets). The directory belongs to
// fedi: a file there that is no longer declared is removed.
//
// The contents travel on the SSH channel's stdin, base64 on one line, read by shell
// builtins: never in a command line (ps), never in the Nix store, never logged.
#include "core/secret_memory.hpp"
#include "host/paths.hpp"

#include <string>
#include <vector>

namespace fedi::host {

struct SecretFile {
    std::string name; // file name in kSecretsDir ("mastodon-media-mastodon.env")
    std::string owner = "root";
    std::string group = "root";
    unsigned mode = 0400;
    std::string content; // never logged; wiped when the record goes
    std::string origin;  // what declared it, for messages ("buckets.media.keys.web")

    SecretFile() = default;
    SecretFile(const SecretFile&) = default;
    SecretFile(SecretFile&&) = default;
    SecretFile& operator=(const SecretFile&) = default;
    SecretFile& operator=(SecretFile&&) = default;
    ~SecretFile() { wipe(content); }
};

// What a sync did, by file name.
struct SecretSyncResult {
    std::vector<std::string> written;   // new or changed content, owner or mode
    std::vector<std::string> unchanged; // already as declared
    std::vector<std::string> removed;   // no longer declared
    // Written as root because the owner or group does not exist yet (the system that
    // creates the user is not active yet): sync again after activation.
    std::vector<std::string> pending_owner;
};

// A file in kSecretsDir as the machine reports it.
struct SecretInfo {
    std::string name;
    std::string owner;
    std::string group;
    unsigned mode = 0;
};

// The remote command that lists kSecretsDir, and its output parsed.
std::string secret_list_command(const std::string& dir = kSecretsDir);
std::vector<SecretInfo> parse_secret_list(const std::string& out);

// Checks names, owners, groups and modes; throws a usage error naming the origin.
void validate_secret(const SecretFile& f);

// The remote script and the stream it reads (exposed for tests).
// The script takes the directory so that tests can run it on a scratch directory.
std::string secret_sync_script(const std::string& dir = kSecretsDir);
std::string secret_sync_stream(const std::vector<SecretFile>& files);
SecretSyncResult parse_secret_sync_output(const std::string& out);

} // namespace fedi::host
