#include "deploy/selection.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fnmatch.h>
#include <set>

namespace fedi::deploy {

std::vector<std::string> select_machines(const model::Deployment& d,
                                         const std::vector<std::string>& patterns) {
    std::set<std::string> selected;
    if (patterns.empty()) {
        if (d.require_selection)
            throw usage_error("this deployment sets meta.requireSelection: choose machines "
                              "with --on NAME|GLOB|@TAG");
        for (const auto& [name, m] : d.machines)
            selected.insert(name);
        return {selected.begin(), selected.end()};
    }
    for (const auto& pattern : patterns) {
        bool matched = false;
        for (const auto& [name, m] : d.machines) {
            bool hit = false;
            if (!pattern.empty() && pattern[0] == '@')
                hit = std::find(m.tags.begin(), m.tags.end(), pattern.substr(1)) != m.tags.end();
            else
                hit = fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
            if (hit) {
                selected.insert(name);
                matched = true;
            }
        }
        if (!matched)
            throw usage_error(
                fmt::format("--on {}: matches no machine of the deployment", pattern));
    }
    return {selected.begin(), selected.end()};
}

} // namespace fedi::deploy
