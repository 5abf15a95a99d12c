#pragma once
// `fedi status`: what state records for each machine, and what the machine says now.
#include "host/secrets.hpp"
#include "session/session.hpp"
#include "state/state.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::deploy {

struct StatusOptions {
    session::SessionOptions session; // the state is opened read-only
    std::vector<std::string> on;
    bool probe = true; // ask the machines (over SSH) what they run now
};

struct MachineStatus {
    std::string name;
    std::string wanted;                         // the system the deployment evaluates to
    std::vector<state::Generation> generations; // what fedi deployed, oldest first
    bool probed = false;
    std::string probe_error; // why the machine could not be asked
    std::string profile;     // what the machine's profile points at
    std::optional<int> generation;
    std::string current;                   // what it runs now
    std::optional<long> reverts_in;        // an unconfirmed activation reverts in this many seconds
    std::vector<host::SecretInfo> secrets; // files in /var/lib/fedi/secrets (no contents)
    // "up to date", "outdated", "never deployed", "unreachable", "not probed", "drifted",
    // "awaiting confirmation (reverts in N s)", "reverting an unconfirmed activation"
    std::string verdict;
};

// `fedi status`: opens the state read-only and asks the machines (at most limits.machines
// at once, each given 10 s to answer). A machine that cannot be asked has a probe_error.
std::vector<MachineStatus> collect_status(const StatusOptions& opts, ui::Events& events);
// The same on an open session.
std::vector<MachineStatus> collect_status(session::Session& s, const std::vector<std::string>& on,
                                          bool probe);

nlohmann::json to_json(const std::vector<MachineStatus>& list);
// The generation before the one a machine runs now (what `fedi rollback` goes to), from
// fedi's history: the newest older one with another system; nullopt when none is known.
std::optional<state::Generation>
previous_generation(const std::vector<state::Generation>& generations);

std::string render_status(const std::vector<MachineStatus>& list, bool color);

} // namespace fedi::deploy
