#pragma once
// What a failed activation did, in words for the operator: why it failed, and what the
// rollback put back (from the lines the machine's activation script printed).
#include "host/host.hpp"
#include "model/goal.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fedi::deploy {

// `revert_lines`: the activation script's own lines ("fedi: ...").
std::string describe_failed_activation(model::Goal goal, const host::ActivationOutcome& outcome,
                                       const std::optional<std::string>& health_failure,
                                       const std::vector<std::string>& revert_lines);

// What a rollback did: the profile and the running system are reverted separately, and
// either may have had nothing to go back to.
std::string describe_revert(const std::vector<std::string>& lines);

} // namespace fedi::deploy
