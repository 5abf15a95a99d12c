#pragma once
// `fedi rollback MACHINE...`: each machine back to the generation before its current
// one, activated with switch, detached and followed like a deploy.
#include "deploy/deploy.hpp"

#include <string>
#include <vector>

namespace fedi::deploy {

struct RollbackOptions {
    session::ProjectOptions project;
    std::vector<std::string> machines; // names, globs or @tags
    std::string command_line;
};

// Reports with outcome Activated (rolled back) or Failed per machine.
DeployReport run_rollback(const RollbackOptions& opts, ui::Events& reporter);

} // namespace fedi::deploy
