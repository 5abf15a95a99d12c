#pragma once
// The machine's own lock (resources/host/lock.sh): everything that changes a machine
// (push, secrets, activation, rollback, accounts) holds it, so two deployers (two
// checkouts, two operators, a CI job) never interleave on one machine. A detached
// activation holds a lock of its own through its confirmation window (activate.sh); a
// fedi that takes the machine finds such activations left by one that died, and waits for
// them to end, or aborts them, before it changes anything.
#include "core/error.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fedi::host {

class Host;

// Who holds (or held) the machine's lock: the fedi process on its deployer.
struct LockHolderRecord {
    std::string host;       // the deployer's host name
    std::string user;       // the deployer's user
    long pid = 0;           // fedi's pid on the deployer
    std::string command;    // fedi's command line
    std::string since;      // UTC, ISO 8601
    long keeper = 0;        // lock.sh's pid on the machine (0: not known)
    std::string activation; // the last activation it started there ("": none)
};
// The record as lock.sh takes it on stdin: "KEY=VALUE" lines and an empty line (line
// breaks in a value become spaces, so a value cannot add a line).
std::string lock_holder_input(const LockHolderRecord& holder);
// "fedi pid 4242 on ci-3 (user deploy), `fedi deploy`, since 2026-12-07T09:00:00Z,
// activation ID"; what is not known is left out.
std::string describe_lock_holder(const LockHolderRecord& holder);

// An activation still running on the machine (its own lock held), as its record says.
struct RunningActivation {
    std::string id;
    std::string system;             // the store path it activates ("-" for a rollback)
    std::string goal;               // switch, boot, test, rollback, ...
    long pid = 0;                   // activate.sh's pid on the machine
    std::string started;            // UTC, ISO 8601
    std::optional<long> reverts_in; // waits for its confirmation: reverts in this many s
    LockHolderRecord started_by;    // the fedi that started it
};

// What lock.sh printed, read line by line.
class LockAnswer {
  public:
    // Returns false on the line that ends the answer ("ready", "timeout").
    bool read(const std::string& line);
    // Someone held the lock: their record (after "held").
    const std::optional<LockHolderRecord>& held_by() const { return held_by_; }
    // A record left by a holder that is gone, taken over (after "stale").
    const std::optional<LockHolderRecord>& stale() const { return stale_; }
    bool locked() const { return keeper_ != 0; }
    bool timed_out() const { return timed_out_; }
    bool ready() const { return ready_; }
    long keeper() const { return keeper_; }
    const std::vector<RunningActivation>& running() const { return running_; }

  private:
    std::map<std::string, std::string> holder_lines_;
    std::map<std::string, std::map<std::string, std::string>> activation_lines_;
    std::vector<std::string> activation_order_;
    std::optional<LockHolderRecord> held_by_, stale_;
    std::vector<RunningActivation> running_;
    long keeper_ = 0;
    bool timed_out_ = false, ready_ = false;
};

// The machine's lock is held by another fedi and did not come free in time.
class MachineLockHeld : public Error {
  public:
    MachineLockHeld(const std::optional<LockHolderRecord>& holder, std::chrono::seconds waited);
    // Who holds it, when its record was written.
    const std::optional<LockHolderRecord>& holder() const { return holder_; }

  private:
    std::optional<LockHolderRecord> holder_;
};

// Taking a machine: its lock, then the activations an earlier fedi left running.
struct TakeMachine {
    LockHolderRecord holder;         // this fedi
    std::chrono::seconds timeout{0}; // how long to wait for a held lock (0: not at all)
    // The system this fedi is about to activate: an earlier activation of another system
    // is aborted (it reverts), one of this system is waited for. Unset: wait for any.
    std::optional<std::string> system;
    std::function<void(const std::string&)> warn, info; // messages for the operator
    std::function<void(const std::string&)> on_line;    // an earlier activation's log
};
// Holds the machine's lock for as long as `host` lives. Throws MachineLockHeld.
void take_machine(Host& host, const TakeMachine& take);

} // namespace fedi::host
