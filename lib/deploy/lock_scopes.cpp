#include "deploy/lock_scopes.hpp"

#include "deploy/selection.hpp"
#include "deploy/storage_phase.hpp"

#include <set>

namespace fedi::deploy {

std::vector<std::string> lock_scopes(const model::Deployment& d, const DeployOptions& opts) {
    auto selected = select_machines(d, opts.on);
    std::set<std::string> scopes;
    for (const auto& name : selected) {
        scopes.insert("machine " + name);
        const auto& m = d.machines.at(name);
        if (m.provision)
            scopes.insert("provider " + m.provision->provider);
    }
    for (const auto& storage : storages_needed(d, {selected.begin(), selected.end()}))
        scopes.insert("storage " + storage);
    for (const auto& [name, directory] : d.identity)
        scopes.insert("directory " + name);
    return {scopes.begin(), scopes.end()};
}

} // namespace fedi::deploy
