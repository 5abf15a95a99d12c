// The typed records a deploy reports; lib/report renders them.
#include "deploy/deploy.hpp"

#include <algorithm>

namespace fedi::deploy {

std::string to_string(Phase p) {
    switch (p) {
    case Phase::None:
        return "";
    case Phase::Build:
        return "build";
    case Phase::Connect:
        return "connect";
    case Phase::Push:
        return "push";
    case Phase::Secrets:
        return "secrets";
    case Phase::Activate:
        return "activate";
    case Phase::Storage:
        return "storage";
    case Phase::Rollback:
        return "rollback";
    }
    return "?";
}

std::string to_string(Outcome o) {
    switch (o) {
    case Outcome::Planned:
        return "planned";
    case Outcome::Built:
        return "built";
    case Outcome::Pushed:
        return "pushed";
    case Outcome::Activated:
        return "deployed";
    case Outcome::DryActivated:
        return "dry-activated";
    case Outcome::Unchanged:
        return "unchanged";
    case Outcome::Failed:
        return "failed";
    case Outcome::Skipped:
        return "skipped";
    case Outcome::RolledBack:
        return "rolled back";
    }
    return "?";
}

bool DeployReport::ok() const {
    return (!storage || storage->ok()) && errors.empty() &&
           std::all_of(machines.begin(), machines.end(),
                       [](const MachineReport& m) { return m.ok() && m.state_error.empty(); }) &&
           std::all_of(accounts.begin(), accounts.end(),
                       [](const account::AccountResult& a) { return a.ok(); }) &&
           std::all_of(identity.begin(), identity.end(),
                       [](const account::IdentityResult& i) { return i.ok(); });
}

} // namespace fedi::deploy
