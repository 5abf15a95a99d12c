#pragma once
// `fedi state`: a deployment's state as a whole, wherever it lives. What it holds (secrets
// masked), its versions and locks, a copy to or from a local file, a move to another
// backend, and breaking a lock a dead run left behind. These work on the backend's bytes
// through the project's codec, not on a session: the deployment need not evaluate, so a
// broken deployment file does not keep anyone from their state.
#include "session/project.hpp"
#include "statestore/backend.hpp"
#include "statestore/codec.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace fedi::statecmd {

enum class StateAction { Show, History, Locks, Pull, Push, Migrate, Unlock };

struct StateOptions {
    session::ProjectOptions project;
    std::string command_line; // recorded in the locks push and migrate take
    StateAction action = StateAction::Show;
    bool reveal = false;                       // show: secrets as they are
    std::string file;                          // pull, push: the local file
    std::optional<std::string> expect_version; // push: replace only this version
    std::optional<std::string> version;        // pull --at: an earlier version, not the current
    std::string to;                            // migrate: the new location
    bool force = false;                        // migrate: replace a state the target holds
    std::string lock_id;                       // unlock
};

// Asked before push replaces the state and before unlock breaks a lock, with what would
// happen; true goes ahead.
using Confirm = std::function<bool(const std::string& question)>;

// Opens the project's state (and migrate's target) and runs the action; the result as
// JSON (render_state_result prints it for a terminal).
nlohmann::json run_state_command(const StateOptions& opts, const Confirm& confirm);

// What secrets read as unless --reveal.
extern const char* const masked_secret;

// The actions on open backends; `lock` is what push and migrate hold while they write.
nlohmann::json show_state(statestore::Backend& backend, statestore::Codec& codec, bool reveal);
nlohmann::json state_history(statestore::Backend& backend);
nlohmann::json state_locks(statestore::Backend& backend);
// Writes the stored bytes as they are (still encrypted when they are) to `file`: 0600,
// atomically. The current version, or `version` (one history listed).
nlohmann::json pull_state(statestore::Backend& backend, const std::string& file,
                          const std::optional<std::string>& version = std::nullopt);
// Replaces the state with the one in `file` (plain, or encrypted for this project),
// sealed by `codec`, under the lock, compare-and-swap on the version read (and on
// `expect_version` when given).
nlohmann::json push_state(statestore::Backend& backend, statestore::Codec& codec,
                          const std::string& file, const std::optional<std::string>& expect_version,
                          const statestore::LockRequest& lock, const Confirm& confirm);

struct MigrateEnd {
    statestore::Backend& backend;
    statestore::Codec& codec;
};
// Copies the state of `from` to `to` with both locked; refuses a target that holds a
// state unless `force`. `to_location` is the target as the user names it (for the advice
// on how to use it).
nlohmann::json migrate_state(MigrateEnd from, MigrateEnd to, const std::string& to_location,
                             bool force, const statestore::LockRequest& lock);
// Breaks the lock `id` after `confirm` was asked with its holder.
nlohmann::json unlock_state(statestore::Backend& backend, const std::string& id,
                            const Confirm& confirm);

// A result for a terminal.
std::string render_state_result(StateAction action, const nlohmann::json& result);

} // namespace fedi::statecmd
