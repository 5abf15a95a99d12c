#pragma once
// Machine providers: where a machine comes from (a Proxmox VM cloned from a template, a
// local container, a machine that already exists). Each provider type parses its own
// typed settings (providers.<name> and machines.<name>.provision) and acts on them; the
// types are listed in one explicit registry (registry.cpp).
#include "model/attrs.hpp"
#include "model/deployment.hpp"
#include "model/provider_settings.hpp"
#include "ui/output.hpp"

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::state {
struct State;
}

namespace fedi::provider {

// What a provisioned machine offers the rest of fedi: how to reach it, and facts the
// deployment sees as resources.machines.<name>.
struct Outputs {
    std::string host;
    int port = 22;
    std::string user = "root";
    std::vector<std::string> host_keys; // "type base64", the one to pin first
    // A private key the machine accepts, when the provider made one (containers).
    std::optional<std::string> identity_file;
    // Provider facts: vmid, node, disks, ...
    nlohmann::json extra = nlohmann::json::object();
};

// State's record of a provisioned machine (state key "provisioned.<machine>").
struct Record {
    std::string provider;                           // the providers.<name> it came from
    std::string type;                               // proxmox, container, existing
    std::string id;                                 // the provider's id: a VMID, a container name
    nlohmann::json data = nlohmann::json::object(); // provider facts: node, name, template
    Outputs outputs;
    std::string created;   // UTC
    bool complete = false; // false from the moment it exists until its outputs are known
    bool protect = false;  // as the deployment said when it was last provisioned
};

nlohmann::json to_json(const Outputs& o);
Outputs outputs_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Record& r);
Record record_from_json(const nlohmann::json& j, const std::string& machine);

// The records in a state (its top-level key "provisioned"); unknown keys stay intact.
std::map<std::string, Record> records(const state::State& s);
std::optional<Record> find_record(const state::State& s, const std::string& machine);
void set_record(state::State& s, const std::string& machine, const Record& r);
void erase_record(state::State& s, const std::string& machine);

// The `resources` the deployment function receives: { machines = { <name> = { host; port;
// user; hostKey; hostKeys; ...extra }; }; } for every complete record.
nlohmann::json resources(const state::State& s);

// Typed settings of a provider (providers.<name>) and of one machine (provision): the
// deployment model holds them, so their base classes live in model.
using ProviderSettings = model::ProviderSettings;
using MachineSettings = model::MachineSettings;

// One difference between the deployment and the machine.
struct Change {
    std::string what; // "memory", "disk data1", ...
    std::string from;
    std::string to;
    std::string describe() const;
};

// What converging a machine means.
struct Plan {
    std::vector<Change> changes; // applied in place
    std::vector<Change> fixed;   // differ, but cannot change in place (recreate to apply)
};

// One machine to provision.
struct Request {
    std::string machine;
    const MachineSettings* settings = nullptr;
    std::optional<int> ssh_port; // machines.<name>.ssh.port, when the deployment gives it
    bool protect = false;
    std::string deployment_file;
    std::string state_dir; // the directory of the state file (providers keep files there)
};

// How a provider talks back while it works.
struct Context {
    std::function<void(const std::string&)> info;   // progress lines
    std::function<void(const std::string&)> detail; // verbose lines (task logs)
    // Saves a record at once (e.g. right after a clone, before its outputs are known), so
    // that a crash leaves a record the next run finds instead of a second machine.
    std::function<void(const Record&)> save;
    // The directory of the state file: providers that keep files there confine what they
    // remove to it.
    std::string state_dir;
};

class Provider {
  public:
    virtual ~Provider() = default;
    // The machine as it is now: the record (outputs as recorded) when it exists, nullopt
    // when it is gone. Without a record, a machine this provider can recognise as the
    // one meant (e.g. a VM with the name and fedi's mark) is adopted.
    virtual std::optional<Record> read(const Request& req, const std::optional<Record>& rec) = 0;
    // Drift between the deployment and the machine.
    virtual Plan diff(const Request& req, const Record& rec) = 0;
    // Makes the machine and returns its record with outputs.
    virtual Record create(const Request& req) = 0;
    // Applies plan.changes, makes sure the machine runs; returns the record with fresh
    // outputs.
    virtual Record update(const Request& req, const Record& rec, const Plan& plan) = 0;
    // Removes the machine (for `existing`: only forgets it).
    virtual void destroy(const Record& rec) = 0;
    // What to show before destroying: "Proxmox VM 101 on pve1".
    virtual std::string describe(const Record& rec) const = 0;
};

// Throws: the machine's provision settings are not of the type `provider` reads (a
// registry bug; "a proxmox provider").
[[noreturn]] void wrong_settings(const Request& req, const std::string& provider);

// The machine settings of `req` as the provider's own type.
template <typename Settings>
const Settings& settings_as(const Request& req, const std::string& provider) {
    const auto* s = dynamic_cast<const Settings*>(req.settings);
    if (!s)
        wrong_settings(req, provider);
    return *s;
}

// A provider type in the registry: its settings parsers (name, parse_provider,
// parse_machine; see model::ProviderParser) and what acts on a machine.
struct ProviderType : model::ProviderParser {
    std::string summary; // for messages
    std::function<std::unique_ptr<Provider>(const ProviderSettings&, const Context&)> make;
};

// Every provider type (explicit list: existing, container, proxmox).
const std::vector<ProviderType>& provider_types();
const ProviderType* find_provider_type(const std::string& name);
// The registry as the deployment model reads it.
const model::ProviderParsers& provider_parsers();

} // namespace fedi::provider

namespace fedi::model {
// Validates the evaluated deployment with every provider type of the registry (see
// model/deployment.hpp).
Deployment parse_deployment(const nlohmann::json& evaluated, const std::string& file);
} // namespace fedi::model
