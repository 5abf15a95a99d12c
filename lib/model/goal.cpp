#include "model/goal.hpp"

#include "core/enum_names.hpp"

namespace fedi::model {

namespace {

constexpr EnumName<Goal> kGoalNames[] = {
    {Goal::Build, "build"}, {Goal::Push, "push"}, {Goal::Switch, "switch"},
    {Goal::Boot, "boot"},   {Goal::Test, "test"}, {Goal::DryActivate, "dry-activate"}};

} // namespace

std::string to_string(Goal goal) {
    return name_of(goal, kGoalNames);
}

std::optional<Goal> parse_goal(const std::string& text) {
    return value_named(text, kGoalNames);
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
