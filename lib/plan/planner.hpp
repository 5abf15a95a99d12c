#pragma once
// `fedi plan`: the plan of a deploy, made from the parts (parts.hpp) on one session whose
// state is only read.
#include "plan/plan.hpp"
#include "session/session.hpp"

#include <string>
#include <vector>

namespace fedi::plan {

struct PlanOptions {
    std::vector<std::string> on; // --on patterns
    model::Goal goal = model::Goal::Switch;
};

// Builds the selected systems (a plan needs their closures), then asks the providers,
// the storage and every selected machine (in parallel) what would change.
Plan make_plan(session::Session& s, const PlanOptions& opts);

} // namespace fedi::plan
