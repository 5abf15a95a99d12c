#pragma once
// `fedi rollback MACHINE...`: each machine back to the generation before its current
// one, activated with switch, detached and followed like a deploy.
#include "deploy/deploy.hpp"
#include "session/session.hpp"

#include <string>
#include <vector>

namespace fedi::deploy {

struct RollbackOptions {
    session::SessionOptions session;   // the state is locked: each rollback is recorded
    std::vector<std::string> machines; // names, globs or @tags
};

// Reports with outcome RolledBack or Failed per machine. Machines roll back on their own:
// one that fails (e.g. it has no earlier generation) leaves the others, its dependents
// included, to roll back.
DeployReport run_rollback(const RollbackOptions& opts, ui::Events& events);
// The same on an open session whose state is writable.
DeployReport run_rollback(session::Session& s, const std::vector<std::string>& machines);

} // namespace fedi::deploy
