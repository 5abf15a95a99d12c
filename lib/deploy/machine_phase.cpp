// The machines phase of `fedi deploy`: every machine connected, pushed, given its
// secrets, activated and recorded, machines at once within the session's limits.
#include "deploy/machine_steps.hpp"

#include "core/error.hpp"
#include "deploy/pending.hpp"
#include "ui/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <thread>

namespace fedi::deploy {

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// What the machine runs once no earlier activation waits for its confirmation. Taking the
// machine settled those that hold their own lock (host::take_machine); one started by an
// older fedi, without that lock, is let run out here (it reverts), so the machine is
// judged on what it keeps.
host::SystemStatus settled_status(host::Host& host, ui::Events& events,
                                  const std::string& machine) {
    auto status = host.system_status();
    if (!status.reverts_in)
        return status;
    events.warn(machine, fmt::format("an earlier activation waits for a confirmation that will "
                                     "not come (it reverts in {} s); waiting for it to end",
                                     std::max(0L, *status.reverts_in)));
    // Its window, then time for the revert itself.
    auto until = Clock::now() + std::chrono::seconds(std::max(0L, *status.reverts_in) + 120);
    while (status.reverts_in) {
        if (Clock::now() > until)
            throw Error("an earlier activation on the machine is still reverting after its "
                        "confirmation window and 120 s more; see /var/lib/fedi/activations "
                        "there");
        std::this_thread::sleep_for(std::chrono::seconds(1));
        status = host.system_status();
    }
    return status;
}

bool up_to_date(Goal goal, const host::SystemStatus& s, const std::string& system) {
    switch (goal) {
    case Goal::Switch:
        return s.profile == system && s.current == system;
    case Goal::Boot:
        return s.profile == system;
    case Goal::Test:
        return s.current == system;
    default:
        return false;
    }
}

// The last deploy of this system that failed on the machine itself: retried until it
// passes. A build, connection or push that failed and now went through leaves nothing
// behind to retry.
std::optional<PendingFailure> failure_to_retry(session::Session& s, Goal goal,
                                               const MachineReport& report) {
    if (!goal_sets_profile(goal) && goal != Goal::Test)
        return std::nullopt;
    auto pending = pending_failure(s.state().snapshot(), "machines." + report.name);
    if (pending &&
        (pending->system != report.system || (pending->phase != to_string(Phase::Secrets) &&
                                              pending->phase != to_string(Phase::Activate))))
        return std::nullopt;
    return pending;
}

// connect → push → deliver secrets → activate → record.
void deploy_machine(const MachineRun& run, const model::Machine& m, MachineReport& report,
                    const MachineStatus& show) {
    auto& events = run.session.events();
    Goal goal = run.opts.goal;
    report.phase = Phase::Connect;
    show("connecting");
    // Held until the end of this machine's deploy; an earlier run's activation is
    // settled first. Goal push only adds store paths, which the machine's Nix keeps
    // consistent by its own locks: it takes no machine lock, so machine names that share
    // a host (fleets of test machines) push at once.
    auto& connector = run.session.connector();
    if (goal == Goal::Push) {
        // Nor does it read the machine's status: its profile and activations do not matter
        // to adding paths (a round trip less for a distant machine).
        auto host = connector.connect(m);
        push_step(run, *host, report, show);
        report.outcome = Outcome::Pushed;
        return;
    }
    auto host = connector.connect_to_change(m, report.system);
    // A machine already running this system needs no push (0 bytes sent), only its
    // secrets; unless the last deploy of it failed, which is retried until it passes.
    auto status = settled_status(*host, events, m.name);
    auto pending = failure_to_retry(run.session, goal, report);
    if (up_to_date(goal, status, report.system) && !pending) {
        report.phase = Phase::Secrets;
        show("writing secrets");
        finish_unchanged(run, *host, report, status);
        return;
    }
    if (pending)
        events.warn(m.name, fmt::format("the last deploy of this system failed ({}: {}); trying "
                                        "again",
                                        pending->phase, pending->error));
    push_step(run, *host, report, show);
    auto pending_owner = secrets_step(run, *host, report, show);
    activate_step(run, *host, m, report, show);
    settle_secret_owners(run, *host, report, pending_owner);
    if (goal_sets_profile(goal))
        record_step(run, *host, report);
}

// The work for_each_machine runs on each machine, and how each ends in the ledger.
class MachineWorker {
  public:
    MachineWorker(const MachineRun& run, MachineLedger& ledger,
                  const std::vector<session::MachineJob>& jobs)
        : run_(run), ledger_(ledger), events_(run.session.events()) {
        for (const auto& j : jobs)
            starts_[j.name] = Clock::now();
    }

