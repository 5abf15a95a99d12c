// The system part of a plan.
// Not built yet: a helper replaces this file (the plan reports the part as an error).
#include "plan/parts.hpp"

#include "core/error.hpp"

namespace fedi::plan {

SystemPlan plan_system(const std::string&, model::Goal, const std::optional<MachineFacts>&,
                       nix::LocalClosure&) {
    throw Error("planning systems is not supported yet");
}

} // namespace fedi::plan
