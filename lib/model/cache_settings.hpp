#pragma once
// `cache`: the deployment's binary cache on its own object storage. The deployer uploads
// each store path once; the machines fetch from it (issue: fleet fan-out).
#include "model/storage.hpp"

#include <map>
#include <nlohmann/json.hpp>
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

class AttrSet;

// Parses the top-level `cache` (optional) and checks that its storage and bucket are
// declared (storage.<name>, buckets.<name> on that storage). Usage errors name the
// attribute path (cache.bucket, cache.publicKey, ...).
std::optional<CacheSettings> parse_cache(AttrSet& top,
                                         const std::map<std::string, Storage>& storage,
                                         const std::map<std::string, Bucket>& buckets);

// For `fedi eval`: where the secret key is read from, never the key.
nlohmann::json to_json(const CacheSettings& c);

} // namespace fedi::model
