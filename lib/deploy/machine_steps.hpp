#pragma once
// The steps of deploying one machine, in the order machine_phase.cpp runs them:
// connect, push, deliver secrets, activate, record. Each fills in the machine's report
// (its phase first, so a step that throws is reported where it failed).
#include "deploy/phases.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace fedi::deploy {

using Clock = std::chrono::steady_clock;

// The machine's live status line, its clock counting from the start of its deploy.
struct MachineStatus {
    ui::Events& events;
    std::string machine;
    Clock::time_point start;
    void operator()(const std::string& text, bool force = true) const {
        events.status_since(machine, text, start, force);
    }
};

// transfer: the paths of its system's closure the machine lacks. With
// --substitute-on-target, it first fetches what its own substituters have; when the
// deploy uses the binary cache, it fetches from there what fedi uploaded (once for all
// machines; a path the cache served that its Nix refused fails the machine); what is
// still missing is pushed, within a push slot.
void push_step(const MachineRun& run, host::Host& host, MachineReport& report,
               const MachineStatus& show);

// deliver secrets, before activation (the new system's services may read them at start).
// Returns the files written as root because their owner does not exist yet.
std::vector<std::string> secrets_step(const MachineRun& run, host::Host& host,
                                      MachineReport& report, const MachineStatus& show);
// After activation: the new system created the owners, so they get their files now.
void settle_secret_owners(const MachineRun& run, host::Host& host, MachineReport& report,
                          const std::vector<std::string>& pending_owner);

// activate: detached and followed, health checks while the machine waits for its
// confirmation. Throws, describing the rollback, when the activation failed.
void activate_step(const MachineRun& run, host::Host& host, const model::Machine& m,
                   MachineReport& report, const MachineStatus& show);

// record: the new generation in state, and the machine's history kept bounded.
void record_step(const MachineRun& run, host::Host& host, MachineReport& report);

// The same for a machine found already running its system: its generation is recorded
// only when an earlier run could not (its state write failed, or it died just before).
void record_unchanged(const MachineRun& run, host::Host& host, MachineReport& report,
                      const host::SystemStatus& status);

// A machine already running the deployment's system gets its secrets only (and a
// generation an earlier run could not record is recorded now).
void finish_unchanged(const MachineRun& run, host::Host& host, MachineReport& report,
                      const host::SystemStatus& status);

} // namespace fedi::deploy
