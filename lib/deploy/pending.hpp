#pragma once
// Failures that are not fixed yet, kept in state so that a later run reports them again
// instead of finding the machine "unchanged": a failed activation left in place
// (--no-rollback), a failed health check, a failed account step. Stored in the state
// file's free-form part ("pendingFailures"), keyed by what failed ("machines.web",
// "accounts.admin"); a run that converges the same thing clears its entry.
#include "state/state.hpp"

#include <optional>
#include <string>

namespace fedi::deploy {

struct PendingFailure {
    std::string phase;  // build, push, secrets, activate, account, ...
    std::string error;  // first line of what went wrong
    std::string system; // machines: the system being deployed
    std::string time;   // UTC, when it failed
};

std::optional<PendingFailure> pending_failure(const state::State& s, const std::string& key);
void record_failure(state::State& s, const std::string& key, PendingFailure failure);
void clear_failure(state::State& s, const std::string& key);

} // namespace fedi::deploy
