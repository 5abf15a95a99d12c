#pragma once
// What moved between a saved plan and a plan made now for the same selection and goal:
// `fedi deploy --plan` applies a saved plan only when nothing did.
#include "plan/plan.hpp"

#include <string>
#include <vector>

namespace fedi::plan {

// One sentence per thing that moved, naming it: "web: system /nix/store/…-a →
// /nix/store/…-b (the deployment changed)", "web: generation 4 → 5 (changed by someone
// else)", "vm.web changed", "bucket.s3.media changed", "web: planned, no longer
// selected". Empty when the saved plan still holds.
std::vector<std::string> drift(const Plan& saved, const Plan& now);

} // namespace fedi::plan
