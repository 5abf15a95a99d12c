#pragma once
// `cache`: the deployment's binary cache on its own object storage. The deployer uploads
// each store path once; the machines fetch from it (issue: fleet fan-out).
#include <optional>
#include <string>

namespace fedi::model {

struct CacheSettings {
    std::string storage; // a storage.<name> (Garage or RGW)
    std::string bucket;  // a buckets.<name> on it, made like any other bucket
    // What machines use as substituter: an http(s) URL of a public-read bucket or of the
    // storage's website endpoint; unset: s3://BUCKET?endpoint=… with a read-only key.
    std::optional<std::string> url;
    // Nix's "name:base64" signing key: the secret one from a file or an environment
    // variable on the deployer (never in the Nix store), the public one for the machines.
    std::optional<std::string> secret_key_file;
    std::optional<std::string> secret_key_env;
    std::string public_key;
    std::string compression = "xz"; // of the NARs: xz, zstd or none
};

} // namespace fedi::model
