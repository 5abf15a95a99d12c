#include "deploy/rollback.hpp"

#include "core/error.hpp"
#include "deploy/selection.hpp"
#include "host/host.hpp"
#include "state/state.hpp"

#include <chrono>
#include <fmt/format.h>
#include <mutex>
#include <thread>

namespace fedi::deploy {

DeployReport run_rollback(const RollbackOptions& opts, ui::Events& reporter) {
    if (opts.machines.empty())
        throw usage_error("name the machines to roll back (names, globs or @tags)");
    auto state_file = session::resolve_state_file(opts.project);
    auto lock = state::Lock::acquire(state_file, opts.command_line);
    auto project = session::load_project(opts.project);
    auto selected = select_machines(project.deployment, opts.machines);
    auto st = state::load(project.state_file);
    std::mutex mutex;

    DeployReport report;
    report.goal = Goal::Switch;
    report.machines.resize(selected.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < selected.size(); ++i) {
        const auto& m = project.deployment.machines.at(selected[i]);
        auto& r = report.machines[i];
        r.name = m.name;
        auto settings = host::settings_for(m, state::trusted_host_keys(st, m.name));
        threads.emplace_back([&, settings] {
            auto start = std::chrono::steady_clock::now();
            try {
                r.phase = Phase::Connect;
                auto h = host::Host::connect(settings);
                r.phase = Phase::Rollback;
                auto outcome = h->rollback_generation(
                    [&](const std::string& line) { reporter.info(r.name, "| " + line); });
                if (!outcome.ok())
                    throw Error("rollback " + outcome.result.text);
                auto now = h->system_status();
                r.system = now.profile;
                r.generation = now.generation;
                r.outcome = Outcome::RolledBack;
                r.phase = Phase::None;
                std::lock_guard<std::mutex> guard(mutex);
                st.machines[r.name].generations.push_back(
                    {now.profile, state::now_utc(), "rollback", now.generation});
                state::save(project.state_file, st);
            } catch (const Error& e) {
                r.outcome = Outcome::Failed;
                r.error = e.describe();
                reporter.error(r.name, to_string(r.phase) + " failed: " + r.error);
            }
            r.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        });
    }
    for (auto& t : threads)
        t.join();
    return report;
}

} // namespace fedi::deploy
