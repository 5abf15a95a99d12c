#pragma once
// `fedi deploy`: a pipeline of phases over one session (lib/deploy/phases.hpp):
// provision → build → plan secrets → storage machines → storage → the other machines →
// accounts. Each machine is pushed, given its secrets and activated, machines in
// parallel, each after the machines it is declared `after`.
#include "account/accounts.hpp"
#include "account/identity.hpp"
#include "model/goal.hpp"
#include "session/session.hpp"
#include "storage/converge.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fedi::deploy {

using model::Goal;

// What to deploy and how; the project, state, connections and limits are the session's.
struct DeployOptions {
    std::vector<std::string> on; // --on patterns
    Goal goal = Goal::Switch;
    bool rollback = true;     // a failed activation puts the previous generation back
    int confirm_seconds = 30; // switch/test: revert unless confirmed within this (0: off)
    // Generations and activation logs kept on each machine deployed (0: all).
    int keep_generations = 10;
};

// A deploy that changes machines holds the state's lock from before it evaluates; a build
// only reads the state (`fedi deploy --dry-run` is a plan: lib/plan).
session::StateMode state_mode(const DeployOptions& opts);

// Where a machine's deploy stopped.
enum class Phase { None, Build, Connect, Push, Secrets, Activate, Storage, Rollback };
std::string to_string(Phase p); // "" for None; the names state and reports use

enum class Outcome {
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
    Phase phase = Phase::None;         // where it failed
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
    // The storage phase, when it ran (its deliveries without their contents).
    std::optional<storage::ConvergeReport> storage;
    std::vector<std::string> errors; // of the run itself, e.g. a state file it could not write
    bool ok() const;
};

// Deploys the session's deployment. Rendering the report is lib/report's.
DeployReport run_deploy(session::Session& s, const DeployOptions& opts);

} // namespace fedi::deploy
