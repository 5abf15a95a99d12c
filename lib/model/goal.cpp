#include "model/goal.hpp"

namespace fedi::model {

std::string to_string(Goal goal) {
    switch (goal) {
    case Goal::Build:
        return "build";
    case Goal::Push:
        return "push";
    case Goal::Switch:
        return "switch";
    case Goal::Boot:
        return "boot";
    case Goal::Test:
        return "test";
    case Goal::DryActivate:
        return "dry-activate";
    }
    return "?";
}

std::optional<Goal> parse_goal(const std::string& text) {
    for (Goal g :
         {Goal::Build, Goal::Push, Goal::Switch, Goal::Boot, Goal::Test, Goal::DryActivate})
        if (to_string(g) == text)
            return g;
    return std::nullopt;
}

bool goal_sets_profile(Goal goal) {
    return goal == Goal::Switch || goal == Goal::Boot;
}

bool goal_activates(Goal goal) {
    return goal == Goal::Switch || goal == Goal::Boot || goal == Goal::Test ||
           goal == Goal::DryActivate;
}

bool goal_delivers_secrets(Goal goal) {
    return goal == Goal::Switch || goal == Goal::Boot || goal == Goal::Test;
}

bool goal_needs_machine(Goal goal) {
    return goal != Goal::Build;
}

} // namespace fedi::model
