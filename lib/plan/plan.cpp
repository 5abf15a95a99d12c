// The plan as a value: names and what counts as a change.
#include "plan/plan.hpp"

#include <algorithm>

namespace fedi::plan {

std::string to_string(Action a) {
    switch (a) {
    case Action::None:
        return "none";
    case Action::Create:
        return "create";
    case Action::Update:
        return "update";
    case Action::Replace:
        return "replace";
    case Action::Destroy:
        return "destroy";
    }
    return "none";
}

std::string to_string(Activation a) {
    switch (a) {
    case Activation::None:
        return "none";
    case Activation::Activate:
        return "activate";
    case Activation::BootLoader:
        return "boot-loader";
    }
    return "none";
}

namespace {

template <typename T> bool any_action(const std::vector<T>& items) {
    return std::any_of(items.begin(), items.end(),
                       [](const T& i) { return i.action != Action::None; });
}

} // namespace

bool MachinePlan::changes() const {
    return provision.action != Action::None || system.changes() || any_action(secrets) ||
           any_action(accounts);
}

bool Plan::changes() const {
    return !destroyed.empty() || any_action(storage.items) || any_action(directory) ||
           std::any_of(machines.begin(), machines.end(),
                       [](const MachinePlan& m) { return m.changes(); });
}

bool Plan::ok() const {
    return errors.empty() && std::all_of(machines.begin(), machines.end(),
                                         [](const MachinePlan& m) { return m.errors.empty(); });
}

} // namespace fedi::plan
