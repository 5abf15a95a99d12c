#pragma once
// A plan: everything `fedi deploy` would change, found by asking the machines and the
// APIs while changing nothing (`fedi plan`, `fedi deploy --dry-run`). It is a value:
// it renders for a terminal, serialises to the versioned JSON document scripts read
// (doc/plan.schema.json), is saved with `fedi plan --out` and checked again by
// `fedi deploy --plan`. It never holds a secret value, nor a hash of one.
#include "model/goal.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fedi::plan {

// The version of the JSON document; bumped when a field changes meaning or goes.
inline constexpr int kSchemaVersion = 1;

// What happens to one thing: the `+ ~ - ±` markers of the rendered plan.
enum class Action {
    None,    // already as declared
    Create,  // +
    Update,  // ~ (in place)
    Replace, // ± cannot change in place: destroyed and made again (never done silently)
    Destroy, // -
};
std::string to_string(Action a); // "none", "create", "update", "replace", "destroy"

// One field of something that changes: old → new ("" when absent).
struct FieldChange {
    std::string what;
    std::string from;
    std::string to;
    bool operator==(const FieldChange&) const = default;
};

// provisioning: the machine as its provider would make or change it.
struct ProvisionPlan {
    Action action = Action::None;
    std::string provider;             // providers.<name>; "" for machines fedi does not provision
    std::string type;                 // proxmox, container, existing
    std::string id;                   // VMID, container name ("" before it exists)
    std::vector<FieldChange> changes; // Update: applied in place
    std::vector<FieldChange> fixed;   // Replace: differ but cannot change in place
    std::string why;                  // Replace/Destroy: the reason, for the operator
};

// The activation a machine would go through for the plan's goal.
enum class Activation {
    None,       // runs and boots the system already (or goal build/push)
    Activate,   // switch/test/dry-activate: the new system is activated
    BootLoader, // the profile and boot loader change only (goal boot, or switch when the
                // machine already runs the system without it being its profile)
};
std::string to_string(Activation a); // "none", "activate", "boot-loader"

// One package of a closure diff, as `nix store diff-closures` groups them: by name,
// versions before and after ("" for a path without version), and the size change.
struct PackageChange {
    std::string name;
    std::vector<std::string> from; // versions in the running system (empty: added)
    std::vector<std::string> to;   // versions in the new system (empty: removed)
    std::int64_t size_delta = 0;   // NAR bytes, new minus old
    bool operator==(const PackageChange&) const = default;
};

struct SystemPlan {
    std::string system;            // the store path the machine would run
    std::string current;           // what it runs now (/run/current-system; "" if none)
    std::string profile;           // its system profile now ("" if none)
    std::optional<int> generation; // the profile's generation now
    bool observed = false;         // the machine answered (false: it does not exist yet)
    Activation activation = Activation::None;
    std::vector<PackageChange> packages;
    std::size_t paths_total = 0;     // paths of the new closure
    std::size_t paths_to_send = 0;   // of them, paths the machine lacks
    std::uint64_t bytes_to_send = 0; // their NAR bytes (what a push sends, protocol aside)
    bool changes() const { return activation != Activation::None || paths_to_send > 0; }
};

// A file in the machine's secrets directory (/var/lib/fedi/secrets). Content is compared
// through a hash computed on each side; neither the value nor its hash is kept here.
struct SecretPlan {
    std::string name;             // file name
    Action action = Action::None; // Create, Update (content, owner or mode), Destroy
    std::string origin;           // what declares it ("buckets.media.keys.web"); "" for Destroy
    std::vector<std::string>
        reasons; // "content differs", "owner root → mastodon", "value made at deploy"
};

// An account or a directory entry fedi would create or change.
struct AccountPlan {
    std::string kind;    // "account" (a service's admin) or "directory" (an LDAP entry)
    std::string name;    // accounts.<name> or the entry's DN
    std::string machine; // where the account lives ("" for directory entries)
    Action action = Action::None;
    std::vector<std::string> reasons; // "does not exist", "not an admin", "mail differs"
};

// One object of the storage: a Garage cluster's layout or node, a bucket, a key.
struct StorageItemPlan {
    std::string storage; // storage.<name>
    std::string kind;    // "cluster", "node", "bucket", "key"
    std::string name;
    Action action = Action::None;
    std::vector<FieldChange> changes; // quota, website, zone/capacity/tags, permissions
};

struct StoragePlan {
    std::vector<StorageItemPlan> items;
    std::vector<std::string> undeclared; // in the storage or state, no longer declared: kept
};

struct MachinePlan {
    std::string name;
    ProvisionPlan provision;
    SystemPlan system;
    std::vector<SecretPlan> secrets;
    std::vector<AccountPlan> accounts; // the machine's service accounts
    // What could not be found out (an unreachable machine, a failed build): the plan is
    // then incomplete for this machine and `fedi plan` exits 1.
    std::vector<std::string> errors;
    bool changes() const;
};

struct Plan {
    int schema_version = kSchemaVersion;
    std::string deployment; // the deployment file
    model::Goal goal = model::Goal::Switch;
    std::vector<std::string> on;        // the --on patterns it was made for
    std::string created;                // UTC, ISO 8601
    std::vector<MachinePlan> machines;  // selected machines, sorted by name
    std::vector<std::string> destroyed; // machines provisioned by fedi that left the deployment
    StoragePlan storage;
    std::vector<AccountPlan> directory; // identity directory entries
    std::vector<std::string> errors;    // of the plan itself (a storage API down, ...)
    // What the plan was computed from, for `deploy --plan` to check nothing moved: keys
    // such as "machine.web.system", "machine.web.generation", "vm.web", "bucket.s3.media";
    // values are store paths, numbers or digests of what the APIs answered (never secrets).
    std::map<std::string, std::string> observed;
    bool changes() const;
    bool ok() const; // no error anywhere
};

} // namespace fedi::plan
