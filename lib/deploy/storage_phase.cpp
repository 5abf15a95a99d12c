#include "deploy/storage_phase.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/secret_memory.hpp"
#include "deploy/phases.hpp"

#include <fmt/format.h>
#include <functional>

namespace fedi::deploy {

std::set<std::string> storages_needed(const model::Deployment& d,
                                      const std::set<std::string>& selected) {
    std::set<std::string> out;
    for (const auto& [name, s] : d.storage)
        for (const auto& m : s.machines())
            if (selected.count(m))
                out.insert(name);
    for (const auto& [name, b] : d.buckets)
        for (const auto& [kname, k] : b.keys)
            for (const auto& del : k.deliver_to)
                if (selected.count(del.machine))
                    out.insert(b.storage);
    return out;
}

std::vector<std::string> deploy_before_storage(const model::Deployment& d,
                                               const std::vector<std::string>& selected,
                                               const std::set<std::string>& storages) {
    std::set<std::string> sel(selected.begin(), selected.end()), first;
    std::function<void(const std::string&)> add = [&](const std::string& m) {
        if (!sel.count(m) || !first.insert(m).second)
            return;
        for (const auto& a : d.machines.at(m).after)
            add(a);
    };
    for (const auto& s : storages)
        for (const auto& m : d.storage.at(s).machines())
            add(m);
    std::vector<std::string> out;
    for (const auto& m : selected)
        if (first.count(m))
            out.push_back(m);
    return out;
}

namespace {

// "<node id>@<ip:port>" of a Garage machine that deployed in this run, read from it.
std::string read_node_id(session::Session& s, const std::string& machine,
                         const FailureOf& failure_of) {
    if (auto why = failure_of(machine))
        throw Error(fmt::format("machine {} did not deploy: {}", machine, *why));
    auto host = s.connector().connect(s.deployment().machines.at(machine));
    auto r = host->run("cat " + shell_quote(kGarageNodeIdFile));
    auto id = r.out.substr(0, r.out.find_last_not_of(" \t\r\n") + 1);
    if (r.exit_status != 0 || id.empty())
        throw Error(fmt::format("cannot read {} on machine {} (written by the Garage module "
                                "once Garage runs; or give storage.<name>.nodes.{}.nodeId): {}",
                                kGarageNodeIdFile, machine, machine,
                                r.err.empty() ? "empty" : r.err));
    return id;
}

storage::ConvergeHooks hooks_for(session::Session& s, const FailureOf& failure_of) {
    storage::ConvergeHooks hooks;
    hooks.load_state = [&s] { return storage::storage_state_of(s.state().snapshot()); };
    hooks.update_state = [&s](const std::function<void(storage::StorageState&)>& change) {
        s.state().change([&](state::State& st) {
            auto storage_state = storage::storage_state_of(st);
            change(storage_state);
            storage::set_storage_state(st, storage_state);
        });
    };
    hooks.node_id_of = [&s, failure_of](const std::string& machine) {
        return read_node_id(s, machine, failure_of);
    };
    hooks.info = [&s](const std::string& subject, const std::string& m) {
        s.events().info(subject, m);
    };
    hooks.warn = [&s](const std::string& subject, const std::string& m) {
        s.events().warn(subject, m);
    };
    return hooks;
}

// The keys made for selected machines go with their secrets; the report keeps only
// where they went.
void register_keys(ui::Events& events, storage::ConvergeReport& converged,
                   const MachineLedger& ledger, SecretsRegistry& secrets) {
    for (auto& delivery : converged.deliveries) {
        if (ledger.selected(delivery.machine)) {
            if (ledger.finished(delivery.machine))
                events.warn(delivery.machine,
                            fmt::format("{} is delivered on the next deploy (the machine "
                                        "deployed before the storage phase)",
                                        delivery.file.name));
            secrets.add(delivery.machine, {delivery.file});
        }
        wipe(delivery.file.content);
    }
}

// Selected machines whose keys could not be made fail, unless they already finished.
void fail_blocked(ui::Events& events, const storage::ConvergeReport& converged,
                  MachineLedger& ledger) {
    for (const auto& [machine, why] : converged.blocked) {
        if (!ledger.selected(machine) || ledger.finished(machine))
            continue;
        auto r = ledger.entry(machine);
        r.outcome = Outcome::Failed;
        r.phase = Phase::Storage;
        r.error = why;
        events.error(machine, "storage failed: " + why);
        ledger.finish(machine, std::move(r));
    }
}

} // namespace

storage::ConvergeReport run_storage_phase(session::Session& s,
                                          const std::set<std::string>& storages, bool dry_run,
                                          const FailureOf& failure_of) {
    storage::ConvergeOptions opts;
    opts.dry_run = dry_run;
    opts.storages = storages;
    s.events().info("storage", dry_run ? "planning storage (dry run: nothing is changed)"
                                       : "converging storage");
    return storage::converge(s.deployment(), opts, hooks_for(s, failure_of));
}

storage::ConvergeReport plan_storage_phase(session::Session& s,
                                           const std::set<std::string>& storages) {
    storage::ConvergeOptions opts;
    opts.dry_run = true;
    opts.read_layout = true;
    opts.storages = storages;
    s.events().info("storage", "planning storage (nothing is changed)");
    auto deployed = [](const std::string&) { return std::optional<std::string>(); };
    return storage::converge(s.deployment(), opts, hooks_for(s, deployed));
}

storage::ConvergeReport storage_phase(session::Session& s, const std::set<std::string>& storages,
                                      MachineLedger& ledger, SecretsRegistry& secrets) {
    auto converged = run_storage_phase(
        s, storages, false, [&ledger](const std::string& m) { return ledger.failure_of(m); });
    register_keys(s.events(), converged, ledger, secrets);
    fail_blocked(s.events(), converged, ledger);
    return converged;
}

} // namespace fedi::deploy
