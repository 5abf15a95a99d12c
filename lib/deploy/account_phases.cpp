// The phases of `fedi deploy` that lib/account does: secrets and identity directories
// before the machines, accounts after them.
#include "deploy/phases.hpp"

namespace fedi::deploy {

account::BeforeMachines secrets_phase(session::Session& s, Goal goal,
                                      const std::vector<std::string>& machines,
                                      SecretsRegistry& secrets) {
    if (!goal_delivers_secrets(goal))
        return {};
    auto declared = account::before_machines(s, {machines.begin(), machines.end()});
    for (auto& [machine, files] : declared.files)
        secrets.add(machine, std::move(files));
    return declared;
}

std::vector<account::AccountResult> accounts_phase(session::Session& s, Goal goal,
                                                   const std::vector<MachineReport>& machines,
                                                   const account::BeforeMachines& declared,
                                                   const SecretsRegistry& secrets) {
    // Accounts need the services running: after switch/test, on the machines that made it.
    if (goal != Goal::Switch && goal != Goal::Test)
        return {};
    std::set<std::string> activated;
    for (const auto& m : machines)
        if (m.ok())
            activated.insert(m.name);
    return account::after_machines(s, activated, declared,
                                   [&](const std::string& m) { return secrets.of(m); });
}

} // namespace fedi::deploy
