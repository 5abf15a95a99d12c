// The record step of a machine's deploy: its generation in state, its history pruned.
#include "deploy/machine_steps.hpp"

#include "core/error.hpp"
#include "host/prune.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::deploy {

namespace {

std::string generation_text(const MachineReport& report) {
    return report.generation ? std::to_string(*report.generation) : "?";
}

// Records the machine's new generation in state. The machine runs it whatever happens
// here: a state that cannot be written is an error of the run, not of the machine, and
// the next run records what it finds (late = true).
void record_generation(const MachineRun& run, MachineReport& report, bool late) {
    auto& events = run.session.events();
    try {
        run.session.state().change([&](state::State& s) {
            s.machines[report.name].generations.push_back(
                {report.system, state::now_utc(), to_string(run.opts.goal), report.generation});
        });
        if (late)
            events.info(report.name, fmt::format("recorded generation {} in state: an earlier "
                                                 "run deployed it without recording it",
                                                 generation_text(report)));
    } catch (const Error& e) {
        report.state_error = fmt::format(
            "the machine runs {} (generation {}), but the state file could not record it: {}; "
            "the next deploy records it",
            report.system, generation_text(report), e.describe());
        report.error = report.state_error;
        events.error(report.name, report.state_error);
    }
}

// Keeps the machine's history bounded (--keep-generations) and says what went. A
// failure here leaves only more history than wanted: a warning, not a failed machine.
void prune_history(const MachineRun& run, host::Host& host, const std::string& machine) {
    int keep = run.opts.keep_generations;
    if (keep <= 0)
        return;
    auto& events = run.session.events();
    try {
        auto removed = host::prune_machine(host, keep);
        if (!removed.generations.empty())
            events.info(machine, fmt::format("removed system generation(s) {} (keeping the "
                                             "last {})",
                                             fmt::join(removed.generations, ", "), keep));
        if (removed.activation_logs > 0)
            events.info(machine, fmt::format("removed {} old activation log(s) (keeping the "
                                             "last {})",
                                             removed.activation_logs, keep));
    } catch (const Error& e) {
        events.warn(machine, "could not remove old generations: " + e.describe());
    }
}

} // namespace

void record_step(const MachineRun& run, host::Host& host, MachineReport& report) {
    // The generation the machine made, read back (never counted here).
    auto now = host.system_status();
    if (now.profile != report.system)
        throw Error(fmt::format("after the activation the machine's system profile points to "
                                "{}, not to the system just activated; something else changed "
                                "it meanwhile",
                                now.profile.empty() ? "nothing" : now.profile));
    report.generation = now.generation;
    record_generation(run, report, false);
    prune_history(run, host, report.name);
}

void record_unchanged(const MachineRun& run, host::Host& host, MachineReport& report,
                      const host::SystemStatus& status) {
    auto recorded = run.session.state().snapshot().machines;
    auto it = recorded.find(report.name);
    if (it == recorded.end() || it->second.generations.empty() ||
        it->second.generations.back().system != status.profile)
        record_generation(run, report, true);
    prune_history(run, host, report.name);
}

} // namespace fedi::deploy
