#pragma once
// Deploy goals, with the meaning NixOS gives them.
#include <optional>
#include <string>

namespace fedi::model {

enum class Goal {
    Build,       // build the systems, touch no machine
    Push,        // build and copy the closures
    Switch,      // make it the boot default and activate it now
    Boot,        // make it the boot default, activate on next boot
    Test,        // activate now, boot default unchanged
    DryActivate, // show what activation would do
};

std::string to_string(Goal goal);
std::optional<Goal> parse_goal(const std::string& text);

bool goal_sets_profile(Goal goal);
bool goal_activates(Goal goal);
bool goal_needs_machine(Goal goal);
// Goals after which the machine runs (or boots) the new system, which needs its secrets.
bool goal_delivers_secrets(Goal goal);

} // namespace fedi::model
