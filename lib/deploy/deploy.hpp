#pragma once
// `fedi deploy`: build every selected system once, then per machine push → activate,
// machines in parallel, each waiting for the machines it is declared `after`.
#include "account/accounts.hpp"
#include "account/identity.hpp"
#include "model/goal.hpp"
#include "session/project.hpp"
#include "ui/output.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fedi::deploy {

using model::Goal;

struct DeployOptions {
    session::ProjectOptions project;
    std::vector<std::string> on; // --on patterns
    Goal goal = Goal::Switch;
    int parallel = 0;     // machines in flight at once (0: default)
    int max_pushes = 0;   // closures streamed at once (0: default)
    bool dry_run = false; // plan only
    bool accept_new_host_keys = false;
    bool compress = false;    // zlib on the SSH connections (slow links)
    bool rollback = true;     // a failed activation puts the previous generation back
    int confirm_seconds = 30; // switch/test: revert unless confirmed within this (0: off)
    // Generations and activation logs kept on each machine deployed (0: all).
    int keep_generations = 10;
    std::string command_line; // recorded in the lock for whoever finds it held
};

enum class Outcome {
    Planned,      // --dry-run
    Built,        // goal build
    Pushed,       // goal push
    Activated,    // switch/boot/test done
    DryActivated, // dry-activate done (nothing changed on the machine)
    Unchanged,    // the machine already ran this system
    Failed,
    Skipped,    // a machine it depends on failed
    RolledBack, // `fedi rollback`: back on the previous generation
};
std::string to_string(Outcome o);

struct MachineReport {
    std::string name;
    Outcome outcome = Outcome::Skipped;
    std::string phase;                 // where it failed: build, connect, push, activate
    std::string error;                 // what went wrong (with context lines)
    std::vector<std::string> log_tail; // build log or activation output tail
    std::string system;                // store path deployed
    std::size_t paths_sent = 0;
    std::uint64_t bytes_sent = 0; // on the wire, protocol included
    std::uint64_t nar_bytes = 0;  // store path contents
    double seconds = 0;
    std::optional<int> generation;
    // Deployed, but the state file could not record it (the run fails; the machine is fine).
    std::string state_error;
    bool ok() const { return outcome != Outcome::Failed && outcome != Outcome::Skipped; }
};

struct DeployReport {
    Goal goal = Goal::Switch;
    std::vector<MachineReport> machines;           // in selection order (sorted by name)
    std::vector<account::AccountResult> accounts;  // converged after activation
    std::vector<account::IdentityResult> identity; // directory entries
    nlohmann::json storage;                        // the storage phase (storage::to_json), or null
    bool storage_ok = true;
    std::vector<std::string> errors; // of the run itself, e.g. a state file it could not write
    bool ok() const;
};

DeployReport run_deploy(const DeployOptions& opts, ui::Events& reporter);

nlohmann::json to_json(const DeployReport& r);
std::string render_summary(const DeployReport& r, bool color);

} // namespace fedi::deploy
