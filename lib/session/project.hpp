#pragma once
// A deployment as commands find it: the evaluated, validated file and where its state is.
#include "model/deployment.hpp"
#include "session/state_store.hpp"
#include "state/state.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::session {

struct ProjectOptions {
    std::string deployment_file = "deployment.nix";
    // A state file, or a remote state's URL (statestore::open_backend); default:
    // .fedi/state.json beside the deployment file.
    std::optional<std::string> state_file;
    // Where the deployment's warnings go each time it is loaded; unset: stderr.
    std::function<void(const model::Warning&)> on_warning;
    // meta.state, when the caller evaluated it already (project_state_settings): opening
    // a session asks for it several times, and each evaluation is a `nix eval`.
    std::optional<model::StateSettings> state_settings;
};

struct Project {
    model::Deployment deployment;
    std::string state_location; // resolve_state_location's
    // Where this machine keeps what belongs to the deployment beside its state (local
    // containers): the state file's directory, or .fedi beside the deployment file when the
    // state is remote.
    std::string local_dir;
};

// meta.state (opts.state_settings when set), read on its own before the state: the
// defaults when the deployment file is not there.
model::StateSettings project_state_settings(const ProjectOptions& opts);

// The state's location: a remote state's URL as given, or the real path of the state file.
std::string resolve_state_location(const ProjectOptions& opts);
std::string resolve_local_dir(const ProjectOptions& opts);

// How the project's state is kept at rest.
std::unique_ptr<statestore::Codec> project_codec(const ProjectOptions& opts);

// The project's state: its backend (statestore::open_backend of the location) through
// project_codec; Locked takes the locks of `scopes` first (a local file has one lock for
// the whole deployment whatever they are).
std::unique_ptr<StateStore>
open_project_state(const ProjectOptions& opts, StateMode mode, const std::string& command_line,
                   const std::vector<std::string>& scopes = {"deployment"});

// Evaluates and validates the deployment file with what `st` records (the addresses of
// provisioned machines), then reports its warnings.
Project load_project(const ProjectOptions& opts, const state::State& st);
// The same with the state as it is now (commands that hold no session).
Project load_project(const ProjectOptions& opts);

} // namespace fedi::session
