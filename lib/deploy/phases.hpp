#pragma once
// The phases of `fedi deploy`, each a function of the session with a typed result, in
// the order run_deploy calls them. Everything after the build works from the build's
// result and pushes through a Closures, so tests run it with fake machines.
#include "account/deploy_phase.hpp"
#include "deploy/closures.hpp"
#include "deploy/deploy.hpp"
#include "deploy/fleet_cache.hpp"
#include "deploy/machine_ledger.hpp"
#include "deploy/secrets_registry.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace fedi::deploy {

// provision: the selected machines fedi provisions exist as described, and the session's
// project is evaluated again with their outputs. Throws when one could not be made.
void provision_phase(session::Session& s, const DeployOptions& opts);

// build: what the build phase hands on.
struct BuiltSystems {
    std::vector<std::string> machines; // the selected machines, sorted by name
    // Machines that cannot deploy: their system did not build, or cannot be activated.
    std::map<std::string, MachineReport> failed;
    double seconds = 0; // how long the build took
};

// Builds every selected system in one Nix invocation; failures are attributed to the
// machines whose system needed what broke. Except for goal build, a system without
// bin/switch-to-configuration is refused before anything is sent.
BuiltSystems build_phase(session::Session& s, const std::vector<std::string>& selected, Goal goal);
// goal build: the report of the build alone.
DeployReport built_report(const BuiltSystems& built, const model::Deployment& d);

// Every phase after the build: plan secrets → storage machines → storage → the other
// machines → accounts, then the failures recorded for the next run.
DeployReport deploy_built(session::Session& s, const DeployOptions& opts, const BuiltSystems& built,
                          Closures& closures);

// plan secrets: values chosen and saved, identity directories converged, and each
// machine's secret files registered (goals that deliver secrets only).
account::BeforeMachines secrets_phase(session::Session& s, Goal goal,
                                      const std::vector<std::string>& machines,
                                      SecretsRegistry& secrets);

// storage: converges the storages the selected machines need, registers the keys they
// receive, and fails the selected machines whose keys could not be made.
storage::ConvergeReport storage_phase(session::Session& s, const std::set<std::string>& storages,
                                      MachineLedger& ledger, SecretsRegistry& secrets);

// machines: what deploying a machine needs besides the machine.
struct MachineRun {
    session::Session& session;
    const DeployOptions& opts;
    Closures& closures;
    const SecretsRegistry& secrets;
    FleetCache* cache = nullptr; // when the machines fetch from the binary cache
};

// Deploys `machines` not finished yet (at most Limits::machines at once, each after the
// machines it comes after), finishing each in the ledger.
void machine_phase(const MachineRun& run, MachineLedger& ledger,
                   const std::vector<std::string>& machines);

// accounts: after switch or test, the accounts of the machines that deployed, then the
// secrets that waited for them.
std::vector<account::AccountResult> accounts_phase(session::Session& s, Goal goal,
                                                   const std::vector<MachineReport>& machines,
                                                   const account::BeforeMachines& declared,
                                                   const SecretsRegistry& secrets);

// Failures stay in state until a run fixes them, so the next run retries them.
void remember_failures(session::Session& s, DeployReport& report);

} // namespace fedi::deploy
