// The push and secrets steps of a machine's deploy.
#include "deploy/machine_steps.hpp"

#include "core/error.hpp"
#include "ui/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::deploy {

namespace {

void report_secret_sync(ui::Events& events, const std::string& machine,
                        const host::SecretSyncResult& r) {
    if (!r.written.empty())
        events.info(machine, fmt::format("secrets written: {}", fmt::join(r.written, ", ")));
    if (!r.removed.empty())
        events.info(machine, fmt::format("secrets removed (no longer declared): {}",
                                         fmt::join(r.removed, ", ")));
    if (!r.pending_owner.empty())
        events.detail(machine, fmt::format("secrets owned by root until activation creates "
                                           "their owner: {}",
                                           fmt::join(r.pending_owner, ", ")));
}

} // namespace

void push_step(const MachineRun& run, host::Host& host, MachineReport& report,
               const MachineStatus& show) {
    report.phase = Phase::Push;
    show("waiting for a push slot");
    host::PushProgress pushed;
    {
        session::Slots::Held slot(run.session.push_slots());
        show("pushing");
        pushed = run.closures.push(host, report.system, [&](const host::PushProgress& p) {
            show(fmt::format("pushing: {} paths, {}", p.paths_sent, ui::human_bytes(p.bytes_sent)),
                 false);
        });
    }
    report.paths_sent = pushed.paths_sent;
    report.bytes_sent = pushed.bytes_sent;
    report.nar_bytes = pushed.nar_bytes;
    run.session.events().info(
        report.name,
        pushed.paths_sent == 0
            ? fmt::format("closure complete on the machine ({} paths)", pushed.paths_total)
            : fmt::format("sent {} of {} paths ({})", pushed.paths_sent, pushed.paths_total,
                          ui::human_bytes(pushed.bytes_sent)));
}

std::vector<std::string> secrets_step(const MachineRun& run, host::Host& host,
                                      MachineReport& report, const MachineStatus& show) {
    if (!goal_delivers_secrets(run.opts.goal))
        return {};
    report.phase = Phase::Secrets;
    show("writing secrets");
    auto synced = host.sync_secrets(run.secrets.of(report.name));
    report_secret_sync(run.session.events(), report.name, synced);
    return synced.pending_owner;
}

void settle_secret_owners(const MachineRun& run, host::Host& host, MachineReport& report,
                          const std::vector<std::string>& pending_owner) {
    if (pending_owner.empty())
        return;
    report.phase = Phase::Secrets;
    auto synced = host.sync_secrets(run.secrets.of(report.name));
    report_secret_sync(run.session.events(), report.name, synced);
    if (!synced.pending_owner.empty())
        throw Error(fmt::format("the owner of secret(s) {} does not exist on the machine "
                                "even after activation; they are owned by root",
                                fmt::join(synced.pending_owner, ", ")));
}

void finish_unchanged(const MachineRun& run, host::Host& host, MachineReport& report,
                      const host::SystemStatus& status) {
    auto& events = run.session.events();
    auto synced = host.sync_secrets(run.secrets.of(report.name));
    report_secret_sync(events, report.name, synced);
    // Nothing will activate to create the owner: it is missing from this system.
    if (!synced.pending_owner.empty())
        throw Error(fmt::format("the owner of secret(s) {} does not exist on the machine, "
                                "whose running system is this deployment's; they are owned "
                                "by root",
                                fmt::join(synced.pending_owner, ", ")));
    report.outcome = Outcome::Unchanged;
    report.generation = status.generation;
    events.info(report.name, "already running this system; nothing to push or activate");
    if (goal_sets_profile(run.opts.goal))
        record_unchanged(run, host, report, status);
}

} // namespace fedi::deploy
