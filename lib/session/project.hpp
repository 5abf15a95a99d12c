#pragma once
// A deployment as commands find it: the evaluated, validated file and its state file.
#include "model/deployment.hpp"
#include "state/state.hpp"

#include <functional>
#include <optional>
#include <string>

namespace fedi::session {

struct ProjectOptions {
    std::string deployment_file = "deployment.nix";
    std::optional<std::string> state_file; // default: .fedi/state.json beside the file
    // Where the deployment's warnings go each time it is loaded; unset: stderr.
    std::function<void(const model::Warning&)> on_warning;
};

struct Project {
    model::Deployment deployment;
    std::string state_file;
};

std::string resolve_state_file(const ProjectOptions& opts);

// Evaluates and validates the deployment file with what `st` records (the addresses of
// provisioned machines), then reports its warnings.
Project load_project(const ProjectOptions& opts, const state::State& st);
// The same with the state file as it is now (commands that hold no session).
Project load_project(const ProjectOptions& opts);

} // namespace fedi::session
