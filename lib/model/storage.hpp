#pragma once
// Object storage in the deployment: `storage.<name>` (a Garage cluster on named
// machines, or an existing Garage or Ceph RGW endpoint) and `buckets.<name>` with their
// keys, permissions, quotas and where each key is delivered.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::model {

class AttrSet;

// A secret given to fedi: read from a file or an environment variable of the deployer,
// never from the deployment itself (which may end up in the Nix store).
struct CredentialSource {
    std::optional<std::string> file;
    std::optional<std::string> env;
    std::string origin; // attribute path, for messages
    bool given() const { return file || env; }
};

// One Garage node on a storage machine.
struct GarageNode {
    std::string machine;
    std::string zone;                      // default: the machine's name
    std::optional<std::uint64_t> capacity; // bytes; unset: the storage's capacity
    // "<64 hex>" or "<64 hex>@<ip:port>"; unset: read from the machine's node-id file.
    std::optional<std::string> node_id;
};

enum class StorageType { Garage, Rgw };

struct Storage {
    std::string name;
    StorageType type = StorageType::Garage;
    std::string s3_endpoint;
    std::string region;
    // Garage
    std::vector<GarageNode> nodes; // in the order of `machines`; empty: existing cluster
    unsigned replication = 1;
    std::uint64_t capacity = 0; // default node capacity in bytes
    std::string admin_endpoint;
    CredentialSource admin_token;
    int health_timeout_seconds = 120;
    // RGW: an RGW user with caps "users=*;buckets=*"
    CredentialSource access_key, secret_key;
    // allowInsecureHttp: the deployment accepts that its http:// endpoints carry the admin
    // token, signed requests and new keys' secrets in clear text (warned on every run).
    bool allow_insecure_http = false;

    std::vector<std::string> machines() const;
};

struct Delivery {
    std::string machine;
    std::string owner = "root";
    std::string group = "root";
    unsigned mode = 0400;
    bool allow_world_readable = false; // a mode readable by others is refused without it
};

struct BucketKey {
    std::string name;
    bool read = true;
    bool write = false;
    bool owner = false;
    std::vector<Delivery> deliver_to;
};

struct Bucket {
    std::string name;
    std::string storage;
    std::optional<std::uint64_t> max_size;
    std::optional<std::uint64_t> max_objects;
    bool website = false;
    std::string index_document = "index.html";
    std::string error_document;
    std::map<std::string, BucketKey> keys;
};

// The secret file a key is delivered as: "<bucket>-<key>.env".
std::string key_file_name(const std::string& bucket, const std::string& key);

// "500G", "1T", "1024", or an integer: bytes (K/M/G/T are powers of 1000, Ki/Mi/Gi/Ti
// of 1024, as Garage reads them). nullopt when the text is not a size.
std::optional<std::uint64_t> parse_size(const std::string& text);

// Parses `storage` and `buckets` from the top-level set (both optional).
void parse_storage_section(AttrSet& top, std::map<std::string, Storage>& storage,
                           std::map<std::string, Bucket>& buckets);

// Dangling references: bucket → storage, storage machines and deliveries → machines; a
// machine in two Garage clusters; one secret file name declared twice for a machine.
void check_storage_references(const std::map<std::string, Storage>& storage,
                              const std::map<std::string, Bucket>& buckets,
                              const std::vector<std::string>& machine_names);

nlohmann::json to_json(const Storage& s);
nlohmann::json to_json(const Bucket& b);

} // namespace fedi::model
