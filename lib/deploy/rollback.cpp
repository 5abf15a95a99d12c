#include "deploy/rollback.hpp"

#include "core/error.hpp"
#include "deploy/per_machine.hpp"
#include "deploy/selection.hpp"
#include "host/host.hpp"
#include "session/stopwatch.hpp"
#include "state/state.hpp"

#include <fmt/format.h>

namespace fedi::deploy {

namespace {

void roll_back(session::Session& s, const model::Machine& m, MachineReport& r) {
    session::Stopwatch stopwatch(r.seconds);
    r.phase = Phase::Connect;
    auto h = s.connector().connect_to_change(m, std::nullopt);
    r.phase = Phase::Rollback;
    auto outcome = h->rollback_generation(
        [&](const std::string& line) { s.events().info(r.name, "| " + line); });
    if (!outcome.ok())
        throw Error("rollback " + outcome.result.text);
    auto now = h->system_status();
    r.system = now.profile;
    r.generation = now.generation;
    r.outcome = Outcome::RolledBack;
    r.phase = Phase::None;
    s.state().change([&](state::State& st) {
        st.machines[r.name].generations.push_back(
            {now.profile, state::now_utc(), "rollback", now.generation});
    });
}

} // namespace

DeployReport run_rollback(session::Session& s, const std::vector<std::string>& machines) {
    auto selected = select_machines(s.deployment(), machines);
    PerMachine<MachineReport> reports(selected);
    session::MachineWork work;
    work.run = [&](const std::string& name) {
        roll_back(s, s.deployment().machines.at(name), reports[name]);
        return true;
    };
    work.on_error = [&](const std::string& name, const std::string& error) {
        auto& r = reports[name];
        r.outcome = Outcome::Failed;
        r.error = error;
        s.events().error(name, to_string(r.phase) + " failed: " + r.error);
    };
    work.on_skipped = [](const std::string&, const std::string&) {};
    session::for_each_machine(session::independent_jobs(selected), s.limits().machines, work);
    DeployReport report;
    report.goal = Goal::Switch;
    report.machines = std::move(reports.all());
    return report;
}

DeployReport run_rollback(const RollbackOptions& opts, ui::Events& events) {
    if (opts.machines.empty())
        throw usage_error("name the machines to roll back (names, globs or @tags)");
    auto options = opts.session;
    options.state_mode = session::StateMode::Locked;
    auto s = session::open_session(options, events);
    return run_rollback(*s, opts.machines);
}

} // namespace fedi::deploy
