#include "deploy/storage_phase.hpp"

#include "core/error.hpp"
#include "core/process.hpp"

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

storage::ConvergeReport run_storage_phase(const model::Deployment& d,
                                          const std::set<std::string>& storages, bool dry_run,
                                          const StoragePhaseIO& io, ui::Events& reporter) {
    storage::ConvergeOptions opts;
    opts.dry_run = dry_run;
    opts.storages = storages;
    storage::ConvergeHooks hooks;
    hooks.load_state = [&] { return storage::storage_state_of(io.load_state()); };
    hooks.update_state = [&](const std::function<void(storage::StorageState&)>& change) {
        io.update_state([&](state::State& s) {
            auto st = storage::storage_state_of(s);
            change(st);
            storage::set_storage_state(s, st);
        });
    };
    hooks.node_id_of = [&](const std::string& machine) {
        if (auto why = io.failed(machine))
            throw Error(fmt::format("machine {} did not deploy: {}", machine, *why));
        auto host = io.connect(d.machines.at(machine));
        auto r = host->run("cat " + shell_quote(kGarageNodeIdFile));
        auto id = r.out.substr(0, r.out.find_last_not_of(" \t\r\n") + 1);
        if (r.exit_status != 0 || id.empty())
            throw Error(fmt::format("cannot read {} on machine {} (written by the Garage module "
                                    "once Garage runs; or give storage.<name>.nodes.{}.nodeId): {}",
                                    kGarageNodeIdFile, machine, machine,
                                    r.err.empty() ? "empty" : r.err));
        return id;
    };
    hooks.info = [&](const std::string& subject, const std::string& m) {
        reporter.info(subject, m);
    };
    hooks.warn = [&](const std::string& subject, const std::string& m) {
        reporter.warn(subject, m);
    };
    reporter.info("storage", dry_run ? "planning storage (dry run: nothing is changed)"
                                     : "converging storage");
    return storage::converge(d, opts, hooks);
}

} // namespace fedi::deploy
