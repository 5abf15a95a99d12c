// `fedi deploy` as the list of its phases (lib/deploy/phases.hpp).
#include "deploy/deploy.hpp"

#include "deploy/fleet_cache.hpp"
#include "deploy/phases.hpp"
#include "deploy/provision.hpp"
#include "deploy/selection.hpp"
#include "deploy/storage_phase.hpp"
#include "state/state.hpp"

#include <algorithm>

namespace fedi::deploy {

namespace {

std::set<std::string> storages_for(Goal goal, const model::Deployment& d,
                                   const std::vector<std::string>& machines) {
    if (!goal_delivers_secrets(goal))
        return {};
    return storages_needed(d, {machines.begin(), machines.end()});
}

} // namespace

session::StateMode state_mode(const DeployOptions& opts) {
    return goal_needs_machine(opts.goal) ? session::StateMode::Locked
                                         : session::StateMode::ReadOnly;
}

DeployReport run_deploy(session::Session& s, const DeployOptions& opts) {
    provision_phase(s, opts);
    auto selected = select_machines(s.deployment(), opts.on);
    check_transfer(opts.transfer, static_cast<bool>(opts.open_cache));
    auto built = build_phase(s, selected, opts.goal);
    if (opts.goal == Goal::Build)
        return built_report(built, s.deployment());
    auto closures = local_closures();
    return deploy_built(s, opts, built, *closures);
}

void provision_phase(session::Session& s, const DeployOptions& opts) {
    if (!goal_needs_machine(opts.goal)) // machines to deploy to must exist first
        return;
    provision_for_deploy(s, opts.on, false);
}

DeployReport deploy_built(session::Session& s, const DeployOptions& opts, const BuiltSystems& built,
                          Closures& closures) {
    DeployReport report;
    report.goal = opts.goal;
    const auto& d = s.deployment();
    MachineLedger ledger(d, built.machines);
    for (const auto& [name, failure] : built.failed)
        ledger.finish(name, failure);
    std::size_t to_deploy = 0;
    for (const auto& name : built.machines)
        if (!ledger.finished(name)) {
            closures.prepare(d.machines.at(name).system.out_path);
            ++to_deploy;
        }
    auto cache = open_fleet_cache(s, opts, to_deploy);
    SecretsRegistry secrets;
    auto declared = secrets_phase(s, opts.goal, built.machines, secrets);
    report.identity = declared.identity;
    MachineRun run{s, opts, closures, secrets, cache.get()};
    // Storage machines first, then the storage itself, then the machines using it.
    auto storages = storages_for(opts.goal, d, built.machines);
    if (!storages.empty()) {
        machine_phase(run, ledger, deploy_before_storage(d, built.machines, storages));
        report.storage = storage_phase(s, storages, ledger, secrets);
    }
    machine_phase(run, ledger, built.machines);
    s.events().end_status();
    report.machines = ledger.reports();
    if (cache)
        report.cache = cache->totals();
    report.accounts = accounts_phase(s, opts.goal, report.machines, declared, secrets);
    remember_failures(s, report);
    return report;
}

} // namespace fedi::deploy
