#pragma once
// `fedi deploy`: a pipeline of phases over one session (lib/deploy/phases.hpp):
// provision → build → plan secrets → storage machines → storage → the other machines →
// accounts. Each machine is pushed, given its secrets and activated, machines in
// parallel, each after the machines it is declared `after`.
#include "account/accounts.hpp"
#include "account/identity.hpp"
#include "cache/cache.hpp"
#include "model/goal.hpp"
#include "session/session.hpp"
#include "storage/converge.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::deploy {

using model::Goal;

// How the paths a machine lacks reach it (--transfer): pushed by fedi over SSH; uploaded
// once to the deployment's binary cache and fetched from there by every machine; or the
// cache when the deployment declares one and more than kAutoCacheMachines machines deploy.
enum class Transfer { Push, Cache, Auto };
inline constexpr std::size_t kAutoCacheMachines = 3;
std::optional<Transfer> parse_transfer(const std::string& text); // push, cache, auto

// Opens the deployment's binary cache (the CLI gives cache::open_cache).
using CacheOpener = std::function<std::unique_ptr<cache::BinaryCache>(session::Session&)>;

// What to deploy and how; the project, state, connections and limits are the session's.
struct DeployOptions {
    std::vector<std::string> on; // --on patterns
    Goal goal = Goal::Switch;
    bool rollback = true;     // a failed activation puts the previous generation back
    int confirm_seconds = 30; // switch/test: revert unless confirmed within this (0: off)
    // Generations and activation logs kept on each machine deployed (0: all).
    int keep_generations = 10;
    Transfer transfer = Transfer::Auto;
    // Each machine first fetches what its own configured substituters have (also per
    // machine: machines.<name>.substituteOnTarget).
    bool substitute_on_target = false;
    // How the deployment's binary cache is opened when the transfer uses it (the CLI:
    // deployment_cache(), lib/deploy/fleet_cache.hpp); unset: there is none to use.
    CacheOpener open_cache;
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
    // What the machine fetched itself instead (NAR bytes): from the deployment's binary
    // cache, and from the substituters it is configured with (--substitute-on-target).
    std::size_t cache_paths = 0;
    std::uint64_t cache_bytes = 0;
    std::size_t substituter_paths = 0;
    std::uint64_t substituter_bytes = 0;
    double seconds = 0;
    std::optional<int> generation;
    // Deployed, but the state file could not record it (the run fails; the machine is fine).
    std::string state_error;
    bool ok() const { return outcome != Outcome::Failed && outcome != Outcome::Skipped; }
};

// What the deployer uploaded to the binary cache for this deploy (each path once).
struct CacheUpload {
    std::string url;                // the machines' substituter
    std::size_t paths_uploaded = 0; // sent now
    std::size_t paths_present = 0;  // asked for, already there
    std::uint64_t bytes_uploaded = 0;
};

struct DeployReport {
    Goal goal = Goal::Switch;
    std::optional<CacheUpload> cache;              // when the deploy used the cache
    std::vector<MachineReport> machines;           // in selection order (sorted by name)
    std::vector<account::AccountResult> accounts;  // converged after activation
    std::vector<account::IdentityResult> identity; // directory entries
    // The storage phase, when it ran (its deliveries without their contents).
    std::optional<storage::ConvergeReport> storage;
    std::vector<std::string> errors; // of the run itself, e.g. a state file it could not write
    bool ok() const;
    // Everything the deployer sent: the pushes and the cache upload.
    std::uint64_t bytes_uploaded() const;
};

// Deploys the session's deployment. Rendering the report is lib/report's.
DeployReport run_deploy(session::Session& s, const DeployOptions& opts);

} // namespace fedi::deploy
