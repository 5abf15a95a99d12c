#pragma once
// Makes the backends hold what the deployment declares: Garage clusters joined, laid
// out and healthy; buckets with their quotas and website flag; keys with their
// permissions. Plans from what the backend and the state say, then applies; reports
// what it changed. A bucket or key in state that is no longer declared is reported,
// never deleted. Keys are recorded in state as soon as they exist, so a re-run (even
// after a crash) reuses them instead of creating more.
#include "host/secrets.hpp"
#include "model/deployment.hpp"
#include "storage/backend.hpp"
#include "storage/storage_state.hpp"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace fedi::storage {

struct ConvergeOptions {
    bool dry_run = false;           // read only; changes say what would be done
    std::set<std::string> storages; // which storage.<name> to converge (empty: all)
    std::set<std::string> buckets;  // which buckets.<name> (empty: all of those storages)
    bool cluster = true;            // Garage nodes, layout and health too
    // For plans (with dry_run): also compare the Garage layout node by node, reading the
    // node ids the deployment does not give from the machines (node_id_of).
    bool read_layout = false;
};

struct ConvergeHooks {
    std::function<StorageState()> load_state;
    // Changes the state and saves it at once.
    std::function<void(const std::function<void(StorageState&)>&)> update_state;
    // "<node id>@<ip:port>" of a Garage machine (read from the machine).
    std::function<std::string(const std::string& machine)> node_id_of;
    std::function<void(const std::string& subject, const std::string& message)> info;
    std::function<void(const std::string& subject, const std::string& message)> warn;
};

// One field of a change: old → new ("" when absent).
struct FieldDiff {
    std::string field;
    std::string from;
    std::string to;
    bool operator==(const FieldDiff&) const = default;
};

// A change as plans show it: what it is to, what happens, and its fields.
struct TypedChange {
    std::string kind;   // "node", "bucket", "key"
    std::string name;   // the node's machine, the bucket, "<bucket>/<key>"
    std::string action; // "create", "update", "destroy"
    std::vector<FieldDiff> fields;
};

struct ItemResult {
    std::string name;
    std::string storage;
    bool ok = true;
    std::string error;
    std::vector<std::string> changes;
    std::vector<TypedChange> typed; // the changes, typed (buckets, keys; nodes: read_layout)
    // What the backend answered about the item, without secrets (null: not read):
    // a bucket's id, quotas, website flag and key permissions; a cluster's layout.
    nlohmann::json observed;
};

struct KeyDelivery {
    std::string machine;
    host::SecretFile file;
};

struct ConvergeReport {
    std::vector<ItemResult> storages;
    std::vector<ItemResult> buckets;
    std::vector<KeyDelivery> deliveries;
    std::vector<std::string> undeclared;        // kept, not deleted
    std::map<std::string, std::string> blocked; // machine → why its keys are missing
    bool ok() const;
};

ConvergeReport converge(const model::Deployment& d, const ConvergeOptions& opts,
                        const ConvergeHooks& hooks);

// The Garage layout changes node by node (kind "node", named by machine): declared nodes
// to add or change (zone, capacity, tags old → new) and applied roles no declared node
// has ("destroy": a deploy removes them).
std::vector<TypedChange> layout_changes(const LayoutView& v);

// The .env file a key is delivered as (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// S3_ENDPOINT, S3_REGION, S3_BUCKET).
std::string key_env_file(const model::Storage& s, const std::string& bucket,
                         const std::string& access_key, const std::string& secret);

// Without secrets.
nlohmann::json to_json(const ConvergeReport& r);

} // namespace fedi::storage
