#pragma once
// `fedi provision` and the first step of `fedi deploy`: make the selected machines exist
// as the deployment describes them (create what is missing, change what drifted), record
// them in state, and destroy one on request.
#include "provider/provider.hpp"
#include "session/session.hpp"
#include "ui/output.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::deploy {

struct ProvisionOptions {
    session::SessionOptions session; // the state is locked unless dry_run
    std::vector<std::string> on;     // --on patterns
    bool dry_run = false;            // say what would change; change nothing
};

enum class ProvisionOutcome {
    Existing,  // not provisioned by fedi (machines.<name>.ssh only)
    Planned,   // --dry-run: something would change (see changes)
    Created,   // made now
    Changed,   // changed in place now
    Unchanged, // already as described
    Failed,
    Destroyed,
};
std::string to_string(ProvisionOutcome o);

struct ProvisionedMachine {
    std::string name;
    std::string provider; // providers.<name>; empty for Existing
    std::string type;
    std::string id; // VMID, container name
    ProvisionOutcome outcome = ProvisionOutcome::Unchanged;
    provider::Outputs outputs;
    std::vector<provider::Change> changes;
    std::vector<provider::Change> fixed; // cannot change in place
    bool found = false; // the provider found the machine (it was not to be created)
    std::string error;
    double seconds = 0;
    bool ok() const { return outcome != ProvisionOutcome::Failed; }
};

struct ProvisionReport {
    std::vector<ProvisionedMachine> machines; // sorted by name
    std::vector<std::string> orphans;         // in state but no longer in the deployment
    bool ok() const;
};

// `fedi provision`: takes the state lock, converges the selected machines (at most
// limits.machines at once), each record saved through the state store as it is made.
ProvisionReport run_provision(const ProvisionOptions& opts, ui::Events& events);
// The same on an open session (writable unless dry_run).
ProvisionReport run_provision(session::Session& s, const std::vector<std::string>& on,
                              bool dry_run);

// For `fedi deploy` (the session's state is writable unless dry_run): converges the
// selected provisioned machines, then evaluates the deployment again with their outputs
// and gives the session that project. Throws when one of them could not be provisioned.
void provision_for_deploy(session::Session& s, const std::vector<std::string>& on, bool dry_run);

// Asked before destroying: gets a description of what goes; true to go ahead.
using Confirm = std::function<bool(const std::string& machine, const std::string& what)>;

// `fedi provision --destroy NAME`: refuses protected machines, asks `confirm`, destroys,
// and removes the machine's state (its record, host keys and generations).
ProvisionReport destroy_machine(const ProvisionOptions& opts, const std::string& machine,
                                const Confirm& confirm, ui::Events& events);
// The same on an open session whose state is writable.
ProvisionReport destroy_machine(session::Session& s, const std::string& machine,
                                const Confirm& confirm);

nlohmann::json to_json(const ProvisionReport& r);
std::string render_provision(const ProvisionReport& r, bool color);

} // namespace fedi::deploy
