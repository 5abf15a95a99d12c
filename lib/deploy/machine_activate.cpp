// The activate step of a machine's deploy.
#include "deploy/activation_failure.hpp"
#include "deploy/health.hpp"
#include "deploy/machine_steps.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <deque>
#include <fmt/format.h>

namespace fedi::deploy {

namespace {

constexpr std::size_t kTailLines = 20;

// What an activation printed, kept while it streams: the last lines, the activation
// script's own ("fedi: ...", which say what a rollback did), and why the health checks
// failed.
struct ActivationWatch {
    std::deque<std::string> tail;
    std::vector<std::string> script_lines;
    std::optional<std::string> health_failure;

    void add(const std::string& line) {
        tail.push_back(line);
        if (tail.size() > kTailLines)
            tail.pop_front();
        if (line.rfind("fedi: ", 0) == 0)
            script_lines.push_back(line);
    }
};

// How long the machine waits for fedi's confirmation before it reverts by itself: the
// operator's setting, stretched to cover the machine's health checks.
int confirmation_seconds(const DeployOptions& opts, const model::Machine& m) {
    if (opts.goal != Goal::Switch && opts.goal != Goal::Test)
        return 0;
    int seconds = opts.confirm_seconds;
    if (!m.health_checks.empty()) {
        int checks = 15;
        for (const auto& h : m.health_checks)
            checks += h.attempts * (h.interval_seconds + h.timeout_seconds);
        seconds = std::max(seconds, checks);
    }
    return seconds;
}

host::ActivationRequest request_for(const MachineRun& run, const model::Machine& m,
                                    ActivationWatch& watch, const MachineStatus& show) {
    host::ActivationRequest request;
    request.system = m.system.out_path;
    request.goal = run.opts.goal;
    request.rollback = run.opts.rollback;
    request.confirm_seconds = confirmation_seconds(run.opts, m);
    auto& events = run.session.events();
    request.on_line = [&watch, &events, &m](const std::string& l) {
        watch.add(l);
        events.info(m.name, "| " + l);
    };
    request.on_waiting = [&run, &m, &watch, show]() -> std::optional<std::string> {
        if (m.health_checks.empty())
            return std::nullopt;
        show("health checks");
        // Command checks connect anew, as the session connects.
        watch.health_failure = run_health_checks(
            m, [&] { return run.session.connector().connect(m); },
            [&](const std::string& line) { run.session.events().info(m.name, line); });
        return watch.health_failure;
    };
    return request;
}

} // namespace

void activate_step(const MachineRun& run, host::Host& host, const model::Machine& m,
                   MachineReport& report, const MachineStatus& show) {
    auto& events = run.session.events();
    Goal goal = run.opts.goal;
    report.phase = Phase::Activate;
    show("activating (" + to_string(goal) + ")");
    ActivationWatch watch;
    auto outcome = host.activate(request_for(run, m, watch, show));
    report.log_tail.assign(watch.tail.begin(), watch.tail.end());
    for (const auto& w : outcome.warnings)
        events.warn(m.name, w);
    if (outcome.reconnects > 0)
        events.warn(m.name, fmt::format("the connection dropped during activation; reconnected "
                                        "{} time(s) and followed it to its end",
                                        outcome.reconnects));
    if (!outcome.ok())
        throw Error(
            describe_failed_activation(goal, outcome, watch.health_failure, watch.script_lines));
    report.outcome = goal == Goal::DryActivate ? Outcome::DryActivated : Outcome::Activated;
}

} // namespace fedi::deploy
