#pragma once
// The plan as people read it on a terminal: grouped per machine, one line per thing that
// would change with its `+ ~ - ±` marker, the closure diff as `nix store diff-closures`
// shows it, and a summary line. Never a secret value: the plan holds none.
#include "plan/plan.hpp"

#include <string>

namespace fedi::plan {

// The marker of an action: "+", "~", "-", "±" ("" for None).
std::string marker(Action a);

// "3 machines change, 1 VM created, 412.0 MiB to send"; "No changes." when none.
std::string summary_line(const Plan& p);

// The whole plan, ending with its summary line; ANSI colours when `color`.
std::string render_plan(const Plan& p, bool color);

} // namespace fedi::plan
