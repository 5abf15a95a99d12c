#include "deploy/activation_failure.hpp"

#include "host/activation_protocol.hpp"

#include <fmt/format.h>

namespace fedi::deploy {

std::string describe_revert(const std::vector<std::string>& lines) {
    std::vector<std::string> done, not_done;
    for (const auto& step : host::parse_revert_steps(lines)) {
        using Kind = host::RevertStep::Kind;
        if (step.kind == Kind::ProfileSetBack)
            done.push_back("the system profile was set back to generation " + step.value);
        else if (step.kind == Kind::NoEarlierGeneration)
            not_done.push_back("the system profile still points at the failed system (it had no "
                               "earlier generation)");
        else if (step.kind == Kind::PreviousSystemActivated)
            done.push_back("the previously running system " + step.value + " was activated again");
        else if (step.kind == Kind::NoPreviousSystem)
            not_done.push_back("what the failed system's activation changed was not undone (no "
                               "system ran before it: the machine had no /run/current-system)");
    }
    if (done.empty() && not_done.empty())
        return "the machine went back to its previous system";
    std::string out;
    for (const auto& d : done)
        out += (out.empty() ? "" : "; ") + d;
    for (const auto& n : not_done)
        out += (out.empty() ? "" : "; but ") + n;
    return out;
}

std::string describe_failed_activation(model::Goal goal, const host::ActivationOutcome& outcome,
                                       const std::optional<std::string>& health_failure,
                                       const std::vector<std::string>& revert_lines) {
    const auto& r = outcome.result;
    using Status = host::ActivationResult::Status;
    std::string what;
    if (health_failure)
        what = *health_failure;
    else if (r.status == Status::Failed)
        what = fmt::format("switch-to-configuration {} failed (exit status {})", to_string(goal),
                           r.exit_code.value_or(1));
    else if (r.status == Status::Unconfirmed)
        what = "the new system could not be confirmed over a new SSH connection in time";
    else
        what = "activation " + r.text;
    if (r.rollback_failed)
        return what + "; rolling back failed too: the machine needs attention";
    if (outcome.rolled_back())
        return what + "; rolled back: " + describe_revert(revert_lines);
    return what + "; the failed system was left in place (--no-rollback)";
}

} // namespace fedi::deploy
