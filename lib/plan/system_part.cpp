// The system part of a plan: what a machine would receive and go through, and the
// closure diff against what it runs.
#include "plan/closure_diff.hpp"
#include "plan/parts.hpp"

namespace fedi::plan {

namespace {

// The activation `goal` needs on a machine that runs `current` and boots `profile`.
Activation activation_for(model::Goal goal, const std::string& system, const std::string& current,
                          const std::string& profile) {
    switch (goal) {
    case model::Goal::Build:
    case model::Goal::Push:
        return Activation::None;
    case model::Goal::Boot:
        return profile != system ? Activation::BootLoader : Activation::None;
    case model::Goal::Switch:
        if (current != system)
            return Activation::Activate;
        return profile != system ? Activation::BootLoader : Activation::None;
    case model::Goal::Test:
    case model::Goal::DryActivate:
        return current != system ? Activation::Activate : Activation::None;
    }
    return Activation::None;
}

std::uint64_t nar_bytes(const std::vector<nix::PathInfo>& infos) {
    std::uint64_t total = 0;
    for (const auto& i : infos)
        total += i.nar_size;
    return total;
}

ClosureSizes sizes_of(const std::vector<nix::PathInfo>& infos) {
    ClosureSizes sizes;
    for (const auto& i : infos)
        sizes[i.path] = i.nar_size;
    return sizes;
}

} // namespace

SystemPlan plan_system(const std::string& system, model::Goal goal,
                       const std::optional<MachineFacts>& facts, nix::LocalClosure& closure) {
    SystemPlan p;
    p.system = system;
    const auto& paths = closure.paths();
    p.paths_total = paths.size();
    if (!facts) {
        // Not made yet: it receives everything; there is nothing to compare with.
        p.paths_to_send = paths.size();
        p.bytes_to_send = nar_bytes(closure.infos(paths));
        p.activation = activation_for(goal, system, "", "");
        return p;
    }
    p.observed = true;
    p.current = facts->status.current;
    p.profile = facts->status.profile;
    p.generation = facts->status.generation;
    p.activation = activation_for(goal, system, p.current, p.profile);
    p.paths_to_send = facts->missing.size();
    if (!facts->missing.empty())
        p.bytes_to_send = nar_bytes(closure.infos(facts->missing));
    // The diff only where the machine runs something else (the whole closure's sizes
    // are read from the local store then, one query).
    if (p.current != system)
        p.packages = diff_closures(facts->current_closure, sizes_of(closure.infos(paths)));
    return p;
}

} // namespace fedi::plan