    bool deploy(const std::string& name) {
        auto& start = starts_.at(name) = Clock::now();
        auto& report = ledger_.entry(name);
        deploy_machine(run_, run_.session.deployment().machines.at(name), report,
                       MachineStatus{events_, name, start});
        settle(report);
        return true;
    }

    void failed(const std::string& name, const std::string& error) {
        auto& report = ledger_.entry(name);
        report.outcome = Outcome::Failed;
        report.error = error;
        settle(report);
    }

    void skipped(const std::string& name, const std::string& dependency) {
        auto& report = ledger_.entry(name);
        report.outcome = Outcome::Skipped;
        report.error =
            fmt::format("not deployed: it comes after {}, which did not deploy", dependency);
        events_.warn(name, report.error);
        ledger_.finish(name);
    }

  private:
    void settle(MachineReport& report) {
        report.seconds = seconds_since(starts_.at(report.name));
        events_.status(
            report.name,
            fmt::format("{:<40} {}", to_string(report.outcome), ui::human_duration(report.seconds)),
            true);
        if (report.outcome == Outcome::Failed) {
            events_.error(report.name,
                          fmt::format("{} failed: {}", to_string(report.phase), report.error));
            // The activation log was streamed as it came (info); repeat it only where it
            // was not.
            if (!events_.shows(ui::Level::Info))
                for (const auto& l : report.log_tail)
                    events_.error(report.name, "| " + l);
        } else {
            report.phase = Phase::None;
        }
        ledger_.finish(report.name);
    }

    const MachineRun& run_;
    MachineLedger& ledger_;
    ui::Events& events_;
    // One entry per job, made before the workers start: each worker writes its own.
    std::map<std::string, Clock::time_point> starts_;
};

// The live line of a machine until its work starts.
void show_waiting(ui::Events& events, const session::MachineJob& job, const MachineLedger& ledger) {
    std::vector<std::string> deps;
    for (const auto& a : job.after)
        if (ledger.selected(a))
            deps.push_back(a);
    events.status(job.name,
                  deps.empty() ? "waiting for a slot"
                               : fmt::format("waiting for {}", fmt::join(deps, ", ")),
                  true);
}

} // namespace

void machine_phase(const MachineRun& run, MachineLedger& ledger,
                   const std::vector<std::string>& machines) {
    const auto& d = run.session.deployment();
    std::vector<session::MachineJob> jobs;
    for (const auto& name : machines) {
        if (ledger.finished(name))
            continue;
        jobs.push_back({name, d.machines.at(name).after});
        show_waiting(run.session.events(), jobs.back(), ledger);
    }
    MachineWorker worker(run, ledger, jobs);
    session::MachineWork work;
    work.run = [&](const std::string& m) { return worker.deploy(m); };
    work.on_error = [&](const std::string& m, const std::string& e) { worker.failed(m, e); };
    work.on_skipped = [&](const std::string& m, const std::string& dep) { worker.skipped(m, dep); };
    session::for_each_machine(jobs, run.session.limits().machines, work, ledger.results());
}

} // namespace fedi::deploy
