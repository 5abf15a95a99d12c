#include "deploy/project.hpp"

#include "nix/eval.hpp"
#include "state/state.hpp"

#include <filesystem>

namespace fedi::deploy {

std::string resolve_state_file(const ProjectOptions& opts) {
    if (opts.state_file)
        return std::filesystem::absolute(*opts.state_file).lexically_normal().string();
    return state::default_state_file(opts.deployment_file);
}

Project load_project(const ProjectOptions& opts) {
    Project p;
    p.state_file = resolve_state_file(opts);
    auto file = std::filesystem::absolute(opts.deployment_file).lexically_normal().string();
    auto evaluated = nix::evaluate_deployment(file, nlohmann::json::object());
    p.deployment = model::parse_deployment(evaluated, file);
    return p;
}

} // namespace fedi::deploy
