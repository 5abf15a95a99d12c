#pragma once
// Keeping a machine's history bounded: `fedi deploy --keep-generations N` removes system
// profile generations and activation logs beyond the newest N on each machine it
// deployed. Never the generation the profile points at, the running system's or the
// booted system's, nor an activation that has not finished.
#include "host/host.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fedi::host {

// What the machine holds, as prune_listing_command() prints it.
struct PruneListing {
    struct Generation {
        int number = 0;
        std::string system; // what its link resolves to
    };
    struct Activation {
        std::string dir; // where its log is (the state directory, or /run's)
        std::string id;
        bool finished = false; // its result is written
    };
    std::optional<int> profile_generation; // the one the profile points at
    std::string running;                   // /run/current-system
    std::string booted;                    // /run/booted-system
    std::vector<Generation> generations;
    std::vector<Activation> activations;
};

struct PrunePlan {
    std::vector<int> generations;                      // to delete, ascending
    std::vector<PruneListing::Activation> activations; // to delete, oldest first
    bool empty() const { return generations.empty() && activations.empty(); }
};

std::string prune_listing_command();
PruneListing parse_prune_listing(const std::string& out);
// keep >= 1: the newest `keep` generations and finished activations stay, and whatever
// is in use (see above) stays whatever its age.
PrunePlan plan_prune(const PruneListing& listing, int keep);
// The command that removes what the plan says (nix-env for generations, so the profile
// stays consistent; rm for activation files).
std::string prune_command(const PrunePlan& plan);

struct PruneResult {
    std::vector<int> generations;    // removed
    std::size_t activation_logs = 0; // removed
};
// Lists, plans and removes on the machine. Throws fedi::Error when a step fails.
PruneResult prune_machine(Host& host, int keep);

} // namespace fedi::host
