#pragma once
// One interface over the storage backends fedi drives (Garage's admin API, Ceph RGW's
// admin ops API plus S3), used by the deploy's storage phase and by `fedi bucket`.
// Buckets are named by their global name; keys by their access key id.
#include "model/storage.hpp"
#include "storage/storage_state.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::storage {

struct Permissions {
    bool read = false, write = false, owner = false;
    bool operator==(const Permissions&) const = default;
};

struct KeyAccess {
    std::string id;
    std::string name;
    Permissions permissions;
};

struct BucketView {
    std::string name;
    std::string id;
    std::uint64_t objects = 0;
    std::uint64_t bytes = 0;
    std::optional<std::uint64_t> max_size, max_objects;
    bool website = false;
    std::vector<KeyAccess> keys;
};

// A node's role in a Garage layout, as applied or as declared (for plans).
struct NodeRole {
    std::string machine; // the declared node's machine ("" for a role of the applied layout)
    std::string id;      // node id ("" when it could not be read from the machine)
    std::string zone;
    std::optional<std::uint64_t> capacity; // bytes; unset: a gateway
    std::vector<std::string> tags;
};

struct LayoutView {
    std::uint64_t version = 0;
    std::vector<NodeRole> current;              // the applied layout, by node id
    std::vector<NodeRole> wanted;               // the declared nodes
    std::map<std::string, std::string> unknown; // machine → why its node id is not known
};

struct NewKey {
    std::string id;
    std::string secret;
};

class Backend {
  public:
    virtual ~Backend() = default;

    // Garage on declared machines: connect the nodes, apply the layout when it differs,
    // wait until the cluster is healthy. `node_id_of(machine)` gives "<id>@<ip:port>"
    // for machines whose node id the deployment does not give. Returns what changed
    // (or, dry_run, what would). Nothing to do for other backends.
    virtual std::vector<std::string>
    converge_cluster(const std::function<std::string(const std::string&)>& node_id_of,
                     bool dry_run) = 0;

    // The applied and the declared layout, changing nothing (nullopt: no layout to
    // manage, as for RGW). Node ids the deployment does not give come from node_id_of.
    virtual std::optional<LayoutView>
    read_layout(const std::function<std::string(const std::string&)>& node_id_of) {
        (void)node_id_of;
        return std::nullopt;
    }

    virtual std::vector<BucketView> list_buckets() = 0;
    virtual std::optional<BucketView> find_bucket(const std::string& name) = 0;
    // Creates the bucket; `record` gets what must be remembered (id, owner user).
    virtual BucketView create_bucket(const std::string& name, BucketRecord& record) = 0;
    // Quotas and website as declared; returns what changed (or would, dry_run).
    virtual std::vector<std::string> apply_settings(const BucketView& current,
                                                    const model::Bucket& wanted, bool dry_run) = 0;
    // Refused (with the count) while the bucket holds objects, unless force: then its
    // objects are deleted first (where the backend allows it).
    virtual void delete_bucket(const BucketView& bucket, const BucketRecord* record,
                               bool force) = 0;

    // A new key for `bucket` named `name` (Garage key name; RGW: a key of the bucket's
    // owner user), without permissions yet.
    virtual NewKey create_key(const std::string& bucket, const BucketRecord& record,
                              const std::string& name) = 0;
    // The secret of an existing key, nullopt when the key does not exist.
    virtual std::optional<std::string> key_secret(const BucketRecord& record,
                                                  const std::string& id) = 0;
    // Ids of keys with this name (Garage; RGW keys have no names: empty).
    virtual std::vector<std::string> keys_named(const std::string& name) = 0;
    virtual void delete_key(const BucketRecord& record, const std::string& id) = 0;
    // A key that will only read `bucket` (how machines fetch from a private binary cache),
    // in two steps so that the caller records the key before it is given access: made
    // without access (Garage: a key of its own; RGW: a key of the bucket's reader user
    // "fedi-<bucket>-read", made when absent, as RGW keys of the owner cannot be
    // narrowed), then given GetObject and ListBucket on the bucket and nothing else
    // (Garage: the read permission; RGW: the bucket's policy, which it replaces).
    virtual NewKey create_reader_key(const std::string& bucket, const BucketRecord& record,
                                     const std::string& name) = 0;
    virtual void allow_read_only(const std::string& bucket, const BucketRecord& record,
                                 const std::string& key_id) = 0;
    // Gives the key exactly `wanted` on the bucket; returns whether anything changed.
    virtual bool set_permissions(const BucketView& bucket, const std::string& key_id,
                                 Permissions wanted, bool dry_run) = 0;

    // S3 endpoint and region handed to services.
    virtual const model::Storage& config() const = 0;
};

// Reads the credentials the storage names (files or environment variables) and returns
// the backend. Throws a usage error naming the attribute when a credential is missing.
std::unique_ptr<Backend> open_backend(const model::Storage& storage);

// Reads a CredentialSource: the file's contents or the variable's value, trimmed.
std::string read_secret(const model::CredentialSource& source);

// The Garage key name fedi gives a declared key.
std::string garage_key_name(const std::string& bucket, const std::string& key);

} // namespace fedi::storage
