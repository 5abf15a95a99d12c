#pragma once
// What fedi recorded about buckets and keys: under the state file's top-level "storage"
// key. Secret keys are kept there (the state file is 0600) so a re-run delivers the same
// key without creating another; they never go to logs or --json output.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace fedi::state {
struct State;
}

namespace fedi::storage {

struct KeyRecord {
    std::string id;     // access key id
    std::string secret; // secret access key
    bool adhoc = false; // made by `fedi bucket key create`, not declared
};

struct BucketRecord {
    std::string storage;
    std::string id;         // the backend's bucket id (Garage) or name (RGW)
    std::string owner_user; // RGW: the user that owns the bucket
    bool adhoc = false;
    std::map<std::string, KeyRecord> keys;
};

struct StorageState {
    std::map<std::string, BucketRecord> buckets;
};

nlohmann::json to_json(const StorageState& s);
StorageState storage_state_from_json(const nlohmann::json& j); // throws fedi::Error

// Read from / written to State::extra["storage"], leaving other keys as they are.
StorageState storage_state_of(const state::State& s);
void set_storage_state(state::State& s, const StorageState& st);

// Replaces every key's secret with `mask`, for `fedi state show` without --reveal.
void mask_secrets(state::State& s, const std::string& mask);

} // namespace fedi::storage
