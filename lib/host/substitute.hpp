#pragma once
// Letting a machine's own Nix fetch store paths (`nix-store --realise`), from the
// deployment's binary cache or from the substituters the machine is configured with,
// instead of receiving them from fedi. The machine's Nix checks the narinfo signatures and
// the NAR hashes itself, so what a cache serves cannot install anything its key did not
// sign.
#include "host/host.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedi::host {

// A binary cache the machine is told to use, and the key it must be signed with.
struct Substituter {
    std::string url;        // http(s)://…, s3://…, file://…
    std::string public_key; // "name:base64"
    // s3://: the credentials file its Nix reads the bucket with (see
    // cache_credentials_file), written to the machine before each fetch.
    std::optional<SecretFile> credentials;
};

// The AWS shared credentials file holding one profile (root only, 0600), for
// kCacheCredentialsDir; its text is `[profile]` with the key id and secret.
SecretFile cache_credentials_file(const std::string& profile, const std::string& key_id,
                                  const std::string& secret);

// Reads store paths on stdin (one a line), prints those not valid on the machine.
std::string missing_paths_command();
// Keeps stdin in a new file only root can read and prints its name: the path lists are
// too long for a command line (one argument of `sh -c` holds at most 128 KiB).
std::string stage_list_command();
// Realises the store paths listed in `list_file` (then removes it), every one it can
// (--keep-going). With `from`: from that cache only, its signature required whatever the
// machine's nix.conf says, no narinfo lookup cached from an earlier run, and a connection
// that fails soon; without: from the machine's own configured substituters. With its
// credentials, Nix's S3 store finds them through AWS_SHARED_CREDENTIALS_FILE (its path
// only on the command line).
std::string realise_command(const std::string& list_file, const std::optional<Substituter>& from);

// What `nix-store --realise` said, read line by line (Nix 2.8's messages and current
// Nix's).
struct RealiseLog {
    std::set<std::string> copying;          // "copying path 'P' from 'URL'..."
    std::set<std::string> unsigned_paths;   // substitutes refused: no signature by a trusted key
    std::vector<std::string> corrupt;       // "hash mismatch …", "bad archive: …"
    std::optional<std::string> unreachable; // why a substituter could not be reached
    // The machine's Nix cannot open the substituter's kind of store at all (s3:// where
    // it was built without S3 support, as Debian's Nix is): what it said.
    std::optional<std::string> unsupported;
    std::vector<std::string> errors; // the other "error: …" lines
    // Reads one line; returns the path when it starts copying one.
    std::optional<std::string> read(const std::string& line);
};

// The subset of `paths` the machine lacks, in the order given.
std::vector<std::string> missing_paths(Host& host, const std::vector<std::string>& paths);

// Realises `paths` on the machine (see realise_command), first writing the
// substituter's credentials file when it has one; `on_copy` hears each path as its
// download starts. Throws only when the commands cannot run at all.
RealiseLog realise_paths(Host& host, const std::vector<std::string>& paths,
                         const std::optional<Substituter>& from,
                         const std::function<void(const std::string& path)>& on_copy);

} // namespace fedi::host
